package e2e

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/pg2kafka/pg2kafka/internal/kafkatest"
)

// cpuMeter measures, over a benchmark's phase, the CPU time of what shares
// the machine with pg2kafka: the real broker's JVM and the PostgreSQL
// server's processes (backends and walsenders), and how busy the machine
// was. On a machine whose cores all three share, a phase whose machine is
// busy near 100% is bound by their CPU per row, not by waiting. Processes
// are sampled every 100 ms, so one that exits during the phase (the
// walsender of pg_recvlogical) still counts, to within its last 100 ms.
type cpuMeter struct {
	brokerPID  int    // 0: no broker process of the harness (an external cluster)
	brokerName string // "broker" or "kfake"
	stop       chan struct{}
	done       chan struct{}

	mu          sync.Mutex
	first, last map[int]float64 // ticks of the broker and PostgreSQL processes, by PID
	start       machineTicks
}

type machineTicks struct{ busy, total float64 }

func newCPUMeter(t testing.TB) *cpuMeter {
	m := &cpuMeter{brokerName: "broker", stop: make(chan struct{}), done: make(chan struct{}), first: map[int]float64{}, last: map[int]float64{}}
	switch {
	case kafkatest.External():
	case kafkatest.Shared():
		m.brokerPID = kafkatest.Real(t).PID()
	default:
		// kfake runs in this test process, whose own work is small beside it.
		m.brokerPID, m.brokerName = os.Getpid(), "kfake"
	}
	m.start = readMachineTicks()
	m.sample(true)
	go func() {
		defer close(m.done)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-m.stop:
				return
			case <-tick.C:
				m.sample(false)
			}
		}
	}()
	return m
}

// sample reads the ticks of the broker and every PostgreSQL process; at
// the start, they are the baseline (a process started later has none).
func (m *cpuMeter) sample(baseline bool) {
	dirs, _ := os.ReadDir("/proc")
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		comm, ticks, ok := procTicks(pid)
		if !ok || (pid != m.brokerPID && comm != "postgres") {
			continue
		}
		if baseline {
			m.first[pid] = ticks
		}
		m.last[pid] = ticks
	}
}

func readMachineTicks() machineTicks {
	var s machineTicks
	raw, err := os.ReadFile("/proc/stat")
	if err != nil {
		return s
	}
	// cpu  user nice system idle iowait irq softirq steal ...
	f := strings.Fields(strings.SplitN(string(raw), "\n", 2)[0])
	for i, v := range f[1:min(len(f), 9)] {
		n, _ := strconv.ParseFloat(v, 64)
		s.total += n
		if i != 3 && i != 4 { // idle, iowait
			s.busy += n
		}
	}
	return s
}

// procTicks is a process's command name and CPU time (user and system) in
// clock ticks (100/s).
func procTicks(pid int) (comm string, ticks float64, ok bool) {
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return "", 0, false
	}
	s := string(raw)
	open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || end < open {
		return "", 0, false
	}
	f := strings.Fields(s[end+2:])
	if len(f) < 13 {
		return "", 0, false
	}
	utime, _ := strconv.ParseFloat(f[11], 64)
	stime, _ := strconv.ParseFloat(f[12], 64)
	return s[open+1 : end], utime + stime, true
}

// report ends the phase and describes it: pg2kafka's CPU seconds (measured
// apart, by its PID) and the others', per million rows, and the machine's
// busy share.
func (m *cpuMeter) report(pg2kafkaCPU float64, rows int) string {
	m.sample(false)
	close(m.stop)
	<-m.done
	end := readMachineTicks()
	var broker, postgres float64
	for pid, last := range m.last {
		d := (last - m.first[pid]) / 100
		if pid == m.brokerPID {
			broker = d
		} else {
			postgres += d
		}
	}
	perM := func(s float64) float64 { return s / float64(rows) * 1e6 }
	out := fmt.Sprintf("CPU s per M rows: pg2kafka %.1f", perM(pg2kafkaCPU))
	if m.brokerPID != 0 {
		out += fmt.Sprintf(", %s %.1f", m.brokerName, perM(broker))
	}
	out += fmt.Sprintf(", PostgreSQL %.1f", perM(postgres))
	if dt := end.total - m.start.total; dt > 0 {
		out += fmt.Sprintf("; machine %.0f%% busy", 100*(end.busy-m.start.busy)/dt)
	}
	return out
}

var warmOnce sync.Once

// warmBroker brings the harness's real broker to a steady state before a
// measurement: a freshly started JVM runs its first gigabyte of produce
// requests interpreted and through heap growth, and measured the first
// benchmark of a run ~25% slower than the same benchmark right after it.
// It writes 1,000,000 records of 400 bytes (half of them random hex, so
// compression works as on real documents) in transactions of 25,000, to a
// topic deleted afterwards.
func warmBroker(b *testing.B) {
	if !kafkatest.Shared() || kafkatest.External() {
		return
	}
	warmOnce.Do(func() {
		start := time.Now()
		topic := fmt.Sprintf("pg2kafka-warmup-%d", os.Getpid())
		cl, err := kgo.NewClient(kgo.SeedBrokers(kafkatest.Real(b).Addr), kgo.TransactionalID(topic),
			kgo.ProducerBatchCompression(kgo.Lz4Compression()), kgo.ProducerLinger(5*time.Millisecond))
		if err != nil {
			b.Fatalf("warming the broker: %v", err)
		}
		defer cl.Close()
		ctx := context.Background()
		adm := kadm.NewClient(cl)
		if _, err := adm.CreateTopic(ctx, 1, 1, nil, topic); err != nil {
			b.Fatalf("warming the broker: %v", err)
		}
		defer adm.DeleteTopics(ctx, topic)
		var failed error
		var mu sync.Mutex
		x := uint64(0x9E3779B97F4A7C15)
		for i := 0; i < 1_000_000; i++ {
			if i%25_000 == 0 {
				if i > 0 {
					if err := cl.Flush(ctx); err != nil {
						b.Fatalf("warming the broker: %v", err)
					}
					if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
						b.Fatalf("warming the broker: %v", err)
					}
				}
				if err := cl.BeginTransaction(); err != nil {
					b.Fatalf("warming the broker: %v", err)
				}
			}
			v := make([]byte, 400)
			copy(v, `{"_meta":{"op":"c","source":{"schema":"public","snapshot":true,"table":"events"}},"amount":"12.34","at":"2024-01-01T00:00:00Z","attrs":{"qty":3,"sku":"SKU-1","tags":["a","b",1]},"kind":7,"name":"customer-`)
			for j := 200; j < len(v); j++ {
				x ^= x << 13
				x ^= x >> 7
				x ^= x << 17
				v[j] = "0123456789abcdef"[x&15]
			}
			cl.Produce(ctx, &kgo.Record{Topic: topic, Key: strconv.AppendInt(nil, int64(i), 10), Value: v}, func(_ *kgo.Record, err error) {
				if err != nil {
					mu.Lock()
					failed = err
					mu.Unlock()
				}
			})
		}
		if err := cl.Flush(ctx); err != nil {
			b.Fatalf("warming the broker: %v", err)
		}
		if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
			b.Fatalf("warming the broker: %v", err)
		}
		mu.Lock()
		defer mu.Unlock()
		if failed != nil {
			b.Fatalf("warming the broker: %v", failed)
		}
		b.Logf("broker warmed up: 1,000,000 records in %s", time.Since(start).Round(time.Millisecond))
	})
}

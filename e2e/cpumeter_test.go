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
	"github.com/pg2kafka/pg2kafka/internal/pgtest"
)

// cpuMeter measures, over a benchmark's phase, the CPU time of what shares
// the machine with pg2kafka: the real broker's JVM (or kfake, in this test
// process) and the test's PostgreSQL server (its postmaster and every
// child: backends, walsenders, background workers), and how busy the
// machine was. On a machine whose cores all three share, a phase whose
// machine is busy near 100% is bound by their CPU per row, not by waiting.
// Processes are sampled every 100 ms; the children the postmaster reaped
// meanwhile count through its cutime and cstime.
type cpuMeter struct {
	brokerPID  int    // 0: no broker process of the harness (an external cluster)
	brokerName string // "broker" or "kfake"
	pgPID      int    // the postmaster; 0 for an external server
	stop       func()
	done       chan struct{}

	mu          sync.Mutex
	first, last map[int]float64 // CPU ticks by PID: the broker, the postmaster's children
	pm0, pm     procStat        // the postmaster at the start, and last seen
	start       machineTicks
}

type machineTicks struct{ busy, total float64 }

// procStat is what /proc/PID/stat tells of a process's CPU, in clock ticks
// (100/s): its own (utime+stime) and its reaped children's (cutime+cstime).
type procStat struct {
	ppid          int
	ticks, reaped float64
}

func newCPUMeter(t testing.TB) *cpuMeter {
	m := &cpuMeter{brokerName: "broker", done: make(chan struct{}), first: map[int]float64{}, last: map[int]float64{}}
	switch {
	case kafkatest.External():
	case kafkatest.Shared():
		m.brokerPID = kafkatest.Real(t).PID()
	default:
		// kfake runs in this test process, whose own work is small beside it.
		m.brokerPID, m.brokerName = os.Getpid(), "kfake"
	}
	m.pgPID = pgtest.Shared(t).PID()
	m.start = readMachineTicks()
	m.sample(true)
	quit := make(chan struct{})
	var once sync.Once
	m.stop = func() {
		once.Do(func() {
			close(quit)
			<-m.done
		})
	}
	t.Cleanup(m.stop) // a phase that fails before its report
	go func() {
		defer close(m.done)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-quit:
				return
			case <-tick.C:
				m.sample(false)
			}
		}
	}()
	return m
}

// sample reads the ticks of the broker, the postmaster and its children;
// at the start, they are the baseline (a process started later has none).
// It returns the PIDs it saw.
func (m *cpuMeter) sample(baseline bool) map[int]bool {
	dirs, _ := os.ReadDir("/proc")
	seen := map[int]bool{}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		st, ok := readProcStat(pid)
		switch {
		case !ok:
			continue
		case pid == m.pgPID && m.pgPID != 0:
			if baseline {
				m.pm0 = st
			}
			m.pm = st
			continue
		case pid == m.brokerPID || (st.ppid == m.pgPID && m.pgPID != 0):
		default:
			continue
		}
		seen[pid] = true
		if baseline {
			m.first[pid] = st.ticks
		}
		m.last[pid] = st.ticks
	}
	return seen
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

// readProcStat reads /proc/PID/stat: after "(comm)", state is field 0,
// ppid 1, utime 11, stime 12, cutime 13, cstime 14.
func readProcStat(pid int) (procStat, bool) {
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, false
	}
	s := string(raw)
	end := strings.LastIndexByte(s, ')') // the command may hold spaces and parentheses
	if end < 0 || end+2 > len(s) {
		return procStat{}, false
	}
	f := strings.Fields(s[end+2:])
	if len(f) < 15 {
		return procStat{}, false
	}
	n := func(i int) float64 { v, _ := strconv.ParseFloat(f[i], 64); return v }
	ppid, _ := strconv.Atoi(f[1])
	return procStat{ppid: ppid, ticks: n(11) + n(12), reaped: n(13) + n(14)}, true
}

// report ends the phase and describes it: pg2kafka's CPU seconds (measured
// apart, by its PID) and the others', per million rows, and the machine's
// busy share.
func (m *cpuMeter) report(pg2kafkaCPU float64, rows int) string {
	m.stop()
	alive := m.sample(false)
	end := readMachineTicks()
	var broker, postgres float64
	for pid, last := range m.last {
		switch {
		case pid == m.brokerPID:
			broker = (last - m.first[pid]) / 100
		case alive[pid]:
			postgres += (last - m.first[pid]) / 100
		default:
			// Reaped: its whole life is in the postmaster's cutime below,
			// less what it had used before the phase.
			postgres -= m.first[pid] / 100
		}
	}
	postgres += (m.pm.ticks - m.pm0.ticks + m.pm.reaped - m.pm0.reaped) / 100
	perM := func(s float64) float64 { return s / float64(rows) * 1e6 }
	out := fmt.Sprintf("CPU s per M rows: pg2kafka %.1f", perM(pg2kafkaCPU))
	if m.brokerPID != 0 {
		out += fmt.Sprintf(", %s %.1f", m.brokerName, perM(broker))
	}
	if m.pgPID != 0 {
		out += fmt.Sprintf(", PostgreSQL %.1f", perM(postgres))
	}
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
// topic of its own.
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
		// The topic stays: deleting it would have the broker remove its
		// segments a minute later, in the middle of a measurement.
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

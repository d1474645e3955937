package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/pg2kafka/pg2kafka/internal/kafkatest"
	"github.com/pg2kafka/pg2kafka/internal/pgtest"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "pg2kafka-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "pg2kafka")
	args := []string{"build", "-o", binary}
	if os.Getenv("PG2KAFKA_E2E_RACE") != "" {
		args = append(args, "-race") // the race detector in the binary under test
	}
	out, err := exec.Command("go", append(args, "../cmd/pg2kafka")...).CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "building pg2kafka: %v\n%s", err, out)
		os.Exit(1)
	}
	defer os.RemoveAll(dir)
	pgtest.Main(m)
}

// env is one test's database and Kafka cluster.
type env struct {
	t       testing.TB
	dbURL   string
	brokers []string
	prefix  string
	dir     string
	extra   string // appended to the config file
	// advanced holds extra source.advanced lines ("key: value").
	advanced []string
	// kafka holds extra kafka lines ("key: value").
	kafka []string
}

func newEnv(t testing.TB) *env {
	t.Helper()
	srv := pgtest.Shared(t)
	e := &env{t: t, dbURL: srv.NewDatabase(t), brokers: kafkatest.Brokers(t), dir: t.TempDir()}
	e.prefix = "pg2kafka"
	if kafkatest.External() {
		e.prefix = fmt.Sprintf("t%d", time.Now().UnixNano())
	}
	e.exec(`CREATE PUBLICATION flow_publication`)
	return e
}

func (e *env) exec(sql ...string) { e.t.Helper(); pgtest.Exec(e.t, e.dbURL, sql...) }

func (e *env) conn() *pgx.Conn {
	e.t.Helper()
	c, err := pgx.Connect(context.Background(), e.dbURL)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// config writes the configuration file and returns its path.
func (e *env) config() string {
	e.t.Helper()
	cfg, err := pgx.ParseConfig(e.dbURL)
	if err != nil {
		e.t.Fatal(err)
	}
	body := fmt.Sprintf(`source:
  address: "%s:%d"
  user: %s
  password: "unused-with-trust-auth"
  database: %s
  advanced:
    sslmode: disable
%s
kafka:
  brokers: [%s]
  topic_prefix: %s
  batch: {max_delay: 50ms}
%slog:
  level: info
  format: json
http:
  listen: ""
%s`, cfg.Host, cfg.Port, cfg.User, cfg.Database, indent(e.advanced, "    "), strings.Join(e.brokers, ", "), e.prefix, indent(e.kafka, "  "), e.extra)
	path := filepath.Join(e.dir, "pg2kafka.yaml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		e.t.Fatal(err)
	}
	return path
}

func (e *env) topic(table string) string { return e.prefix + ".public." + table }

// proc is a running pg2kafka.
type proc struct {
	cmd    *exec.Cmd
	mu     sync.Mutex
	log    bytes.Buffer
	ready  chan struct{}
	exited chan struct{}
	err    error
}

// start runs pg2kafka; wait says whether to wait until it streams.
func (e *env) start(wait bool, args ...string) *proc {
	e.t.Helper()
	if len(args) == 0 {
		args = []string{"run"}
	}
	args = append(args, "--config", e.config())
	p := &proc{cmd: exec.Command(binary, args...), ready: make(chan struct{}), exited: make(chan struct{})}
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		e.t.Fatal(err)
	}
	p.cmd.Stdout = &p.log
	if err := p.cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		once := sync.Once{}
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			p.log.WriteString(line + "\n")
			p.mu.Unlock()
			// Ready once every table's backfill is done, so a test's
			// writes arrive as changes, not as backfill rows.
			if strings.Contains(line, "backfills complete; streaming changes") {
				once.Do(func() { close(p.ready) })
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
		p.err = p.cmd.Wait()
		close(p.exited)
	}()
	e.t.Cleanup(func() {
		p.kill()
		if strings.Contains(p.output(), "WARNING: DATA RACE") {
			e.t.Errorf("the race detector reported a data race in pg2kafka:\n%s", p.output())
		}
	})
	if wait {
		select {
		case <-p.ready:
		case <-p.exited:
			e.t.Fatalf("pg2kafka exited before streaming: %v\n%s", p.err, p.output())
		case <-time.After(120 * time.Second):
			e.t.Fatalf("pg2kafka did not finish its backfills and start streaming within 120s\n%s", p.output())
		}
	}
	return p
}

func (p *proc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log.String()
}

func (p *proc) kill() {
	select {
	case <-p.exited:
	default:
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.exited
	}
}

// stop sends SIGTERM and waits for a clean exit.
func (p *proc) stop(t testing.TB) {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		if p.err != nil {
			t.Fatalf("pg2kafka exited with %v after SIGTERM\n%s", p.err, p.output())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("pg2kafka did not exit within 30s of SIGTERM\n%s", p.output())
	}
}

// wait waits for the process to exit and returns its exit code.
func (p *proc) wait(t testing.TB, d time.Duration) int {
	t.Helper()
	select {
	case <-p.exited:
		return p.cmd.ProcessState.ExitCode()
	case <-time.After(d):
		t.Fatalf("pg2kafka still running after %s\n%s", d, p.output())
		return -1
	}
}

// consume reads a topic from the start with read_committed until want
// records have arrived or the timeout passes.
func (e *env) consume(topic string, want int, timeout time.Duration) []*kgo.Record {
	e.t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.brokers...),
		kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if err != nil {
		e.t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var out []*kgo.Record
	for len(out) < want {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			break
		}
		fs.EachRecord(func(r *kgo.Record) { out = append(out, r) })
	}
	return out
}

// settle reads everything committed to a topic: it stops once nothing new
// has arrived for quiet.
func (e *env) settle(topic string, quiet time.Duration) []*kgo.Record {
	e.t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.brokers...),
		kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if err != nil {
		e.t.Fatal(err)
	}
	defer cl.Close()
	var out []*kgo.Record
	for {
		ctx, cancel := context.WithTimeout(context.Background(), quiet)
		fs := cl.PollFetches(ctx)
		cancel()
		n := 0
		fs.EachRecord(func(r *kgo.Record) { out = append(out, r); n++ })
		if n == 0 {
			return out
		}
	}
}

func header(r *kgo.Record, key string) string {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

func indent(lines []string, prefix string) string {
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(prefix + l + "\n")
	}
	return b.String()
}

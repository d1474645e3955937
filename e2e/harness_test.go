package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/pg2kafka/pg2kafka/internal/kafkatest"
	ilaunch "github.com/pg2kafka/pg2kafka/internal/launch"
	"github.com/pg2kafka/pg2kafka/internal/pgtest"
	"github.com/pg2kafka/pg2kafka/internal/registrytest"
)

var binary string

// benchBinaries are the binaries PG2KAFKA_E2E_BINARY lists; benchRuns
// counts the benchmark runs that took one.
var (
	benchBinaries []string
	benchRuns     int
)

func TestMain(m *testing.M) {
	registrytest.Prestart() // Apicurio Registry, if asked for, while the rest starts
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
	if given := os.Getenv("PG2KAFKA_E2E_BINARY"); given != "" {
		// Binaries built elsewhere (other commits): benchmarks compare
		// builds in one harness this way, and with several (a comma-
		// separated list) each benchmark run takes the next in turn, so
		// that `-count` alternates them against one warm broker. A
		// relative path is the repository's (go test runs in e2e/).
		for _, path := range strings.Split(given, ",") {
			if !filepath.IsAbs(path) {
				path = filepath.Join("..", path)
			}
			if fi, err := os.Stat(path); err != nil || fi.IsDir() {
				fmt.Fprintf(os.Stderr, "PG2KAFKA_E2E_BINARY=%s: %s is not a pg2kafka binary (%v); give its path, absolute or from the repository's root\n", given, path, err)
				os.Exit(1)
			}
			benchBinaries = append(benchBinaries, path)
		}
		if os.Getenv("PG2KAFKA_E2E_RACE") != "" {
			fmt.Fprintln(os.Stderr, "PG2KAFKA_E2E_RACE is ignored: PG2KAFKA_E2E_BINARY gives the binary")
		}
		binary = benchBinaries[0]
	} else if out, err := exec.Command("go", append(args, "../cmd/pg2kafka")...).CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building pg2kafka: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	kafkatest.StopShared()
	registrytest.StopShared()
	pgtest.StopShared()
	os.RemoveAll(dir)
	os.Exit(code)
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
	// slot is the test's own replication slot (slots are per server).
	slot string
}

var slots atomic.Int64

func newEnv(t testing.TB) *env {
	t.Helper()
	srv := pgtest.Shared(t)
	if _, ok := t.(*testing.B); ok && len(benchBinaries) > 1 {
		binary = benchBinaries[benchRuns%len(benchBinaries)]
		benchRuns++
		t.Logf("binary under test: %s", binary)
	}
	e := &env{t: t, dbURL: srv.NewDatabase(t), brokers: kafkatest.Brokers(t), dir: t.TempDir()}
	e.prefix = uniquePrefix()
	e.slot = fmt.Sprintf("pg2kafka_%d_%d", os.Getpid(), slots.Add(1))
	e.exec(`CREATE PUBLICATION flow_publication`)
	return e
}

// uniquePrefix returns the topic prefix of a test: "pg2kafka" on a kfake
// cluster of its own, a unique one on a cluster that tests share.
func uniquePrefix() string {
	if kafkatest.Shared() {
		return fmt.Sprintf("t%d", time.Now().UnixNano())
	}
	return "pg2kafka"
}

// capture returns the capture name (the checkpoint record key) of the
// test's capture: on a shared cluster config sets kafka.capture to the
// test's unique prefix, so that the transactional ID ("pg2kafka-" and the
// capture name) is the test's own too; else the default, the slot.
func (e *env) capture() string {
	if kafkatest.Shared() {
		return e.prefix
	}
	return e.slot
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

// configOpts tunes one configuration file written by env.config; zero
// fields take the env's values and the harness's defaults.
type configOpts struct {
	name     string   // the file's name in e.dir; "pg2kafka.yaml" if empty
	user     string   // source.user; the URL's if empty
	password string   // source.password; "unused-with-trust-auth" if empty
	database string   // source.database; the URL's if empty
	brokers  []string // kafka.brokers; e.brokers if nil
	kafka    []string // kafka lines after e.kafka ("key: value")
	log      []string // the log section's lines; level info, format json if nil
	// mutate, if set, rewrites the whole file's text before it is written.
	mutate func(string) string
}

// config writes the configuration file (at most one configOpts) and
// returns its path.
func (e *env) config(opts ...configOpts) string {
	e.t.Helper()
	var o configOpts
	if len(opts) > 0 {
		o = opts[0]
	}
	cfg, err := pgx.ParseConfig(e.dbURL)
	if err != nil {
		e.t.Fatal(err)
	}
	if o.name == "" {
		o.name = "pg2kafka.yaml"
	}
	if o.user == "" {
		o.user = cfg.User
	}
	if o.password == "" {
		o.password = "unused-with-trust-auth"
	}
	if o.database == "" {
		o.database = cfg.Database
	}
	if o.brokers == nil {
		o.brokers = e.brokers
	}
	if o.log == nil {
		o.log = []string{"level: info", "format: json"}
	}
	kafka := append(append([]string(nil), e.kafka...), o.kafka...)
	if kafkatest.Shared() && !strings.Contains(strings.Join(kafka, "\n"), "capture:") {
		kafka = append(kafka, "capture: "+e.prefix)
	}
	body := fmt.Sprintf(`source:
  address: "%s:%d"
  user: %s
  password: %q
  database: %s
  advanced:
    sslmode: disable
%skafka:
  brokers: [%s]
  topic_prefix: %s
  batch: {max_delay: 50ms}
%slog:
%shttp:
  listen: ""
%s`, cfg.Host, cfg.Port, o.user, o.password, o.database, indent(e.advancedLines(), "    "),
		strings.Join(o.brokers, ", "), e.prefix, indent(kafka, "  "), indent(o.log, "  "), e.extra)
	if o.mutate != nil {
		body = o.mutate(body)
	}
	path := filepath.Join(e.dir, o.name)
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		e.t.Fatal(err)
	}
	return path
}

// backfillGate holds the backfill of a table at one row, however fast the
// machine: the binding's additional_backfill_filter, which passes every
// row, waits at that row for an advisory lock the test holds until Open.
type backfillGate struct {
	t    testing.TB
	conn *pgx.Conn
	key  int
	once sync.Once
}

// gateBackfill closes a gate on table (schema public, integer key id) at
// row and returns it with the bindings entry (YAML) that puts the table's
// backfill behind it. The test's cleanup opens it.
func (e *env) gateBackfill(table string, row int) (*backfillGate, string) {
	e.t.Helper()
	g := &backfillGate{t: e.t, conn: e.conn(), key: 0x7067326b}
	if _, err := g.conn.Exec(context.Background(), `SELECT pg_advisory_lock($1)`, g.key); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(g.Open)
	binding := fmt.Sprintf("  - resource: {namespace: public, stream: %s, additional_backfill_filter: \"id <> %d OR pg_advisory_xact_lock_shared(%d) IS NOT NULL\"}\n", table, row, g.key)
	return g, binding
}

// Open lets the backfill go on (idempotent).
func (g *backfillGate) Open() {
	g.once.Do(func() {
		if _, err := g.conn.Exec(context.Background(), `SELECT pg_advisory_unlock($1)`, g.key); err != nil {
			g.t.Errorf("opening the backfill gate: %v", err)
		}
	})
}

// configWithHTTP is config (at most one configOpts) with http.listen on a
// free loopback port; it returns the file's path and that address.
func (e *env) configWithHTTP(opts ...configOpts) (path, addr string) {
	e.t.Helper()
	port, err := ilaunch.FreePort()
	if err != nil {
		e.t.Fatal(err)
	}
	addr = fmt.Sprintf("127.0.0.1:%d", port)
	var o configOpts
	if len(opts) > 0 {
		o = opts[0]
	}
	mutate := o.mutate
	o.mutate = func(s string) string {
		s = strings.Replace(s, "http:\n  listen: \"\"", "http:\n  listen: \""+addr+"\"", 1)
		if mutate != nil {
			s = mutate(s)
		}
		return s
	}
	return e.config(o), addr
}

// advancedLines are the source.advanced lines of the test's config: its
// slot, then e.advanced.
func (e *env) advancedLines() []string {
	if e.slot == "" {
		return e.advanced
	}
	return append([]string{"slotName: " + e.slot}, e.advanced...)
}

// useSlot names the test's replication slot (each test has one of its
// own anyway: slots are per server, and the prerequisite checks of the
// tests running beside it would object to a slot of another database).
func (e *env) useSlot(name string) string {
	e.slot = name
	return name
}

func (e *env) topic(table string) string { return e.prefix + ".public." + table }

// readiness is the log line that tells a proc is ready, and what it then
// does, for the message when it is not.
type readiness struct{ line, desc string }

var (
	// backfilled: every table's backfill is done, so a test's writes
	// arrive as changes, not as backfill rows.
	backfilled = readiness{"backfills complete; streaming changes", "finish its backfills and start streaming"}
	// streaming: the capture streams (backfills may still run).
	streaming = readiness{"capture is streaming", "start streaming"}
)

// proc is a running pg2kafka; its log holds stdout and stderr.
type proc struct {
	cmd    *exec.Cmd
	what   readiness
	mu     sync.Mutex
	log    bytes.Buffer
	ready  chan struct{} // closed at the first what.line
	exited chan struct{}
	err    error
}

// launch starts the pg2kafka binary with args, and with the environment
// environ unless that is nil; the proc is ready at the first log line that
// contains r.line. The test's cleanup kills it.
func launch(t testing.TB, r readiness, environ []string, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(binary, args...), what: r, ready: make(chan struct{}), exited: make(chan struct{})}
	p.cmd.Env = environ
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.cmd.Stdout = lockedLog{p}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
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
			if strings.Contains(line, r.line) {
				once.Do(func() { close(p.ready) })
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
		p.err = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		p.kill()
		if strings.Contains(p.output(), "WARNING: DATA RACE") {
			t.Errorf("the race detector reported a data race in pg2kafka:\n%s", p.output())
		}
	})
	return p
}

// lockedLog appends stdout to the proc's log under its lock.
type lockedLog struct{ p *proc }

func (w lockedLog) Write(b []byte) (int, error) {
	w.p.mu.Lock()
	defer w.p.mu.Unlock()
	return w.p.log.Write(b)
}

// start runs pg2kafka (args, `run` if none) with e.config(); wait says
// whether to wait until every backfill is done and it streams.
func (e *env) start(wait bool, args ...string) *proc {
	e.t.Helper()
	if len(args) == 0 {
		args = []string{"run"}
	}
	p := launch(e.t, backfilled, nil, append(args, "--config", e.config())...)
	if wait {
		p.waitReady(e.t, 120*time.Second)
	}
	return p
}

// run runs `pg2kafka run --config path`, ready once the capture streams.
func (e *env) run(path string) *proc {
	e.t.Helper()
	return launch(e.t, streaming, nil, "run", "--config", path)
}

// runToExit runs `pg2kafka run --config path` to its exit and returns the
// exit code and output.
func (e *env) runToExit(path string, timeout time.Duration) (int, string) {
	e.t.Helper()
	start := time.Now()
	p := e.run(path)
	code := p.wait(e.t, timeout)
	e.t.Logf("pg2kafka exited %d after %s", code, time.Since(start).Round(100*time.Millisecond))
	return code, p.output()
}

// waitReady waits until p is ready, failing the test if it exits first or
// is not ready within d.
func (p *proc) waitReady(t testing.TB, d time.Duration) {
	t.Helper()
	select {
	case <-p.ready:
	case <-p.exited:
		t.Fatalf("pg2kafka exited before streaming: %v\n%s", p.err, p.output())
	case <-time.After(d):
		t.Fatalf("pg2kafka did not %s within %.0fs\n%s", p.what.desc, d.Seconds(), p.output())
	}
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

// readCommitted returns a client that reads topic from the start with
// read_committed, with extra options (TLS, SASL).
func readCommitted(t testing.TB, brokers []string, topic string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(brokers...),
		kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

// consume reads a topic from the start with read_committed until want
// records have arrived or the timeout passes.
func (e *env) consume(topic string, want int, timeout time.Duration) []*kgo.Record {
	e.t.Helper()
	return consumeFrom(e.t, e.brokers, topic, want, timeout)
}

// consumeFrom is consume on the given brokers, with extra client options
// (TLS, SASL).
func consumeFrom(t testing.TB, brokers []string, topic string, want int, timeout time.Duration, opts ...kgo.Opt) []*kgo.Record {
	t.Helper()
	cl := readCommitted(t, brokers, topic, opts...)
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
	cl := readCommitted(e.t, e.brokers, topic, kgo.KeepControlRecords())
	defer cl.Close()
	adm := kadm.NewClient(cl)
	var out []*kgo.Record
	next := map[int32]int64{} // the next offset to read, per partition
	for {
		// Read up to the last stable offset as of now (a slow first fetch
		// from a loaded broker must not pass for quiet), then wait for quiet.
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		ends, err := adm.ListCommittedOffsets(ctx, topic)
		if err != nil {
			cancel()
			e.t.Fatalf("listing the end offsets of %s: %v", topic, err)
		}
		behind := func() bool {
			missing := false
			ends.Each(func(o kadm.ListedOffset) {
				if o.Err == nil && next[o.Partition] < o.Offset {
					missing = true
				}
			})
			return missing
		}
		for behind() && ctx.Err() == nil {
			cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
				next[r.Partition] = r.Offset + 1
				if !r.Attrs.IsControl() {
					out = append(out, r)
				}
			})
		}
		cancel()
		qctx, qcancel := context.WithTimeout(context.Background(), quiet)
		n := 0
		cl.PollFetches(qctx).EachRecord(func(r *kgo.Record) {
			next[r.Partition] = r.Offset + 1
			if !r.Attrs.IsControl() {
				out = append(out, r)
				n++
			}
		})
		qcancel()
		if n == 0 {
			return out
		}
	}
}

// checkpointCursor returns the cursor of the last committed checkpoint of
// the capture named slot.
func checkpointCursor(t testing.TB, e *env) uint64 {
	t.Helper()
	var cursor uint64
	for _, r := range e.settle(e.prefix+".checkpoints", 300*time.Millisecond) {
		if string(r.Key) != e.capture() || r.Value == nil {
			continue
		}
		var st struct {
			Cursor string `json:"cursor"`
		}
		if err := json.Unmarshal(r.Value, &st); err != nil {
			t.Fatalf("checkpoint is not JSON: %s", r.Value)
		}
		l, err := pglogrepl.ParseLSN(st.Cursor)
		if err != nil {
			t.Fatalf("checkpoint cursor %q: %v", st.Cursor, err)
		}
		cursor = uint64(l)
	}
	return cursor
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

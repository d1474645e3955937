package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/pg2kafka/pg2kafka/internal/kafkatest"
	"github.com/pg2kafka/pg2kafka/internal/pgtest"
)

// faultResult is one row of TestFaults' table.
type faultResult struct {
	name      string
	checked   int    // changes checked against the writer's history (or rows against the table)
	lost, dup int    // keys with lost, with duplicated changes
	recovered string // how pg2kafka got past the fault
	seconds   float64
	note      string
}

// checkHistories compares each key's records with the writer's committed
// history into r (the changes checked, the keys with lost and with extra
// changes), failing the test on any difference.
func (r *faultResult) checkHistories(t *testing.T, recs []*kgo.Record, w *writer) {
	t.Helper()
	got, _ := keyHistories(t, recs)
	r.checked = changesIn(w.history)
	r.lost, r.dup = compareHistories(t, got, w.history)
	if r.lost+r.dup > 0 {
		t.Errorf("%d keys lost changes, %d have extra ones (%d records for %d changes committed)", r.lost, r.dup, len(recs), r.checked)
	}
}

// faultSuite is what the cases of TestFaults share: a PostgreSQL server
// and a Kafka broker of their own, as the cases restart the one and pause
// the other (the shared ones serve every other test).
type faultSuite struct {
	full    bool
	pg      *pgtest.Server
	broker  *kafkatest.Broker // the suite's own (full mode), paused by the broker cases
	brokers []string
	mu      sync.Mutex
	rows    []faultResult
	procs   []*proc // the case's pg2kafka processes (PG2KAFKA_FAULTS_LOGS)
}

// The fault suite (make chaos runs it with PG2KAFKA_FAULTS=full): under a
// writer, each case injects a fault — the broker paused, paused past the
// transaction timeout, PostgreSQL restarted, the walsender terminated while
// streaming and while backfilling, PostgreSQL down past
// recovery.max_outage, the slot dropped, the active instance of two
// killed, a second SIGTERM while a commit hangs — and checks that pg2kafka
// recovers in process (or the standby takes over, or it exits as
// configured, asked or, for the dropped slot, with one clear error), and
// that after catch-up (and a restart) every committed change is in Kafka
// exactly once: each key's changes equal its committed history. Extra
// cases (full mode): PostgreSQL restarted and the broker paused past the
// transaction timeout during a backfill, and two instances whose active
// walsender is terminated (the slot passes back and forth).
//
// By default (make test) only the walsender termination, PostgreSQL down
// past recovery.max_outage, the dropped slot and the standby's takeover run
// on the shared broker, and the second SIGTERM on a broker of the case's
// own (about 55 s in all); PG2KAFKA_FAULTS=full runs every case with the
// full durations (pauses of 30 s and 20 s) on a broker of the suite's own;
// PG2KAFKA_FAULTS=all runs every case with 5 s pauses. The times asserted
// are the takeover's (< 15 s), the exit past max_outage (before PostgreSQL
// is back), and the second signal's (the process still runs 1 s after the
// first, and exits within 10 s of the second); the seconds in the table
// are reported, not checked.
func TestFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("the fault suite starts a PostgreSQL server of its own and runs for half a minute or more")
	}
	mode := os.Getenv("PG2KAFKA_FAULTS")
	s := &faultSuite{full: mode == "full"}
	pg, err := pgtest.Start()
	if err != nil {
		if os.Getenv(pgtest.EnvURL) != "" {
			t.Skipf("the fault suite restarts a PostgreSQL server of its own, and none can be started here: %v", err)
		}
		t.Fatalf("starting a private PostgreSQL server: %v", err)
	}
	t.Cleanup(pg.Stop)
	s.pg = pg
	if s.full || mode == "all" {
		// The broker cases pause it: a broker of the suite's own.
		b := pausableBroker(t, "the full fault suite")
		s.broker, s.brokers = b, []string{b.Addr}
	} else {
		// The short cases leave the broker alone: the shared one will do.
		s.brokers = kafkatest.Brokers(t)
	}
	pause := 5 * time.Second
	if s.full {
		pause = 30 * time.Second
	}
	cases := []struct {
		name  string
		short bool // run by make test too
		run   func(t *testing.T) faultResult
	}{
		{"broker paused", false, func(t *testing.T) faultResult { return s.brokerPaused(t, pause, nil) }},
		{"broker paused > txn timeout", false, func(t *testing.T) faultResult {
			p := pause * 2 / 3
			if s.full {
				p = 20 * time.Second
			}
			return s.brokerPaused(t, p, []string{"transaction_timeout: 10s"})
		}},
		{"postgres restarted", false, s.postgresRestarted},
		{"walsender terminated", true, s.walsenderTerminated},
		{"walsender terminated in backfill", false, s.walsenderTerminatedInBackfill},
		{"postgres restarted in backfill", false, s.postgresRestartedInBackfill},
		{"broker paused > txn timeout in backfill", false, s.brokerPausedInBackfill},
		{"postgres down past max_outage", true, s.postgresDownPastMaxOutage},
		{"slot dropped", true, s.slotDropped},
		{"active killed, standby", true, s.standbyTakesOver},
		{"second signal while a commit hangs", true, s.secondSignalWhileCommitHangs},
		{"two instances, walsender terminated", false, s.standbyWalsenderTerminated},
	}
	for _, c := range cases {
		t.Run(strings.ReplaceAll(c.name, " ", "_"), func(t *testing.T) {
			if !s.full && mode != "all" && !c.short {
				t.Skip("full mode only (PG2KAFKA_FAULTS=full, make chaos)")
			}
			r := c.run(t)
			r.name = c.name
			if dir := os.Getenv("PG2KAFKA_FAULTS_LOGS"); dir != "" {
				for i, p := range s.procs {
					name := fmt.Sprintf("%s/%s-%d.log", dir, strings.NewReplacer(" ", "_", ">", "gt", ",", "").Replace(c.name), i)
					_ = os.WriteFile(name, []byte(p.output()), 0o644)
				}
			}
			s.procs = nil
			if t.Failed() {
				r.note = strings.TrimSpace("FAILED " + r.note)
			}
			s.mu.Lock()
			s.rows = append(s.rows, r)
			s.mu.Unlock()
		})
	}
	table := s.table()
	t.Logf("fault suite (%s):\n%s", map[bool]string{true: "full", false: "short"}[s.full], table)
	fmt.Printf("\n=== fault suite (%s durations, Kafka broker %s)\n%s\n", map[bool]string{true: "full", false: "short"}[s.full], strings.Join(s.brokers, ","), table)
}

// pausableBroker starts a real broker of the test's own, which it may
// pause (pausing the shared one would stall every other test); who names
// the test in the skip message, when none can be started.
func pausableBroker(t *testing.T, who string) *kafkatest.Broker {
	t.Helper()
	if kafkatest.External() || os.Getenv(kafkatest.EnvKafka) == "kfake" {
		t.Skipf("%s pauses a real broker of its own (kafkatest.Start); not with an external cluster or kfake", who)
	}
	b, err := kafkatest.Start()
	if err != nil {
		// The shared broker started (it is the suite's default): one
		// more must too, and a skip would hide the case.
		t.Fatalf("%s needs a real Kafka broker of its own: %v", who, err)
	}
	t.Cleanup(b.Stop)
	return b
}

// scaled shortens the writing before and after a fault outside full mode.
func (s *faultSuite) scaled(d time.Duration) time.Duration {
	if s.full {
		return d
	}
	return d * 2 / 5
}

func (s *faultSuite) table() string {
	var b strings.Builder
	b.WriteString("seconds: fault end to caught up (the first change committed after the fault in Kafka); for the standby, kill to streaming; for the dropped slot, drop to exit\n")
	fmt.Fprintf(&b, "%-40s %8s %5s %5s  %-36s %9s  %s\n", "case", "checked", "lost", "dup", "recovered in process", "seconds", "note")
	for _, r := range s.rows {
		fmt.Fprintf(&b, "%-40s %8d %5d %5d  %-36s %9.1f  %s\n", r.name, r.checked, r.lost, r.dup, r.recovered, r.seconds, r.note)
	}
	return b.String()
}

// newEnv is a test's database on the suite's server, with the suite's
// broker.
func (s *faultSuite) newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{t: t, dbURL: s.pg.NewDatabase(t), brokers: s.brokers, dir: t.TempDir()}
	e.prefix = fmt.Sprintf("t%d", time.Now().UnixNano())
	e.slot = fmt.Sprintf("pg2kafka_fault_%d", slots.Add(1))
	e.exec(`CREATE PUBLICATION flow_publication`,
		`CREATE TABLE hist (k integer PRIMARY KEY, v bigint NOT NULL)`,
		`ALTER PUBLICATION flow_publication ADD TABLE hist`)
	return e
}

// terminateWalsender terminates the walsender streaming the env's slot,
// waiting up to 30 s for one; it reports whether one was terminated.
func (e *env) terminateWalsender() bool {
	e.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		var n int
		err := e.query(`SELECT count(pg_terminate_backend(active_pid)) FROM pg_replication_slots WHERE slot_name = $1 AND active_pid IS NOT NULL`, e.slot).Scan(&n)
		if err != nil {
			e.t.Fatal(err)
		}
		if n > 0 {
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return false
}

// oneRow is the row of a one-off query on a connection of its own.
type oneRow struct {
	url  string
	sql  string
	args []any
}

func (e *env) query(sql string, args ...any) oneRow { return oneRow{e.dbURL, sql, args} }

func (r oneRow) Scan(dest ...any) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, r.url)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	return conn.QueryRow(ctx, r.sql, r.args...).Scan(dest...)
}

// expected is the number of records a writer's history makes: one per
// change, and a tombstone per delete.
func expected(h map[int][]change) int {
	n := 0
	for _, cs := range h {
		n += len(cs)
		for _, c := range cs {
			if c.op == "d" {
				n++
			}
		}
	}
	return n
}

func changesIn(h map[int][]change) int {
	n := 0
	for _, cs := range h {
		n += len(cs)
	}
	return n
}

// collector reads a topic (read_committed) in the background and notes
// when each record arrived.
type collector struct {
	mu     sync.Mutex
	recs   []*kgo.Record
	at     []time.Time
	cancel context.CancelFunc
	done   chan struct{}
}

func collect(t *testing.T, brokers []string, topic string) *collector {
	t.Helper()
	cl := readCommitted(t, brokers, topic)
	ctx, cancel := context.WithCancel(context.Background())
	c := &collector{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(c.done)
		defer cl.Close()
		for ctx.Err() == nil {
			fs := cl.PollFetches(ctx)
			now := time.Now()
			c.mu.Lock()
			fs.EachRecord(func(r *kgo.Record) { c.recs = append(c.recs, r); c.at = append(c.at, now) })
			c.mu.Unlock()
		}
	}()
	t.Cleanup(c.stop)
	return c
}

func (c *collector) stop() { c.cancel(); <-c.done }

func (c *collector) count() int { c.mu.Lock(); defer c.mu.Unlock(); return len(c.recs) }

// arrival is when the n-th record arrived (zero if it has not).
func (c *collector) arrival(n int) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n <= 0 || n > len(c.at) {
		return time.Time{}
	}
	return c.at[n-1]
}

// waitFor waits until n records have arrived, then for quiet more (so that
// duplicates would show), and returns them.
func (c *collector) waitFor(t *testing.T, n int, timeout, quiet time.Duration) []*kgo.Record {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for c.count() < n && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(quiet)
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*kgo.Record(nil), c.recs...)
}

// snapshot returns the records the writer's history so far makes.
func (w *writer) snapshot() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return expected(w.history)
}

// underWriter runs one writer case: pg2kafka streaming hist under a
// writer, fault injected (it returns when the fault ends, and with how
// pg2kafka is expected to have got past it), then catch-up and the exact
// per-key check.
func (s *faultSuite) underWriter(t *testing.T, e *env, fault func(p *proc) (end time.Time)) faultResult {
	t.Helper()
	p := e.start(true)
	s.procs = append(s.procs, p)
	c := collect(t, e.brokers, e.topic("hist"))
	w := startResilientWriter(t, e.dbURL, 200)
	time.Sleep(s.scaled(3 * time.Second))
	end := fault(p)
	atEnd := w.snapshot()
	time.Sleep(s.scaled(5 * time.Second)) // writing on after the fault
	w.finish(t)
	want := expected(w.history)
	recs := c.waitFor(t, want, 180*time.Second, 3*time.Second)
	var r faultResult
	// Caught up: the first change committed after the fault is in Kafka
	// (and, in commit order, every change before it).
	if got := c.arrival(atEnd + 1); !got.IsZero() {
		r.seconds = max(0, got.Sub(end).Seconds())
	} else {
		r.seconds = -1
		r.note = fmt.Sprintf("not caught up: %d of %d records", len(recs), want)
	}
	r.recovered = s.inProcess(t, p)
	r.checkHistories(t, recs, w)
	p.stop(t)
	return r
}

// inProcess says whether p stayed up and whether it logged a recovery,
// failing the test if it exited.
func (s *faultSuite) inProcess(t *testing.T, p *proc) string {
	t.Helper()
	select {
	case <-p.exited:
		t.Errorf("pg2kafka exited instead of recovering: %v\n%s", p.err, tail(p.output(), 40))
		return "no: exited"
	default:
	}
	if n := strings.Count(p.output(), "recovering"); n > 0 {
		return fmt.Sprintf("yes (recovering x%d)", n)
	}
	return "yes (stayed up, no recovery logged)"
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Case 1 and 2: the broker stopped (SIGSTOP) for d, then continued.
func (s *faultSuite) brokerPaused(t *testing.T, d time.Duration, kafka []string) faultResult {
	e := s.newEnv(t)
	e.kafka = kafka
	r := s.underWriter(t, e, func(p *proc) time.Time {
		s.broker.Pause(t)
		time.Sleep(d)
		s.broker.Resume(t)
		return time.Now()
	})
	r.note = strings.TrimSpace(fmt.Sprintf("paused %s %s", d, strings.Join(kafka, " ")) + " " + r.note)
	return r
}

// Case 3: the suite's PostgreSQL server restarted (fast shutdown).
func (s *faultSuite) postgresRestarted(t *testing.T) faultResult {
	e := s.newEnv(t)
	r := s.underWriter(t, e, func(p *proc) time.Time {
		if err := s.pg.Restart(); err != nil {
			t.Fatal(err)
		}
		return time.Now()
	})
	if !strings.Contains(r.recovered, "recovering") {
		t.Errorf("no recovery logged after the restart")
	}
	return r
}

// A short case: PostgreSQL down for longer than recovery.max_outage. While
// it is down /readyz answers 503; past the limit pg2kafka exits 1 with an
// error naming the setting; once PostgreSQL is back, the next run resumes
// from the last checkpoint and nothing is lost or repeated.
func (s *faultSuite) postgresDownPastMaxOutage(t *testing.T) faultResult {
	e := s.newEnv(t)
	e.extra = "recovery: {max_outage: 2s, max_backoff: 1s}\n"
	path, addr := e.configWithHTTP()
	c, p, w := s.streamUnderWriter(t, e, path)
	const down = 8 * time.Second
	restarted := make(chan error, 1)
	went := time.Now()
	go func() { restarted <- s.pg.RestartAfter(down) }()
	unready := false
	for !unready && time.Since(went) < down {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			unready = resp.StatusCode == http.StatusServiceUnavailable
			resp.Body.Close()
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !unready {
		t.Errorf("/readyz never answered 503 while PostgreSQL was down")
	}
	code := p.wait(t, down+30*time.Second)
	exited := time.Since(went)
	if code != 1 || !strings.Contains(p.output(), "recovery.max_outage (2s)") {
		t.Errorf("PostgreSQL down %s with recovery.max_outage 2s: exit %d after %s, want 1 with an error naming recovery.max_outage\n%s", down, code, exited.Round(100*time.Millisecond), tail(p.output(), 20))
	}
	if exited >= down {
		t.Errorf("pg2kafka exited %s after PostgreSQL went down, not within the %s it was down (max_outage 2s)", exited.Round(100*time.Millisecond), down)
	}
	if err := <-restarted; err != nil {
		t.Fatal(err)
	}
	return s.restartAndCheck(t, e, path, c, w, fmt.Sprintf("exit 1 after %s, as configured", exited.Round(100*time.Millisecond)))
}

// recordsWritten is the sum of pg2kafka_records_total on the metrics
// endpoint at addr: the records written into Kafka batches so far,
// committed or not.
func recordsWritten(t *testing.T, addr string) float64 {
	t.Helper()
	cl := http.Client{Timeout: 5 * time.Second}
	resp, err := cl.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatalf("reading pg2kafka's metrics: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading pg2kafka's metrics: %v", err)
	}
	sum := 0.0
	for _, line := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(line, "pg2kafka_records_total{") {
			if v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64); err == nil {
				sum += v
			}
		}
	}
	return sum
}

// streamUnderWriter starts a collector of the hist topic and pg2kafka with
// the configuration at path, and once it streams a writer, which it lets
// run a while.
func (s *faultSuite) streamUnderWriter(t *testing.T, e *env, path string) (*collector, *proc, *writer) {
	t.Helper()
	c := collect(t, e.brokers, e.topic("hist"))
	p := e.run(path)
	s.procs = append(s.procs, p)
	p.waitReady(t, 60*time.Second)
	w := startResilientWriter(t, e.dbURL, 200)
	time.Sleep(s.scaled(3 * time.Second))
	return c, p, w
}

// restartAndCheck runs pg2kafka again after the case made it exit, lets
// the writer go on a while and finish, and checks that every key's records
// are its committed history, each change once.
func (s *faultSuite) restartAndCheck(t *testing.T, e *env, path string, c *collector, w *writer, recovered string) faultResult {
	t.Helper()
	p := e.run(path)
	s.procs = append(s.procs, p)
	p.waitReady(t, 90*time.Second)
	back := time.Now()
	atEnd := w.snapshot()
	time.Sleep(s.scaled(3 * time.Second))
	w.finish(t)
	want := expected(w.history)
	recs := c.waitFor(t, want, 120*time.Second, 3*time.Second)
	p.stop(t)
	r := faultResult{recovered: recovered}
	if got := c.arrival(atEnd + 1); !got.IsZero() {
		r.seconds = max(0, got.Sub(back).Seconds())
	}
	r.checkHistories(t, recs, w)
	return r
}

// A short case: a second SIGTERM while the first waits for a commit that
// hangs (the broker paused). The first signal lets the commit run to its
// end, so pg2kafka is still running a second later; the second exits at
// once (status 1). Once the broker is back, the broker aborts or has
// committed the transaction, whole, and the next run resumes from the
// last checkpoint: nothing lost, nothing repeated. The broker is one of the
// case's own, as pausing the shared one would stall every other test.
func (s *faultSuite) secondSignalWhileCommitHangs(t *testing.T) faultResult {
	broker := s.broker
	if broker == nil {
		broker = pausableBroker(t, "this case")
	}
	e := s.newEnv(t)
	e.brokers = []string{broker.Addr}
	path, addr := e.configWithHTTP()
	c, p, w := s.streamUnderWriter(t, e, path)
	broker.Pause(t)
	// Records written after the pause (pg2kafka_records_total counts each
	// as it joins the open batch) cannot be committed: from then on the
	// batch's commit, or the stop's commit or abort, waits on the broker.
	paused := recordsWritten(t, addr)
	for deadline := time.Now().Add(30 * time.Second); recordsWritten(t, addr) <= paused; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("pg2kafka wrote no record for 30 s after the broker was paused\n%s", tail(p.output(), 20))
		}
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		t.Errorf("pg2kafka exited %d on the first SIGTERM while its commit waited on a paused broker; want it to wait for the commit\n%s",
			p.cmd.ProcessState.ExitCode(), tail(p.output(), 20))
	case <-time.After(time.Second):
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	signalled := time.Now()
	code := p.wait(t, 10*time.Second)
	exited := time.Since(signalled)
	if code != 1 || !strings.Contains(p.output(), "second signal") {
		t.Errorf("a second SIGTERM while a commit hangs: exit %d after %s, want 1 at once, saying so\n%s", code, exited.Round(100*time.Millisecond), tail(p.output(), 20))
	}
	broker.Resume(t)
	return s.restartAndCheck(t, e, path, c, w, fmt.Sprintf("exit 1 %s after the second signal", exited.Round(10*time.Millisecond)))
}

// Case 4: the walsender terminated while streaming.
func (s *faultSuite) walsenderTerminated(t *testing.T) faultResult {
	e := s.newEnv(t)
	r := s.underWriter(t, e, func(p *proc) time.Time {
		if !e.terminateWalsender() {
			t.Fatal("no walsender to terminate")
		}
		return time.Now()
	})
	if !strings.Contains(r.recovered, "recovering") {
		t.Errorf("no recovery logged after the walsender was terminated")
	}
	return r
}

// Case 5: the walsender terminated during a backfill of 200k rows (chunks
// of 1000), while the writer writes another table: the backfilled table's
// last record per key equals its rows, the written one's history is exact.
func (s *faultSuite) walsenderTerminatedInBackfill(t *testing.T) faultResult {
	return s.inBackfill(t, "the walsender was terminated", func(e *env) {
		if !e.terminateWalsender() {
			t.Fatal("no walsender to terminate")
		}
	})
}

// An extra case: the PostgreSQL server restarted (twice) during the
// backfill, checked as case 5.
func (s *faultSuite) postgresRestartedInBackfill(t *testing.T) faultResult {
	return s.inBackfill(t, "PostgreSQL restarted", func(e *env) {
		if err := s.pg.Restart(); err != nil {
			t.Fatal(err)
		}
	})
}

// An extra case: the broker paused past the transaction timeout (twice)
// during the backfill, checked as case 5.
func (s *faultSuite) brokerPausedInBackfill(t *testing.T) faultResult {
	r := s.inBackfill(t, "the broker was paused", func(e *env) {
		s.broker.Pause(t)
		time.Sleep(15 * time.Second)
		s.broker.Resume(t)
	}, "transaction_timeout: 10s")
	r.note = "paused 15s, transaction_timeout: 10s; " + r.note
	return r
}

// inBackfill runs fault twice during a backfill of 200k rows.
func (s *faultSuite) inBackfill(t *testing.T, what string, fault func(e *env), kafka ...string) faultResult {
	e := s.newEnv(t)
	e.kafka = kafka
	const rows, chunk = 200000, 1000
	e.exec(`CREATE TABLE big (k integer PRIMARY KEY, v bigint NOT NULL, pad text)`,
		fmt.Sprintf(`INSERT INTO big SELECT g, 0, repeat('x', 40) FROM generate_series(1, %d) g`, rows),
		`ALTER PUBLICATION flow_publication ADD TABLE big`)
	// hist is empty: no backfill, so that its records are changes only.
	e.advanced = []string{fmt.Sprintf("backfill_chunk_size: %d", chunk), "skip_backfills: public.hist"}
	p := e.run(e.config())
	s.procs = append(s.procs, p)
	p.waitReady(t, 60*time.Second)
	c := collect(t, e.brokers, e.topic("hist"))
	big := collect(t, e.brokers, e.topic("big"))
	w := startResilientWriter(t, e.dbURL, 200)
	// Updates to big while it is backfilled.
	stopUpd := make(chan struct{})
	updDone := make(chan struct{})
	go func() {
		defer close(updDone)
		conn, err := pgx.Connect(context.Background(), e.dbURL)
		if err != nil {
			return
		}
		defer func() { conn.Close(context.Background()) }()
		rng := rand.New(rand.NewSource(time.Now().UnixNano()))
		for i := int64(1); ; i++ {
			select {
			case <-stopUpd:
				return
			default:
			}
			_, _ = conn.Exec(context.Background(), `UPDATE big SET v = $2 WHERE k = $1`, 1+rng.Intn(rows), i)
			time.Sleep(2 * time.Millisecond)
			if conn.IsClosed() { // the server restarted
				if c, err := pgx.Connect(context.Background(), e.dbURL); err == nil {
					conn = c
				}
			}
		}
	}()
	// Terminate once a part of big is in Kafka, twice.
	deadline := time.Now().Add(60 * time.Second)
	for big.count() < rows/10 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	note := ""
	var end time.Time
	var atEnd int
	for i := 0; i < 2; i++ {
		if i > 0 {
			// The capture recovered and backfills again: two more chunks
			// of big are in Kafka. Not a fixed wait, which a fast
			// backfill could outlast.
			after, deadline := big.count(), time.Now().Add(90*time.Second)
			for big.count() < after+2*chunk && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
		}
		if strings.Contains(p.output(), backfilled.line) {
			note = "backfill finished before the fault: "
			t.Errorf("the backfill finished before %s (%d)", what, i+1)
		}
		fault(e)
		end, atEnd = time.Now(), w.snapshot()
	}
	deadline = time.Now().Add(180 * time.Second)
	for !strings.Contains(p.output(), backfilled.line) && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	close(stopUpd)
	<-updDone
	time.Sleep(2 * time.Second)
	w.finish(t)
	want := expected(w.history)
	recs := c.waitFor(t, want, 180*time.Second, 3*time.Second)
	var r faultResult
	if got := c.arrival(atEnd + 1); !got.IsZero() {
		r.seconds = max(0, got.Sub(end).Seconds())
	}
	r.recovered = s.inProcess(t, p)
	if !strings.Contains(r.recovered, "recovering") {
		t.Errorf("no recovery logged after %s", what)
	}
	r.checkHistories(t, recs, w)
	// big: settle, then the last record per key equals the rows.
	n := big.count()
	for {
		time.Sleep(3 * time.Second)
		if m := big.count(); m == n {
			break
		} else {
			n = m
		}
	}
	big.stop()
	big.mu.Lock()
	bigRecs := big.recs
	big.mu.Unlock()
	errsBefore := t.Failed()
	snaps := lastPerKey(t, e, "big", bigRecs, `SELECT json_build_object('k', k)::text, json_build_object('k', k, 'v', v, 'pad', pad)::text FROM big`)
	if !errsBefore && t.Failed() {
		r.note = "big: last record per key differs from the table; "
	}
	// A row updated while its chunk is read may arrive as the update only
	// (fewer backfill records than rows is fine; the table check above
	// covers every row); each recovery re-reads at most one chunk.
	if limit := rows + 2*1000; snaps >= limit {
		t.Errorf("%d backfill records for %d rows: each of the 2 recoveries re-read more than one chunk", snaps, rows)
	}
	r.checked += rows
	r.note += note + fmt.Sprintf("hist changes + %d big rows (%d backfill records, %d records)", rows, snaps, len(bigRecs))
	p.stop(t)
	return r
}

// Case 6: the slot dropped while pg2kafka runs: a permanent fault, one
// clear error naming the slot and the fix, not retried.
func (s *faultSuite) slotDropped(t *testing.T) faultResult {
	e := s.newEnv(t)
	p := e.start(true)
	s.procs = append(s.procs, p)
	w := startResilientWriter(t, e.dbURL, 200)
	time.Sleep(2 * time.Second)
	// The walsender holds the slot: terminate it, then drop the slot
	// before pg2kafka attaches again.
	deadline := time.Now().Add(30 * time.Second)
	for {
		e.terminateWalsender()
		var ignored any
		err := e.query(`SELECT pg_drop_replication_slot($1)`, e.slot).Scan(&ignored)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("dropping the slot: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	dropped := time.Now()
	code := p.wait(t, 120*time.Second)
	took := time.Since(dropped)
	w.finish(t)
	out := p.output()
	r := faultResult{recovered: fmt.Sprintf("exit %d (permanent)", code), seconds: took.Seconds(), note: "no data check"}
	if code == 0 {
		t.Errorf("pg2kafka exited 0 after its slot was dropped, want an error\n%s", tail(out, 30))
	}
	var errLines []string
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, `"level":"error"`) || strings.Contains(l, `"level":"fatal"`) || strings.HasPrefix(l, "Error") || strings.HasPrefix(l, "error") {
			errLines = append(errLines, l)
		}
	}
	last := tail(out, 3)
	if !strings.Contains(out, e.slot) || !strings.Contains(out, "pg2kafka state reset") {
		t.Errorf("the error does not name the slot %q and `pg2kafka state reset`:\n%s", e.slot, tail(out, 30))
	}
	if strings.Count(out, "state reset") != 1 {
		t.Errorf("the slot error appears %d times, want once (not retried):\n%s", strings.Count(out, "state reset"), tail(out, 30))
	}
	t.Logf("pg2kafka exited %d %.1fs after the slot was dropped; error lines %d; last lines:\n%s", code, took.Seconds(), len(errLines), last)
	return r
}

// Case 7: two instances; the active one is SIGKILLed, the standby takes
// over within 15 s.
func (s *faultSuite) standbyTakesOver(t *testing.T) faultResult {
	e := s.newEnv(t)
	active := e.start(true)
	c := collect(t, e.brokers, e.topic("hist"))
	w := startResilientWriter(t, e.dbURL, 200)
	standby := e.start(false)
	s.procs = append(s.procs, active, standby)
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(standby.output(), "standing by") {
		if time.Now().After(deadline) {
			t.Fatalf("the second instance does not stand by:\n%s", standby.output())
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(s.scaled(3 * time.Second))
	select {
	case <-active.exited:
		t.Fatalf("the active instance exited while the other stood by:\n%s", active.output())
	default:
	}
	killed := time.Now()
	active.kill()
	standby.waitReady(t, 15*time.Second)
	took := time.Since(killed)
	if took > 15*time.Second {
		t.Errorf("the standby took over %s after the kill, want < 15s", took)
	}
	time.Sleep(s.scaled(5 * time.Second))
	w.finish(t)
	want := expected(w.history)
	recs := c.waitFor(t, want, 180*time.Second, 3*time.Second)
	r := faultResult{recovered: "took over", seconds: took.Seconds(), note: "seconds: kill to standby streaming"}
	r.checkHistories(t, recs, w)
	standby.stop(t)
	return r
}

// An extra case: two instances, and the active one's walsender is
// terminated (three times): whichever instance gets the slot streams, the
// other stands by, and every change arrives exactly once.
func (s *faultSuite) standbyWalsenderTerminated(t *testing.T) faultResult {
	e := s.newEnv(t)
	active := e.start(true)
	c := collect(t, e.brokers, e.topic("hist"))
	w := startResilientWriter(t, e.dbURL, 200)
	standby := e.start(false)
	s.procs = append(s.procs, active, standby)
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(standby.output(), "standing by") {
		if time.Now().After(deadline) {
			t.Fatalf("the second instance does not stand by:\n%s", standby.output())
		}
		time.Sleep(100 * time.Millisecond)
	}
	var end time.Time
	var atEnd int
	for i := 0; i < 3; i++ {
		time.Sleep(3 * time.Second)
		if !e.terminateWalsender() {
			t.Fatal("no walsender to terminate")
		}
		end, atEnd = time.Now(), w.snapshot()
	}
	time.Sleep(5 * time.Second)
	w.finish(t)
	want := expected(w.history)
	recs := c.waitFor(t, want, 180*time.Second, 3*time.Second)
	r := faultResult{checked: changesIn(w.history)}
	if got := c.arrival(atEnd + 1); !got.IsZero() {
		r.seconds = max(0, got.Sub(end).Seconds())
	} else {
		r.seconds = -1
		r.note = fmt.Sprintf("not caught up: %d of %d records; ", len(recs), want)
	}
	for i, p := range []*proc{active, standby} {
		select {
		case <-p.exited:
			t.Errorf("instance %d exited: %v\n%s", i+1, p.err, tail(p.output(), 30))
			r.recovered += fmt.Sprintf("#%d exited ", i+1)
		default:
			r.recovered += fmt.Sprintf("#%d up (recovering x%d) ", i+1, strings.Count(p.output(), "recovering"))
		}
	}
	r.note += fmt.Sprintf("takeovers by #2: %d", strings.Count(standby.output(), "taking over"))
	r.checkHistories(t, recs, w)
	active.stop(t)
	standby.stop(t)
	return r
}

// startResilientWriter is startWriter that outlives its connection: when
// the server restarts or the connection drops it connects again and goes
// on, and a transaction whose COMMIT got no answer counts as committed
// exactly when txid_status says so — so the history stays exact.
func startResilientWriter(t *testing.T, url string, keys int) *writer {
	t.Helper()
	w := &writer{history: map[int][]change{}, stop: make(chan struct{}), done: make(chan error, 1)}
	ctx := context.Background()
	connect := func() (*pgx.Conn, error) {
		deadline := time.Now().Add(120 * time.Second)
		for {
			conn, err := pgx.Connect(ctx, url)
			if err == nil || time.Now().After(deadline) {
				return conn, err
			}
			select {
			case <-w.stop:
				return nil, errStopped
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	conn, err := connect()
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		defer func() {
			if conn != nil {
				conn.Close(ctx)
			}
		}()
		rng := rand.New(rand.NewSource(time.Now().UnixNano()))
		live := map[int]bool{}
		var v int64
		type pend struct {
			k int
			c change
		}
		for {
			select {
			case <-w.stop:
				w.done <- nil
				return
			default:
			}
			var pending []pend
			var xid int64
			committed, sure, err := func() (bool, bool, error) {
				tx, err := conn.Begin(ctx)
				if err != nil {
					return false, true, err
				}
				defer func() { _ = tx.Rollback(ctx) }()
				if err := tx.QueryRow(ctx, `SELECT txid_current()`).Scan(&xid); err != nil {
					return false, true, err
				}
				now := map[int]bool{}
				isLive := func(k int) bool {
					if l, ok := now[k]; ok {
						return l
					}
					return live[k]
				}
				n := 1 + rng.Intn(4)
				for i := 0; i < n; i++ {
					k := rng.Intn(keys)
					v++
					var op, q string
					switch {
					case !isLive(k):
						op, q = "c", `INSERT INTO hist (k, v) VALUES ($1, $2)`
					case rng.Intn(4) == 0:
						op, q = "d", `DELETE FROM hist WHERE k = $1 AND $2::bigint IS NOT NULL`
					default:
						op, q = "u", `UPDATE hist SET v = $2 WHERE k = $1`
					}
					if _, err := tx.Exec(ctx, q, k, v); err != nil {
						return false, true, fmt.Errorf("writer %s on key %d: %w", op, k, err)
					}
					now[k] = op != "d"
					c := change{op: op, v: v}
					if op == "d" {
						c.v = 0
					}
					pending = append(pending, pend{k, c})
				}
				if err := tx.Commit(ctx); err != nil {
					return false, false, err
				}
				return true, true, nil
			}()
			if err != nil {
				var pgErr *pgconn.PgError
				if !conn.IsClosed() && errors.As(err, &pgErr) && !strings.HasPrefix(pgErr.Code, "57P") && !strings.HasPrefix(pgErr.Code, "08") {
					w.done <- err
					return
				}
				conn.Close(ctx)
				if conn, err = connect(); err != nil {
					if errors.Is(err, errStopped) {
						w.done <- nil
					} else {
						w.done <- err
					}
					return
				}
				if !sure {
					var status *string
					if err := conn.QueryRow(ctx, `SELECT txid_status($1)`, xid).Scan(&status); err != nil {
						w.done <- fmt.Errorf("txid_status(%d): %w", xid, err)
						return
					}
					committed = status != nil && *status == "committed"
				}
			}
			if !committed {
				continue
			}
			w.mu.Lock()
			for _, p := range pending {
				w.history[p.k] = append(w.history[p.k], p.c)
				live[p.k] = p.c.op != "d"
			}
			w.commits++
			w.mu.Unlock()
			time.Sleep(time.Duration(rng.Intn(3)) * time.Millisecond)
		}
	}()
	return w
}

var errStopped = errors.New("writer stopped")

package metrics

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/rs/zerolog"

	"github.com/pg2kafka/pg2kafka/event"
	"github.com/pg2kafka/pg2kafka/internal/pgtest"
	"github.com/pg2kafka/pg2kafka/source"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// clock is a settable time source.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *clock) Advance(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

// start starts m's HTTP server on a free port and stops it with the test.
func start(t *testing.T, m *Metrics) string {
	t.Helper()
	if err := m.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := m.Stop(); err != nil {
			t.Error(err)
		}
	})
	return "http://" + m.Addr()
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

// scrape reads /metrics over HTTP and parses the text exposition.
func scrape(t *testing.T, base string) map[string]*dto.MetricFamily {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, base+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/plain; version=0.0.4")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics: status %d", resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("/metrics: content type %q", ct)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("parsing /metrics: %v\n%s", err, body)
	}
	return mfs
}

// find returns the metric of family name whose labels are exactly labels
// ("k=v" pairs), or nil.
func find(t *testing.T, mfs map[string]*dto.MetricFamily, name string, labels ...string) *dto.Metric {
	t.Helper()
	mf := mfs[name]
	if mf == nil {
		return nil
	}
	want := map[string]string{}
	for _, l := range labels {
		k, v, _ := strings.Cut(l, "=")
		want[k] = v
	}
	for _, m := range mf.GetMetric() {
		if len(m.GetLabel()) != len(want) {
			continue
		}
		ok := true
		for _, lp := range m.GetLabel() {
			if v, has := want[lp.GetName()]; !has || v != lp.GetValue() {
				ok = false
			}
		}
		if ok {
			return m
		}
	}
	return nil
}

// value returns a counter's or gauge's value; it fails the test if the
// metric is missing or of another type than typ.
func value(t *testing.T, mfs map[string]*dto.MetricFamily, typ dto.MetricType, name string, labels ...string) float64 {
	t.Helper()
	mf := mfs[name]
	if mf == nil {
		t.Fatalf("metric %s missing", name)
	}
	if mf.GetType() != typ {
		t.Fatalf("metric %s is a %s, want %s", name, mf.GetType(), typ)
	}
	m := find(t, mfs, name, labels...)
	if m == nil {
		t.Fatalf("metric %s%v missing", name, labels)
	}
	switch typ {
	case dto.MetricType_COUNTER:
		return m.GetCounter().GetValue()
	case dto.MetricType_GAUGE:
		return m.GetGauge().GetValue()
	}
	t.Fatalf("value of a %s", typ)
	return 0
}

func histogram(t *testing.T, mfs map[string]*dto.MetricFamily, name string) *dto.Histogram {
	t.Helper()
	mf := mfs[name]
	if mf == nil || mf.GetType() != dto.MetricType_HISTOGRAM || len(mf.GetMetric()) != 1 {
		t.Fatalf("histogram %s missing or malformed: %v", name, mf)
	}
	return mf.GetMetric()[0].GetHistogram()
}

func near(a, b float64) bool { d := a - b; return d < 1e-9 && d > -1e-9 }

func TestObserverOverHTTP(t *testing.T) {
	clk := newClock()
	m := New(withClock(clk.Now))
	base := start(t, m)

	// Before anything happens every unlabelled metric is there, at zero.
	mfs := scrape(t, base)
	for _, name := range []string{"pg2kafka_kafka_commits_total", "pg2kafka_replication_lag_bytes",
		"pg2kafka_replication_lag_seconds", "pg2kafka_slot_retained_wal_bytes", "pg2kafka_checkpoint_lsn", "pg2kafka_up"} {
		if mfs[name] == nil {
			t.Errorf("%s is not exported before any observation", name)
		}
	}
	if v := value(t, mfs, dto.MetricType_GAUGE, "pg2kafka_up"); v != 0 {
		t.Errorf("pg2kafka_up = %v before Ready", v)
	}
	if mfs["go_goroutines"] == nil || mfs["process_resident_memory_bytes"] == nil {
		t.Error("runtime and process metrics are missing")
	}

	m.Record("public", "orders", event.OpCreate, 100)
	m.Record("public", "orders", event.OpCreate, 50)
	m.Record("public", "orders", event.OpUpdate, 70)
	m.Record("public", "orders", event.OpDelete, 30)
	m.Record("shop", "items", event.OpCreate, 10)
	oldest := clk.Now().Add(-1500 * time.Millisecond)
	m.Committed(5, 20*time.Millisecond, 0x1_0000_0100, oldest)
	m.Committed(0, 5*time.Millisecond, 0x1_0000_0200, time.Time{}) // a cursor-only commit
	m.Backfill("shop", "items", 40_000, 100_000, false)
	m.Backfill("public", "orders", 5, 4.5, true)
	m.Ready()

	mfs = scrape(t, base)
	counter := func(name string, want float64, labels ...string) {
		t.Helper()
		if v := value(t, mfs, dto.MetricType_COUNTER, name, labels...); v != want {
			t.Errorf("%s%v = %v, want %v", name, labels, v, want)
		}
	}
	gauge := func(name string, want float64, labels ...string) {
		t.Helper()
		if v := value(t, mfs, dto.MetricType_GAUGE, name, labels...); !near(v, want) {
			t.Errorf("%s%v = %v, want %v", name, labels, v, want)
		}
	}
	counter("pg2kafka_records_total", 2, "table=public.orders", "op=c")
	counter("pg2kafka_records_total", 1, "table=public.orders", "op=u")
	counter("pg2kafka_records_total", 1, "table=public.orders", "op=d")
	counter("pg2kafka_records_total", 1, "table=shop.items", "op=c")
	counter("pg2kafka_records_total", 0, "table=shop.items", "op=d")
	counter("pg2kafka_record_bytes_total", 250, "table=public.orders")
	counter("pg2kafka_record_bytes_total", 10, "table=shop.items")
	counter("pg2kafka_kafka_commits_total", 2)
	gauge("pg2kafka_backfill_rows", 40_000, "table=shop.items")
	gauge("pg2kafka_backfill_rows_estimated", 100_000, "table=shop.items")
	gauge("pg2kafka_backfill_complete", 0, "table=shop.items")
	gauge("pg2kafka_backfill_rows", 5, "table=public.orders")
	gauge("pg2kafka_backfill_complete", 1, "table=public.orders")
	gauge("pg2kafka_checkpoint_lsn", float64(0x1_0000_0200))
	gauge("pg2kafka_up", 1)
	gauge("pg2kafka_replication_lag_seconds", 0) // no poll yet: nothing known to wait

	cd := histogram(t, mfs, "pg2kafka_kafka_commit_duration_seconds")
	if cd.GetSampleCount() != 2 || !near(cd.GetSampleSum(), 0.025) {
		t.Errorf("commit duration: count %d sum %v, want 2 and 0.025", cd.GetSampleCount(), cd.GetSampleSum())
	}
	lat := histogram(t, mfs, "pg2kafka_commit_to_kafka_latency_seconds")
	if lat.GetSampleCount() != 1 || !near(lat.GetSampleSum(), 1.5) {
		t.Errorf("commit-to-Kafka latency: count %d sum %v, want 1 and 1.5", lat.GetSampleCount(), lat.GetSampleSum())
	}
	for _, b := range lat.GetBucket() {
		want := uint64(0)
		if b.GetUpperBound() >= 1.5 {
			want = 1
		}
		if b.GetCumulativeCount() != want {
			t.Errorf("latency bucket le=%v holds %d, want %d", b.GetUpperBound(), b.GetCumulativeCount(), want)
		}
	}

	// HELP texts are there (every metric documented).
	for name, mf := range mfs {
		if strings.HasPrefix(name, "pg2kafka_") && mf.GetHelp() == "" {
			t.Errorf("%s has no HELP", name)
		}
	}

	// Stop shuts the server down.
	if err := m.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Error("the server still answers after Stop")
	}
	if err := m.Stop(); err != nil { // idempotent
		t.Error(err)
	}
}

func TestRecordAllocations(t *testing.T) {
	m := New(WithoutRuntimeMetrics())
	m.Record("public", "orders", event.OpCreate, 1)
	allocs := testing.AllocsPerRun(1000, func() {
		m.Record("public", "orders", event.OpUpdate, 10)
	})
	if allocs != 0 {
		t.Errorf("Record allocates %v times per call, want 0", allocs)
	}
}

func TestReadyz(t *testing.T) {
	clk := newClock()
	m := New(WithReadyMaxLagBytes(1000), withClock(clk.Now), WithoutRuntimeMetrics())
	base := start(t, m)

	check := func(want int, phrase string) {
		t.Helper()
		code, body := get(t, base+"/readyz")
		if code != want || !strings.Contains(body, phrase) {
			t.Errorf("/readyz = %d %q, want %d with %q", code, body, want, phrase)
		}
		if code, _ := get(t, base+"/healthz"); code != http.StatusOK {
			t.Errorf("/healthz = %d", code)
		}
	}
	check(http.StatusServiceUnavailable, "not streaming")
	m.Ready()
	check(http.StatusOK, "ready")

	// A poll finds the server 5000 bytes past the checkpoint: lagging.
	m.Committed(0, time.Millisecond, 10_000, time.Time{})
	m.observeWAL(clk.Now(), 15_000, 9_000)
	check(http.StatusServiceUnavailable, "replication lag 5000 bytes")
	// A commit catches up to within the threshold.
	m.Committed(3, time.Millisecond, 14_500, clk.Now())
	check(http.StatusOK, "ready")
	// Exactly at the threshold is not ready.
	m.observeWAL(clk.Now(), 15_500, 0)
	check(http.StatusServiceUnavailable, "1000 bytes is at or above 1000")
	m.observeWAL(clk.Now(), 15_499, 0)
	check(http.StatusOK, "ready")

	m.NotReady()
	check(http.StatusServiceUnavailable, "not streaming")
	m.Ready()
	check(http.StatusOK, "ready")

	// Without a threshold only streaming counts.
	m2 := New(WithReadyMaxLagBytes(0), WithoutRuntimeMetrics())
	m2.Ready()
	m2.observeWAL(time.Now(), 1<<40, 0)
	if r := m2.NotReadyReason(); r != "" {
		t.Errorf("lag check not disabled: %s", r)
	}
}

func TestLagSeconds(t *testing.T) {
	clk := newClock()
	m := New(withClock(clk.Now), WithoutRuntimeMetrics())
	lag := func() float64 { return m.lagSeconds() }

	// Caught up at a poll: 0, however long idle.
	m.Committed(0, time.Millisecond, 1000, time.Time{})
	m.observeWAL(clk.Now(), 1000, 0)
	clk.Advance(time.Hour)
	if v := lag(); v != 0 {
		t.Errorf("idle and caught up: lag %v, want 0", v)
	}
	m.observeWAL(clk.Now(), 1000, 0)

	// A write arrives; the next poll sees it waiting. The last change in
	// Kafka is an hour old, but the capture was caught up 10s ago: the lag
	// is bounded by that.
	clk.Advance(10 * time.Second)
	m.observeWAL(clk.Now(), 2000, 0)
	if v := lag(); !near(v, 10) {
		t.Errorf("behind after idle: lag %v, want 10", v)
	}
	clk.Advance(5 * time.Second)
	if v := lag(); !near(v, 15) {
		t.Errorf("still behind: lag %v, want 15", v)
	}

	// A batch commits a change committed in PostgreSQL 2s ago, but more
	// WAL is waiting: lag counts from that change.
	m.Committed(10, time.Millisecond, 1500, clk.Now().Add(-2*time.Second))
	if v := lag(); !near(v, 2) {
		t.Errorf("after a commit, still behind: lag %v, want 2", v)
	}
	clk.Advance(3 * time.Second)
	if v := lag(); !near(v, 5) {
		t.Errorf("lag %v, want 5", v)
	}

	// The cursor reaches the polled WAL position: caught up.
	m.Committed(1, time.Millisecond, 2000, clk.Now().Add(-time.Second))
	if v := lag(); v != 0 {
		t.Errorf("caught up by a commit: lag %v, want 0", v)
	}
	mfs := gather(t, m)
	if v := value(t, mfs, dto.MetricType_GAUGE, "pg2kafka_replication_lag_bytes"); v != 0 {
		t.Errorf("lag bytes %v, want 0", v)
	}
}

// gather reads the registry directly (for tests of values, not of HTTP).
func gather(t *testing.T, m *Metrics) map[string]*dto.MetricFamily {
	t.Helper()
	fams, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*dto.MetricFamily{}
	for _, f := range fams {
		out[f.GetName()] = f
	}
	return out
}

func currentLSN(t *testing.T, conn *pgx.Conn, fn string) uint64 {
	t.Helper()
	var s string
	if err := conn.QueryRow(context.Background(), `SELECT `+fn+`()::text`).Scan(&s); err != nil {
		t.Fatal(err)
	}
	l, err := pglogrepl.ParseLSN(s)
	if err != nil {
		t.Fatal(err)
	}
	return uint64(l)
}

func TestPollerAgainstPostgres(t *testing.T) {
	url := pgtest.Shared(t).NewDatabase(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	slot := fmt.Sprintf("metrics_s_%d", time.Now().UnixNano())
	if _, err := conn.Exec(ctx, `SELECT pg_create_logical_replication_slot($1, 'pgoutput')`, slot); err != nil {
		t.Fatal(err)
	}
	pgtest.Exec(t, url,
		`CREATE TABLE t (id int PRIMARY KEY, v text)`,
		`INSERT INTO t SELECT i, repeat('x', 100) FROM generate_series(1, 20000) i`)
	wal := currentLSN(t, conn, "pg_current_wal_insert_lsn")

	var logs syncBuffer
	m := New(WithReadyMaxLagBytes(1<<20), WithLogger(zerolog.New(&logs)))
	base := start(t, m)
	watch(t, m, url, slot, 50*time.Millisecond)
	m.Ready()

	// The slot holds the WAL of the writes; nothing is confirmed past the
	// slot's creation, so the lag is at least the writes' WAL. The retained
	// WAL is measured to the written WAL position, which with
	// synchronous_commit off reaches the writes only once the WAL writer
	// has run: wait for both rather than take the first nonzero value.
	var mfs map[string]*dto.MetricFamily
	waitFor(t, "retained WAL and lag above 1 MiB", func() bool {
		mfs = scrape(t, base)
		return value(t, mfs, dto.MetricType_GAUGE, "pg2kafka_slot_retained_wal_bytes") >= 1<<20 &&
			value(t, mfs, dto.MetricType_GAUGE, "pg2kafka_replication_lag_bytes") >= 1<<20
	})
	retained := value(t, mfs, dto.MetricType_GAUGE, "pg2kafka_slot_retained_wal_bytes")
	lagBytes := value(t, mfs, dto.MetricType_GAUGE, "pg2kafka_replication_lag_bytes")
	t.Logf("retained %v bytes, lag %v bytes", retained, lagBytes)
	if retained < 1<<20 || lagBytes < 1<<20 {
		t.Errorf("retained WAL %v and lag %v bytes, want both above 1 MiB after 2 MB of writes", retained, lagBytes)
	}
	if v := value(t, mfs, dto.MetricType_GAUGE, "pg2kafka_slot_lost"); v != 0 {
		t.Errorf("pg2kafka_slot_lost = %v", v)
	}
	if v := value(t, mfs, dto.MetricType_COUNTER, "pg2kafka_poll_errors_total"); v != 0 {
		t.Errorf("pg2kafka_poll_errors_total = %v; logs:\n%s", v, logs.String())
	}
	if code, body := get(t, base+"/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "replication lag") {
		t.Errorf("/readyz = %d %q with lag %v, want 503", code, body, lagBytes)
	}

	// The capture checkpoints past the writes: the lag falls below the
	// threshold (the retained WAL stays: nothing confirmed it to the slot).
	m.Committed(1, time.Millisecond, wal, time.Now())
	waitFor(t, "lag below 1 MiB", func() bool {
		mfs = scrape(t, base)
		return value(t, mfs, dto.MetricType_GAUGE, "pg2kafka_replication_lag_bytes") < 1<<20
	})
	if code, body := get(t, base+"/readyz"); code != http.StatusOK {
		t.Errorf("/readyz = %d %q after catching up", code, body)
	}
	if v := value(t, mfs, dto.MetricType_GAUGE, "pg2kafka_slot_retained_wal_bytes"); v < retained {
		t.Errorf("retained WAL fell from %v to %v without the slot advancing", retained, v)
	}

	// The slot disappears under a checkpointed capture: slot_lost.
	if _, err := conn.Exec(ctx, `SELECT pg_drop_replication_slot($1)`, slot); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "pg2kafka_slot_lost = 1", func() bool {
		mfs = scrape(t, base)
		return value(t, mfs, dto.MetricType_GAUGE, "pg2kafka_slot_lost") == 1
	})
	if v := value(t, mfs, dto.MetricType_GAUGE, "pg2kafka_slot_retained_wal_bytes"); v != 0 {
		t.Errorf("retained WAL of a missing slot = %v, want 0", v)
	}
}

func TestPollerErrorsDoNotLeakPassword(t *testing.T) {
	const secret = "metrics-pw-Zq8Vn3Kt5"
	var logs syncBuffer
	// Port 1 refuses connections.
	m := New(WithLogger(zerolog.New(&logs)), WithoutRuntimeMetrics())
	if err := m.Start(""); err != nil {
		t.Fatal(err)
	}
	defer m.Stop()
	stop := watch(t, m, "postgres://someone:"+secret+"@127.0.0.1:1/db?sslmode=disable&connect_timeout=2", "s", 20*time.Millisecond)
	waitFor(t, "two poll errors", func() bool {
		return value(t, gather(t, m), dto.MetricType_COUNTER, "pg2kafka_poll_errors_total") >= 2
	})
	stop()
	if err := m.Stop(); err != nil {
		t.Fatal(err)
	}
	out := logs.String()
	if strings.Contains(out, secret) {
		t.Errorf("the poller's logs leak the password:\n%s", out)
	}
	if n := strings.Count(out, "polling PostgreSQL for replication lag failed"); n != 1 {
		t.Errorf("a failure streak logged %d times, want once:\n%s", n, out)
	}
	if m.Addr() != "" {
		t.Errorf("Addr() = %q without a listener", m.Addr())
	}
}

func TestStartListenError(t *testing.T) {
	a := New(WithoutRuntimeMetrics())
	base := start(t, a)
	b := New(WithoutRuntimeMetrics())
	err := b.Start(strings.TrimPrefix(base, "http://"))
	if err == nil {
		b.Stop()
		t.Fatal("a second listener on the same port started")
	}
	if !strings.Contains(err.Error(), "http.listen") {
		t.Errorf("error %q does not name http.listen", err)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// syncBuffer is a bytes.Buffer safe for a logger and a test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// watch feeds m from the source's slot readings, as cmd/pg2kafka does,
// until the test ends or stop is called.
func watch(t *testing.T, m *Metrics, url, slot string, every time.Duration) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		source.WatchSlot(ctx, source.Config{ConnString: url, Slot: slot}, every, func(r source.SlotReading, err error) {
			if err != nil {
				m.SlotReadFailed(err)
				return
			}
			m.ObserveSlot(SlotReading{At: r.At, WALInsert: r.WALInsert, WALWrite: r.WALWrite, SlotExists: r.Slot.Exists,
				RestartLSN: r.Slot.RestartLSN, ConfirmedFlushLSN: r.Slot.ConfirmedFlushLSN, WALStatus: r.Slot.WALStatus, Invalidated: r.Slot.Invalidated})
		})
	}()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return stop
}

// TestObserveSlot checks the gauges a slot reading sets, without a server.
func TestObserveSlot(t *testing.T) {
	m := New(WithoutRuntimeMetrics())
	m.ObserveSlot(SlotReading{At: time.Now(), WALInsert: 5000, WALWrite: 4000, SlotExists: true, RestartLSN: 1000, ConfirmedFlushLSN: 2000})
	mfs := gather(t, m)
	if v := value(t, mfs, dto.MetricType_GAUGE, "pg2kafka_slot_retained_wal_bytes"); v != 3000 {
		t.Errorf("retained WAL = %v, want 3000", v)
	}
	if v := value(t, mfs, dto.MetricType_GAUGE, "pg2kafka_replication_lag_bytes"); v != 3000 {
		t.Errorf("lag = %v, want 3000 (insert position minus confirmed_flush_lsn)", v)
	}
	if v := value(t, mfs, dto.MetricType_GAUGE, "pg2kafka_slot_lost"); v != 0 {
		t.Errorf("slot lost = %v before any checkpoint", v)
	}
	m.Committed(1, time.Millisecond, 4500, time.Now())
	m.ObserveSlot(SlotReading{At: time.Now(), WALInsert: 5000, WALWrite: 5000, WALStatus: "lost"})
	mfs = gather(t, m)
	if v := value(t, mfs, dto.MetricType_GAUGE, "pg2kafka_slot_lost"); v != 1 {
		t.Errorf("slot lost = %v for a missing slot after a checkpoint", v)
	}
	m.SlotReadFailed(fmt.Errorf("test"))
	if v := value(t, gather(t, m), dto.MetricType_COUNTER, "pg2kafka_poll_errors_total"); v != 1 {
		t.Errorf("poll errors = %v, want 1", v)
	}
}

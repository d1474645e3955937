package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pglogrepl"

	"github.com/pg2kafka/pg2kafka/sink/kafka"
)

// One 200,000-row transaction is delivered whole, in bounded memory.
func TestLargeTransaction(t *testing.T) {
	if testing.Short() {
		t.Skip("200k rows")
	}
	e := newEnv(t)
	e.exec(`CREATE TABLE bulk (id integer PRIMARY KEY, payload text)`,
		`ALTER PUBLICATION flow_publication ADD TABLE bulk`)
	p := e.start(true)
	const rows = 200_000
	e.exec(`INSERT INTO bulk SELECT g, md5(g::text) FROM generate_series(1, 200000) g`)
	recs := e.consume(e.topic("bulk"), rows, 120*time.Second)
	peak := peakRSS(t, p.cmd.Process.Pid)
	p.stop(t)
	if len(recs) != rows {
		t.Fatalf("got %d records, want %d", len(recs), rows)
	}
	seen := make([]bool, rows+1)
	for _, r := range recs {
		id, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(string(r.Key), `{"id":`), `}`))
		if err != nil || id < 1 || id > rows || seen[id] {
			t.Fatalf("unexpected or repeated key %s", r.Key)
		}
		seen[id] = true
	}
	t.Logf("200,000-row transaction: peak RSS of pg2kafka %d MiB", peak>>20)
	if peak > 256<<20 && os.Getenv("PG2KAFKA_E2E_RACE") == "" { // the race detector multiplies memory
		t.Errorf("peak RSS %d MiB, want under 256 MiB", peak>>20)
	}
}

// peakRSS reads a process's high-water resident set size.
func peakRSS(t testing.TB, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatalf("reading peak RSS: %v", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			kb, _ := strconv.ParseInt(strings.Fields(line)[1], 10, 64)
			return kb << 10
		}
	}
	t.Fatal("no VmHWM in /proc status")
	return 0
}

// The slot's confirmed_flush_lsn never passes the last committed
// checkpoint's cursor, and it advances while the captured table is idle and
// another, uncaptured table is busy (WAL does not pile up).
func TestSlotConfirmsOnlyCheckpointedAndAdvancesWhenIdle(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for status updates")
	}
	e := newEnv(t)
	e.exec(`CREATE TABLE captured (id integer PRIMARY KEY)`,
		`CREATE TABLE busy (id serial PRIMARY KEY, v text)`,
		`ALTER PUBLICATION flow_publication ADD TABLE captured`)
	p := e.start(true)
	e.exec(`INSERT INTO captured VALUES (1)`)
	e.consume(e.topic("captured"), 1, 30*time.Second)
	conn := e.conn()
	ctx := context.Background()

	confirmed := func() uint64 {
		var s string
		if err := conn.QueryRow(ctx, `SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = $1`, e.slot).Scan(&s); err != nil {
			t.Fatal(err)
		}
		l, err := pglogrepl.ParseLSN(s)
		if err != nil {
			t.Fatal(err)
		}
		return uint64(l)
	}
	start := confirmed()
	deadline := time.Now().Add(60 * time.Second)
	var last uint64
	samples := 0
	for time.Now().Before(deadline) {
		e.exec(`INSERT INTO busy (v) SELECT md5(g::text) FROM generate_series(1, 200) g`)
		// Read the slot before the checkpoint: a checkpoint is written before
		// its cursor is confirmed, so the slot can never be ahead.
		c := confirmed()
		cp := checkpointCursor(t, e)
		if c > cp {
			t.Fatalf("slot confirmed %s, past the last committed checkpoint's cursor %s", pglogrepl.LSN(c), pglogrepl.LSN(cp))
		}
		samples++
		last = c
		if c > start {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	p.stop(t)
	if last <= start {
		t.Fatalf("confirmed_flush_lsn stayed at %s for 60s while the captured table was idle and another was busy", pglogrepl.LSN(start))
	}
	t.Logf("confirmed_flush_lsn advanced %s -> %s while idle (%d samples, never past the checkpoint)", pglogrepl.LSN(start), pglogrepl.LSN(last), samples)
}

// A transaction larger than kafka.batch.split_records is relayed in several
// Kafka transactions; stopped after a part committed (SIGKILL, or SIGTERM,
// which aborts the open part), pg2kafka resumes inside the transaction and
// skips exactly the committed part: every row arrives exactly once
// (read_committed).
func TestSplitTransactionResumesInside(t *testing.T) {
	if testing.Short() {
		t.Skip("100k rows")
	}
	for _, how := range []string{"SIGKILL", "SIGTERM"} {
		t.Run(how, func(t *testing.T) { splitTransactionResumesInside(t, how) })
	}
}

func splitTransactionResumesInside(t *testing.T, how string) {
	e := newEnv(t)
	e.exec(`CREATE TABLE split (id integer PRIMARY KEY, payload text)`,
		`CREATE TABLE other (id integer PRIMARY KEY)`, `INSERT INTO other VALUES (1)`,
		`ALTER PUBLICATION flow_publication ADD TABLE split, other`)
	path := e.config(configOpts{mutate: func(s string) string {
		return strings.Replace(s, "batch: {max_delay: 50ms}", "batch: {max_delay: 50ms, split_records: 10000}", 1)
	}})
	p := e.run(path)
	p.waitReady(t, 60*time.Second)
	const rows = 100_000
	e.exec(fmt.Sprintf(`INSERT INTO split SELECT g, md5(g::text) FROM generate_series(1, %d) g`, rows))
	s, err := kafka.New(e.brokers, kafka.Checkpoints(e.prefix+".checkpoints", e.capture()))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	deadline := time.Now().Add(60 * time.Second)
	for {
		cp, err := s.ReadCheckpoint(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if cp.Within != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no part of the transaction committed\n%s", p.output())
		}
		time.Sleep(20 * time.Millisecond)
	}
	interrupt(t, p, how, 0)
	// The stop may land after one more part committed, or while a commit
	// was on its way: fence the stopped process's transactional IDs first,
	// as a start and the state tools do, then read what the restart reads.
	fence, err := kafka.New(e.brokers, kafka.Checkpoints(e.prefix+".checkpoints", e.capture()), kafka.Transactional("pg2kafka-"+e.capture()))
	if err != nil {
		t.Fatal(err)
	}
	if err := fence.Init(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	fence.Close()
	cp, err := s.ReadCheckpoint(context.Background())
	if err != nil || cp.Within == nil {
		t.Fatalf("the checkpoint after the stop: %v, within %q", err, cp.Within)
	}
	within := cp.Within
	t.Logf("stopped by %s after a part committed: within %s", how, within)
	// Resetting another table while stopped keeps the position inside the
	// transaction: the restart must still skip exactly the part committed.
	for start := time.Now(); ; time.Sleep(200 * time.Millisecond) {
		_, errOut, code := e.tool("state", "reset", "--table", "public.other", "--yes")
		if code == 0 {
			break
		}
		if !strings.Contains(errOut, "in use") || time.Since(start) > 30*time.Second {
			t.Fatalf("state reset --table public.other: exit %d\n%s", code, errOut)
		}
	}
	if cp, err := s.ReadCheckpoint(context.Background()); err != nil || string(cp.Within) != string(within) {
		t.Fatalf("after state reset --table: within %q (%v), want %q", cp.Within, err, within)
	}
	// So does importing the state exported: it resumes at the same cursor.
	exported := filepath.Join(e.dir, "state.json")
	if err := os.WriteFile(exported, []byte(e.mustTool("state", "export")), 0o600); err != nil {
		t.Fatal(err)
	}
	e.mustTool("state", "import", exported, "--yes")
	if cp, err := s.ReadCheckpoint(context.Background()); err != nil || string(cp.Within) != string(within) {
		t.Fatalf("after state export and import: within %q (%v), want %q", cp.Within, err, within)
	}
	p = e.run(path)
	p.waitReady(t, 60*time.Second)
	recs := e.consume(e.topic("split"), rows, 120*time.Second)
	p.stop(t)
	seen := make([]bool, rows+1)
	for _, r := range recs {
		id, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(string(r.Key), `{"id":`), `}`))
		if err != nil || id < 1 || id > rows || seen[id] {
			t.Fatalf("unexpected or repeated key %s", r.Key)
		}
		seen[id] = true
	}
	if len(recs) != rows {
		t.Fatalf("got %d records, want %d", len(recs), rows)
	}
	if cp, _ := s.ReadCheckpoint(context.Background()); cp.Within != nil {
		t.Errorf("the last checkpoint still says %s inside a transaction", cp.Within)
	}
}

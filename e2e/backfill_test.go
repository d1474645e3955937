package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/pg2kafka/pg2kafka/checkpoint"
	"github.com/pg2kafka/pg2kafka/schema/rowkey"
	"github.com/pg2kafka/pg2kafka/sink/kafka"
)

// backfillTables creates the four tables of the backfill tests: integer,
// composite and text keys, and a keyless one; every write sets v from one
// sequence, so a key's versions only grow.
func backfillTables(e *env, rows int) {
	e.exec(
		`CREATE SEQUENCE ver`,
		`CREATE TABLE t_int (id integer PRIMARY KEY, v bigint NOT NULL DEFAULT nextval('ver'), pad text)`,
		`CREATE TABLE t_comp (a integer, b text, v bigint NOT NULL DEFAULT nextval('ver'), PRIMARY KEY (a, b))`,
		`CREATE TABLE t_text (code text PRIMARY KEY, v bigint NOT NULL DEFAULT nextval('ver'))`,
		`CREATE TABLE t_nokey (n integer, v bigint NOT NULL DEFAULT nextval('ver'))`,
		fmt.Sprintf(`INSERT INTO t_int (id, pad) SELECT g, md5(g::text) FROM generate_series(1, %d) g`, rows*3/10),
		fmt.Sprintf(`INSERT INTO t_comp (a, b) SELECT g / 10, 'b' || (g %% 10) FROM generate_series(1, %d) g`, rows*3/10),
		fmt.Sprintf(`INSERT INTO t_text (code) SELECT 'code-' || g FROM generate_series(1, %d) g`, rows*3/10),
		fmt.Sprintf(`INSERT INTO t_nokey (n) SELECT g FROM generate_series(1, %d) g`, rows/10),
		`ALTER PUBLICATION flow_publication ADD TABLE t_int, t_comp, t_text, t_nokey`,
		`ANALYZE`,
	)
}

// mutator writes random inserts, updates and deletes to the keyed tables
// (and inserts to the keyless one) until stopped.
func mutator(t *testing.T, url string, keyRange int) (stop func()) {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	quit, done := make(chan struct{}), make(chan error, 1)
	go func() {
		defer conn.Close(context.Background())
		rng := rand.New(rand.NewSource(time.Now().UnixNano()))
		ctx := context.Background()
		for {
			select {
			case <-quit:
				done <- nil
				return
			default:
			}
			k := 1 + rng.Intn(keyRange)
			var q string
			var args []any
			switch rng.Intn(10) {
			case 0:
				q, args = `DELETE FROM t_int WHERE id = $1`, []any{k}
			case 1:
				q, args = `INSERT INTO t_int (id, pad) VALUES ($1, 'new') ON CONFLICT (id) DO UPDATE SET v = nextval('ver')`, []any{k}
			case 2, 3:
				q, args = `UPDATE t_int SET v = nextval('ver'), pad = 'upd' WHERE id = $1`, []any{k}
			case 4:
				q, args = `UPDATE t_comp SET v = nextval('ver') WHERE a = $1 AND b = $2`, []any{k / 10, fmt.Sprintf("b%d", k%10)}
			case 5:
				q, args = `DELETE FROM t_comp WHERE a = $1 AND b = $2`, []any{k / 10, fmt.Sprintf("b%d", k%10)}
			case 6:
				q, args = `UPDATE t_text SET v = nextval('ver') WHERE code = $1`, []any{fmt.Sprintf("code-%d", k)}
			case 7:
				q, args = `DELETE FROM t_text WHERE code = $1`, []any{fmt.Sprintf("code-%d", k)}
			case 8:
				q, args = `INSERT INTO t_text (code) VALUES ($1) ON CONFLICT (code) DO UPDATE SET v = nextval('ver')`, []any{fmt.Sprintf("code-%d", k)}
			default:
				q, args = `INSERT INTO t_nokey (n) VALUES ($1)`, []any{-k}
			}
			if _, err := conn.Exec(ctx, q, args...); err != nil {
				done <- fmt.Errorf("mutator: %s: %w", q, err)
				return
			}
			time.Sleep(time.Duration(rng.Intn(2)) * time.Millisecond)
		}
	}()
	return func() {
		close(quit)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}

// lastPerKey checks a keyed topic: along each key's records v never
// decreases, and the last record per key (deletes and tombstones
// honoured) equals the table's rows. It returns the number of backfill
// documents.
func lastPerKey(t *testing.T, e *env, table string, recs []*kgo.Record, rowsSQL string) int {
	t.Helper()
	last := map[string]doc{}
	maxV := map[string]float64{}
	snapshots := 0
	for _, r := range recs {
		k := canonJSON(string(r.Key))
		if r.Value == nil {
			delete(last, k)
			continue
		}
		d := decode(t, r)
		if source(d)["snapshot"] == true {
			snapshots++
		}
		if meta(d)["op"] == "d" {
			delete(last, k)
			continue
		}
		v := d["v"].(float64)
		if v < maxV[k] {
			t.Errorf("%s key %s went back in time: v %v after %v", table, k, v, maxV[k])
		}
		maxV[k] = v
		last[k] = withoutMeta(d)
	}
	rows, err := e.conn().Query(context.Background(), rowsSQL)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for rows.Next() {
		var key, row string
		if err := rows.Scan(&key, &row); err != nil {
			t.Fatal(err)
		}
		want[canonJSON(key)] = row
	}
	if len(want) != len(last) {
		t.Errorf("%s: Kafka's last records hold %d keys, the table %d rows", table, len(last), len(want))
	}
	bad := 0
	for k, w := range want {
		var wd doc
		_ = json.Unmarshal([]byte(w), &wd)
		if got, ok := last[k]; !ok || fmt.Sprint(got) != fmt.Sprint(wd) {
			if bad++; bad <= 3 {
				t.Errorf("%s key %s: last record %v, table row %v", table, k, got, wd)
			}
		}
	}
	return snapshots
}

// The whole table, then every change: a backfill of 200,000 rows in four
// tables (chunk size 1,000) while a writer changes random keys and
// pg2kafka is stopped at random moments — SIGKILL, or SIGTERM — leaves each
// topic's last record per key equal to the table, no key ever going back in
// time, and resumes from the last chunk rather than from zero.
func TestBackfillUnderWritesAndCrashes(t *testing.T) {
	if testing.Short() {
		t.Skip("200k rows and crash rounds")
	}
	for _, how := range []string{"SIGKILL", "SIGTERM"} {
		t.Run(how, func(t *testing.T) { backfillUnderWritesAndCrashes(t, how, false) })
	}
	// read_only_capture: no watermark writes; each chunk's fences are the
	// server's WAL positions, reached through the stream's keepalives.
	t.Run("read-only/mixed", func(t *testing.T) { backfillUnderWritesAndCrashes(t, "mixed", true) })
}

func backfillUnderWritesAndCrashes(t *testing.T, how string, readOnly bool) {
	e := newEnv(t)
	rows, chunk, def := 200_000, 1000, 10
	if readOnly {
		rows, def = 40_000, 4 // a fence waits for a keepalive past it
	}
	backfillTables(e, rows)
	e.advanced = []string{fmt.Sprintf("backfill_chunk_size: %d", chunk)}
	if readOnly {
		e.advanced = append(e.advanced, "read_only_capture: true")
	}
	stop := mutator(t, e.dbURL, rows*3/10)
	rng := rand.New(rand.NewSource(time.Now().UnixNano()))
	restarts, how := crashRounds(def, how)
	for i := 0; i < restarts; i++ {
		p := e.start(false)
		time.Sleep(time.Duration(500+rng.Intn(1500)) * time.Millisecond)
		interrupt(t, p, how, i)
	}
	p := e.start(true)
	waitBackfilled(t, e, []string{"t_int", "t_comp", "t_text", "t_nokey"}, 120*time.Second)
	time.Sleep(500 * time.Millisecond)
	stop()
	// Let the last changes arrive, then compare: a marker row committed
	// after the writer's last write reaches Kafka after all of them (the
	// stream is in commit order), however slow the broker.
	e.exec(`INSERT INTO t_nokey (n) VALUES (-1000000000)`)
	waitForRecord(t, e, e.topic("t_nokey"), 90*time.Second, func(d doc) bool { return d["n"] == -1e9 })
	p.stop(t)

	var mu sync.Mutex
	topics := map[string][]*kgo.Record{}
	var wg sync.WaitGroup
	for _, tb := range []string{"t_int", "t_comp", "t_text", "t_nokey"} {
		wg.Add(1)
		go func(tb string) {
			defer wg.Done()
			recs := e.settle(e.topic(tb), 2*time.Second)
			mu.Lock()
			topics[tb] = recs
			mu.Unlock()
		}(tb)
	}
	wg.Wait()
	snaps := 0
	snaps += lastPerKey(t, e, "t_int", topics["t_int"], `SELECT json_build_object('id', id)::text, json_build_object('id', id, 'v', v, 'pad', pad)::text FROM t_int`)
	snaps += lastPerKey(t, e, "t_comp", topics["t_comp"], `SELECT json_build_object('a', a, 'b', b)::text, json_build_object('a', a, 'b', b, 'v', v)::text FROM t_comp`)
	snaps += lastPerKey(t, e, "t_text", topics["t_text"], `SELECT json_build_object('code', code)::text, json_build_object('code', code, 'v', v)::text FROM t_text`)

	// Keyless: every row of the table is in the topic (rows moved by
	// concurrent writes may appear twice, as in Flow's keyless mode).
	seen := map[string]bool{}
	for _, r := range topics["t_nokey"] {
		d := decode(t, r)
		if source(d)["snapshot"] == true {
			snaps++
		}
		seen[fmt.Sprint(d["n"], "/", d["v"])] = true
	}
	var missing int
	rowsq, err := e.conn().Query(context.Background(), `SELECT n, v FROM t_nokey`)
	if err != nil {
		t.Fatal(err)
	}
	for rowsq.Next() {
		var n, v int64
		_ = rowsq.Scan(&n, &v)
		if !seen[fmt.Sprint(float64(n), "/", float64(v))] {
			missing++
		}
	}
	if missing > 0 {
		t.Errorf("t_nokey: %d rows of the table are not in the topic", missing)
	}
	if readOnly {
		var wm *string
		if err := e.conn().QueryRow(context.Background(), `SELECT to_regclass('public.flow_watermarks')::text`).Scan(&wm); err != nil {
			t.Fatal(err)
		}
		if wm != nil {
			t.Errorf("read_only_capture: the watermarks table %s exists; nothing may be written", *wm)
		}
	}
	limit := rows + chunk*restarts
	t.Logf("backfill documents: %d for %d rows across %d restarts (limit %d)", snaps, rows, restarts, limit)
	if snaps >= limit {
		t.Errorf("%d backfill documents for %d rows: restarts re-read more than one chunk each", snaps, rows)
	}
}

// waitForRecord reads topic (read_committed) until a record whose document
// satisfies match arrives, failing the test after d.
func waitForRecord(t *testing.T, e *env, topic string, d time.Duration, match func(doc) bool) {
	t.Helper()
	cl := readCommitted(t, e.brokers, topic)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("no matching record in %s within %s", topic, d)
		}
		found := false
		fs.EachRecord(func(r *kgo.Record) {
			if r.Value != nil && match(decode(t, r)) {
				found = true
			}
		})
		if found {
			return
		}
	}
}

// waitBackfilled waits until the checkpoint shows every table Active.
func waitBackfilled(t *testing.T, e *env, tables []string, d time.Duration) *checkpoint.State {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		st := currentCheckpoint(t, e)
		done := st != nil
		for _, tb := range tables {
			if !done {
				break
			}
			ts := st.Bindings[checkpoint.StateKey([]string{"public", tb}, 0)]
			done = ts != nil && ts.Mode == checkpoint.ModeActive
		}
		if done {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("backfill not complete after %s; last checkpoint %+v", d, st)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func checkpoints(t *testing.T, e *env) []*checkpoint.State {
	t.Helper()
	var out []*checkpoint.State
	// Each commit ends with the capture's base record: the state then is
	// one checkpoint (the table states are records of their own).
	rd := kafka.NewCheckpointReader(e.capture())
	for _, r := range e.settle(e.prefix+".checkpoints", 300*time.Millisecond) {
		rd.Add(r)
		if string(r.Key) != e.capture() || r.Value == nil {
			continue
		}
		cp, _, _, err := rd.Checkpoint()
		if err != nil {
			t.Fatal(err)
		}
		st, err := checkpoint.Parse(cp.State)
		if err != nil {
			t.Fatalf("checkpoint %s is not a valid Flow state: %v", cp.State, err)
		}
		if err := st.Validate(); err != nil {
			t.Fatalf("checkpoint %s fails validation: %v", cp.State, err)
		}
		out = append(out, st)
	}
	return out
}

// currentCheckpoint reads the capture's last committed checkpoint up to the
// topic's stable offset, as pg2kafka does at start.
func currentCheckpoint(t testing.TB, e *env) *checkpoint.State {
	t.Helper()
	s, err := kafka.New(e.brokers, kafka.Checkpoints(e.prefix+".checkpoints", e.capture()))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	cp, err := s.ReadCheckpoint(context.Background())
	if err != nil {
		t.Fatalf("reading the checkpoint: %v", err)
	}
	raw := cp.State
	if raw == nil {
		return nil
	}
	st, err := checkpoint.Parse(raw)
	if err != nil {
		t.Fatalf("checkpoint %s is not a valid Flow state: %v", raw, err)
	}
	return st
}

func lastCheckpoint(t *testing.T, e *env) *checkpoint.State {
	cps := checkpoints(t, e)
	if len(cps) == 0 {
		return nil
	}
	return cps[len(cps)-1]
}

// After each chunk the checkpoint is a valid reduced Flow state whose
// scanned decodes to the chunk's last row key and whose backfilled counts
// the backfill documents written so far.
func TestBackfillCheckpoints(t *testing.T) {
	e := newEnv(t)
	e.exec(`CREATE TABLE chk (id integer PRIMARY KEY, name text)`,
		`INSERT INTO chk SELECT g, 'n' || g FROM generate_series(1, 5500) g`,
		`ALTER PUBLICATION flow_publication ADD TABLE chk`)
	e.advanced = []string{"backfill_chunk_size: 1000"}
	p := e.start(true)
	waitBackfilled(t, e, []string{"chk"}, 60*time.Second)
	p.stop(t)
	recs := e.settle(e.topic("chk"), time.Second)
	if len(recs) != 5500 {
		t.Fatalf("got %d backfill documents, want 5500", len(recs))
	}
	for i, r := range recs {
		d := decode(t, r)
		loc := source(d)["loc"].([]any)
		if source(d)["snapshot"] != true || meta(d)["op"] != "c" || loc[0] != -1.0 || loc[1] != float64(i) || loc[2] != 0.0 {
			t.Fatalf("backfill document %d has _meta %v", i, meta(d))
		}
		if d["id"] != float64(i+1) {
			t.Fatalf("backfill document %d is row %v, want %d (key order)", i, d["id"], i+1)
		}
	}
	var scanned []int64
	var backfilled []int64
	for _, st := range checkpoints(t, e) {
		ts := st.Bindings["public%2Fchk"]
		if ts == nil {
			t.Fatalf("checkpoint lacks state key public%%2Fchk: %v", st.Keys())
		}
		if ts.Mode == checkpoint.ModeBackfill {
			vals, err := rowkey.DecodeTuple(ts.Scanned)
			if err != nil || len(vals) != 1 {
				t.Fatalf("scanned %x does not decode to one key: %v", ts.Scanned, err)
			}
			scanned = append(scanned, vals[0].(int64))
			backfilled = append(backfilled, ts.Backfilled)
			if strings.Join(ts.KeyColumns, ",") != "id" {
				t.Errorf("key_columns = %v", ts.KeyColumns)
			}
		}
	}
	last := lastCheckpoint(t, e).Bindings["public%2Fchk"]
	if last.Mode != checkpoint.ModeActive || last.Scanned != nil || last.Backfilled != 5500 {
		t.Errorf("final table state %+v, want Active, no scanned, backfilled 5500", last)
	}
	// Chunks start at 100 rows and grow fourfold up to backfill_chunk_size
	// (these rows are narrow: ChunkBytes does not bind).
	want := []int64{100, 500, 1500, 2500, 3500, 4500, 5500}
	if fmt.Sprint(scanned) != fmt.Sprint(want) || fmt.Sprint(backfilled) != fmt.Sprint(want) {
		t.Errorf("chunk checkpoints: scanned %v backfilled %v, want %v for both", scanned, backfilled, want)
	}
}

// skip_backfills and the "Only Changes" mode capture changes only; a table
// added on restart is backfilled while the others stream; a removed table
// becomes Ignore.
func TestBackfillOptionsAndBindingChanges(t *testing.T) {
	e := newEnv(t)
	e.exec(`CREATE TABLE a (id integer PRIMARY KEY)`, `CREATE TABLE b (id integer PRIMARY KEY)`,
		`CREATE TABLE c (id integer PRIMARY KEY)`, `CREATE TABLE d (id integer PRIMARY KEY)`,
		`INSERT INTO a SELECT generate_series(1, 10)`, `INSERT INTO b SELECT generate_series(1, 10)`,
		`INSERT INTO c SELECT generate_series(1, 10)`, `INSERT INTO d SELECT generate_series(1, 10)`,
		`ALTER PUBLICATION flow_publication ADD TABLE a, b, c, d`)
	binding := func(table, mode string) string {
		return fmt.Sprintf("  - resource: {namespace: public, stream: %s, mode: %q}\n", table, mode)
	}
	e.advanced = []string{"skip_backfills: public.b"}
	e.extra = "bindings:\n" + binding("a", "") + binding("b", "") + binding("c", "Only Changes")
	p := e.start(true)
	e.exec(`INSERT INTO a VALUES (11)`, `INSERT INTO b VALUES (11)`, `INSERT INTO c VALUES (11)`)
	ra := e.consume(e.topic("a"), 11, 30*time.Second)
	rb := e.consume(e.topic("b"), 1, 30*time.Second)
	rc := e.consume(e.topic("c"), 1, 30*time.Second)
	p.stop(t)
	if len(ra) != 11 {
		t.Errorf("a: %d records, want 10 backfilled + 1 change", len(ra))
	}
	for name, recs := range map[string][]*kgo.Record{"b (skip_backfills)": rb, "c (Only Changes)": rc} {
		if len(recs) != 1 || string(recs[0].Key) != `{"id":11}` {
			t.Errorf("%s: want only the change to id 11, got %d records", name, len(recs))
		}
	}

	// Restart with d added and a removed: d backfills, a becomes Ignore.
	e.advanced = nil
	e.extra = "bindings:\n" + binding("b", "") + binding("c", "Only Changes") + binding("d", "")
	p = e.start(true)
	st := waitBackfilled(t, e, []string{"d"}, 30*time.Second)
	e.exec(`INSERT INTO b VALUES (12)`)
	rb = e.consume(e.topic("b"), 2, 30*time.Second)
	p.stop(t)
	if got := st.Bindings["public%2Fa"]; got == nil || got.Mode != checkpoint.ModeIgnore {
		t.Errorf("removed binding a: state %+v, want Ignore", got)
	}
	if rd := e.settle(e.topic("d"), time.Second); len(rd) != 10 {
		t.Errorf("added table d: %d records, want its 10 rows backfilled", len(rd))
	}
	if len(rb) != 2 {
		t.Errorf("b kept streaming across the restart: got %d records, want 2", len(rb))
	}
	keys := st.Keys()
	sort.Strings(keys)
	if strings.Join(keys, " ") != "public%2Fa public%2Fb public%2Fc public%2Fd" {
		t.Errorf("state keys %v", keys)
	}
}

// canonJSON prints a JSON object with sorted keys, for comparisons.
func canonJSON(s string) string {
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return s
	}
	return fmt.Sprint(m)
}

// A key whose type has no row-key encoding (inet) is backfilled by
// physical location instead of failing, and its records keep their keys.
func TestBackfillKeyWithoutRowKeyEncoding(t *testing.T) {
	e := newEnv(t)
	e.exec(`CREATE TABLE hosts (addr inet PRIMARY KEY, v integer)`,
		`INSERT INTO hosts SELECT ('10.0.' || (g / 256) || '.' || (g % 256))::inet, g FROM generate_series(1, 300) g`,
		`ALTER PUBLICATION flow_publication ADD TABLE hosts`)
	p := e.start(true)
	e.exec(`UPDATE hosts SET v = -1 WHERE addr = '10.0.0.1'`)
	recs := e.consume(e.topic("hosts"), 301, 30*time.Second)
	p.stop(t)
	st := currentCheckpoint(t, e).Bindings["public%2Fhosts"]
	if st == nil || st.Mode != checkpoint.ModeActive || st.Backfilled != 300 {
		t.Fatalf("hosts state %+v, want Active with 300 rows backfilled", st)
	}
	if len(recs) != 301 {
		t.Fatalf("got %d records, want 300 backfilled + 1 update", len(recs))
	}
	if k := string(recs[0].Key); !strings.HasPrefix(k, `{"addr":"10.0.`) {
		t.Errorf("backfill record key %s, want the inet key", k)
	}
	if last := recs[300]; string(last.Key) != `{"addr":"10.0.0.1/32"}` || meta(decode(t, last))["op"] != "u" {
		t.Errorf("last record %s %s, want the update of 10.0.0.1/32", last.Key, last.Value)
	}
}

// A key without a row-key encoding (inet) is backfilled by physical
// location while a writer updates, deletes and re-inserts random keys: the
// window reconciles held rows by their Kafka key, so no key goes back in
// time and the last record per key equals the table.
func TestBackfillByLocationUnderWrites(t *testing.T) {
	if testing.Short() {
		t.Skip("20k rows under a writer")
	}
	e := newEnv(t)
	const rows = 20_000
	e.exec(
		`CREATE SEQUENCE ver`,
		`CREATE TABLE hosts (addr inet PRIMARY KEY, v bigint NOT NULL DEFAULT nextval('ver'), pad text)`,
		fmt.Sprintf(`INSERT INTO hosts (addr, pad) SELECT ('10.0.0.0'::inet + g), md5(g::text) FROM generate_series(1, %d) g`, rows),
		`ALTER PUBLICATION flow_publication ADD TABLE hosts`,
		`ANALYZE hosts`,
	)
	e.advanced = []string{"backfill_chunk_size: 500"}
	stop := sqlMutator(t, e.dbURL, rows, []string{
		`UPDATE hosts SET v = nextval('ver'), pad = 'upd' WHERE addr = '10.0.0.0'::inet + $1`,
		`UPDATE hosts SET v = nextval('ver') WHERE addr = '10.0.0.0'::inet + $1`,
		`DELETE FROM hosts WHERE addr = '10.0.0.0'::inet + $1`,
		`INSERT INTO hosts (addr, pad) VALUES ('10.0.0.0'::inet + $1, 'new') ON CONFLICT (addr) DO UPDATE SET v = nextval('ver')`,
	})
	p := e.start(false)
	waitBackfilled(t, e, []string{"hosts"}, 120*time.Second)
	stop()
	// A marker row committed after the writer's last write arrives after
	// all of them.
	e.exec(`INSERT INTO hosts (addr, pad) VALUES ('192.0.2.1', 'marker')`)
	waitForRecord(t, e, e.topic("hosts"), 90*time.Second, func(d doc) bool { return d["pad"] == "marker" })
	p.stop(t)
	recs := e.settle(e.topic("hosts"), 2*time.Second)
	lastPerKey(t, e, "hosts", recs, `SELECT json_build_object('addr', text(addr))::text, json_build_object('addr', text(addr), 'v', v, 'pad', pad)::text FROM hosts`)
}

// sqlMutator runs random statements of stmts, each with $1 a random
// integer in [1, keyRange], until stopped.
func sqlMutator(t *testing.T, url string, keyRange int, stmts []string) (stop func()) {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	quit, done := make(chan struct{}), make(chan error, 1)
	go func() {
		defer conn.Close(context.Background())
		rng := rand.New(rand.NewSource(time.Now().UnixNano()))
		for {
			select {
			case <-quit:
				done <- nil
				return
			default:
			}
			q := stmts[rng.Intn(len(stmts))]
			if _, err := conn.Exec(context.Background(), q, 1+rng.Intn(keyRange)); err != nil {
				done <- fmt.Errorf("mutator: %s: %w", q, err)
				return
			}
		}
	}()
	return func() {
		close(quit)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}

// Bumping a binding's backfill_counter, Flow's way to backfill one table
// again, backfills it anew under the state key ".v1" (the old key becomes
// Ignore) and leaves the other table alone.
func TestBackfillCounterBackfillsAnew(t *testing.T) {
	e := newEnv(t)
	e.exec(`CREATE TABLE bc (id integer PRIMARY KEY, v text)`, `CREATE TABLE other (id integer PRIMARY KEY)`,
		`INSERT INTO bc SELECT g, 'x' FROM generate_series(1, 3) g`, `INSERT INTO other VALUES (1)`,
		`ALTER PUBLICATION flow_publication ADD TABLE bc, other`)
	p := e.start(true)
	if got := e.consume(e.topic("bc"), 3, 30*time.Second); len(got) != 3 {
		t.Fatalf("first backfill: %d records, want 3", len(got))
	}
	p.stop(t)
	e.extra = "bindings:\n  - resource: {namespace: public, stream: bc}\n    backfill_counter: 1\n  - resource: {namespace: public, stream: other}\n"
	p = e.start(true)
	recs := e.consume(e.topic("bc"), 6, 30*time.Second)
	p.stop(t)
	var keys []string
	for _, r := range recs {
		if source(decode(t, r))["snapshot"] != true {
			t.Errorf("record %s of bc is not a backfill document", r.Value)
		}
		keys = append(keys, string(r.Key))
	}
	if got, want := strings.Join(keys, " "), `{"id":1} {"id":2} {"id":3} {"id":1} {"id":2} {"id":3}`; got != want {
		t.Errorf("bc holds %s, want its rows backfilled twice: %s", got, want)
	}
	if got := e.settle(e.topic("other"), time.Second); len(got) != 1 {
		t.Errorf("other holds %d records, want its one row once (not backfilled again)", len(got))
	}
	st := currentCheckpoint(t, e)
	if st == nil {
		t.Fatal("no checkpoint")
	}
	for key, want := range map[string]checkpoint.Mode{"public%2Fbc.v1": checkpoint.ModeActive, "public%2Fbc": checkpoint.ModeIgnore, "public%2Fother": checkpoint.ModeActive} {
		if ts := st.Bindings[key]; ts == nil || ts.Mode != want {
			t.Errorf("state key %s: %+v, want mode %s", key, ts, want)
		}
	}
	if ts := st.Bindings["public%2Fbc.v1"]; ts != nil && ts.Backfilled != 3 {
		t.Errorf("public%%2Fbc.v1 backfilled %d rows, want 3", ts.Backfilled)
	}
}

// A binding of higher resource.priority is backfilled whole before any
// chunk of a lower one (§4.1).
func TestBackfillPriority(t *testing.T) {
	e := newEnv(t)
	e.exec(`CREATE TABLE lo (id integer PRIMARY KEY)`, `CREATE TABLE hi (id integer PRIMARY KEY)`,
		`INSERT INTO lo SELECT generate_series(1, 500)`, `INSERT INTO hi SELECT generate_series(1, 500)`,
		`ALTER PUBLICATION flow_publication ADD TABLE lo, hi`)
	e.advanced = []string{"backfill_chunk_size: 100"}
	e.extra = "bindings:\n  - resource: {namespace: public, stream: lo}\n  - resource: {namespace: public, stream: hi, priority: 1}\n"
	p := e.start(true)
	hi := e.consume(e.topic("hi"), 500, 30*time.Second)
	lo := e.consume(e.topic("lo"), 500, 30*time.Second)
	p.stop(t)
	if len(hi) != 500 || len(lo) != 500 {
		t.Fatalf("hi %d records, lo %d; want 500 each", len(hi), len(lo))
	}
	// Each chunk commits in a transaction of its own, one after another.
	if last, first := hi[len(hi)-1].Timestamp, lo[0].Timestamp; last.After(first) {
		t.Errorf("the last chunk of hi (priority 1) was written at %s, after the first of lo (priority 0) at %s", last.Format(time.StampMicro), first.Format(time.StampMicro))
	}
}

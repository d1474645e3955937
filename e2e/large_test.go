package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// benchTables is the number of tables of BenchmarkManyTables
// (PG2KAFKA_BENCH_TABLES, default 10,000).
func benchTables() int {
	if n, err := strconv.Atoi(os.Getenv("PG2KAFKA_BENCH_TABLES")); err == nil && n > 0 {
		return n
	}
	return 10_000
}

// createTables creates n published tables of one row each, many_00001 on,
// 500 to a transaction (one transaction would pass the lock table).
func createTables(e *env, n int) {
	e.t.Helper()
	for from := 1; from <= n; from += 500 {
		to := min(from+499, n)
		e.exec(fmt.Sprintf(`DO $$ BEGIN FOR i IN %d..%d LOOP
  EXECUTE format('CREATE TABLE many_%%s (id bigint PRIMARY KEY, v integer)', lpad(i::text, 5, '0'));
  EXECUTE format('INSERT INTO many_%%s VALUES (1, %%s)', lpad(i::text, 5, '0'), i);
  EXECUTE format('ALTER PUBLICATION flow_publication ADD TABLE many_%%s', lpad(i::text, 5, '0'));
END LOOP; END $$`, from, to))
	}
	e.exec(`ANALYZE`)
}

// warmCoordinator has the broker load its transaction coordinator, as a
// cluster in service has: a test broker started for the run loads it at
// the first transactional producer, which on a broker busy creating
// thousands of partitions takes minutes.
func warmCoordinator(b *testing.B, e *env) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.brokers...), kgo.TransactionalID(e.prefix+"-warm"))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_, _, err := cl.ProducerID(ctx)
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("the broker's transaction coordinator did not load: %v", err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// waitLine waits until p has logged a line containing s.
func waitLine(t testing.TB, p *proc, s string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !strings.Contains(p.output(), s) {
		select {
		case <-p.exited:
			t.Fatalf("pg2kafka exited before logging %q: %v\n%s", s, p.err, p.output())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("pg2kafka did not log %q within %s\n%s", s, d, lastLines(p.output(), 40))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func lastLines(s string, lines int) string {
	l := strings.Split(s, "\n")
	return strings.Join(l[max(0, len(l)-lines):], "\n")
}

// checkpointBytes sums the keys, values and headers of every committed
// record of the capture's checkpoint topic.
func checkpointBytes(e *env) (records, bytes int) {
	for _, r := range e.settle(e.prefix+".checkpoints", 500*time.Millisecond) {
		records++
		bytes += len(r.Key) + len(r.Value)
		for _, h := range r.Headers {
			bytes += len(h.Key) + len(h.Value)
		}
	}
	return records, bytes
}

// BenchmarkManyTables starts a capture of PG2KAFKA_BENCH_TABLES (default
// 10,000) one-row tables: it reports the time until the capture streams
// (discovery, checks, topics, the first checkpoint, activation; issue 13
// wants it under a minute), until every table is backfilled (with
// PG2KAFKA_BENCH_BACKFILL=1: ten minutes for 10,000 tables), the time a
// restart takes to stream again, and the bytes of checkpoints written (each
// table's backfill commits some). The test broker's first topic creation
// dominates the first start: a cluster creates 10,000 partitions slowly.
func BenchmarkManyTables(b *testing.B) {
	n := benchTables()
	e := newEnv(b)
	warmCoordinator(b, e)
	created := time.Now()
	createTables(e, n)
	b.Logf("created %d tables in %s", n, time.Since(created).Round(time.Millisecond))
	b.ResetTimer()
	start := time.Now()
	p := e.start(false)
	waitLine(b, p, "capture is streaming", 10*time.Minute)
	streaming := time.Since(start)
	backfilled := time.Duration(0)
	if os.Getenv("PG2KAFKA_BENCH_BACKFILL") == "1" {
		p.waitReady(b, 30*time.Minute)
		backfilled = time.Since(start)
	}
	b.StopTimer()
	p.stop(b)
	logStartup(b, p)
	restart := time.Now()
	p = e.start(false)
	waitLine(b, p, "capture is streaming", 10*time.Minute)
	restarted := time.Since(restart)
	p.stop(b)
	b.ReportMetric(restarted.Seconds(), "restart_s")
	b.Logf("restarted: streaming after %s", restarted.Round(time.Millisecond))
	records, bytes := checkpointBytes(e)
	b.ReportMetric(streaming.Seconds(), "startup_s")
	b.ReportMetric(backfilled.Seconds(), "backfilled_s")
	b.ReportMetric(float64(bytes), "checkpoint_bytes")
	b.Logf("%d tables: streaming after %s, backfilled after %s (0: not waited for; PG2KAFKA_BENCH_BACKFILL=1 waits); %d checkpoint records, %d bytes",
		n, streaming.Round(time.Millisecond), backfilled.Round(time.Millisecond), records, bytes)
	logStartup(b, p)
}

// logStartup logs the time and message of p's start-up progress lines.
func logStartup(b *testing.B, p *proc) {
	var lines []string
	for _, l := range strings.Split(p.output(), "\n") {
		var m struct{ Time, Message string }
		if json.Unmarshal([]byte(l), &m) != nil {
			continue
		}
		if strings.HasPrefix(m.Message, "topics checked or created") && !strings.Contains(m.Message, "0000 of") {
			continue
		}
		for _, want := range []string{"discovered", "checked", "topics ready", "starting capture", "replication slot", "capture is streaming"} {
			if strings.Contains(m.Message, want) {
				lines = append(lines, m.Time+" "+m.Message)
				break
			}
		}
	}
	b.Log("\n" + strings.Join(lines, "\n"))
}

// The check reads every table at once (tableInfos, identities) and adds the
// tables missing from the publication in one statement; what it reports is
// what the per-table check reported: a table the role cannot read fails
// with the GRANT that fixes it, a table readable through column grants
// passes, a key outside the replica identity fails.
func TestCheckManyTablesAtOnce(t *testing.T) {
	t.Parallel()
	t.Run("publishes", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		e.useSlot("check_many_publish")
		e.exec(`CREATE TABLE a (id integer PRIMARY KEY)`, `CREATE TABLE b (id integer PRIMARY KEY)`, `CREATE TABLE c (id integer PRIMARY KEY)`)
		e.extra = "bindings:\n  - resource: {namespace: public, stream: a}\n  - resource: {namespace: public, stream: b}\n  - resource: {namespace: public, stream: c}\n"
		out := e.mustTool("check")
		for _, want := range []string{"ok    table public.a", "ok    table public.b", "ok    table public.c"} {
			if !strings.Contains(out, want) {
				t.Errorf("check output lacks %q:\n%s", want, out)
			}
		}
		var n int
		if err := e.conn().QueryRow(context.Background(), `SELECT count(*) FROM pg_publication_tables WHERE pubname = 'flow_publication' AND tablename IN ('a', 'b', 'c')`).Scan(&n); err != nil || n != 3 {
			t.Errorf("%d of the 3 tables published (%v)", n, err)
		}
	})
	t.Run("reports", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		e.useSlot("check_many_report")
		role := newRole(t, e)
		e.exec(`CREATE ROLE `+role+` LOGIN PASSWORD 'pw' REPLICATION`,
			`CREATE TABLE readable (id integer PRIMARY KEY)`,
			`CREATE TABLE columns (id integer PRIMARY KEY, v text)`,
			`CREATE TABLE secret (id integer PRIMARY KEY)`,
			`CREATE TABLE ident (id integer PRIMARY KEY, k integer NOT NULL UNIQUE)`,
			`ALTER TABLE ident REPLICA IDENTITY USING INDEX ident_k_key`,
			`CREATE TABLE flow_watermarks (slot TEXT PRIMARY KEY, watermark TEXT)`,
			`ALTER PUBLICATION flow_publication ADD TABLE readable, columns, secret, ident, flow_watermarks`,
			`GRANT SELECT ON readable, ident TO `+role,
			`GRANT SELECT (id, v) ON columns TO `+role,
			`GRANT ALL ON flow_watermarks TO `+role)
		bad := e.asRole(role)
		bad.extra = "bindings:\n" +
			"  - resource: {namespace: public, stream: readable}\n" +
			"  - resource: {namespace: public, stream: columns}\n" +
			"  - resource: {namespace: public, stream: secret}\n" +
			"  - resource: {namespace: public, stream: ident}\n"
		out, errOut, code := bad.tool("check")
		if code != 1 {
			t.Fatalf("check exited %d, want 1\n%s%s", code, out, errOut)
		}
		for _, want := range []string{"ok    table public.readable", "ok    table public.columns", "FAIL  table public.secret", "GRANT SELECT ON \"public\".\"secret\"", "FAIL  replica identity public.ident"} {
			if !strings.Contains(out, want) {
				t.Errorf("check output lacks %q:\n%s", want, out)
			}
		}
	})
}

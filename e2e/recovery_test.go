package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	pgsource "github.com/pg2kafka/pg2kafka/source"
)

// The walsender serving pg2kafka is terminated (as a failover or an
// operator would) while it streams: pg2kafka recovers in process — logs
// the cause, resumes from its last checkpoint — and every change, before
// and after, arrives once.
func TestRecoversFromWalsenderTermination(t *testing.T) {
	e := newEnv(t)
	slot := e.useSlot("recover_walsender")
	e.exec(`CREATE TABLE rec (id integer PRIMARY KEY, v text)`,
		`ALTER PUBLICATION flow_publication ADD TABLE rec`)
	p := e.start(true)
	e.exec(`INSERT INTO rec VALUES (1, 'before')`)
	e.waitRows(e.topic("rec"), map[string]string{`{"id":1}`: "before"}, false, 30*time.Second)
	for i := 0; i < 2; i++ {
		e.exec(`SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = '` + slot + `' AND active_pid IS NOT NULL`)
		e.exec(`INSERT INTO rec VALUES (` + []string{"2", "3"}[i] + `, 'after')`)
	}
	e.exec(`UPDATE rec SET v = 'updated' WHERE id = 1`)
	e.waitRows(e.topic("rec"), map[string]string{`{"id":1}`: "updated", `{"id":2}`: "after", `{"id":3}`: "after"}, false, 60*time.Second)
	select {
	case <-p.exited:
		t.Fatalf("pg2kafka exited instead of recovering\n%s", p.output())
	default:
	}
	p.stop(t)
	if out := p.output(); !strings.Contains(out, "recovering") {
		t.Errorf("no recovery was logged:\n%s", out)
	}
	// Each change exactly once.
	recs := e.consume(e.topic("rec"), 1<<30, 2*time.Second)
	if len(recs) != 4 {
		for _, r := range recs {
			t.Logf("%s %s", r.Key, r.Value)
		}
		t.Errorf("%d records, want 4 (three inserts and an update, each once)", len(recs))
	}
}

// Two instances with the same configuration: the second stands by (it
// writes nothing, fences no one) while the first streams; when the first
// is killed, the second takes over within 15 s, and every committed change
// is in Kafka exactly once.
func TestStandbyTakesOver(t *testing.T) {
	e := newEnv(t)
	e.useSlot("standby_takeover")
	e.exec(`CREATE TABLE hist (k integer PRIMARY KEY, v bigint NOT NULL)`,
		`ALTER PUBLICATION flow_publication ADD TABLE hist`)
	active := e.start(true)
	w := startWriter(t, e.dbURL, 50)
	standby := e.start(false)
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(standby.output(), "standing by") {
		if time.Now().After(deadline) {
			t.Fatalf("the second instance does not stand by:\n%s", standby.output())
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Beside both, the read-only tools read the checkpoint; none may fence
	// the active instance's producers (a fenced commit would show as a
	// recovery there, not as an exit).
	e.mustTool("state", "show")
	e.mustTool("state", "export")
	time.Sleep(2 * time.Second) // both running side by side
	select {
	case <-active.exited:
		t.Fatalf("the active instance exited while the other stood by:\n%s", active.output())
	default:
	}
	if strings.Contains(active.output(), "recovering") {
		t.Fatalf("the active instance recovered from a fault while the standby and the read-only tools ran beside it:\n%s", active.output())
	}
	killed := time.Now()
	active.kill()
	standby.waitReady(t, 15*time.Second)
	t.Logf("the standby took over %s after the kill", time.Since(killed).Round(100*time.Millisecond))
	time.Sleep(time.Second)
	w.finish(t)
	recs := e.consume(e.topic("hist"), records(w.history), 60*time.Second)
	standby.stop(t)
	got, _ := keyHistories(t, recs)
	if lost, dup := compareHistories(t, got, w.history); lost+dup > 0 {
		t.Errorf("%d keys lost changes, %d have extra ones", lost, dup)
	}
}

// source.advanced.statement_timeout applies unless the role's or the
// database's own statement_timeout is lower: an administrator's limit is
// kept, not silently overridden.
func TestStatementTimeoutKeepsALowerOne(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for _, tc := range []struct{ db, want string }{
		{"1500ms", "1500ms"}, // the database's is lower: kept
		{"10min", "5min"},    // the configured one is lower
		{"0", "5min"},        // none: the configured one
	} {
		conn := e.conn()
		var name string
		if err := conn.QueryRow(ctx, `SELECT current_database()`).Scan(&name); err != nil {
			t.Fatal(err)
		}
		e.exec(fmt.Sprintf(`ALTER DATABASE %q SET statement_timeout = '%s'`, name, tc.db))
		conn.Close(ctx)
		db, err := pgsource.Connect(ctx, pgsource.Config{ConnString: e.dbURL, Publication: "flow_publication", StatementTimeout: 5 * time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		var got string
		if err := db.Conn().QueryRow(ctx, `SHOW statement_timeout`).Scan(&got); err != nil {
			t.Fatal(err)
		}
		db.Close()
		if got != tc.want {
			t.Errorf("database statement_timeout %s: the capture's session has %s, want %s", tc.db, got, tc.want)
		}
	}
}

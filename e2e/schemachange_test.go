package e2e

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/pg2kafka/pg2kafka/checkpoint"
)

// finalRows reduces a topic of (id, v) rows to its final state per key,
// deletes and tombstones honoured: id → v.
func finalRows(t *testing.T, recs []*kgo.Record) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, r := range recs {
		k := string(r.Key)
		if r.Value == nil {
			delete(out, k)
			continue
		}
		d := decode(t, r)
		if meta(d)["op"] == "d" {
			delete(out, k)
			continue
		}
		out[k] = fmt.Sprint(d["v"])
	}
	return out
}

// waitRows waits until the topic's final state equals want (with
// subset, until it holds want).
func (e *env) waitRows(topic string, want map[string]string, subset bool, d time.Duration) {
	e.t.Helper()
	deadline := time.Now().Add(d)
	var got map[string]string
	for time.Now().Before(deadline) {
		got = finalRows(e.t.(*testing.T), e.consume(topic, 1<<30, 300*time.Millisecond))
		if subset {
			held := maps.Clone(got)
			maps.DeleteFunc(held, func(k, _ string) bool { _, ok := want[k]; return !ok })
			if maps.Equal(held, want) {
				return
			}
		} else if maps.Equal(got, want) {
			return
		}
	}
	e.t.Fatalf("topic %s ends at %v, want %v", topic, got, want)
}

// A table renamed, a table joining the publication, and a table dropped
// and created again while pg2kafka runs: each is followed without a
// restart and without losing a row — the renamed table moves to its new
// name's topic (backfilled there), the joining table is backfilled, and the
// recreated table is backfilled anew.
func TestSchemaChangesWhileRunning(t *testing.T) {
	e := newEnv(t)
	e.exec(
		`CREATE TABLE before_rename (id integer PRIMARY KEY, v text)`,
		`CREATE TABLE recreated (id integer PRIMARY KEY, v text)`,
		`ALTER PUBLICATION flow_publication ADD TABLE before_rename, recreated`,
		`INSERT INTO before_rename VALUES (1, 'a')`,
		`INSERT INTO recreated VALUES (1, 'old')`,
	)
	p := e.start(true)
	e.waitRows(e.topic("before_rename"), map[string]string{`{"id":1}`: "a"}, false, 30*time.Second)

	// Rename: the next change names the table by its new name.
	e.exec(
		`ALTER TABLE before_rename RENAME TO after_rename`,
		`INSERT INTO after_rename VALUES (2, 'b')`,
		`UPDATE after_rename SET v = 'a2' WHERE id = 1`,
	)
	e.waitRows(e.topic("after_rename"), map[string]string{`{"id":1}`: "a2", `{"id":2}`: "b"}, false, 60*time.Second)

	// A table with rows joins the publication; its first change shows it.
	e.exec(
		`CREATE TABLE joined (id integer PRIMARY KEY, v text)`,
		`INSERT INTO joined SELECT g, 'j' || g FROM generate_series(1, 3) g`,
		`ALTER PUBLICATION flow_publication ADD TABLE joined`,
		`UPDATE joined SET v = 'j1b' WHERE id = 1`,
	)
	e.waitRows(e.topic("joined"), map[string]string{`{"id":1}`: "j1b", `{"id":2}`: "j2", `{"id":3}`: "j3"}, false, 60*time.Second)

	// Dropped and created again, with rows copied in before it is published.
	e.exec(
		`DROP TABLE recreated`,
		`CREATE TABLE recreated (id integer PRIMARY KEY, v text)`,
		`INSERT INTO recreated VALUES (5, 'new5'), (6, 'new6')`,
		`ALTER PUBLICATION flow_publication ADD TABLE recreated`,
		`INSERT INTO recreated VALUES (7, 'new7')`,
	)
	// The dropped table's rows stay in the topic (DROP TABLE is not
	// replicated); the new table's rows are all there.
	e.waitRows(e.topic("recreated"), map[string]string{`{"id":5}`: "new5", `{"id":6}`: "new6", `{"id":7}`: "new7"}, true, 60*time.Second)
	p.stop(t)
	out := p.output()
	for _, phrase := range []string{"is now named public.after_rename", "joined the publication", "dropped and created again"} {
		if !strings.Contains(out, phrase) {
			t.Errorf("log lacks %q", phrase)
		}
	}
}

// A key column renamed while pg2kafka is stopped: the restart replays
// changes from before the rename (whose RELATION names the old column) and
// after it, and keeps running. Records are keyed by the column's name at
// the time of the change, as their documents are.
func TestKeyColumnRenamedWhileStopped(t *testing.T) {
	e := newEnv(t)
	e.exec(
		`CREATE TABLE renamed_key (id integer PRIMARY KEY, v text)`,
		`ALTER PUBLICATION flow_publication ADD TABLE renamed_key`,
	)
	p := e.start(true)
	e.exec(`INSERT INTO renamed_key VALUES (1, 'a')`)
	e.waitRows(e.topic("renamed_key"), map[string]string{`{"id":1}`: "a"}, false, 30*time.Second)
	p.stop(t)
	e.exec(
		`INSERT INTO renamed_key VALUES (2, 'b')`,
		`ALTER TABLE renamed_key RENAME COLUMN id TO ident`,
		`INSERT INTO renamed_key VALUES (3, 'c')`,
	)
	p = e.start(true)
	e.waitRows(e.topic("renamed_key"), map[string]string{`{"id":1}`: "a", `{"id":2}`: "b", `{"ident":3}`: "c"}, false, 30*time.Second)
	p.stop(t)
}

// DDL during a backfill: the chunks follow the table's current columns,
// and rows backfilled before a column was added get it (the table is
// backfilled anew, logged), whether or not a change to the table brings
// the new shape through the stream: the add-only case has no change at
// all, so only the chunk's own column check can see it.
func TestDDLDuringBackfill(t *testing.T) {
	for _, tc := range []struct {
		name string
		ddl  []string
		want func(d doc) bool
	}{
		{"add drop and update", []string{
			`ALTER TABLE ddl ADD COLUMN added text NOT NULL DEFAULT 'dflt'`,
			`ALTER TABLE ddl DROP COLUMN gone`,
			`UPDATE ddl SET v = 'changed' WHERE id = 1`,
		}, func(d doc) bool { _, gone := d["gone"]; return d["added"] == "dflt" && !gone }},
		{"add only", []string{
			`ALTER TABLE ddl ADD COLUMN added text NOT NULL DEFAULT 'dflt'`,
		}, func(d doc) bool { return d["added"] == "dflt" && d["gone"] == "x" }},
	} {
		t.Run(tc.name, func(t *testing.T) { testDDLDuringBackfill(t, tc.ddl, tc.want) })
	}
}

func testDDLDuringBackfill(t *testing.T, ddl []string, want func(doc) bool) {
	e := newEnv(t)
	const rows = 3000
	e.exec(
		`CREATE TABLE ddl (id integer PRIMARY KEY, v text, gone text)`,
		fmt.Sprintf(`INSERT INTO ddl SELECT g, 'v' || g, 'x' FROM generate_series(1, %d) g`, rows),
		`ALTER PUBLICATION flow_publication ADD TABLE ddl`,
	)
	e.advanced = []string{"backfill_chunk_size: 10"}
	// The backfill waits at its middle row until the DDL is under way.
	gate, binding := e.gateBackfill("ddl", rows/2)
	defer gate.Open() // before the cleanup stops pg2kafka, should the test fail
	e.extra = "bindings:\n" + binding
	p := e.start(false)
	deadline := time.Now().Add(60 * time.Second)
	for {
		st := currentCheckpoint(t, e)
		if st != nil && st.Bindings["public%2Fddl"] != nil && st.Bindings["public%2Fddl"].Backfilled > 0 {
			if st.Bindings["public%2Fddl"].Mode == checkpoint.ModeActive {
				t.Fatal("the backfill finished past its gate")
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("backfill did not start\n%s", p.output())
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The DDL runs during the backfill, which cannot pass the gate. If a
	// chunk query already waits there, the DDL waits for it (its lock on
	// the table): open the gate once the DDL is done or queued behind it.
	done := make(chan error, 1)
	go func() {
		ctx := context.Background()
		conn, err := pgx.Connect(ctx, e.dbURL)
		if err != nil {
			done <- err
			return
		}
		defer conn.Close(ctx)
		for _, q := range ddl {
			if _, err := conn.Exec(ctx, q); err != nil {
				done <- fmt.Errorf("%s: %w", q, err)
				return
			}
		}
		done <- nil
	}()
	var ddlErr error
	finished := false
	for queued := false; !queued; time.Sleep(10 * time.Millisecond) {
		select {
		case ddlErr = <-done:
			queued, finished = true, true
			continue
		default:
		}
		if err := e.query(`SELECT count(*) > 0 FROM pg_locks WHERE relation = 'ddl'::regclass AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) AND NOT granted`).Scan(&queued); err != nil {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatal("the DDL neither finished nor waited for the backfill's chunk query")
		}
	}
	gate.Open()
	if !finished {
		ddlErr = <-done
	}
	if ddlErr != nil {
		t.Fatal(ddlErr)
	}
	waitBackfilled(t, e, []string{"ddl"}, 120*time.Second)
	recs := e.settle(e.topic("ddl"), time.Second)
	p.stop(t)
	if out := p.output(); !strings.Contains(out, "changed during its backfill") || !strings.Contains(out, "backfilling it anew") {
		t.Errorf("log does not say the table changed and is backfilled anew:\n%s", out)
	}
	last := map[string]doc{}
	for _, r := range recs {
		last[string(r.Key)] = withoutMeta(decode(t, r))
	}
	if len(last) != rows {
		t.Fatalf("%d keys in the topic, want %d", len(last), rows)
	}
	bad := 0
	for k, d := range last {
		if !want(d) {
			if bad++; bad <= 3 {
				t.Errorf("key %s ends as %v, want the table's current columns", k, d)
			}
		}
	}
	if len(ddl) > 1 && last[`{"id":1}`]["v"] != "changed" {
		t.Errorf("key 1 ends as %v, want v changed", last[`{"id":1}`])
	}
}

// A partition attached with rows brings rows the replication stream never
// carried: when discovery next runs (periodically, or here because another
// table joins the publication) the partitioned table is backfilled anew, so
// its topic holds the attached rows. An empty new partition changes nothing.
// A partition detached takes its rows out of the topic (tombstones).
func TestAttachedPartitionIsBackfilled(t *testing.T) {
	e := newEnv(t)
	e.exec(
		`ALTER PUBLICATION flow_publication SET (publish_via_partition_root = true)`,
		`CREATE TABLE events (id integer PRIMARY KEY, v text) PARTITION BY RANGE (id)`,
		`CREATE TABLE events_1 PARTITION OF events FOR VALUES FROM (0) TO (100)`,
		`ALTER PUBLICATION flow_publication ADD TABLE events`,
		`INSERT INTO events VALUES (1, 'a')`,
	)
	p := e.start(true)
	e.waitRows(e.topic("events"), map[string]string{`{"id":1}`: "a"}, false, 30*time.Second)
	e.exec(
		`CREATE TABLE events_2 (id integer PRIMARY KEY, v text)`,
		`INSERT INTO events_2 VALUES (150, 'attached')`,
		`ALTER TABLE events ATTACH PARTITION events_2 FOR VALUES FROM (100) TO (200)`,
		// Another table joins: the rediscovery it causes sees the partition.
		`CREATE TABLE poke (id integer PRIMARY KEY)`,
		`ALTER PUBLICATION flow_publication ADD TABLE poke`,
		`INSERT INTO poke VALUES (1)`,
	)
	e.waitRows(e.topic("events"), map[string]string{`{"id":1}`: "a", `{"id":150}`: "attached"}, false, 60*time.Second)
	// Detached, the partition's rows leave the table with no delete in the
	// stream: the topic is swept of them at the next discovery.
	e.exec(
		`ALTER TABLE events DETACH PARTITION events_2`,
		`CREATE TABLE poke2 (id integer PRIMARY KEY)`,
		`ALTER PUBLICATION flow_publication ADD TABLE poke2`,
		`INSERT INTO poke2 VALUES (1)`,
	)
	e.waitRows(e.topic("events"), map[string]string{`{"id":1}`: "a"}, false, 60*time.Second)
	p.stop(t)
	if out := p.output(); !strings.Contains(out, "a partition holding rows was attached") || !strings.Contains(out, "a partition was detached or dropped") {
		t.Errorf("the re-backfill and the sweep were not logged with their reasons:\n%s", out)
	}
}

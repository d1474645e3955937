package e2e

import (
	"context"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pg2kafka/pg2kafka/internal/kafkatest"
	"github.com/pg2kafka/pg2kafka/internal/pgtest"
)

// serverVersion returns the test server's server_version_num.
func serverVersion(t *testing.T, e *env) int {
	t.Helper()
	conn := e.conn()
	defer conn.Close(context.Background())
	var v int
	if err := conn.QueryRow(context.Background(), `SELECT current_setting('server_version_num')::int`).Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

// A stored generated column is left out of every document, backfilled or
// replicated, also when the publication publishes generated columns
// (PostgreSQL 18's publish_generated_columns = stored), so that both paths
// give documents of one shape; so is it from the old row (before) of a
// table with REPLICA IDENTITY FULL.
func TestGeneratedColumnsOnBothPaths(t *testing.T) {
	e := newEnv(t)
	e.exec(
		`CREATE TABLE gen (id integer PRIMARY KEY, n integer, doubled integer GENERATED ALWAYS AS (n * 2) STORED, note text)`,
		`ALTER TABLE gen REPLICA IDENTITY FULL`, // old tuples carry every column too
		`ALTER PUBLICATION flow_publication ADD TABLE gen`,
		`INSERT INTO gen (id, n, note) VALUES (1, 10, 'a'), (2, 20, 'b')`,
	)
	if v := serverVersion(t, e); v >= 180000 {
		e.exec(`ALTER PUBLICATION flow_publication SET (publish_generated_columns = stored)`)
	}
	p := e.start(true)
	e.exec(
		`INSERT INTO gen (id, n, note) VALUES (3, 30, 'c')`,
		`UPDATE gen SET n = 11 WHERE id = 1`,
		`DELETE FROM gen WHERE id = 2`,
	)
	// 2 backfilled, then c, u, d and the delete's tombstone.
	recs := e.consume(e.topic("gen"), 6, 30*time.Second)
	p.stop(t)
	if len(recs) != 6 {
		t.Fatalf("got %d records, want 6\n%s", len(recs), p.output())
	}
	last := map[string]doc{}
	for _, r := range recs {
		d := decode(t, r)
		if d == nil {
			last[string(r.Key)] = nil
			continue
		}
		want := []string{"id", "n", "note"}
		if cols := names(withoutMeta(d)); !reflect.DeepEqual(cols, want) {
			t.Errorf("record %s (op %v, snapshot %v): columns %v, want %v", r.Key, meta(d)["op"], source(d)["snapshot"], cols, want)
		}
		if before, ok := meta(d)["before"].(map[string]any); ok {
			if cols := names(before); !reflect.DeepEqual(cols, want) {
				t.Errorf("record %s (op %v): before has columns %v, want %v", r.Key, meta(d)["op"], cols, want)
			}
		} else if meta(d)["op"] == "u" {
			t.Errorf("record %s: an update of a REPLICA IDENTITY FULL table carries no before: %v", r.Key, d)
		}
		last[string(r.Key)] = withoutMeta(d)
	}
	wantLast := map[string]doc{
		`{"id":1}`: {"id": 1.0, "n": 11.0, "note": "a"},
		`{"id":2}`: nil,
		`{"id":3}`: {"id": 3.0, "n": 30.0, "note": "c"},
	}
	if !reflect.DeepEqual(last, wantLast) {
		t.Errorf("final state per key %v, want %v", last, wantLast)
	}
}

func names[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// check reads the slot columns each version has: an idle slot is fine (and
// on PostgreSQL 17+ says since when it is idle); a slot whose WAL was
// removed fails, named by wal_status = lost (13–16) or by its
// invalidation_reason (17+).
func TestCheckSlotAcrossVersions(t *testing.T) {
	t.Parallel()
	t.Run("idle", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		slot := e.useSlot("versions_idle")
		e.exec(`CREATE TABLE items (id integer PRIMARY KEY)`, `ALTER PUBLICATION flow_publication ADD TABLE items`,
			`SELECT pg_create_logical_replication_slot('`+slot+`', 'pgoutput')`)
		out := e.mustTool("check")
		if !strings.Contains(out, "ok    replication slot") || strings.Contains(out, "FAIL") {
			t.Errorf("check of an idle slot:\n%s", out)
		}
		if got, want := strings.Contains(out, "inactive since"), serverVersion(t, e) >= 170000; got != want {
			t.Errorf("check says inactive since: %t, want %t (pg_replication_slots.inactive_since is 17+):\n%s", got, want, out)
		}
	})
	t.Run("lost", func(t *testing.T) {
		t.Parallel()
		if v := serverVersion(t, newEnv(t)); v < 130000 {
			t.Skip("max_slot_wal_keep_size is 13+: before, a slot is never invalidated")
		}
		srv, err := pgtest.Start("max_slot_wal_keep_size = 1MB")
		if err != nil {
			t.Skipf("cannot start a separate PostgreSQL server: %v", err)
		}
		t.Cleanup(srv.Stop)
		url := srv.NewDatabase(t)
		e := &env{t: t, dbURL: url, brokers: kafkatest.Brokers(t), dir: t.TempDir(), prefix: failPrefix()}
		v := serverVersion(t, e)
		slot := e.useSlot("versions_lost")
		e.exec(`CREATE TABLE items (id integer PRIMARY KEY, pad text)`, `CREATE PUBLICATION flow_publication FOR TABLE items`,
			`SELECT pg_create_logical_replication_slot('`+slot+`', 'pgoutput')`)
		for i := 0; i < 4; i++ {
			e.exec(`INSERT INTO items SELECT g, repeat('x', 100) FROM generate_series(`+itoa(i*1000+1)+`, `+itoa(i*1000+1000)+`) g`,
				`SELECT pg_switch_wal()`)
		}
		e.exec(`CHECKPOINT`)
		out, errOut, code := e.tool("check")
		if code != 1 {
			t.Fatalf("check of a lost slot exited %d, want 1:\n%s%s", code, out, errOut)
		}
		want := "wal_status = lost"
		if v >= 170000 {
			want = "invalidation_reason = wal_removed"
		}
		if !strings.Contains(out, "FAIL  replication slot") || !strings.Contains(out, want) || !strings.Contains(out, "state reset") {
			t.Errorf("check of a lost slot lacks FAIL, %q or the fix:\n%s", want, out)
		}
	})
}

func itoa(i int) string { return strconv.Itoa(i) }

// A publication's column list (PostgreSQL 15+) limits the columns of
// backfilled documents as it limits those replication sends.
func TestColumnListOnBothPaths(t *testing.T) {
	e := newEnv(t)
	if v := serverVersion(t, e); v < 150000 {
		t.Skipf("column lists are PostgreSQL 15+ (server: %d)", v)
	}
	e.exec(
		`CREATE TABLE listed (id integer PRIMARY KEY, a text, secret text)`,
		`ALTER PUBLICATION flow_publication ADD TABLE listed (id, a)`,
		`INSERT INTO listed VALUES (1, 'a1', 's1'), (2, 'a2', 's2')`,
	)
	p := e.start(true)
	e.exec(
		`INSERT INTO listed VALUES (3, 'a3', 's3')`,
		`UPDATE listed SET a = 'a1b', secret = 's1b' WHERE id = 1`,
	)
	recs := e.consume(e.topic("listed"), 4, 30*time.Second)
	p.stop(t)
	if len(recs) != 4 {
		t.Fatalf("got %d records, want 4\n%s", len(recs), p.output())
	}
	last := map[string]doc{}
	for _, r := range recs {
		d := decode(t, r)
		if cols := names(withoutMeta(d)); !reflect.DeepEqual(cols, []string{"a", "id"}) {
			t.Errorf("record %s (op %v, snapshot %v): columns %v, want [a id]", r.Key, meta(d)["op"], source(d)["snapshot"], cols)
		}
		last[string(r.Key)] = withoutMeta(d)
	}
	wantLast := map[string]doc{
		`{"id":1}`: {"id": 1.0, "a": "a1b"},
		`{"id":2}`: {"id": 2.0, "a": "a2"},
		`{"id":3}`: {"id": 3.0, "a": "a3"},
	}
	if !reflect.DeepEqual(last, wantLast) {
		t.Errorf("final state per key %v, want %v", last, wantLast)
	}
}

// A publication's row filter (PostgreSQL 15+) limits the backfilled rows
// as it limits the replicated changes: an update that moves a row out of
// the filter arrives as a delete, one that moves it in as a create.
func TestRowFilterOnBothPaths(t *testing.T) {
	e := newEnv(t)
	if v := serverVersion(t, e); v < 150000 {
		t.Skipf("row filters are PostgreSQL 15+ (server: %d)", v)
	}
	e.exec(
		`CREATE TABLE filtered (id integer PRIMARY KEY, n integer)`,
		`ALTER TABLE filtered REPLICA IDENTITY FULL`, // a filter of updates and deletes may only use identity columns
		`ALTER PUBLICATION flow_publication ADD TABLE filtered WHERE (n > 10)`,
		`INSERT INTO filtered VALUES (1, 5), (2, 20), (5, 50), (6, 1)`, // 6 is never published
	)
	p := e.start(true)
	e.exec(
		`INSERT INTO filtered VALUES (3, 30), (4, 1)`,
		`UPDATE filtered SET n = 3 WHERE id = 2`,  // leaves the filter: a delete
		`UPDATE filtered SET n = 15 WHERE id = 1`, // enters it: a create
		`UPDATE filtered SET n = 2 WHERE id = 4`,  // stays out: nothing
	)
	// Backfilled: 2 and 5. Replicated: 3, the delete of 2 and its
	// tombstone, 1.
	recs := e.consume(e.topic("filtered"), 6, 30*time.Second)
	p.stop(t)
	last := map[string]doc{}
	for _, r := range recs {
		last[string(r.Key)] = withoutMeta(decode(t, r))
		if r.Value == nil {
			last[string(r.Key)] = nil
		}
	}
	wantLast := map[string]doc{
		`{"id":1}`: {"id": 1.0, "n": 15.0},
		`{"id":2}`: nil,
		`{"id":3}`: {"id": 3.0, "n": 30.0},
		`{"id":5}`: {"id": 5.0, "n": 50.0},
	}
	if len(recs) != 6 || !reflect.DeepEqual(last, wantLast) {
		for _, r := range recs {
			t.Logf("  %s %s", r.Key, r.Value)
		}
		t.Errorf("got %d records, final state per key %v; want 6, %v", len(recs), last, wantLast)
	}
}

// A row filter limits the backfill of a keyless table (read by pages) too.
func TestRowFilterKeylessBackfill(t *testing.T) {
	e := newEnv(t)
	if v := serverVersion(t, e); v < 150000 {
		t.Skipf("row filters are PostgreSQL 15+ (server: %d)", v)
	}
	e.exec(
		`CREATE TABLE filtered_nokey (id integer, n integer)`,
		`ALTER TABLE filtered_nokey REPLICA IDENTITY FULL`,
		`ALTER PUBLICATION flow_publication ADD TABLE filtered_nokey WHERE (n > 10)`,
		`INSERT INTO filtered_nokey VALUES (1, 5), (2, 20), (3, 1), (4, 40)`,
	)
	p := e.start(true)
	e.exec(`INSERT INTO filtered_nokey VALUES (5, 50), (6, 2)`)
	recs := e.consume(e.topic("filtered_nokey"), 3, 30*time.Second)
	extra := e.settle(e.topic("filtered_nokey"), 2*time.Second)
	p.stop(t)
	var ids []float64
	for _, r := range extra {
		d := decode(t, r)
		id, _ := d["id"].(float64)
		ids = append(ids, id)
	}
	sort.Float64s(ids)
	if len(recs) != 3 || !reflect.DeepEqual(ids, []float64{2, 4, 5}) {
		t.Errorf("documents of ids %v, want [2 4 5] (2 and 4 backfilled, 5 replicated)", ids)
	}
}

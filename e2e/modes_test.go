package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/pg2kafka/pg2kafka/checkpoint"
)

// Text keys are backfilled unfiltered under a linguistic collation and
// precisely under COLLATE "C", where index order equals byte order (§2.6).
func TestTextKeyModeFollowsCollation(t *testing.T) {
	e := newEnv(t)
	e.exec(`CREATE TABLE c_keys (code text COLLATE "C" PRIMARY KEY)`,
		`CREATE TABLE l_keys (code text COLLATE "en-x-icu" PRIMARY KEY)`,
		`INSERT INTO c_keys SELECT 'k' || g FROM generate_series(1, 2500) g`,
		`INSERT INTO l_keys SELECT 'k' || g FROM generate_series(1, 2500) g`,
		`ALTER PUBLICATION flow_publication ADD TABLE c_keys, l_keys`)
	e.advanced = []string{"backfill_chunk_size: 1000"}
	p := e.start(true)
	p.stop(t)
	modes := map[string]map[checkpoint.Mode]bool{"public%2Fc_keys": {}, "public%2Fl_keys": {}}
	for _, st := range checkpoints(t, e) {
		for key, seen := range modes {
			if ts := st.Bindings[key]; ts != nil {
				seen[ts.Mode] = true
			}
		}
	}
	if !modes["public%2Fc_keys"][checkpoint.ModeBackfill] || modes["public%2Fc_keys"][checkpoint.ModeUnfilteredBackfill] {
		t.Errorf(`COLLATE "C" text key went through modes %v, want precise Backfill`, modes["public%2Fc_keys"])
	}
	if !modes["public%2Fl_keys"][checkpoint.ModeUnfilteredBackfill] || modes["public%2Fl_keys"][checkpoint.ModeBackfill] {
		t.Errorf("linguistic-collation text key went through modes %v, want UnfilteredBackfill", modes["public%2Fl_keys"])
	}
	for _, tb := range []string{"c_keys", "l_keys"} {
		if n := len(e.settle(e.topic(tb), time.Second)); n != 2500 {
			t.Errorf("%s: %d backfill records, want 2500", tb, n)
		}
	}
}

// citext and char(n) keys under the C collation are backfilled unfiltered:
// their ORDER BY order is not the byte order of their row keys (case
// folding, trailing blanks), so filtering changes against the cursor would
// drop rows written during the backfill (schema.KeyOrderOf).
func TestCitextAndBpcharKeysBackfillUnfiltered(t *testing.T) {
	e := newEnv(t)
	e.exec(`CREATE EXTENSION citext`,
		`CREATE TABLE ci_keys (code citext COLLATE "C" PRIMARY KEY)`,
		`CREATE TABLE bp_keys (code char(8) COLLATE "C" PRIMARY KEY)`,
		`INSERT INTO ci_keys SELECT 'k' || g FROM generate_series(1, 2500) g`,
		`INSERT INTO bp_keys SELECT 'k' || g FROM generate_series(1, 2500) g`,
		`ALTER PUBLICATION flow_publication ADD TABLE ci_keys, bp_keys`)
	e.advanced = []string{"backfill_chunk_size: 1000"}
	p := e.start(true)
	p.stop(t)
	modes := map[string]map[checkpoint.Mode]bool{"public%2Fci_keys": {}, "public%2Fbp_keys": {}}
	for _, st := range checkpoints(t, e) {
		for key, seen := range modes {
			if ts := st.Bindings[key]; ts != nil {
				seen[ts.Mode] = true
			}
		}
	}
	for key, seen := range modes {
		if !seen[checkpoint.ModeUnfilteredBackfill] || seen[checkpoint.ModeBackfill] {
			t.Errorf("%s went through modes %v, want UnfilteredBackfill", key, seen)
		}
	}
	for _, tb := range []string{"ci_keys", "bp_keys"} {
		if n := len(e.settle(e.topic(tb), time.Second)); n != 2500 {
			t.Errorf("%s: %d backfill records, want 2500", tb, n)
		}
	}
}

// kafka.delivery at-least-once (brokers without transactions) captures
// changes and checkpoints them after their records are acknowledged.
func TestAtLeastOnceDelivery(t *testing.T) {
	e := newEnv(t)
	e.kafka = []string{"delivery: at-least-once"}
	e.exec(`CREATE TABLE alo (id integer PRIMARY KEY, v text)`,
		`INSERT INTO alo VALUES (1, 'backfilled')`,
		`ALTER PUBLICATION flow_publication ADD TABLE alo`)
	p := e.start(true)
	e.exec(`INSERT INTO alo VALUES (2, 'a')`, `UPDATE alo SET v = 'b' WHERE id = 2`)
	recs := e.consume(e.topic("alo"), 3, 30*time.Second)
	p.stop(t)
	if len(recs) != 3 {
		t.Fatalf("got %d records, want 3", len(recs))
	}
	if d := decode(t, recs[2]); meta(d)["op"] != "u" || d["v"] != "b" {
		t.Errorf("last record %s, want the update", recs[2].Value)
	}
	st := currentCheckpoint(t, e)
	if st == nil || st.Cursor == "" || st.Bindings["public%2Falo"].Mode != checkpoint.ModeActive {
		t.Errorf("checkpoint %+v, want a cursor and alo Active", st)
	}
}

// Flow's multidimensional_arrays feature flag keeps array dimensions.
func TestMultidimensionalArraysFlag(t *testing.T) {
	e := newEnv(t)
	e.advanced = []string{"feature_flags: multidimensional_arrays"}
	e.exec(`CREATE TABLE grid (id integer PRIMARY KEY, m integer[])`,
		`INSERT INTO grid VALUES (1, '{{1,2},{3,4}}')`,
		`ALTER PUBLICATION flow_publication ADD TABLE grid`)
	p := e.start(true)
	recs := e.consume(e.topic("grid"), 1, 30*time.Second)
	p.stop(t)
	if len(recs) != 1 || !strings.Contains(string(recs[0].Value), `"m":[[1,2],[3,4]]`) {
		t.Fatalf("records %d, value %s; want m as [[1,2],[3,4]]", len(recs), recs[0].Value)
	}
}

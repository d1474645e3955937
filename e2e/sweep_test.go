package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// Rows deleted while nothing captured them (the slot dropped, then state
// reset) leave live keys in a compacted topic unless the re-backfill is
// followed by a sweep: each key the topic holds and the table no longer
// has gets a delete document and a tombstone. A writer inserts, updates
// and deletes keys (ghosts among them) during the re-backfill and the
// sweep: the topic's last record per key must equal the table, and no key
// go back in time.
func TestStateResetLeavesNoGhostRows(t *testing.T) {
	e := newEnv(t)
	e.useSlot("sweep")
	const rows = 3000
	e.exec(
		`CREATE SEQUENCE ver`,
		`CREATE TABLE items (id integer PRIMARY KEY, v bigint NOT NULL DEFAULT nextval('ver'), pad text)`,
		fmt.Sprintf(`INSERT INTO items (id, pad) SELECT g, md5(g::text) FROM generate_series(1, %d) g`, rows),
		`ALTER PUBLICATION flow_publication ADD TABLE items`,
	)
	e.advanced = []string{"backfill_chunk_size: 200"}
	p := e.start(true)
	waitBackfilled(t, e, []string{"items"}, 60*time.Second)
	p.stop(t)

	// While nothing captures: a third of the rows go, and the state with
	// them (as after a lost slot).
	e.exec(`DELETE FROM items WHERE id % 3 = 0`)
	e.mustTool("state", "reset", "--yes")

	p = e.start(true)
	stop := sqlMutator(t, e.dbURL, rows+300, []string{
		`INSERT INTO items (id, pad) VALUES ($1, 'new') ON CONFLICT (id) DO UPDATE SET v = nextval('ver')`,
		`UPDATE items SET v = nextval('ver'), pad = 'upd' WHERE id = $1`,
		`DELETE FROM items WHERE id = $1`,
	})
	deadline := time.Now().Add(90 * time.Second)
	for !strings.Contains(p.output(), "swept the topic") {
		if time.Now().After(deadline) {
			stop()
			t.Fatalf("the topic was not swept:\n%s", p.output())
		}
		time.Sleep(50 * time.Millisecond)
	}
	stop()
	e.exec(`INSERT INTO items (id, pad) VALUES (-1, 'marker')`)
	waitForRecord(t, e, e.topic("items"), 60*time.Second, func(d doc) bool { return d["pad"] == "marker" })
	p.stop(t)
	recs := e.settle(e.topic("items"), time.Second)
	lastPerKey(t, e, "items", recs, `SELECT json_build_object('id', id)::text, json_build_object('id', id, 'v', v, 'pad', pad)::text FROM items`)
	// Every tombstone, the sweep's included, follows a delete document of
	// its key: consumers that ignore tombstones see the deletion too.
	prev := map[string]string{}
	for _, r := range recs {
		k := string(r.Key)
		if r.Value == nil {
			if prev[k] != "d" {
				t.Fatalf("tombstone of %s after a record with op %q, want a delete", k, prev[k])
			}
			prev[k] = "tombstone"
			continue
		}
		prev[k] = fmt.Sprint(meta(decode(t, r))["op"])
	}
}

package e2e

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

type doc map[string]any

func decode(t *testing.T, r *kgo.Record) doc {
	t.Helper()
	if r.Value == nil {
		return nil
	}
	var d doc
	if err := json.Unmarshal(r.Value, &d); err != nil {
		t.Fatalf("record value is not JSON: %v: %s", err, r.Value)
	}
	return d
}

func meta(d doc) map[string]any   { m, _ := d["_meta"].(map[string]any); return m }
func source(d doc) map[string]any { s, _ := meta(d)["source"].(map[string]any); return s }

// withoutMeta returns the row's columns.
func withoutMeta(d doc) doc {
	out := doc{}
	for k, v := range d {
		if k != "_meta" {
			out[k] = v
		}
	}
	return out
}

type want struct {
	key  string
	op   string
	cols doc // nil: a tombstone
}

func checkRecords(t *testing.T, table string, got []*kgo.Record, wants []want) {
	t.Helper()
	if len(got) != len(wants) {
		for _, r := range got {
			t.Logf("  %s %s %s", header(r, "pg2kafka.op"), r.Key, r.Value)
		}
		t.Fatalf("%s: got %d records, want %d", table, len(got), len(wants))
	}
	for i, w := range wants {
		r := got[i]
		if string(r.Key) != w.key {
			t.Errorf("%s record %d: key %s, want %s", table, i, r.Key, w.key)
		}
		if w.cols == nil {
			if r.Value != nil {
				t.Errorf("%s record %d: want a tombstone, got %s", table, i, r.Value)
			}
			continue
		}
		d := decode(t, r)
		if op := meta(d)["op"]; op != w.op {
			t.Errorf("%s record %d: op %v, want %s", table, i, op, w.op)
		}
		if h := header(r, "pg2kafka.op"); h != w.op {
			t.Errorf("%s record %d: header pg2kafka.op %q, want %s", table, i, h, w.op)
		}
		if h := header(r, "pg2kafka.lsn"); !strings.Contains(h, "/") {
			t.Errorf("%s record %d: header pg2kafka.lsn %q is not an LSN", table, i, h)
		}
		if cols := withoutMeta(d); !reflect.DeepEqual(cols, w.cols) {
			t.Errorf("%s record %d: columns %v, want %v", table, i, cols, w.cols)
		}
		src := source(d)
		if src["schema"] != "public" || src["table"] != table {
			t.Errorf("%s record %d: source %v names the wrong table", table, i, src)
		}
		loc, _ := src["loc"].([]any)
		if len(loc) != 3 {
			t.Errorf("%s record %d: loc %v is not 3 integers", table, i, src["loc"])
		}
		if _, ok := src["txid"].(float64); !ok {
			t.Errorf("%s record %d: txid missing from %v", table, i, src)
		}
		if _, ok := src["ts_ms"].(float64); !ok {
			t.Errorf("%s record %d: ts_ms missing from %v", table, i, src)
		}
		if _, ok := src["snapshot"]; ok {
			t.Errorf("%s record %d: replication event carries snapshot", table, i)
		}
		if _, ok := meta(d)["before"]; ok {
			t.Errorf("%s record %d: default replica identity carries before: %v", table, i, meta(d)["before"])
		}
	}
}

// Inserts, updates and deletes on tables with an integer, a composite and a
// text key arrive as exactly these records, in order, read_committed.
func TestChangesOfThreeTables(t *testing.T) {
	e := newEnv(t)
	e.exec(
		`CREATE TABLE orders (id integer PRIMARY KEY, customer text, total numeric(10,2), note text)`,
		`CREATE TABLE lines (order_id integer, line_no smallint, sku text NOT NULL, PRIMARY KEY (order_id, line_no))`,
		`CREATE TABLE users (email text PRIMARY KEY, name text, active boolean)`,
		`ALTER PUBLICATION flow_publication ADD TABLE orders, lines, users`,
	)
	p := e.start(true)
	e.exec(
		`INSERT INTO orders VALUES (5001, 'globex', 250.00, 'rush')`,
		`INSERT INTO lines VALUES (5001, 1, 'A-1'), (5001, 2, 'B-2')`,
		`INSERT INTO users VALUES ('alice@example.com', 'Alice', true)`,
		`UPDATE orders SET note = 'shipped' WHERE id = 5001`,
		`UPDATE lines SET sku = 'B-3' WHERE order_id = 5001 AND line_no = 2`,
		`UPDATE users SET active = false WHERE email = 'alice@example.com'`,
		`DELETE FROM orders WHERE id = 5001`,
		`DELETE FROM lines WHERE order_id = 5001 AND line_no = 1`,
		`DELETE FROM users WHERE email = 'alice@example.com'`,
	)
	orders := e.consume(e.topic("orders"), 4, 30*time.Second)
	lines := e.consume(e.topic("lines"), 5, 30*time.Second)
	users := e.consume(e.topic("users"), 4, 30*time.Second)
	p.stop(t)

	checkRecords(t, "orders", orders, []want{
		{`{"id":5001}`, "c", doc{"id": 5001.0, "customer": "globex", "total": "250.00", "note": "rush"}},
		{`{"id":5001}`, "u", doc{"id": 5001.0, "customer": "globex", "total": "250.00", "note": "shipped"}},
		{`{"id":5001}`, "d", doc{"id": 5001.0}},
		{`{"id":5001}`, "", nil},
	})
	checkRecords(t, "lines", lines, []want{
		{`{"order_id":5001,"line_no":1}`, "c", doc{"order_id": 5001.0, "line_no": 1.0, "sku": "A-1"}},
		{`{"order_id":5001,"line_no":2}`, "c", doc{"order_id": 5001.0, "line_no": 2.0, "sku": "B-2"}},
		{`{"order_id":5001,"line_no":2}`, "u", doc{"order_id": 5001.0, "line_no": 2.0, "sku": "B-3"}},
		{`{"order_id":5001,"line_no":1}`, "d", doc{"order_id": 5001.0, "line_no": 1.0}},
		{`{"order_id":5001,"line_no":1}`, "", nil},
	})
	checkRecords(t, "users", users, []want{
		{`{"email":"alice@example.com"}`, "c", doc{"email": "alice@example.com", "name": "Alice", "active": true}},
		{`{"email":"alice@example.com"}`, "u", doc{"email": "alice@example.com", "name": "Alice", "active": false}},
		{`{"email":"alice@example.com"}`, "d", doc{"email": "alice@example.com"}},
		{`{"email":"alice@example.com"}`, "", nil},
	})
}

// A primary-key change under the default envelope writes the update under
// the new key and then a tombstone for the old key, so a compacted topic
// forgets the old key as the table did; a delete is followed by its key's
// tombstone. With kafka.tombstones false neither tombstone is written.
func TestKeyChangeTombstonesTheOldKey(t *testing.T) {
	for _, tc := range []struct {
		tombstones bool
		want       []string // key and op of each record, "-" for a tombstone
	}{
		{true, []string{`{"id":1} c`, `{"id":2} u`, `{"id":1} -`, `{"id":2} d`, `{"id":2} -`}},
		{false, []string{`{"id":1} c`, `{"id":2} u`, `{"id":2} d`}},
	} {
		t.Run(fmt.Sprintf("tombstones=%v", tc.tombstones), func(t *testing.T) {
			e := newEnv(t)
			e.kafka = []string{fmt.Sprintf("tombstones: %v", tc.tombstones)}
			e.exec(
				`CREATE TABLE renumbered (id integer PRIMARY KEY, v text)`,
				`ALTER PUBLICATION flow_publication ADD TABLE renumbered`,
			)
			p := e.start(true)
			e.exec(
				`INSERT INTO renumbered VALUES (1, 'a')`,
				`UPDATE renumbered SET id = 2 WHERE id = 1`,
				`DELETE FROM renumbered WHERE id = 2`,
			)
			var got []string
			recs := e.consume(e.topic("renumbered"), len(tc.want), 30*time.Second)
			p.stop(t)
			for _, r := range recs {
				op := "-"
				if r.Value != nil {
					op = fmt.Sprint(meta(decode(t, r))["op"])
				}
				got = append(got, string(r.Key)+" "+op)
			}
			if strings.Join(got, ", ") != strings.Join(tc.want, ", ") {
				t.Errorf("kafka.tombstones %v: records %s, want %s", tc.tombstones, strings.Join(got, ", "), strings.Join(tc.want, ", "))
			}
			if extra := e.settle(e.topic("renumbered"), time.Second); len(extra) != len(tc.want) {
				t.Errorf("the topic holds %d records, want %d", len(extra), len(tc.want))
			}
		})
	}
}

// Kafka transactions alternate between the capture's two transactional IDs
// on a real broker: every commit writes the capture's base checkpoint
// record, and no two successive ones come from one producer; each
// PostgreSQL transaction's records come from one producer.
func TestCommitsAlternateTransactionalIDs(t *testing.T) {
	e := newEnv(t)
	e.exec(`CREATE TABLE turns (id integer PRIMARY KEY)`, `ALTER PUBLICATION flow_publication ADD TABLE turns`)
	p := e.start(true)
	defer p.stop(t)
	var recs []*kgo.Record
	for i := range 4 {
		// One PostgreSQL transaction at a time, each read back before the
		// next: at least four commits.
		e.exec(fmt.Sprintf(`INSERT INTO turns VALUES (%d), (%d)`, 2*i, 2*i+1))
		recs = e.consume(e.topic("turns"), 2*(i+1), 30*time.Second)
	}
	if len(recs) != 8 {
		t.Fatalf("read %d records; want 8", len(recs))
	}
	for i := 0; i < len(recs); i += 2 {
		if recs[i].ProducerID != recs[i+1].ProducerID {
			t.Errorf("one PostgreSQL transaction's records came from producers %d and %d", recs[i].ProducerID, recs[i+1].ProducerID)
		}
	}
	var bases []*kgo.Record
	for _, r := range e.settle(e.prefix+".checkpoints", 300*time.Millisecond) {
		if string(r.Key) == e.capture() {
			bases = append(bases, r)
		}
	}
	producers := map[int64]bool{}
	for i, r := range bases {
		producers[r.ProducerID] = true
		if i > 0 && r.ProducerID == bases[i-1].ProducerID {
			t.Errorf("commits %d and %d (offsets %d, %d) both came from producer %d", i-1, i, bases[i-1].Offset, r.Offset, r.ProducerID)
		}
	}
	if len(bases) < 4 || len(producers) != 2 {
		t.Errorf("%d commits from %d producers; want at least 4 from 2", len(bases), len(producers))
	}
}

package e2e

import (
	"encoding/json"
	"testing"
	"time"
)

// kafka.envelope debezium writes Debezium's envelope: op r for backfill
// rows, c/u/d for changes, and a primary-key change as delete + tombstone
// + create.
func TestDebeziumEnvelope(t *testing.T) {
	e := newEnv(t)
	e.kafka = []string{"envelope: debezium"}
	e.exec(`CREATE TABLE accounts (id integer PRIMARY KEY, owner text)`,
		`INSERT INTO accounts VALUES (1, 'ann')`,
		`ALTER PUBLICATION flow_publication ADD TABLE accounts`)
	p := e.start(true)
	e.exec(`INSERT INTO accounts VALUES (2, 'bob')`,
		`UPDATE accounts SET owner = 'bo' WHERE id = 2`,
		`UPDATE accounts SET id = 3 WHERE id = 2`,
		`DELETE FROM accounts WHERE id = 1`)
	recs := e.consume(e.topic("accounts"), 8, 30*time.Second)
	p.stop(t)
	type env struct {
		Before map[string]any `json:"before"`
		After  map[string]any `json:"after"`
		Op     string         `json:"op"`
		Source struct {
			Connector string `json:"connector"`
			Table     string `json:"table"`
			Snapshot  string `json:"snapshot"`
		} `json:"source"`
	}
	want := []struct{ key, op string }{
		{`{"id":1}`, "r"}, {`{"id":2}`, "c"}, {`{"id":2}`, "u"},
		{`{"id":2}`, "d"}, {`{"id":2}`, ""}, {`{"id":3}`, "c"},
		{`{"id":1}`, "d"}, {`{"id":1}`, ""},
	}
	if len(recs) != len(want) {
		for _, r := range recs {
			t.Logf("%s %s", r.Key, r.Value)
		}
		t.Fatalf("got %d records, want %d", len(recs), len(want))
	}
	for i, w := range want {
		r := recs[i]
		if string(r.Key) != w.key {
			t.Errorf("record %d: key %s, want %s", i, r.Key, w.key)
		}
		if w.op == "" {
			if r.Value != nil {
				t.Errorf("record %d: want a tombstone, got %s", i, r.Value)
			}
			continue
		}
		var d env
		if err := json.Unmarshal(r.Value, &d); err != nil {
			t.Fatalf("record %d is not JSON: %s", i, r.Value)
		}
		if d.Op != w.op || d.Source.Connector != "postgresql" || d.Source.Table != "accounts" {
			t.Errorf("record %d: op %q source %+v, want op %q from postgresql accounts", i, d.Op, d.Source, w.op)
		}
		// Under the default replica identity an update has no before.
		if (w.op == "d") != (d.After == nil) || ((w.op == "r" || w.op == "c") && d.Before != nil) {
			t.Errorf("record %d (%s): before %v after %v", i, w.op, d.Before, d.After)
		}
		if (w.op == "r") != (d.Source.Snapshot == "true") {
			t.Errorf("record %d: snapshot %q for op %s", i, d.Source.Snapshot, w.op)
		}
	}
}

// With kafka.truncates, a TRUNCATE of a captured table is a keyless record
// with Debezium's op t.
func TestDebeziumTruncate(t *testing.T) {
	e := newEnv(t)
	e.kafka = []string{"envelope: debezium", "truncates: true"}
	e.exec(`CREATE TABLE logs (id integer PRIMARY KEY)`, `ALTER PUBLICATION flow_publication ADD TABLE logs`)
	p := e.start(true)
	e.exec(`INSERT INTO logs VALUES (1)`, `TRUNCATE logs`, `INSERT INTO logs VALUES (2)`)
	recs := e.consume(e.topic("logs"), 3, 30*time.Second)
	p.stop(t)
	if len(recs) != 3 {
		t.Fatalf("got %d records, want insert, truncate, insert", len(recs))
	}
	var d struct {
		Op     string         `json:"op"`
		Before map[string]any `json:"before"`
		After  map[string]any `json:"after"`
	}
	if err := json.Unmarshal(recs[1].Value, &d); err != nil {
		t.Fatalf("truncate record is not JSON: %s", recs[1].Value)
	}
	if d.Op != "t" || recs[1].Key != nil || d.Before != nil || d.After != nil || header(recs[1], "pg2kafka.op") != "t" {
		t.Errorf("truncate record: key %s value %s, want op t with no key and null before/after", recs[1].Key, recs[1].Value)
	}
}

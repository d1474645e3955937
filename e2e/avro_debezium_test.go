package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/pg2kafka/pg2kafka/internal/registrytest"
)

// kafka.format avro with kafka.envelope debezium writes Debezium's envelope
// as an Avro record (Envelope, with before and after the row record) in the
// Confluent wire format; the key is the Avro Key record and a delete is
// followed by a tombstone.
func TestAvroDebeziumEnvelope(t *testing.T) {
	regURL := registrytest.URL(t)
	e := newEnv(t)
	e.kafka = []string{"format: avro", "envelope: debezium", "schema_registry: {url: " + regURL + "}"}
	e.exec(`CREATE TABLE accounts (id integer PRIMARY KEY, owner text)`,
		`INSERT INTO accounts VALUES (1, 'ann')`,
		`ALTER PUBLICATION flow_publication ADD TABLE accounts`)
	p := e.start(true)
	e.exec(`INSERT INTO accounts VALUES (2, 'bob')`,
		`UPDATE accounts SET owner = 'bo' WHERE id = 2`,
		`DELETE FROM accounts WHERE id = 1`,
		// The next version of the Envelope, registered under the BACKWARD
		// level pg2kafka sets (which a real registry enforces).
		`ALTER TABLE accounts ADD COLUMN email text NOT NULL DEFAULT 'none'`,
		`INSERT INTO accounts VALUES (3, 'cy', 'cy@example.org')`)
	recs := e.consume(e.topic("accounts"), 6, 30*time.Second)
	p.stop(t)
	client, err := sr.NewClient(sr.URLs(regURL))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	decode := func(b []byte) map[string]any { t.Helper(); return decodeAvro(t, ctx, client, b) }
	row := func(v any) map[string]any {
		m, _ := unwrap(v).(map[string]any)
		return m
	}
	want := []struct {
		id            int
		op            string
		before, after string // owner, "" for a null row
	}{
		{1, "r", "", "ann"}, {2, "c", "", "bob"}, {2, "u", "", "bo"}, {1, "d", "ann", ""}, {1, "", "", ""},
		{3, "c", "", "cy"},
	}
	if len(recs) != len(want) {
		t.Fatalf("got %d records, want %d", len(recs), len(want))
	}
	for i, w := range want {
		r := recs[i]
		if id := unwrap(decode(r.Key)["id"]); id != w.id {
			t.Errorf("record %d: key id %v, want %d", i, id, w.id)
		}
		if w.op == "" {
			if r.Value != nil {
				t.Errorf("record %d: want a tombstone, got % x", i, r.Value)
			}
			continue
		}
		v := decode(r.Value)
		src, _ := v["source"].(map[string]any)
		if v["op"] != w.op || src["connector"] != "postgresql" || src["table"] != "accounts" {
			t.Errorf("record %d: op %v source %v, want op %s from postgresql accounts", i, v["op"], src, w.op)
		}
		if (unwrap(src["snapshot"]) == "true") != (w.op == "r") {
			t.Errorf("record %d: snapshot %v for op %s", i, src["snapshot"], w.op)
		}
		before, after := row(v["before"]), row(v["after"])
		if (before == nil) != (w.before == "") || (after == nil) != (w.after == "") {
			t.Fatalf("record %d (%s): before %v after %v", i, w.op, v["before"], v["after"])
		}
		if after != nil && (unwrap(after["owner"]) != w.after || unwrap(after["id"]) != w.id) {
			t.Errorf("record %d (%s): after %v, want owner %s", i, w.op, after, w.after)
		}
		// A delete under the default replica identity has only the key.
		if before != nil && (unwrap(before["id"]) != w.id || unwrap(before["owner"]) != nil) {
			t.Errorf("record %d (%s): before %v, want the key only", i, w.op, before)
		}
	}
	latest, err := client.SchemaByVersion(ctx, e.topic("accounts")+"-value", -1)
	if err != nil {
		t.Fatal(err)
	}
	s, err := avro.Parse(latest.Schema.Schema)
	if err != nil {
		t.Fatal(err)
	}
	if rs, ok := s.(*avro.RecordSchema); !ok || rs.Name() != "Envelope" {
		t.Errorf("value subject holds %s, want the Envelope record", latest.Schema.Schema)
	}
	if email := unwrap(row(decode(recs[5].Value)["after"])["email"]); email != "cy@example.org" {
		t.Errorf("row 3 after ADD COLUMN: email %v", email)
	}
	if vs, err := client.SubjectVersions(ctx, e.topic("accounts")+"-value"); err != nil || len(vs) != 2 {
		t.Errorf("value subject versions %v (%v), want 2 (the ADD COLUMN registers the next)", vs, err)
	}
}

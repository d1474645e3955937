package e2e

import (
	"context"
	wire "encoding/binary"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/pg2kafka/pg2kafka/internal/registrytest"
)

// With kafka.format avro every record is in the Confluent wire format and
// decodes with the schema the registry holds under its ID; a column added
// while streaming registers the next version of the value subject.
func TestAvroWithSchemaRegistry(t *testing.T) {
	regURL := registrytest.URL(t)
	e := newEnv(t)
	e.kafka = []string{"format: avro", "schema_registry: {url: " + regURL + "}"}
	e.exec(`CREATE TABLE items (id integer PRIMARY KEY, name text, price numeric(10,2), seen timestamptz)`,
		`INSERT INTO items VALUES (1, 'one', 1.50, '2024-01-15 14:30:00+00')`,
		`ALTER PUBLICATION flow_publication ADD TABLE items`)
	p := e.start(true)
	e.exec(`INSERT INTO items VALUES (2, 'two', 2.25, NULL)`,
		`ALTER TABLE items ADD COLUMN note text`,
		`INSERT INTO items VALUES (3, 'three', 3.00, NULL, 'added')`)
	recs := e.consume(e.topic("items"), 3, 30*time.Second)
	p.stop(t)
	if len(recs) != 3 {
		t.Fatalf("got %d records, want 3", len(recs))
	}
	client, err := sr.NewClient(sr.URLs(regURL))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	decode := func(b []byte) map[string]any { t.Helper(); return decodeAvro(t, ctx, client, b) }
	wantNames := []string{"one", "two", "three"}
	for i, r := range recs {
		v := decode(r.Value)
		k := decode(r.Key)
		if name := unwrap(v["name"]); name != wantNames[i] {
			t.Errorf("record %d: name %v, want %s", i, name, wantNames[i])
		}
		if id := unwrap(k["id"]); id != i+1 {
			t.Errorf("record %d: key id %v (%T), want %d", i, id, id, i+1)
		}
		if i == 2 {
			if note := unwrap(v["note"]); note != "added" {
				t.Errorf("record after ADD COLUMN: note %v, want added", note)
			}
		}
	}
	latest, err := client.SchemaByVersion(ctx, e.topic("items")+"-value", -1)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(latest.Schema.Schema, `"logicalType":"decimal","precision":10,"scale":2`) {
		t.Errorf("numeric(10,2) is not an Avro decimal(10,2) in %s", latest.Schema.Schema)
	}
	if price, ok := unwrap(decode(recs[0].Value)["price"]).(*big.Rat); !ok || price.FloatString(2) != "1.50" {
		t.Errorf("price decodes as %v, want the decimal 1.50", unwrap(decode(recs[0].Value)["price"]))
	}
	versions, err := client.SubjectVersions(ctx, e.topic("items")+"-value")
	if err != nil {
		t.Fatal(err)
	}
	if len(versions) != 2 {
		t.Errorf("value subject has versions %v, want 2 (the ADD COLUMN registers the next)", versions)
	}
}

// unwrap takes the value out of a decoded ["null", T] union.
func unwrap(v any) any {
	if m, ok := v.(map[string]any); ok {
		for _, x := range m {
			return x
		}
	}
	return v
}

// decodeAvro decodes a Confluent wire-format record with the schema the
// registry holds under its ID.
func decodeAvro(t *testing.T, ctx context.Context, client *sr.Client, b []byte) map[string]any {
	t.Helper()
	if len(b) < 5 || b[0] != 0 {
		t.Fatalf("not the Confluent wire format: % x", b[:min(len(b), 8)])
	}
	id := int(wire.BigEndian.Uint32(b[1:5]))
	s, err := client.SchemaByID(ctx, id)
	if err != nil {
		t.Fatalf("schema %d: %v", id, err)
	}
	schema, err := avro.Parse(s.Schema)
	if err != nil {
		t.Fatalf("schema %d does not parse: %v", id, err)
	}
	var out map[string]any
	if err := avro.Unmarshal(schema, b[5:], &out); err != nil {
		t.Fatalf("record does not decode with schema %d: %v", id, err)
	}
	return out
}

// The registry enforces BACKWARD compatibility on the subjects pg2kafka
// creates: a table change whose Avro schema can still read the records
// written before (a column added, NOT NULL with a default, since every
// field is nullable with a null default; int4 → int8, an Avro promotion)
// registers the next version; one that cannot (int8 → text: long is not
// promotable to string) is refused, and pg2kafka stops with one error
// naming the table, the column, the subject and the fix, having committed
// nothing past the last change it could encode. Once the operator relaxes
// the subject's compatibility, a restart delivers the rest: every row once.
// srfake enforces nothing, so the refusal half needs the real registry.
func TestAvroBackwardCompatibility(t *testing.T) {
	regURL := registrytest.URL(t)
	e := newEnv(t)
	e.kafka = []string{"format: avro", "schema_registry: {url: " + regURL + "}"}
	e.exec(`CREATE TABLE items (id integer PRIMARY KEY, qty integer, name text)`,
		`INSERT INTO items VALUES (1, 1, 'one')`,
		`ALTER PUBLICATION flow_publication ADD TABLE items`)
	p := e.start(true)
	e.exec(`ALTER TABLE items ADD COLUMN note text NOT NULL DEFAULT 'n'`,
		`ALTER TABLE items ALTER COLUMN qty TYPE bigint`,
		`INSERT INTO items VALUES (2, 2, 'two', 'second')`)
	topic := e.topic("items")
	recs := e.consume(topic, 2, 60*time.Second)
	client, err := sr.NewClient(sr.URLs(regURL))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	decode := func(b []byte) map[string]any { t.Helper(); return decodeAvro(t, ctx, client, b) }
	if v := decode(recs[1].Value); unwrap(v["qty"]) != int64(2) || unwrap(v["note"]) != "second" {
		t.Errorf("row 2 after ADD COLUMN and int4 → int8: %v", v)
	}
	versions, err := client.SubjectVersions(ctx, topic+"-value")
	if err != nil || len(versions) < 2 {
		t.Fatalf("value subject versions %v (%v), want the compatible changes registered", versions, err)
	}
	if !registrytest.Enforces(regURL) {
		p.stop(t)
		t.Skipf("srfake enforces no compatibility: the refusal of an incompatible change needs a real registry (%s=real, or make test-registry)", registrytest.EnvRegistry)
	}
	if c := client.Compatibility(ctx, topic+"-value"); len(c) != 1 || c[0].Err != nil || c[0].Level != sr.CompatBackward {
		t.Fatalf("compatibility of %s-value: %+v, want BACKWARD, which pg2kafka sets on the subjects it creates", topic, c)
	}

	e.exec(`ALTER TABLE items ALTER COLUMN qty TYPE text`,
		`INSERT INTO items VALUES (3, 'three', 'three', 'third')`)
	code := p.wait(t, 90*time.Second)
	out := p.output()
	t.Logf("pg2kafka exited %d:\n%s", code, out)
	if code == 0 {
		t.Fatalf("pg2kafka exited 0 after the registry refused a schema")
	}
	for _, part := range []string{"public.items", `column \"qty\"`, topic + "-value", "lower the compatibility level of subject"} {
		if !strings.Contains(out, part) {
			t.Errorf("the output does not name %q", part)
		}
	}
	if n := strings.Count(out, "schema registry refused"); n != 1 {
		t.Errorf("the refusal is reported %d times, want once", n)
	}
	if got := e.settle(topic, 2*time.Second); len(got) != 2 {
		t.Errorf("%d records after the refusal, want the 2 before it", len(got))
	}
	if vs, _ := client.SubjectVersions(ctx, topic+"-value"); len(vs) != len(versions) {
		t.Errorf("value subject versions %v after the refusal, want %v", vs, versions)
	}

	// The fix the error names: the operator lets the subject take the
	// change (here NONE), and pg2kafka resumes where it stopped.
	if res := client.SetCompatibility(ctx, sr.SetCompatibility{Level: sr.CompatNone}, topic+"-value"); len(res) != 1 || res[0].Err != nil {
		t.Fatalf("setting NONE on %s-value: %+v", topic, res)
	}
	p = e.start(false)
	recs = e.consume(topic, 3, 60*time.Second)
	p.stop(t)
	if got := e.settle(topic, 2*time.Second); len(got) != 3 {
		t.Fatalf("%d records in all, want 3 (each row once)", len(got))
	}
	for i, r := range recs {
		if id := unwrap(decode(r.Key)["id"]); id != i+1 {
			t.Errorf("record %d: key id %v, want %d", i, id, i+1)
		}
	}
	if v := decode(recs[2].Value); unwrap(v["qty"]) != "three" {
		t.Errorf("row 3 after int8 → text: %v", v)
	}
}

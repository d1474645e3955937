package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// A key the replica identity does not carry would reach Kafka keyed null on
// every delete (REPLICA IDENTITY USING INDEX on another unique index): check
// and run refuse it, naming the table and the fix. Tables without any usable
// replica identity are named by check with a warning. Under the fix (FULL),
// deletes and their tombstones carry the key.
func TestReplicaIdentityMustHoldKey(t *testing.T) {
	e := newEnv(t)
	e.useSlot("identity_key")
	e.exec(`CREATE TABLE by_index (id integer PRIMARY KEY, u integer NOT NULL UNIQUE)`,
		`ALTER TABLE by_index REPLICA IDENTITY USING INDEX by_index_u_key`,
		`CREATE TABLE nothing (id integer PRIMARY KEY)`,
		`ALTER TABLE nothing REPLICA IDENTITY NOTHING`,
		`CREATE TABLE no_pk (v integer)`,
		`CREATE TABLE fine (id integer PRIMARY KEY)`,
		`INSERT INTO by_index VALUES (1, 10), (2, 20)`,
		`ALTER PUBLICATION flow_publication ADD TABLE by_index, nothing, no_pk, fine`)

	out, errOut, code := e.tool("check")
	if code != 1 {
		t.Fatalf("check exited %d, want 1\n%s%s", code, out, errOut)
	}
	for _, want := range []string{
		"FAIL  replica identity public.by_index", "key column(s) id", "REPLICA IDENTITY DEFAULT", "REPLICA IDENTITY FULL",
		"WARN  replica identity public.nothing", "REPLICA IDENTITY NOTHING",
		"WARN  replica identity public.no_pk", "no primary key",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("check output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "replica identity public.fine") {
		t.Errorf("check objects to a table whose identity is its primary key:\n%s", out)
	}

	code, log := e.runToExit(e.config(), 60*time.Second)
	if code != 1 || !strings.Contains(log, "public.by_index") || !strings.Contains(log, "REPLICA IDENTITY DEFAULT") {
		t.Fatalf("run exited %d, want 1 with an error naming public.by_index and the fix:\n%s", code, log)
	}

	e.exec(`ALTER TABLE by_index REPLICA IDENTITY FULL`)
	p := e.start(true)
	e.exec(`DELETE FROM by_index WHERE id = 1`)
	recs := e.consume(e.topic("by_index"), 4, 30*time.Second) // 2 backfilled, the delete, its tombstone
	p.stop(t)
	if len(recs) != 4 {
		t.Fatalf("got %d by_index records, want 4", len(recs))
	}
	for _, r := range recs[2:] {
		if string(r.Key) != `{"id":1}` {
			t.Errorf("delete record key %s (value %s), want {\"id\":1}", r.Key, r.Value)
		}
	}
}

// Tables "a b" and a_b would both write to topic …public.a_b, where a delete
// in one tombstones the other's row: check and run refuse them, naming both
// tables and the binding's topic setting; with a topic of its own each table
// keeps its rows.
func TestCollidingTopicsRefused(t *testing.T) {
	e := newEnv(t)
	e.useSlot("colliding_topics")
	e.exec(`CREATE TABLE "a b" (id integer PRIMARY KEY, v text)`,
		`CREATE TABLE a_b (id integer PRIMARY KEY, v text)`,
		`INSERT INTO "a b" VALUES (1, 'space')`,
		`INSERT INTO a_b VALUES (1, 'underscore')`,
		`ALTER PUBLICATION flow_publication ADD TABLE "a b", a_b`)
	phrases := []string{`public."a b"`, "public.a_b", "topic: <name>"}
	out, errOut, code := e.tool("check")
	if code != 1 {
		t.Fatalf("check exited %d, want 1\n%s%s", code, out, errOut)
	}
	for _, want := range phrases {
		if !strings.Contains(out+errOut, want) {
			t.Errorf("check output lacks %q:\n%s%s", want, out, errOut)
		}
	}
	code, log := e.runToExit(e.config(), 60*time.Second)
	if code != 1 {
		t.Fatalf("run exited %d, want 1\n%s", code, log)
	}
	for _, want := range phrases {
		if !strings.Contains(strings.ReplaceAll(log, `\"`, `"`), want) {
			t.Errorf("run's error lacks %q:\n%s", want, log)
		}
	}

	e.extra = "bindings:\n  - resource: {namespace: public, stream: \"a b\"}\n    topic: " + e.prefix + ".public.a_space_b\n" +
		"  - resource: {namespace: public, stream: a_b}\n"
	p := e.start(true)
	e.exec(`DELETE FROM a_b WHERE id = 1`)
	underscore := e.consume(e.topic("a_b"), 3, 30*time.Second) // the row, its delete, the tombstone
	p.stop(t)
	space := e.settle(e.topic("a_space_b"), time.Second)
	if len(underscore) != 3 || len(space) != 1 {
		t.Fatalf("got %d a_b and %d \"a b\" records, want 3 and 1", len(underscore), len(space))
	}
	if d := decode(t, space[0]); d["v"] != "space" {
		t.Errorf(`"a b" record %s, want its row`, space[0].Value)
	}
}

// A column named _meta is written as _meta_2 in the document (and in
// discover's schema and collection key), so the document has one _meta
// member, the metadata; the Kafka key keeps the column's name.
func TestMetaColumnRenamed(t *testing.T) {
	e := newEnv(t)
	e.exec(`CREATE TABLE clash ("_meta" integer PRIMARY KEY, note text)`,
		`INSERT INTO clash VALUES (1, 'backfilled')`,
		`ALTER PUBLICATION flow_publication ADD TABLE clash`)

	out := e.mustTool("discover")
	var disc struct {
		Bindings []struct {
			DocumentSchema map[string]any `json:"documentSchema"`
			Key            []string       `json:"key"`
		} `json:"bindings"`
	}
	if err := json.Unmarshal([]byte(out), &disc); err != nil || len(disc.Bindings) != 1 {
		t.Fatalf("discover: %v\n%s", err, out)
	}
	if k := disc.Bindings[0].Key; len(k) != 1 || k[0] != "/_meta_2" {
		t.Errorf("collection key %q, want [/_meta_2]", k)
	}
	row, _ := disc.Bindings[0].DocumentSchema["$defs"].(map[string]any)["PublicClash"].(map[string]any)
	props, _ := row["properties"].(map[string]any)
	if _, ok := props["_meta_2"]; !ok || props["_meta"] != nil || fmt.Sprint(row["required"]) != "[_meta_2]" {
		t.Errorf("row schema %v, want the column as _meta_2, required", row)
	}

	p := e.start(true)
	e.exec(`UPDATE clash SET note = 'changed' WHERE "_meta" = 1`, `DELETE FROM clash`)
	recs := e.consume(e.topic("clash"), 4, 30*time.Second) // backfill, update, delete, tombstone
	p.stop(t)
	if len(recs) != 4 {
		t.Fatalf("got %d records, want 4", len(recs))
	}
	for _, r := range recs[:3] {
		if string(r.Key) != `{"_meta":1}` {
			t.Errorf("key %s, want {\"_meta\":1}", r.Key)
		}
		dec := json.NewDecoder(bytes.NewReader(r.Value))
		members := map[string]int{}
		if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
			t.Fatalf("value %s is not an object", r.Value)
		}
		for dec.More() {
			name, _ := dec.Token()
			members[name.(string)]++
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				t.Fatal(err)
			}
		}
		if members["_meta"] != 1 || members["_meta_2"] != 1 {
			t.Errorf("document %s: members %v, want one _meta (the metadata) and one _meta_2", r.Value, members)
		}
		if d := decode(t, r); d["_meta_2"] != 1.0 || meta(d)["op"] == nil {
			t.Errorf("document %s: want _meta_2 = 1 and the metadata in _meta", r.Value)
		}
	}
}

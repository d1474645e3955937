package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pg2kafka/pg2kafka/internal/kafkatest"
	"github.com/pg2kafka/pg2kafka/internal/pgtest"
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

// newSQLASCIIEnv is newEnv on a database of encoding SQL_ASCII, which stores
// text bytes as they come, invalid UTF-8 included.
func newSQLASCIIEnv(t *testing.T) *env {
	t.Helper()
	e, err := newEnvWith(t, `ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0`)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// newEnvWith is newEnv on a database created with the given CREATE DATABASE
// options; the error is the server's refusal to create it.
func newEnvWith(t *testing.T, options string) (*env, error) {
	t.Helper()
	srv := pgtest.Shared(t)
	name := fmt.Sprintf("t_opts_%d", time.Now().UnixNano())
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, srv.AdminURL)
	if err != nil {
		t.Fatal(err)
	}
	_, err = admin.Exec(ctx, `CREATE DATABASE `+name+` `+options)
	admin.Close(ctx)
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, srv.AdminURL)
		if err != nil {
			return
		}
		defer c.Close(ctx)
		for i := 0; i < 50; i++ {
			_, _ = c.Exec(ctx, `SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE database = $1 AND active_pid IS NOT NULL`, name)
			if _, err := c.Exec(ctx, `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = $1`, name); err == nil {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		_, _ = c.Exec(ctx, `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`)
	})
	e := &env{t: t, dbURL: pgtest.WithDatabase(srv.AdminURL, name), brokers: kafkatest.Brokers(t), dir: t.TempDir(), prefix: uniquePrefix()}
	e.exec(`CREATE PUBLICATION flow_publication`)
	return e, nil
}

// In a SQL_ASCII database text keys may hold any bytes. Keys that differ
// only in invalid UTF-8 ('a\xff', 'a\xfe') stay distinct Kafka keys — each
// invalid byte is written as a lone surrogate escape (\udcff), which valid
// text never produces, not even text spelling that escape — on the backfill
// and the replication path alike, in the key and the document; a delete's
// record and tombstone carry the deleted row's key only.
func TestInvalidUTF8TextKeysStayDistinct(t *testing.T) {
	e := newSQLASCIIEnv(t)
	e.useSlot("sqlascii_keys")
	e.exec(`CREATE TABLE words (k text PRIMARY KEY, v integer)`,
		`INSERT INTO words VALUES (E'a\xff', 1), (E'a\xfe', 1), (E'a\\udcff', 1), (E'a\xef\xbf\xbd', 1)`,
		`ALTER PUBLICATION flow_publication ADD TABLE words`)
	want := map[string]string{ // Kafka key → the row's k in the document
		`{"k":"a\udcff"}`:           `"a\udcff"`,
		`{"k":"a\udcfe"}`:           `"a\udcfe"`,
		`{"k":"a\\udcff"}`:          `"a\\udcff"`,
		`{"k":"a` + "\uFFFD" + `"}`: `"a` + "\uFFFD" + `"`,
	}
	p := e.start(true)
	e.exec(`UPDATE words SET v = 2`, `INSERT INTO words VALUES (E'b\xff', 3), (E'b\xfe', 3)`, `DELETE FROM words WHERE k = E'a\xff'`)
	// 4 backfilled, 4 updates, 2 inserts, the delete and its tombstone.
	recs := e.consume(e.topic("words"), 12, 30*time.Second)
	p.stop(t)
	if len(recs) != 12 {
		t.Fatalf("got %d records, want 12", len(recs))
	}
	want[`{"k":"b\udcff"}`] = `"b\udcff"`
	want[`{"k":"b\udcfe"}`] = `"b\udcfe"`
	final := map[string][]byte{} // key → last value (nil: deleted)
	for _, r := range recs {
		k := string(r.Key)
		docK, ok := want[k]
		if !ok {
			t.Errorf("unexpected key %s (value %s)", k, r.Value)
			continue
		}
		final[k] = r.Value
		if r.Value == nil {
			continue
		}
		var d map[string]json.RawMessage
		if err := json.Unmarshal(r.Value, &d); err != nil {
			t.Fatalf("value %q: %v", r.Value, err)
		}
		if string(d["k"]) != docK {
			t.Errorf("key %s has document k %s, want %s", k, d["k"], docK)
		}
	}
	if len(final) != len(want) {
		t.Errorf("%d distinct keys, want %d: %q", len(final), len(want), final)
	}
	for k := range want {
		v, seen := final[k]
		deleted := k == `{"k":"a\udcff"}`
		switch {
		case !seen:
			t.Errorf("no record for key %s", k)
		case deleted && v != nil:
			t.Errorf("deleted key %s ends with %s, want a tombstone", k, v)
		case !deleted && v == nil:
			t.Errorf("key %s was tombstoned, but only a\\xff was deleted", k)
		}
	}
}

package schema

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/pg2kafka/pg2kafka/event"
)

// The -update flag rewrites the golden files of schema/testdata/debezium:
//
//	go test ./schema/ -run Debezium -update
//
// It is registered only if no other test file of the package did.
func init() {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite golden files")
	}
}

func debeziumUpdating() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

// checkGolden compares got with dir/name, or writes it there when update is
// set. The file holds got and a final newline.
func checkGolden(dir, name string, got []byte, update bool) error {
	path := filepath.Join(dir, name)
	want := append(append([]byte(nil), got...), '\n')
	if update {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		return os.WriteFile(path, want, 0o644)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("%w (run with -update to create it)", err)
	}
	if !bytes.Equal(b, want) {
		return fmt.Errorf("%s differs (run with -update to accept):\n got: %s\nwant: %s", path, want, b)
	}
	return nil
}

func dbzType(name string, k event.Kind) event.Type { return event.Type{Name: name, Kind: k} }

// debeziumCustomers is the table of Debezium's PostgreSQL connector
// documentation ("Change event values"):
//
//	CREATE TABLE customers (id SERIAL, first_name VARCHAR(255) NOT NULL,
//	  last_name VARCHAR(255) NOT NULL, email VARCHAR(255) NOT NULL, PRIMARY KEY(id));
var debeziumCustomers = &event.Table{Schema: "public", Name: "customers", Key: []int{0}, Columns: []event.Column{
	{Name: "id", Type: dbzType("int4", event.KindInt)},
	{Name: "first_name", Type: dbzType("varchar", event.KindText)},
	{Name: "last_name", Type: dbzType("varchar", event.KindText)},
	{Name: "email", Type: dbzType("varchar", event.KindText)},
}}

// debeziumDocs is a table with TOASTable columns of each placeholder form.
var debeziumDocs = &event.Table{Schema: "public", Name: "docs", Key: []int{0}, Columns: []event.Column{
	{Name: "id", Type: dbzType("int8", event.KindInt)},
	{Name: "body", Type: dbzType("text", event.KindText)},
	{Name: "meta", Type: dbzType("jsonb", event.KindJSONB)},
	{Name: "blob", Type: dbzType("bytea", event.KindBytea)},
	{Name: "tags", Type: event.Type{Name: "_text", Kind: event.KindArray, Elem: &event.Type{Name: "text", Kind: event.KindText}}},
	{Name: "scores", Type: event.Type{Name: "_int4", Kind: event.KindArray, Elem: &event.Type{Name: "int4", Kind: event.KindInt}}},
	{Name: "updated", Type: dbzType("timestamptz", event.KindTimestampTZ)},
}}

func dbzText(s string) event.Value { return event.Value{Marker: event.MarkerText, Data: []byte(s)} }

var (
	dbzNull      = event.Value{Marker: event.MarkerNull}
	dbzUnchanged = event.Value{Marker: event.MarkerUnchanged}
	dbzAbsent    = event.Value{}
)

func dbzAnne(first string) []event.Value {
	return []event.Value{dbzText("1"), dbzText(first), dbzText("Kretchmar"), dbzText("annek@noanswer.org")}
}

// The source values of Debezium's examples: txId 555, lsn 24023128, the
// sequence ["24023119","24023128"], source.ts_ms 1559033904863.
const (
	dbzPrevLSN = 24023119
	dbzLSN     = 24023128
	dbzCommit  = 24023200
	dbzTS      = 1559033904863
	dbzXID     = 555
)

var dbzNow = time.UnixMilli(1465584025523) // the processing time of the docs' update example

func dbzOptions() DebeziumOptions {
	return DebeziumOptions{
		Version:  "pg2kafka-test",
		Name:     "PostgreSQL_server",
		Database: "postgres",
		Now:      func() time.Time { return dbzNow },
		ReadTime: func() time.Time { return time.UnixMilli(1559033904000) },
	}
}

type debeziumCase struct {
	name  string
	table *event.Table
	opts  func(*DebeziumOptions)
	c     event.Change
}

func debeziumCases() []debeziumCase {
	change := func(op event.Op, newRow, oldRow []event.Value) event.Change {
		return event.Change{Op: op, Table: debeziumCustomers, New: newRow, Old: oldRow,
			Loc: [3]int64{dbzPrevLSN, dbzLSN, dbzCommit}, TSMillis: dbzTS, XID: dbzXID}
	}
	keyOnly := []event.Value{dbzText("1"), dbzAbsent, dbzAbsent, dbzAbsent}
	return []debeziumCase{
		// Debezium's snapshot read: op "r", source.snapshot "true". The docs'
		// create example shows "snapshot": true (a boolean, from before
		// snapshot became a string enum) with op "c"; a snapshot event is
		// op "r". A backfilled row has no WAL position or transaction:
		// sequence, txId and lsn are null (Debezium writes the snapshot's
		// LSN), and source.ts_ms is ReadTime.
		{name: "r", table: debeziumCustomers, c: event.Change{Op: event.OpCreate, Table: debeziumCustomers,
			New: dbzAnne("Anne"), Snapshot: true, Loc: [3]int64{-1, 7, 0}}},
		// Without ReadTime a backfilled row's source.ts_ms is 0.
		{name: "r_no_read_time", table: debeziumCustomers, opts: func(o *DebeziumOptions) { o.ReadTime = nil },
			c: event.Change{Op: event.OpCreate, Table: debeziumCustomers, New: dbzAnne("Anne"), Snapshot: true, Loc: [3]int64{-1, 1, 0}}},
		// The docs' create example: before null, after the row, sequence
		// ["24023119","24023128"], txId 555, lsn 24023128, xmin null. Differs:
		// source.version is pg2kafka's; no ts_us/ts_ns (Debezium ≥ 2.6, and
		// pgoutput's commit time is only used to the millisecond here);
		// snapshot is "false" (the docs' example shows true with op c).
		{name: "c", table: debeziumCustomers, c: change(event.OpCreate, dbzAnne("Anne"), nil)},
		// First transaction after the slot's start: no previous commit, the
		// sequence's first element is null (Debezium: "Either value may be
		// null").
		{name: "c_first", table: debeziumCustomers, c: func() event.Change {
			c := change(event.OpCreate, dbzAnne("Anne"), nil)
			c.Loc[0] = 0
			return c
		}()},
		// An update under REPLICA IDENTITY DEFAULT that keeps the key:
		// pgoutput sends no old tuple, so before is null. The docs' update
		// example shows "before": {"id": 1} for this case, but the server
		// sends nothing to fill it with and Debezium's connector writes null
		// too (its before is only set from an old tuple).
		{name: "u", table: debeziumCustomers, c: change(event.OpUpdate, dbzAnne("Anne Marie"), nil)},
		// REPLICA IDENTITY FULL: before is the whole old row (as the docs
		// describe: "ALTER TABLE customers REPLICA IDENTITY FULL").
		{name: "u_full", table: debeziumCustomers, c: change(event.OpUpdate, dbzAnne("Anne Marie"), dbzAnne("Anne"))},
		// A key change written as one update (KeyChangeAsDeleteCreate off;
		// Debezium always splits it into d + tombstone + c, see d_default and
		// c): before holds the old key, the other columns null.
		{name: "u_key_change", table: debeziumCustomers, c: change(event.OpUpdate,
			[]event.Value{dbzText("2"), dbzText("Anne Marie"), dbzText("Kretchmar"), dbzText("annek@noanswer.org")},
			keyOnly)},
		// The docs' delete example under REPLICA IDENTITY DEFAULT shows
		// "before": {"id": 1}; the JsonConverter writes every field of the
		// row struct, the non-key ones null (as DBZ-5490 notes), which is
		// what pg2kafka writes. after is null.
		{name: "d_default", table: debeziumCustomers, c: change(event.OpDelete, keyOnly, nil)},
		// REPLICA IDENTITY FULL: before is the whole deleted row.
		{name: "d_full", table: debeziumCustomers, c: change(event.OpDelete, dbzAnne("Anne Marie"), nil)},
		// Unchanged TOASTed values: Debezium's placeholder for string
		// columns (text, jsonb), base64 of its bytes for bytea (Debezium's
		// bytes as the JsonConverter writes them), ["placeholder"] for a text
		// array; an int4[] (Debezium writes the placeholder's bytes as
		// numbers) is omitted, as in the Flow document. SQL NULL stays null.
		{name: "u_toast", table: debeziumDocs, c: event.Change{Op: event.OpUpdate, Table: debeziumDocs,
			New: []event.Value{dbzText("42"), dbzUnchanged, dbzUnchanged, dbzUnchanged, dbzUnchanged, dbzUnchanged,
				dbzText("2024-01-15 22:30:00+00")},
			Loc: [3]int64{dbzPrevLSN, dbzLSN, dbzCommit}, TSMillis: dbzTS, XID: dbzXID}},
		// The same row with every value sent, and NULLs: pg2kafka's value
		// forms (jsonb embedded, bytea base64, timestamptz RFC 3339).
		{name: "c_values", table: debeziumDocs, c: event.Change{Op: event.OpCreate, Table: debeziumDocs,
			New: []event.Value{dbzText("42"), dbzText("long \"text\"\n"), dbzText(`{"a": [1, 2]}`), dbzText(`\xdeadbeef`),
				dbzText(`{a,"b c",NULL}`), dbzNull, dbzText("2024-01-15 22:30:00.5+00")},
			Loc: [3]int64{dbzPrevLSN, dbzLSN, dbzCommit}, TSMillis: dbzTS, XID: 4294967295}},
		// Names needing JSON escapes.
		{name: "c_escapes", table: &event.Table{Schema: `s"q`, Name: `t\x`, Columns: []event.Column{
			{Name: "a\tb", Type: dbzType("text", event.KindText)}}},
			opts: func(o *DebeziumOptions) { o.Name, o.Database, o.Version = `n"1`, "d\\b", "v\n" },
			c:    event.Change{Op: event.OpCreate, New: []event.Value{dbzText("x")}, Loc: [3]int64{1, 2, 3}, TSMillis: 1, XID: 2}},
	}
}

func (tc *debeziumCase) encoder() *DebeziumEncoder {
	o := dbzOptions()
	if tc.opts != nil {
		tc.opts(&o)
	}
	return NewDebeziumEncoder(tc.table, tc.table.Key, o)
}

func TestDebeziumGolden(t *testing.T) {
	dir := filepath.Join("testdata", "debezium")
	for _, tc := range debeziumCases() {
		t.Run(tc.name, func(t *testing.T) {
			e := tc.encoder()
			c := tc.c
			c.Table = tc.table
			doc := e.AppendDocument(nil, &c)
			if !json.Valid(doc) {
				t.Fatalf("invalid JSON: %s", doc)
			}
			if err := checkGolden(dir, tc.name+".json", doc, debeziumUpdating()); err != nil {
				t.Error(err)
			}
			key := e.AppendKey(nil, &c)
			if len(tc.table.Key) == 0 {
				if key != nil {
					t.Errorf("keyless table: key %s", key)
				}
				return
			}
			if !json.Valid(key) {
				t.Fatalf("invalid key JSON: %s", key)
			}
			if err := checkGolden(dir, tc.name+".key.json", key, debeziumUpdating()); err != nil {
				t.Error(err)
			}
		})
	}
}

// jsonKeys returns the keys of the JSON object at the top of doc (or of
// doc[field] when field is set), in order.
func jsonKeys(t *testing.T, doc []byte, field string) []string {
	t.Helper()
	if field != "" {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(doc, &m); err != nil {
			t.Fatal(err)
		}
		doc = m[field]
	}
	d := json.NewDecoder(bytes.NewReader(doc))
	if tok, err := d.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not an object: %s", doc)
	}
	var keys []string
	for d.More() {
		tok, err := d.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if err := d.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

// TestDebeziumShape checks every case against the structure of Debezium's
// documented events: the envelope's and source's fields in Debezium's order
// (without ts_us/ts_ns, which pg2kafka does not write), op, before/after
// presence, the row's columns in attribute order, and the field types.
func TestDebeziumShape(t *testing.T) {
	wantTop := []string{"before", "after", "source", "op", "ts_ms", "transaction"}
	wantSource := []string{"version", "connector", "name", "ts_ms", "snapshot", "db", "sequence", "schema", "table", "txId", "lsn", "xmin"}
	for _, tc := range debeziumCases() {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.c
			c.Table = tc.table
			doc := tc.encoder().AppendDocument(nil, &c)
			if got := jsonKeys(t, doc, ""); !reflect.DeepEqual(got, wantTop) {
				t.Errorf("envelope fields %v, want %v", got, wantTop)
			}
			if got := jsonKeys(t, doc, "source"); !reflect.DeepEqual(got, wantSource) {
				t.Errorf("source fields %v, want %v", got, wantSource)
			}
			var v struct {
				Before, After map[string]any
				Op            string
				TSMillis      int64 `json:"ts_ms"`
				Transaction   any
				Source        struct {
					Version, Connector, Name, DB, Schema, Table, Snapshot string
					Sequence                                              *string
					TSMillis                                              int64 `json:"ts_ms"`
					TxID                                                  *int64
					LSN                                                   *int64
					Xmin                                                  *int64
				}
			}
			if err := json.Unmarshal(doc, &v); err != nil {
				t.Fatal(err)
			}
			wantOp := string(c.Op)
			if c.Snapshot {
				wantOp = "r"
			}
			if v.Op != wantOp || v.TSMillis != dbzNow.UnixMilli() || v.Transaction != nil ||
				v.Source.Connector != "postgresql" || v.Source.Xmin != nil || v.Source.Table != tc.table.Name || v.Source.Schema != tc.table.Schema {
				t.Errorf("envelope %+v", v)
			}
			if (v.Before == nil) != (c.Op == event.OpCreate || c.Snapshot || c.Op == event.OpUpdate && c.Old == nil) {
				t.Errorf("before %v for op %c (old tuple %v)", v.Before, c.Op, c.Old != nil)
			}
			if (v.After == nil) != (c.Op == event.OpDelete) {
				t.Errorf("after %v for op %c", v.After, c.Op)
			}
			if c.Snapshot {
				if v.Source.Snapshot != "true" || v.Source.Sequence != nil || v.Source.TxID != nil || v.Source.LSN != nil {
					t.Errorf("snapshot source %+v", v.Source)
				}
			} else {
				if v.Source.Snapshot != "false" || v.Source.TxID == nil || *v.Source.TxID != int64(c.XID) ||
					v.Source.LSN == nil || *v.Source.LSN != c.Loc[1] || v.Source.TSMillis != c.TSMillis {
					t.Errorf("change source %+v", v.Source)
				}
				// sequence is a string holding a JSON array of two strings or nulls.
				var seq []*string
				if v.Source.Sequence == nil || json.Unmarshal([]byte(*v.Source.Sequence), &seq) != nil || len(seq) != 2 ||
					seq[1] == nil || *seq[1] != fmt.Sprint(c.Loc[1]) || (seq[0] == nil) != (c.Loc[0] <= 0) {
					t.Errorf("sequence %v", v.Source.Sequence)
				}
			}
			for _, row := range []string{"before", "after"} {
				var m map[string]json.RawMessage
				_ = json.Unmarshal(doc, &m)
				if string(m[row]) == "null" {
					continue
				}
				keys := jsonKeys(t, doc, row)
				var want []string
				for _, col := range tc.table.Columns {
					want = append(want, col.Name)
				}
				if row == "after" && tc.name == "u_toast" {
					want = []string{"id", "body", "meta", "blob", "tags", "updated"} // scores omitted
				}
				if !reflect.DeepEqual(keys, want) {
					t.Errorf("%s columns %v, want %v", row, keys, want)
				}
			}
		})
	}
}

func TestDebeziumToastPlaceholders(t *testing.T) {
	c := debeziumCases()
	var tc debeziumCase
	for _, x := range c {
		if x.name == "u_toast" {
			tc = x
		}
	}
	ch := tc.c
	doc := tc.encoder().AppendDocument(nil, &ch)
	var v struct{ After map[string]any }
	if err := json.Unmarshal(doc, &v); err != nil {
		t.Fatal(err)
	}
	if v.After["body"] != DebeziumUnavailableValue || v.After["meta"] != DebeziumUnavailableValue {
		t.Errorf("string placeholders: %v", v.After)
	}
	if v.After["blob"] != "X19kZWJleml1bV91bmF2YWlsYWJsZV92YWx1ZQ==" {
		t.Errorf("bytea placeholder: %v", v.After["blob"])
	}
	if tags, _ := v.After["tags"].([]any); len(tags) != 1 || tags[0] != DebeziumUnavailableValue {
		t.Errorf("text[] placeholder: %v", v.After["tags"])
	}
	if _, ok := v.After["scores"]; ok {
		t.Errorf("int4[] placeholder written: %v", v.After["scores"])
	}
}

// TestDebeziumKeysAsFlow: the Kafka key and the row key are FlowEncoder's.
func TestDebeziumKeysAsFlow(t *testing.T) {
	tbl := &event.Table{Schema: "s", Name: "t", Columns: []event.Column{
		{Name: "v", Type: dbzType("text", event.KindText)},
		{Name: "k2", Type: dbzType("float8", event.KindFloat8)},
		{Name: "k1", Type: dbzType("uuid", event.KindUUID)},
	}}
	key := []int{2, 1}
	c := &event.Change{Op: event.OpDelete, Table: tbl, New: []event.Value{dbzAbsent,
		dbzText("1e21"), dbzText("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")}, Loc: [3]int64{1, 2, 3}}
	d := NewDebeziumEncoder(tbl, key, dbzOptions())
	f := NewFlowEncoder(tbl, key, "")
	if got, want := d.AppendKey([]byte("x"), c), f.AppendKey([]byte("x"), c); !bytes.Equal(got, want) {
		t.Errorf("key %s, Flow's %s", got, want)
	}
	got, err1 := d.AppendRowKey(nil, c)
	want, err2 := f.AppendRowKey(nil, c)
	if !bytes.Equal(got, want) || err1 != nil || err2 != nil {
		t.Errorf("row key %x %v, Flow's %x %v", got, err1, want, err2)
	}
	if d.Table() != tbl {
		t.Error("Table()")
	}
	keyless := NewDebeziumEncoder(tbl, nil, dbzOptions())
	if k := keyless.AppendKey(nil, c); k != nil {
		t.Errorf("keyless key %s", k)
	}
}

// TestDebeziumAppends: the document is appended after dst's contents, and
// encoding into a buffer with room allocates nothing.
func TestDebeziumAppends(t *testing.T) {
	for _, tc := range debeziumCases() {
		e := tc.encoder()
		c := tc.c
		c.Table = tc.table
		alone := e.AppendDocument(nil, &c)
		after := e.AppendDocument([]byte("prefix"), &c)
		if string(after) != "prefix"+string(alone) {
			t.Errorf("%s: appended %q", tc.name, after)
		}
		buf := make([]byte, 0, 4096)
		if n := testing.AllocsPerRun(100, func() { buf = e.AppendDocument(buf[:0], &c) }); n != 0 {
			t.Errorf("%s: %v allocations per document", tc.name, n)
		}
	}
}

// TestDebeziumNowDefault: without Now the processing time is the clock's.
func TestDebeziumNowDefault(t *testing.T) {
	e := NewDebeziumEncoder(debeziumCustomers, []int{0}, DebeziumOptions{Name: "n"})
	c := &event.Change{Op: event.OpCreate, Table: debeziumCustomers, New: dbzAnne("Anne"), Loc: [3]int64{1, 2, 3}}
	before := time.Now().UnixMilli()
	doc := e.AppendDocument(nil, c)
	var v struct {
		TSMillis int64 `json:"ts_ms"`
	}
	if err := json.Unmarshal(doc, &v); err != nil || v.TSMillis < before || v.TSMillis > time.Now().UnixMilli() {
		t.Errorf("ts_ms %d (%v)", v.TSMillis, err)
	}
}

// TestDebeziumGoldenUpdate: with update set the helper writes the golden
// file, without it a difference or a missing file is reported.
func TestDebeziumGoldenUpdate(t *testing.T) {
	dir := t.TempDir()
	if err := checkGolden(dir, "x.json", []byte(`{"a":1}`), false); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing golden: %v", err)
	}
	if err := checkGolden(dir, "x.json", []byte(`{"a":1}`), true); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "x.json")); string(b) != "{\"a\":1}\n" {
		t.Errorf("written %q", b)
	}
	if err := checkGolden(dir, "x.json", []byte(`{"a":1}`), false); err != nil {
		t.Errorf("same: %v", err)
	}
	if err := checkGolden(dir, "x.json", []byte(`{"a":2}`), false); err == nil {
		t.Error("a difference was not reported")
	}
}

package debezium

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
	"github.com/pg2kafka/pg2kafka/schema/flow"
)

// The -update flag rewrites the golden files of schema/debezium/testdata/debezium:
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

func dbzOptions() Options {
	return Options{
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
	opts  func(*Options)
	c     event.Change
}

func debeziumCases() []debeziumCase {
	change := func(op event.Op, newRow, oldRow []event.Value) event.Change {
		return event.Change{Op: op, Table: debeziumCustomers, New: newRow, Old: oldRow,
			Loc: [3]int64{dbzPrevLSN, dbzLSN, dbzCommit}, TSMillis: dbzTS, XID: dbzXID}
	}
	keyOnly := []event.Value{dbzText("1"), dbzAbsent, dbzAbsent, dbzAbsent}
	return append([]debeziumCase{
		// Debezium's snapshot read: op "r", source.snapshot "true". The docs'
		// create example shows "snapshot": true (a boolean, from before
		// snapshot became a string enum) with op "c"; a snapshot event is
		// op "r". A backfilled row has no WAL position or transaction:
		// sequence, txId and lsn are null (Debezium writes the snapshot's
		// LSN), and source.ts_ms is ReadTime.
		{name: "r", table: debeziumCustomers, c: event.Change{Op: event.OpCreate, Table: debeziumCustomers,
			New: dbzAnne("Anne"), Snapshot: true, Loc: [3]int64{-1, 7, 0}}},
		// Without ReadTime a backfilled row's source.ts_ms is 0.
		{name: "r_no_read_time", table: debeziumCustomers, opts: func(o *Options) { o.ReadTime = nil },
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
		// The same row with every value sent, and NULLs: Debezium's value
		// forms (jsonb as a string, bytea base64, timestamptz ISO 8601 in
		// UTC).
		{name: "c_values", table: debeziumDocs, c: event.Change{Op: event.OpCreate, Table: debeziumDocs,
			New: []event.Value{dbzText("42"), dbzText("long \"text\"\n"), dbzText(`{"a": [1, 2]}`), dbzText(`\xdeadbeef`),
				dbzText(`{a,"b c",NULL}`), dbzNull, dbzText("2024-01-15 22:30:00.5+00")},
			Loc: [3]int64{dbzPrevLSN, dbzLSN, dbzCommit}, TSMillis: dbzTS, XID: 4294967295}},
		// Names needing JSON escapes.
		{name: "c_escapes", table: &event.Table{Schema: `s"q`, Name: `t\x`, Columns: []event.Column{
			{Name: "a\tb", Type: dbzType("text", event.KindText)}}},
			opts: func(o *Options) { o.Name, o.Database, o.Version = `n"1`, "d\\b", "v\n" },
			c:    event.Change{Op: event.OpCreate, New: []event.Value{dbzText("x")}, Loc: [3]int64{1, 2, 3}, TSMillis: 1, XID: 2}},
	}, debeziumTypeCases()...)
}

func (tc *debeziumCase) encoder() *Encoder {
	o := dbzOptions()
	if tc.opts != nil {
		tc.opts(&o)
	}
	return NewEncoder(tc.table, tc.table.Key, o)
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
	if v.After["body"] != UnavailableValue || v.After["meta"] != UnavailableValue {
		t.Errorf("string placeholders: %v", v.After)
	}
	if v.After["blob"] != "X19kZWJleml1bV91bmF2YWlsYWJsZV92YWx1ZQ==" {
		t.Errorf("bytea placeholder: %v", v.After["blob"])
	}
	if tags, _ := v.After["tags"].([]any); len(tags) != 1 || tags[0] != UnavailableValue {
		t.Errorf("text[] placeholder: %v", v.After["tags"])
	}
	if _, ok := v.After["scores"]; ok {
		t.Errorf("int4[] placeholder written: %v", v.After["scores"])
	}
}

// TestDebeziumKeysAsFlow: the Kafka key and the row key are flow.Encoder's.
func TestDebeziumKeysAsFlow(t *testing.T) {
	tbl := &event.Table{Schema: "s", Name: "t", Columns: []event.Column{
		{Name: "v", Type: dbzType("text", event.KindText)},
		{Name: "k2", Type: dbzType("float8", event.KindFloat8)},
		{Name: "k1", Type: dbzType("uuid", event.KindUUID)},
	}}
	key := []int{2, 1}
	c := &event.Change{Op: event.OpDelete, Table: tbl, New: []event.Value{dbzAbsent,
		dbzText("1e21"), dbzText("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")}, Loc: [3]int64{1, 2, 3}}
	d := NewEncoder(tbl, key, dbzOptions())
	f := flow.NewEncoder(tbl, key, "")
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
	keyless := NewEncoder(tbl, nil, dbzOptions())
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
	e := NewEncoder(debeziumCustomers, []int{0}, Options{Name: "n"})
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

// dbzTypmod builds a type with a typmod.
func dbzTypmod(name string, k event.Kind, typmod int32) event.Type {
	return event.Type{Name: name, Kind: k, Typmod: typmod}
}

// dbzNumeric is numeric(p,s)'s typmod.
func dbzNumeric(p, s int32) int32 { return p<<16 | s + 4 }

func dbzArray(elem event.Type, typmod int32) event.Type {
	e := elem
	return event.Type{Name: "_" + elem.Name, Kind: event.KindArray, Elem: &e, Typmod: typmod}
}

// debeziumTypes is a table with a column of each type of the Debezium
// value-form table (docs/debezium.md).
var debeziumTypes = &event.Table{Schema: "public", Name: "types", Key: []int{0}, Columns: []event.Column{
	{Name: "id", Type: dbzTypmod("int4", event.KindInt, -1)},
	{Name: "d", Type: dbzTypmod("date", event.KindDate, -1)},
	{Name: "t", Type: dbzTypmod("time", event.KindTime, -1)},
	{Name: "t3", Type: dbzTypmod("time", event.KindTime, 3)},
	{Name: "ttz", Type: dbzTypmod("timetz", event.KindTimeTZ, -1)},
	{Name: "ts", Type: dbzTypmod("timestamp", event.KindTimestamp, -1)},
	{Name: "ts3", Type: dbzTypmod("timestamp", event.KindTimestamp, 3)},
	{Name: "tstz", Type: dbzTypmod("timestamptz", event.KindTimestampTZ, -1)},
	{Name: "n", Type: dbzTypmod("numeric", event.KindNumeric, dbzNumeric(10, 2))},
	{Name: "nv", Type: dbzTypmod("numeric", event.KindNumeric, -1)},
	{Name: "m", Type: dbzTypmod("money", event.KindText, -1)},
	{Name: "iv", Type: dbzTypmod("interval", event.KindInterval, -1)},
	{Name: "j", Type: dbzTypmod("json", event.KindJSON, -1)},
	{Name: "jb", Type: dbzTypmod("jsonb", event.KindJSONB, -1)},
	{Name: "x", Type: dbzTypmod("xml", event.KindText, -1)},
	{Name: "u", Type: dbzTypmod("uuid", event.KindUUID, -1)},
	{Name: "b", Type: dbzTypmod("bytea", event.KindBytea, -1)},
	{Name: "ip", Type: dbzTypmod("inet", event.KindText, -1)},
	{Name: "ok", Type: dbzTypmod("bool", event.KindBool, -1)},
	{Name: "f", Type: dbzTypmod("float8", event.KindFloat8, -1)},
	{Name: "dates", Type: dbzArray(dbzTypmod("date", event.KindDate, -1), -1)},
	{Name: "amounts", Type: dbzArray(dbzTypmod("numeric", event.KindNumeric, -1), dbzNumeric(10, 2))},
}}

func debeziumTypesRow() []event.Value {
	return []event.Value{dbzText("1"), dbzText("2024-01-15"), dbzText("14:30:00.5"), dbzText("14:30:00.123"),
		dbzText("14:30:00+05:30"), dbzText("2018-06-20 15:13:16.945104"), dbzText("2018-06-20 15:13:16.945"),
		dbzText("2024-01-15 22:30:00.5+00"), dbzText("123.45"), dbzText("123.450"), dbzText("$1,234.56"),
		dbzText("1 year 2 mons 3 days 04:05:06.5"), dbzText(`{"a": [1, 2]}`), dbzText(`{"a": [1, 2]}`),
		dbzText("<a>1</a>"), dbzText("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"), dbzText(`\xdeadbeef`),
		dbzText("192.168.1.1"), dbzText("t"), dbzText("1.5"), dbzText("{2024-01-15,NULL,1970-01-01}"),
		dbzText(`{1.00,"-1.00"}`)}
}

// debeziumTypeCases are golden cases of debeziumTypes: Debezium's value
// forms, and the Flow forms with FlowValues.
func debeziumTypeCases() []debeziumCase {
	c := event.Change{Op: event.OpCreate, Table: debeziumTypes, New: debeziumTypesRow(),
		Loc: [3]int64{dbzPrevLSN, dbzLSN, dbzCommit}, TSMillis: dbzTS, XID: dbzXID}
	return []debeziumCase{
		{name: "c_types", table: debeziumTypes, c: c},
		{name: "c_types_flow", table: debeziumTypes, opts: func(o *Options) { o.FlowValues = true }, c: c},
	}
}

// TestDebeziumValueForms checks each type's Debezium JSON form (the
// section of Debezium's PostgreSQL connector documentation, "Data type
// mappings", each rule comes from is cited in debezium.go).
func TestDebeziumValueForms(t *testing.T) {
	cases := []struct {
		name string
		typ  event.Type
		text string
		want string
	}{
		// Temporal types, adaptive: DATE → days since the epoch.
		{"date", dbzTypmod("date", event.KindDate, -1), "2024-01-15", `19737`},
		{"date epoch", dbzTypmod("date", event.KindDate, -1), "1970-01-01", `0`},
		{"date before epoch", dbzTypmod("date", event.KindDate, -1), "1969-12-31", `-1`},
		{"date BC", dbzTypmod("date", event.KindDate, -1), "0001-01-01 BC", `-719528`},
		{"date infinity", dbzTypmod("date", event.KindDate, -1), "infinity", `2932896`},
		{"date -infinity", dbzTypmod("date", event.KindDate, -1), "-infinity", `-719528`},
		// TIME(1..3) → ms, TIME(4..6) and TIME → µs past midnight.
		{"time", dbzTypmod("time", event.KindTime, -1), "14:30:00.5", `52200500000`},
		{"time(6)", dbzTypmod("time", event.KindTime, 6), "00:00:00.000001", `1`},
		{"time(4)", dbzTypmod("time", event.KindTime, 4), "00:00:01.0001", `1000100`},
		{"time(3)", dbzTypmod("time", event.KindTime, 3), "14:30:00.123", `52200123`},
		{"time(1)", dbzTypmod("time", event.KindTime, 1), "00:00:00.1", `100`},
		{"time(0)", dbzTypmod("time", event.KindTime, 0), "14:30:00", `52200000`},
		{"time 24:00", dbzTypmod("time", event.KindTime, -1), "24:00:00", `86400000000`},
		// TIMETZ → ZonedTime, in GMT.
		{"timetz", dbzTypmod("timetz", event.KindTimeTZ, -1), "14:30:00+05:30", `"09:00:00Z"`},
		{"timetz utc", dbzTypmod("timetz", event.KindTimeTZ, -1), "12:00:00+00", `"12:00:00Z"`},
		{"timetz fraction", dbzTypmod("timetz", event.KindTimeTZ, -1), "01:00:00.250-02", `"03:00:00.25Z"`},
		{"timetz wraps", dbzTypmod("timetz", event.KindTimeTZ, -1), "00:30:00+01", `"23:30:00Z"`},
		// TIMESTAMP(1..3) → ms, TIMESTAMP(4..6) and TIMESTAMP → µs; the
		// TIMESTAMP type section's example and infinity values.
		{"timestamp docs example", dbzTypmod("timestamp", event.KindTimestamp, -1), "2018-06-20 15:13:16.945104", `1529507596945104`},
		{"timestamp(6)", dbzTypmod("timestamp", event.KindTimestamp, 6), "2018-06-20 15:13:16.945104", `1529507596945104`},
		{"timestamp(3)", dbzTypmod("timestamp", event.KindTimestamp, 3), "2018-06-20 15:13:16.945", `1529507596945`},
		{"timestamp(0)", dbzTypmod("timestamp", event.KindTimestamp, 0), "1970-01-01 00:00:01", `1000`},
		{"timestamp(3) before epoch", dbzTypmod("timestamp", event.KindTimestamp, 3), "1969-12-31 23:59:59.999", `-1`},
		{"timestamp infinity", dbzTypmod("timestamp", event.KindTimestamp, -1), "infinity", `9223372036825200000`},
		{"timestamp -infinity", dbzTypmod("timestamp", event.KindTimestamp, -1), "-infinity", `-9223372036832400000`},
		{"timestamp(3) infinity", dbzTypmod("timestamp", event.KindTimestamp, 3), "infinity", `9223372036825200000`},
		// TIMESTAMPTZ → ZonedTimestamp, in GMT.
		{"timestamptz", dbzTypmod("timestamptz", event.KindTimestampTZ, -1), "2024-01-15 22:30:00.5+00", `"2024-01-15T22:30:00.5Z"`},
		{"timestamptz offset", dbzTypmod("timestamptz", event.KindTimestampTZ, -1), "2024-01-15 22:30:00+05:30", `"2024-01-15T17:00:00Z"`},
		{"timestamptz micros", dbzTypmod("timestamptz", event.KindTimestampTZ, -1), "2024-01-15 22:30:00.000001+00", `"2024-01-15T22:30:00.000001Z"`},
		{"timestamptz infinity", dbzTypmod("timestamptz", event.KindTimestampTZ, -1), "infinity", `"9999-12-31T23:59:59Z"`},
		// Decimal types, precise: Decimal bytes in base64.
		{"numeric(10,2)", dbzTypmod("numeric", event.KindNumeric, dbzNumeric(10, 2)), "123.45", `"MDk="`},
		{"numeric(10,2) negative", dbzTypmod("numeric", event.KindNumeric, dbzNumeric(10, 2)), "-1.00", `"nA=="`},
		{"numeric(10,2) zero", dbzTypmod("numeric", event.KindNumeric, dbzNumeric(10, 2)), "0.00", `"AA=="`},
		{"numeric(5,0) 127", dbzTypmod("numeric", event.KindNumeric, dbzNumeric(5, 0)), "127", `"fw=="`},
		{"numeric(5,0) 128", dbzTypmod("numeric", event.KindNumeric, dbzNumeric(5, 0)), "128", `"AIA="`},
		{"numeric(40,0) big", dbzTypmod("numeric", event.KindNumeric, dbzNumeric(40, 0)), "12345678901234567890123", `"Ap1Ctk52cUJEyw=="`},
		{"numeric(40,0) big negative", dbzTypmod("numeric", event.KindNumeric, dbzNumeric(40, 0)), "-12345678901234567890123", `"/WK9SbGJjr27NQ=="`},
		{"numeric(10,2) NaN", dbzTypmod("numeric", event.KindNumeric, dbzNumeric(10, 2)), "NaN", `"NaN"`},
		{"numeric(3,-2) negative scale", dbzTypmod("numeric", event.KindNumeric, 3<<16|0x7fe+4), "12300", `"12300"`},
		{"numeric variable scale", dbzTypmod("numeric", event.KindNumeric, -1), "123.450", `{"scale":3,"value":"AeI6"}`},
		{"numeric variable scale integer", dbzTypmod("numeric", event.KindNumeric, -1), "-5", `{"scale":0,"value":"+w=="}`},
		{"numeric variable scale NaN", dbzTypmod("numeric", event.KindNumeric, -1), "NaN", `"NaN"`},
		{"money", dbzTypmod("money", event.KindText, -1), "$1,234.56", `"AeJA"`},
		{"money negative", dbzTypmod("money", event.KindText, -1), "-$0.05", `"+w=="`},
		{"money other locale", dbzTypmod("money", event.KindText, -1), "1.234,56 €", `"1.234,56 €"`},
		// INTERVAL → MicroDuration (365.25/12 days a month).
		{"interval", dbzTypmod("interval", event.KindInterval, -1), "1 year 2 mons 3 days 04:05:06.5", `37091106500000`},
		{"interval month", dbzTypmod("interval", event.KindInterval, -1), "1 mon", `2629800000000`},
		{"interval negative", dbzTypmod("interval", event.KindInterval, -1), "-00:00:01", `-1000000`},
		{"interval mixed signs", dbzTypmod("interval", event.KindInterval, -1), "1 day -01:00:00", `82800000000`},
		{"interval zero", dbzTypmod("interval", event.KindInterval, -1), "00:00:00", `0`},
		{"interval overflow", dbzTypmod("interval", event.KindInterval, -1), "178000000 years", `"2136000000 mon "`},
		// Basic types: strings, bytes, numbers, booleans.
		{"json", dbzTypmod("json", event.KindJSON, -1), `{"a": [1, 2]}`, `"{\"a\": [1, 2]}"`},
		{"jsonb", dbzTypmod("jsonb", event.KindJSONB, -1), `{"a": [1, 2]}`, `"{\"a\": [1, 2]}"`},
		{"xml", dbzTypmod("xml", event.KindText, -1), "<a>1</a>", `"<a>1</a>"`},
		{"uuid", dbzTypmod("uuid", event.KindUUID, -1), "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", `"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"`},
		{"enum", dbzTypmod("mood", event.KindEnum, -1), "happy", `"happy"`},
		{"bytea", dbzTypmod("bytea", event.KindBytea, -1), `\xdeadbeef`, `"3q2+7w=="`},
		{"inet", dbzTypmod("inet", event.KindText, -1), "192.168.1.1", `"192.168.1.1"`},
		{"cidr", dbzTypmod("cidr", event.KindText, -1), "10.0.0.0/8", `"10.0.0.0/8"`},
		{"bit(1)", dbzTypmod("bit", event.KindText, 1), "1", `true`},
		{"bit(1) zero", dbzTypmod("bit", event.KindText, 1), "0", `false`},
		{"bit(3)", dbzTypmod("bit", event.KindText, 3), "101", `"101"`},
		{"hstore", dbzTypmod("hstore", event.KindText, -1), `"a"=>"1"`, `"\"a\"=>\"1\""`},
		{"bool", dbzTypmod("bool", event.KindBool, -1), "t", `true`},
		{"int8", dbzTypmod("int8", event.KindInt, -1), "-9223372036854775808", `-9223372036854775808`},
		{"float8", dbzTypmod("float8", event.KindFloat8, -1), "1.5", `1.5`},
		{"float8 NaN", dbzTypmod("float8", event.KindFloat8, -1), "NaN", `"NaN"`},
		{"int4range", dbzTypmod("int4range", event.KindRange, -1), "[1,5)", `"[1,5)"`},
		// Arrays: the elements' forms, with the column's typmod.
		{"int4[]", dbzArray(dbzTypmod("int4", event.KindInt, -1), -1), "{1,2,NULL}", `[1,2,null]`},
		{"date[]", dbzArray(dbzTypmod("date", event.KindDate, -1), -1), "{2024-01-15,1970-01-01}", `[19737,0]`},
		{"numeric(10,2)[]", dbzArray(dbzTypmod("numeric", event.KindNumeric, -1), dbzNumeric(10, 2)), `{1.00,"-1.00"}`, `["ZA==","nA=="]`},
		{"numeric[]", dbzArray(dbzTypmod("numeric", event.KindNumeric, -1), -1), `{1.5}`, `[{"scale":1,"value":"Dw=="}]`},
		{"timestamp(3)[]", dbzArray(dbzTypmod("timestamp", event.KindTimestamp, -1), 3), `{"1970-01-01 00:00:00.001"}`, `[1]`},
		{"jsonb[]", dbzArray(dbzTypmod("jsonb", event.KindJSONB, -1), -1), `{"{\"a\": 1}"}`, `["{\"a\": 1}"]`},
		{"money[]", dbzArray(dbzTypmod("money", event.KindText, -1), -1), `{"$1.00","-$1,000.00"}`, `["ZA==","/nlg"]`},
		{"text[]", dbzArray(dbzTypmod("text", event.KindText, -1), -1), `{a,"b c","x\"y"}`, `["a","b c","x\"y"]`},
		{"int4[] invalid", dbzArray(dbzTypmod("int4", event.KindInt, -1), -1), `{1,2`, `"{1,2"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tbl := &event.Table{Schema: "s", Name: "t", Columns: []event.Column{{Name: "v", Type: tc.typ}}}
			e := NewEncoder(tbl, nil, dbzOptions())
			got := e.appendValue([]byte("x"), 0, []byte(tc.text))
			if string(got) != "x"+tc.want {
				t.Errorf("%s %q: got %s, want %s", tc.typ.Name, tc.text, got[1:], tc.want)
			}
			if !json.Valid(got[1:]) {
				t.Errorf("invalid JSON %s", got[1:])
			}
			// In a whole document, with FlowValues the Flow form.
			c := &event.Change{Op: event.OpCreate, Table: tbl, New: []event.Value{dbzText(tc.text)}, Loc: [3]int64{1, 2, 3}}
			var v struct{ After map[string]json.RawMessage }
			if err := json.Unmarshal(e.AppendDocument(nil, c), &v); err != nil || string(v.After["v"]) != tc.want {
				t.Errorf("document value %s (%v), want %s", v.After["v"], err, tc.want)
			}
			o := dbzOptions()
			o.FlowValues = true
			flowE := NewEncoder(tbl, nil, o)
			if err := json.Unmarshal(flowE.AppendDocument(nil, c), &v); err != nil ||
				string(v.After["v"]) != string(flow.AppendJSON(nil, &tbl.Columns[0].Type, []byte(tc.text))) {
				t.Errorf("FlowValues value %s (%v)", v.After["v"], err)
			}
		})
	}
}

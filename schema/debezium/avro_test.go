package debezium

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	hamba "github.com/hamba/avro/v2"

	"github.com/pg2kafka/pg2kafka/event"
	"github.com/pg2kafka/pg2kafka/internal/avrotest"
	"github.com/pg2kafka/pg2kafka/schema/avro"
)

// The Debezium envelope in Avro (avro.go).

var avroDbzTable = &event.Table{Schema: "inventory", Name: "customers", Columns: []event.Column{
	{Name: "id", Type: dbzType("int4", event.KindInt)},
	{Name: "first_name", Type: dbzType("text", event.KindText)},
	{Name: "price", Type: dbzType("numeric", event.KindNumeric)}, // numeric(10,2) by avrotest.Decimals
	{Name: "raw", Type: dbzType("bytea", event.KindBytea)},
	{Name: "seen", Type: dbzType("timestamptz", event.KindTimestampTZ)},
}}

func TestAvroSchemas(t *testing.T) {
	key, value, err := AvroSchemas(avroDbzTable, []int{0}, "PostgreSQL_server", avro.Decimal(avrotest.Decimals))
	if err != nil {
		t.Fatal(err)
	}
	wantKey, _, err := avro.Schemas(avroDbzTable, []int{0}, "PostgreSQL_server", avro.Decimal(avrotest.Decimals))
	if err != nil {
		t.Fatal(err)
	}
	if key != wantKey {
		t.Errorf("key schema %s, want avro.Schemas' %s", key, wantKey)
	}
	s, err := hamba.Parse(value)
	if err != nil {
		t.Fatal(err)
	}
	rec := s.(*hamba.RecordSchema)
	if rec.FullName() != "PostgreSQL_server.inventory.customers.Envelope" {
		t.Errorf("value record %s", rec.FullName())
	}
	var names []string
	for _, f := range rec.Fields() {
		names = append(names, f.Name()+":"+f.Type().String())
	}
	got := strings.Join(names, "\n")
	for _, want := range []string{
		`before:["null",{"name":"PostgreSQL_server.inventory.customers.Value"`,
		`after:["null","PostgreSQL_server.inventory.customers.Value"]`,
		`source:{"name":"PostgreSQL_server.inventory.customers.Source","type":"record","fields":[{"name":"version","type":"string"},{"name":"connector","type":"string"},{"name":"name","type":"string"},{"name":"ts_ms","type":"long"},{"name":"snapshot","type":["null","string"]},{"name":"db","type":"string"},{"name":"sequence","type":["null","string"]},{"name":"schema","type":"string"},{"name":"table","type":"string"},{"name":"txId","type":["null","long"]},{"name":"lsn","type":["null","long"]},{"name":"xmin","type":["null","long"]}]}`,
		`op:"string"`,
		`ts_ms:["null","long"]`,
		`transaction:["null",{"name":"PostgreSQL_server.inventory.customers.Transaction"`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("value schema lacks %s:\n%s", want, got)
		}
	}
	// The row record: every column ["null", T], no _meta.
	u := rec.Fields()[0].Type().(*hamba.UnionSchema)
	row := u.Types()[1].(*hamba.RecordSchema)
	if len(row.Fields()) != len(avroDbzTable.Columns) {
		t.Fatalf("Value has %d fields, want %d", len(row.Fields()), len(avroDbzTable.Columns))
	}
	for i, f := range row.Fields() {
		if f.Name() != avroDbzTable.Columns[i].Name || !strings.HasPrefix(f.Type().String(), `["null",`) || !f.HasDefault() {
			t.Errorf("Value field %d: %s %s", i, f.Name(), f.Type())
		}
	}
}

func TestAvroEncodeDecode(t *testing.T) {
	f := avrotest.NewRegistry(t)
	reg := avro.NewRegistry(f.Client, avro.Decimal(avrotest.Decimals), avro.Namespace("PostgreSQL_server"))
	now := time.UnixMilli(1465584025523)
	opts := Options{Version: "test", Name: "PostgreSQL_server", Database: "postgres",
		Now: func() time.Time { return now }, ReadTime: func() time.Time { return time.UnixMilli(1559033904000) }}
	enc, err := NewAvroEncoder(reg, func(*event.Table) string { return "PostgreSQL_server.inventory.customers" }, opts)(avroDbzTable, []int{0})
	if err != nil {
		t.Fatal(err)
	}
	if s, id := enc.ValueSchema(); id == 0 || !strings.Contains(s, `"Envelope"`) {
		t.Fatalf("value schema %d %s", id, s)
	}
	anne := []event.Value{dbzText("1"), dbzText("Anne"), dbzText("12.50"), dbzText(`\x0102`), dbzText("2024-01-15 14:30:00+00")}
	anneRow := map[string]any{"id": 1, "first_name": "Anne", "price": "rat:25/2", "raw": []byte{1, 2},
		"seen": avrotest.TS("2024-01-15T14:30:00Z")}
	annie := append([]event.Value(nil), anne...)
	annie[1] = dbzText("Annie")
	annieRow := map[string]any{"id": 1, "first_name": "Annie", "price": "rat:25/2", "raw": []byte{1, 2},
		"seen": avrotest.TS("2024-01-15T14:30:00Z")}
	keyOnly := []event.Value{dbzText("1"), {}, {}, {}, {}}
	keyOnlyRow := map[string]any{"id": 1, "first_name": nil, "price": nil, "raw": nil, "seen": nil}
	toasted := []event.Value{dbzText("1"), {Marker: event.MarkerUnchanged}, dbzText("12.50"), {Marker: event.MarkerUnchanged}, dbzNull}
	toastedRow := map[string]any{"id": 1, "first_name": UnavailableValue, "price": "rat:25/2",
		"raw": []byte(UnavailableValue), "seen": nil}

	source := func(snapshot bool) map[string]any {
		if snapshot {
			return map[string]any{"version": "test", "connector": "postgresql", "name": "PostgreSQL_server",
				"ts_ms": int64(1559033904000), "snapshot": "true", "db": "postgres", "sequence": nil,
				"schema": "inventory", "table": "customers", "txId": nil, "lsn": nil, "xmin": nil}
		}
		return map[string]any{"version": "test", "connector": "postgresql", "name": "PostgreSQL_server",
			"ts_ms": int64(1559033904863), "snapshot": "false", "db": "postgres", "sequence": `["24023119","24023128"]`,
			"schema": "inventory", "table": "customers", "txId": int64(555), "lsn": int64(24023128), "xmin": nil}
	}
	loc := [3]int64{24023119, 24023128, 24023200}
	change := func(op event.Op, newRow, oldRow []event.Value) event.Change {
		return event.Change{Op: op, New: newRow, Old: oldRow, Loc: loc, XID: 555, TSMillis: 1559033904863}
	}
	tests := []struct {
		name          string
		c             event.Change
		op            string
		before, after map[string]any
		key           bool
	}{
		{"read", event.Change{Op: event.OpCreate, Snapshot: true, New: anne, Loc: [3]int64{-1, 7, 0}}, "r", nil, anneRow, true},
		{"create", change(event.OpCreate, anne, nil), "c", nil, anneRow, true},
		{"update", change(event.OpUpdate, annie, nil), "u", nil, annieRow, true},
		{"update with old", change(event.OpUpdate, annie, anne), "u", anneRow, annieRow, true},
		{"update toasted", change(event.OpUpdate, toasted, nil), "u", nil, toastedRow, true},
		{"delete", change(event.OpDelete, keyOnly, nil), "d", keyOnlyRow, nil, true},
		{"truncate", change(event.OpTruncate, nil, nil), "t", nil, nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var key []byte
			if tc.key {
				key = enc.AppendKey(nil, &tc.c)
				k, _ := f.Decode(t, key)
				if !reflect.DeepEqual(k, map[string]any{"id": 1}) {
					t.Errorf("key %#v", k)
				}
			}
			rec := enc.AppendDocument(key, &tc.c)
			v, id := f.Decode(t, rec[len(key):])
			if _, vid := enc.ValueSchema(); id != vid {
				t.Errorf("value ID %d, want %d", id, vid)
			}
			src := source(tc.c.Snapshot)
			if !tc.c.Snapshot && tc.c.Loc[0] <= 0 {
				src["sequence"] = `[null,"24023128"]`
			}
			want := map[string]any{"before": nilMap(tc.before), "after": nilMap(tc.after), "source": src,
				"op": tc.op, "ts_ms": int64(1465584025523), "transaction": nil}
			if !reflect.DeepEqual(v, want) {
				t.Errorf("decoded\n%#v\nwant\n%#v", v, want)
			}
			// hamba.Unmarshal reads the same record with the registered schema.
			s, err := f.Client.SchemaByID(context.Background(), id)
			if err != nil {
				t.Fatal(err)
			}
			var m map[string]any
			if err := hamba.Unmarshal(hamba.MustParse(s.Schema), rec[len(key)+5:], &m); err != nil {
				t.Fatal(err)
			}
			if m["op"] != tc.op {
				t.Errorf("hamba.Unmarshal: op %v, want %s", m["op"], tc.op)
			}
			// The sequence is valid JSON, as Encoder's.
			if seq, ok := src["sequence"].(string); ok && !json.Valid([]byte(seq)) {
				t.Errorf("sequence %s is not JSON", seq)
			}
		})
	}
	// A second shape of the same table registers again; the same shape
	// costs no new version.
	if _, err := NewAvroEncoder(reg, func(*event.Table) string { return "PostgreSQL_server.inventory.customers" }, opts)(avroDbzTable, []int{0}); err != nil {
		t.Fatal(err)
	}
	versions, err := f.Client.SubjectVersions(context.Background(), "PostgreSQL_server.inventory.customers-value")
	if err != nil || len(versions) != 1 {
		t.Errorf("value subject versions %v %v, want one", versions, err)
	}
}

// nilMap makes a nil map the untyped nil a decoded null is.
func nilMap(m map[string]any) any {
	if m == nil {
		return nil
	}
	return m
}

// The sequence's first element is null before the first commit the slot
// saw, as in Encoder.
func TestAvroSequenceWithoutPrevious(t *testing.T) {
	f := avrotest.NewRegistry(t)
	reg := avro.NewRegistry(f.Client)
	enc, err := RegisterAvroEncoder(context.Background(), reg, "t", avroDbzTable, nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if s, id := enc.KeySchema(); s != "" || id != 0 {
		t.Errorf("keyless table has key schema %d %s", id, s)
	}
	c := event.Change{Op: event.OpCreate, New: []event.Value{dbzText("1"), dbzNull, dbzNull, dbzNull, dbzNull}, Loc: [3]int64{0, 42, 50}, XID: 7}
	if k := enc.AppendKey(nil, &c); len(k) != 0 {
		t.Errorf("keyless key % x", k)
	}
	v, _ := f.Decode(t, enc.AppendDocument(nil, &c))
	src := v.(map[string]any)["source"].(map[string]any)
	if src["sequence"] != `[null,"42"]` || src["lsn"] != int64(42) || src["txId"] != int64(7) {
		t.Errorf("source %#v", src)
	}
}

// The transaction block of provide.transaction.metadata in the Debezium
// envelope's Avro form.
func TestAvroTransactionBlock(t *testing.T) {
	txn := &event.TxnOrder{ID: "555:24023200", TotalOrder: 3, CollectionOrder: 2}
	now := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	f := avrotest.NewRegistry(t)
	reg := avro.NewRegistry(f.Client, avro.Decimal(avrotest.Decimals), avro.Namespace("PostgreSQL_server"))
	opts := Options{Version: "test", Name: "PostgreSQL_server", Database: "postgres",
		Now: func() time.Time { return now }, ReadTime: func() time.Time { return now }}
	aenc, err := NewAvroEncoder(reg, func(*event.Table) string { return "PostgreSQL_server.inventory.customers" }, opts)(avroDbzTable, []int{0})
	if err != nil {
		t.Fatal(err)
	}
	ac := event.Change{Op: event.OpCreate, New: []event.Value{dbzText("1"), dbzText("Anne"), dbzText("12.50"), dbzText(`\x0102`), dbzNull},
		Loc: [3]int64{1, 2, 3}, XID: 555, TSMillis: 1, Txn: txn}
	rec := aenc.AppendDocument(nil, &ac)
	_, id := f.Decode(t, rec)
	s, err := f.Client.SchemaByID(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := hamba.Unmarshal(hamba.MustParse(s.Schema), rec[5:], &m); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"id": "555:24023200", "total_order": int64(3), "data_collection_order": int64(2)}
	got, _ := m["transaction"].(map[string]any)
	for _, v := range got { // a union may decode as {"<record name>": value}
		if inner, ok := v.(map[string]any); ok && len(got) == 1 {
			got = inner
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("avro transaction %#v, want %#v", m["transaction"], want)
	}
}

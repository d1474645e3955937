package schema

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/hamba/avro/v2"

	"github.com/pg2kafka/pg2kafka/event"
)

// The transaction block of provide.transaction.metadata: null without a
// TxnOrder, Debezium's {id, total_order, data_collection_order} with one,
// in JSON and in Avro.
func TestDebeziumTransactionBlock(t *testing.T) {
	txn := &event.TxnOrder{ID: "555:24023200", TotalOrder: 3, CollectionOrder: 2}
	c := event.Change{Op: event.OpCreate, Table: debeziumCustomers, New: dbzAnne("Anne"),
		Loc: [3]int64{dbzPrevLSN, dbzLSN, dbzCommit}, TSMillis: dbzTS, XID: dbzXID}

	enc := NewDebeziumEncoder(debeziumCustomers, []int{0}, dbzOptions())
	var doc struct {
		Transaction json.RawMessage `json:"transaction"`
	}
	if err := json.Unmarshal(enc.AppendDocument(nil, &c), &doc); err != nil || string(doc.Transaction) != "null" {
		t.Fatalf("without metadata: transaction %s (%v), want null", doc.Transaction, err)
	}
	c.Txn = txn
	b := enc.AppendDocument(nil, &c)
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	if want := `{"id":"555:24023200","total_order":3,"data_collection_order":2}`; string(doc.Transaction) != want {
		t.Errorf("transaction %s, want %s", doc.Transaction, want)
	}

	f := newAvroFake(t)
	reg := NewAvroRegistry(f.client, AvroDecimal(avroDecimals), AvroNamespace("PostgreSQL_server"))
	opts := DebeziumOptions{Version: "test", Name: "PostgreSQL_server", Database: "postgres",
		Now: func() time.Time { return dbzNow }, ReadTime: func() time.Time { return dbzNow }}
	aenc, err := reg.NewDebeziumEncoder(func(*event.Table) string { return "PostgreSQL_server.inventory.customers" }, opts)(avroDbzTable, []int{0})
	if err != nil {
		t.Fatal(err)
	}
	ac := event.Change{Op: event.OpCreate, New: []event.Value{avroTxt("1"), avroTxt("Anne"), avroTxt("12.50"), avroTxt(`\x0102`), avroNull},
		Loc: [3]int64{1, 2, 3}, XID: 555, TSMillis: 1, Txn: txn}
	rec := aenc.AppendDocument(nil, &ac)
	_, id := f.decode(t, rec)
	s, err := f.client.SchemaByID(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := avro.Unmarshal(avro.MustParse(s.Schema), rec[5:], &m); err != nil {
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

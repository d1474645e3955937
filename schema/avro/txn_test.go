package avro

import (
	"context"
	"reflect"
	"testing"
	"time"

	hamba "github.com/hamba/avro/v2"

	"github.com/pg2kafka/pg2kafka/event"
	"github.com/pg2kafka/pg2kafka/schema/debezium"
)

// The transaction block of provide.transaction.metadata in the Debezium
// envelope's Avro form.
func TestDebeziumTransactionBlock(t *testing.T) {
	txn := &event.TxnOrder{ID: "555:24023200", TotalOrder: 3, CollectionOrder: 2}
	now := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	f := newAvroFake(t)
	reg := NewRegistry(f.client, Decimal(avroDecimals), Namespace("PostgreSQL_server"))
	opts := debezium.Options{Version: "test", Name: "PostgreSQL_server", Database: "postgres",
		Now: func() time.Time { return now }, ReadTime: func() time.Time { return now }}
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

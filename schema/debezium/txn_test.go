package debezium

import (
	"encoding/json"
	"testing"

	"github.com/pg2kafka/pg2kafka/event"
)

// The transaction block of provide.transaction.metadata: null without a
// TxnOrder, Debezium's {id, total_order, data_collection_order} with one.
func TestTransactionBlock(t *testing.T) {
	txn := &event.TxnOrder{ID: "555:24023200", TotalOrder: 3, CollectionOrder: 2}
	c := event.Change{Op: event.OpCreate, Table: debeziumCustomers, New: dbzAnne("Anne"),
		Loc: [3]int64{dbzPrevLSN, dbzLSN, dbzCommit}, TSMillis: dbzTS, XID: dbzXID}

	enc := NewEncoder(debeziumCustomers, []int{0}, dbzOptions())
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
}

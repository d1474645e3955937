package schema

import (
	"strconv"

	"github.com/pg2kafka/pg2kafka/event"
)

// appendDebeziumTxn appends the transaction block of a Debezium envelope:
// null, or {"id":…,"total_order":…,"data_collection_order":…} when the
// change carries its place in its transaction
// (provide.transaction.metadata).
func appendDebeziumTxn(dst []byte, t *event.TxnOrder) []byte {
	if t == nil {
		return append(dst, "null"...)
	}
	dst = append(dst, `{"id":`...)
	dst = strconv.AppendQuote(dst, t.ID)
	dst = append(dst, `,"total_order":`...)
	dst = strconv.AppendInt(dst, t.TotalOrder, 10)
	dst = append(dst, `,"data_collection_order":`...)
	dst = strconv.AppendInt(dst, t.CollectionOrder, 10)
	return append(dst, '}')
}

// avroAppendDebeziumTxn appends the ["null", Transaction] union of a
// Debezium envelope in Avro's binary encoding.
func avroAppendDebeziumTxn(dst []byte, t *event.TxnOrder) []byte {
	if t == nil {
		return append(dst, 0)
	}
	dst = avroAppendString(append(dst, 2), []byte(t.ID))
	dst = avroAppendLong(dst, t.TotalOrder)
	return avroAppendLong(dst, t.CollectionOrder)
}

package debezium

import (
	"testing"

	"github.com/pg2kafka/pg2kafka/event"
)

// BenchmarkDebeziumAppendDocument encodes a change holding a value of
// each type of debeziumTypes (dates, times, timestamps, numerics, money,
// interval, json, bytea, arrays) in Debezium's JSON value forms.
func BenchmarkDebeziumAppendDocument(b *testing.B) {
	e := NewEncoder(debeziumTypes, debeziumTypes.Key, dbzOptions())
	c := &event.Change{Op: event.OpCreate, Table: debeziumTypes, New: debeziumTypesRow(),
		Loc: [3]int64{dbzPrevLSN, dbzLSN, dbzCommit}, TSMillis: dbzTS, XID: dbzXID}
	buf := make([]byte, 0, 4096)
	b.ReportAllocs()
	for b.Loop() {
		buf = e.AppendDocument(buf[:0], c)
	}
}

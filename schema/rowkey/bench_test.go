package rowkey

import (
	"testing"

	"github.com/pg2kafka/pg2kafka/event"
)

// BenchmarkRowKeyAppend encodes the row key of a change whose key is an
// int8, a text, a timestamptz and a uuid.
func BenchmarkRowKeyAppend(b *testing.B) {
	types := []*event.Type{rowKeyTestInt8, rowKeyTestText, rowKeyTestTSTZ, rowKeyTestUUID}
	texts := [][]byte{[]byte("1234567890"), []byte("globex corporation"), []byte("2024-05-01 12:00:00.123456+00"),
		[]byte("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")}
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		buf = buf[:0]
		for i, t := range types {
			var err error
			if buf, err = Append(buf, t, texts[i]); err != nil {
				b.Fatal(err)
			}
		}
	}
}

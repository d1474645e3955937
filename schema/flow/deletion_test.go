package flow

import (
	"testing"

	"github.com/pg2kafka/pg2kafka/event"
)

// A deletion built from a Kafka key equals the delete document of the same
// row encoded from its key-only old tuple, for keys of several shapes; a
// key this encoder does not write is refused.
func TestAppendDeletion(t *testing.T) {
	table := &event.Table{Schema: "public", Name: "t", Columns: []event.Column{
		{Name: "zeta", Type: event.Type{Name: "text", Kind: event.KindText}},
		{Name: "id", Type: event.Type{Name: "int8", Kind: event.KindInt}},
		{Name: "code", Type: event.Type{Name: "text", Kind: event.KindText}},
		{Name: "v", Type: event.Type{Name: "int4", Kind: event.KindInt}, Nullable: true},
	}}
	text := func(s string) event.Value { return event.Value{Marker: event.MarkerText, Data: []byte(s)} }
	absent := event.Value{}
	for _, tc := range []struct {
		name string
		key  []int
		row  []event.Value // key columns set, others absent
	}{
		{"integer key", []int{1}, []event.Value{absent, text("42"), absent, absent}},
		{"text key with quotes and commas", []int{2}, []event.Value{absent, absent, text(`a "b", {c}]`), absent}},
		{"composite key out of column order", []int{2, 1}, []event.Value{absent, text("-7"), text("x"), absent}},
		{"key after _meta in name order", []int{0}, []event.Value{text("z"), absent, absent, absent}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := NewEncoder(table, tc.key, "")
			ch := &event.Change{Op: event.OpDelete, New: tc.row, TSMillis: 1700000000000, Loc: [3]int64{5, 5, 0}}
			key := e.AppendKey(nil, ch)
			want := e.AppendDocument(nil, ch)
			got, ok := e.AppendDeletion(nil, key, ch)
			if !ok || string(got) != string(want) {
				t.Fatalf("AppendDeletion(%s) = %s, %v; want %s", key, got, ok, want)
			}
		})
	}
	e := NewEncoder(table, []int{1}, "")
	for _, bad := range []string{``, `{}`, `{"code":1}`, `{"id":1,"x":2}`, `{"id":"unterminated}`} {
		if got, ok := e.AppendDeletion(nil, []byte(bad), &event.Change{Op: event.OpDelete}); ok {
			t.Errorf("AppendDeletion(%s) = %s, want refused", bad, got)
		}
	}
}

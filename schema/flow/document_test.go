package flow

import (
	"slices"
	"testing"

	"github.com/pg2kafka/pg2kafka/event"
)

// The Flow document: columns in byte order of their names with _meta among
// them, absent and unchanged-TOAST columns omitted, before for updates with
// an old tuple, and arrays flat unless MultidimensionalArrays.
func TestFlowDocument(t *testing.T) {
	tbl := &event.Table{Schema: "public", Name: "t", Columns: []event.Column{
		{Name: "id", Type: event.Type{Name: "int4", Kind: event.KindInt}},
		{Name: "Zed", Type: event.Type{Name: "text", Kind: event.KindText}},
		{Name: "m", Type: event.Type{Name: "_int4", Kind: event.KindArray, Elem: &event.Type{Name: "int4", Kind: event.KindInt}}},
		{Name: "big", Type: event.Type{Name: "text", Kind: event.KindText}},
	}}
	txt := func(s string) event.Value { return event.Value{Marker: event.MarkerText, Data: []byte(s)} }
	upd := &event.Change{Op: event.OpUpdate, Loc: [3]int64{1, 2, 3}, TSMillis: 5, XID: 9,
		New: []event.Value{txt("1"), {Marker: event.MarkerNull}, txt("{{1,2},{3,4}}"), {Marker: event.MarkerUnchanged}},
		Old: []event.Value{txt("1"), {Marker: event.MarkerAbsent}, {Marker: event.MarkerAbsent}, {Marker: event.MarkerAbsent}}}
	cases := []struct {
		name string
		opts []Option
		c    *event.Change
		want string
	}{
		{"update with key-only before", nil, upd,
			`{"Zed":null,"_meta":{"op":"u","source":{"ts_ms":5,"schema":"public","table":"t","loc":[1,2,3],"txid":9},"before":{"id":1}},"id":1,"m":[1,2,3,4]}`},
		{"nested arrays", []Option{MultidimensionalArrays()}, upd,
			`{"Zed":null,"_meta":{"op":"u","source":{"ts_ms":5,"schema":"public","table":"t","loc":[1,2,3],"txid":9},"before":{"id":1}},"id":1,"m":[[1,2],[3,4]]}`},
		{"backfill row", nil, &event.Change{Op: event.OpCreate, Snapshot: true, Loc: [3]int64{-1, 7, 0},
			New: []event.Value{txt("2"), txt("z"), txt("{}"), txt("b")}},
			`{"Zed":"z","_meta":{"op":"c","source":{"schema":"public","snapshot":true,"table":"t","loc":[-1,7,0]}},"big":"b","id":2,"m":[]}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := NewEncoder(tbl, []int{0}, "", c.opts...)
			if got := string(e.AppendDocument(nil, c.c)); got != c.want {
				t.Errorf("got  %s\nwant %s", got, c.want)
			}
			if got := string(e.AppendKey(nil, c.c)); got != `{"id":`+string(c.c.New[0].Data)+`}` {
				t.Errorf("key %s", got)
			}
		})
	}
}

// A column named _meta never collides with the metadata: the document (and
// its before) names it _meta_2, or the next free _meta_N; the Kafka key keeps
// the column's name.
func TestFlowDocumentMetaColumn(t *testing.T) {
	tbl := &event.Table{Schema: "public", Name: "t", Columns: []event.Column{
		{Name: "_meta", Type: event.Type{Name: "int4", Kind: event.KindInt}},
		{Name: "_meta_2", Type: event.Type{Name: "text", Kind: event.KindText}},
		{Name: "a", Type: event.Type{Name: "text", Kind: event.KindText}},
	}}
	if got, want := DocumentNames(tbl.Columns), []string{"_meta_3", "_meta_2", "a"}; !slices.Equal(got, want) {
		t.Errorf("DocumentNames = %q, want %q", got, want)
	}
	txt := func(s string) event.Value { return event.Value{Marker: event.MarkerText, Data: []byte(s)} }
	c := &event.Change{Op: event.OpUpdate, Loc: [3]int64{1, 2, 3}, TSMillis: 5, XID: 9,
		New: []event.Value{txt("1"), txt("x"), txt("y")},
		Old: []event.Value{txt("1"), txt("w"), txt("v")}}
	e := NewEncoder(tbl, []int{0}, "")
	want := `{"_meta":{"op":"u","source":{"ts_ms":5,"schema":"public","table":"t","loc":[1,2,3],"txid":9},"before":{"_meta_2":"w","_meta_3":1,"a":"v"}},"_meta_2":"x","_meta_3":1,"a":"y"}`
	if got := string(e.AppendDocument(nil, c)); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if got := string(e.AppendKey(nil, c)); got != `{"_meta":1}` {
		t.Errorf("key %s, want {\"_meta\":1}", got)
	}
	one := &event.Table{Schema: "public", Name: "t", Columns: tbl.Columns[:1]}
	if got := DocumentNames(one.Columns); !slices.Equal(got, []string{"_meta_2"}) {
		t.Errorf("DocumentNames = %q, want [_meta_2]", got)
	}
}

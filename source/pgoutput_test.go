package source

import (
	"encoding/binary"
	"testing"

	"github.com/pg2kafka/pg2kafka/event"
	"github.com/pg2kafka/pg2kafka/internal/slab"
)

// msg builds a pgoutput message body from parts: byte, uint16, uint32,
// uint64, string (NUL-terminated) or []byte (raw).
func msg(parts ...any) []byte {
	var b []byte
	for _, p := range parts {
		switch v := p.(type) {
		case byte:
			b = append(b, v)
		case uint16:
			b = binary.BigEndian.AppendUint16(b, v)
		case uint32:
			b = binary.BigEndian.AppendUint32(b, v)
		case uint64:
			b = binary.BigEndian.AppendUint64(b, v)
		case string:
			b = append(append(b, v...), 0)
		case []byte:
			b = append(b, v...)
		}
	}
	return b
}

func textCol(s string) []any { return []any{byte('t'), uint32(len(s)), []byte(s)} }

func flat(parts ...[]any) []any {
	var out []any
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func TestParseChange(t *testing.T) {
	cases := []struct {
		name    string
		typ     byte
		body    []byte
		newVals []event.Value
		oldVals []event.Value
	}{
		{
			name:    "insert with a null",
			typ:     'I',
			body:    msg(flat([]any{uint32(16384), byte('N'), uint16(2)}, textCol("42"), []any{byte('n')})...),
			newVals: []event.Value{{Marker: event.MarkerText, Data: []byte("42")}, {Marker: event.MarkerNull}},
		},
		{
			name: "update with key-only old tuple and unchanged TOAST",
			typ:  'U',
			body: msg(flat([]any{uint32(1), byte('K'), uint16(2)}, textCol("1"), []any{byte('n'), byte('N'), uint16(2)}, textCol("2"), []any{byte('u')})...),
			// In a 'K' tuple, 'n' means "not part of the key": absent.
			oldVals: []event.Value{{Marker: event.MarkerText, Data: []byte("1")}, {Marker: event.MarkerAbsent}},
			newVals: []event.Value{{Marker: event.MarkerText, Data: []byte("2")}, {Marker: event.MarkerUnchanged}},
		},
		{
			name:    "update with full old tuple keeps nulls",
			typ:     'U',
			body:    msg(flat([]any{uint32(1), byte('O'), uint16(1), byte('n'), byte('N'), uint16(1)}, textCol(""))...),
			oldVals: []event.Value{{Marker: event.MarkerNull}},
			newVals: []event.Value{{Marker: event.MarkerText, Data: []byte("")}},
		},
		{
			name:    "delete carries the old tuple as its values",
			typ:     'D',
			body:    msg(flat([]any{uint32(1), byte('K'), uint16(1)}, textCol("é"))...),
			newVals: []event.Value{{Marker: event.MarkerText, Data: []byte("é")}},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, newT, oldT, err := parseChange(c.typ, c.body, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !sameValues(newT, c.newVals) || !sameValues(oldT, c.oldVals) {
				t.Fatalf("new %v old %v, want new %v old %v", newT, oldT, c.newVals, c.oldVals)
			}
		})
	}
}

func sameValues(a, b []event.Value) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Marker != b[i].Marker || string(a[i].Data) != string(b[i].Data) {
			return false
		}
	}
	return true
}

// Truncated or malformed messages are errors, never panics.
func TestParseMalformed(t *testing.T) {
	good := msg(flat([]any{uint32(1), byte('N'), uint16(2)}, textCol("42"), textCol("x"))...)
	for i := 0; i < len(good); i++ {
		if _, _, _, err := parseChange('I', good[:i], nil); err == nil {
			t.Errorf("insert cut at %d bytes parsed without error", i)
		}
	}
	if _, _, _, err := parseChange('I', msg(uint32(1), byte('N'), uint16(1), byte('b'), uint32(1), []byte{1}), nil); err == nil {
		t.Error("a binary column was accepted")
	}
	rel := msg(uint32(1), "public", "t", byte('d'), uint16(3))
	for i := 0; i < len(rel); i++ {
		if _, err := parseRelation(rel[:i]); err == nil {
			t.Errorf("relation cut at %d bytes parsed without error", i)
		}
		_, _ = parseBegin(make([]byte, i))
		_, _ = parseCommit(make([]byte, i))
	}
}

func TestParseRelationAndCommit(t *testing.T) {
	r, err := parseRelation(msg(uint32(16384), "public", "orders", byte('d'), uint16(2),
		byte(1), "id", uint32(23), uint32(0xFFFFFFFF), byte(0), "note", uint32(25), uint32(0xFFFFFFFF)))
	if err != nil {
		t.Fatal(err)
	}
	if r.oid != 16384 || r.namespace != "public" || r.name != "orders" || len(r.columns) != 2 ||
		r.columns[0].name != "id" || r.columns[0].flags != 1 || r.columns[1].typeOID != 25 || r.columns[1].typmod != -1 {
		t.Fatalf("relation parsed as %+v", r)
	}
	c, err := parseCommit(msg(byte(0), uint64(0x1A3F2B8F10), uint64(0x1A3F2B8F40), uint64(0)))
	if err != nil || c.commitLSN != 0x1A3F2B8F10 || c.endLSN != 0x1A3F2B8F40 {
		t.Fatalf("commit parsed as %+v, %v", c, err)
	}
	if got := pgTimeToUnixMillis(0); got != 946684800000 {
		t.Fatalf("PostgreSQL epoch is %d ms, want 946684800000", got)
	}
}

func TestServerMajor(t *testing.T) {
	for in, want := range map[string]int{"17.10": 17, "18.4": 18, "18beta1 (Debian 18~beta1-1)": 18, "12.22": 12, "": 0, "x": 0} {
		if got := serverMajor(in); got != want {
			t.Errorf("serverMajor(%q) = %d, want %d", in, got, want)
		}
	}
}

// BenchmarkParseInsert decodes the INSERT of an events row (7 columns,
// ~280 bytes, as make bench's table), the decoder's share of a drain.
// Its values are carved from a slab, as the stream's are: no allocation
// a change but a block's share.
func BenchmarkParseInsert(b *testing.B) {
	body := msg(flat([]any{uint32(16384), byte('N'), uint16(7)},
		textCol("1048576"), textCol("42"), textCol("customer-1048576"), textCol("485.76"),
		textCol(`{"qty": 3, "sku": "SKU-3576", "tags": ["a", "b", 1]}`),
		textCol("c4ca4238a0b923820dcc509a6f75849bc81e728d9d4c2f636f067f89cc14862ceccbc87e4b5ce2fe28308fd9f2a7baf3"),
		textCol("2024-01-13 03:16:16+00"))...)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	values := slab.New[event.Value](4096)
	for b.Loop() {
		if _, newT, _, err := parseChange('I', body, values); err != nil || len(newT) != 7 {
			b.Fatalf("%d values, %v", len(newT), err)
		}
	}
}

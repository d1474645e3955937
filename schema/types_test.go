package schema

import (
	"testing"

	"github.com/pg2kafka/pg2kafka/event"
)

func TestKindOf(t *testing.T) {
	cases := map[string]event.Kind{
		"int2": event.KindInt, "int4": event.KindInt, "int8": event.KindInt, "oid": event.KindInt,
		"float4": event.KindFloat4, "float8": event.KindFloat8, "numeric": event.KindNumeric,
		"bool": event.KindBool, "bytea": event.KindBytea, "json": event.KindJSON,
		"jsonb": event.KindJSONB, "date": event.KindDate, "time": event.KindTime,
		"timetz": event.KindTimeTZ, "timestamp": event.KindTimestamp,
		"timestamptz": event.KindTimestampTZ, "interval": event.KindInterval,
		"uuid": event.KindUUID,
		"text": event.KindText, "varchar": event.KindText, "bpchar": event.KindText,
		"name": event.KindText, "citext": event.KindText, "xml": event.KindText,
		"jsonpath": event.KindText, "money": event.KindText, "inet": event.KindText,
		"cidr": event.KindText, "macaddr": event.KindText, "macaddr8": event.KindText,
		"bit": event.KindText, "varbit": event.KindText, "point": event.KindText,
		"circle": event.KindText, "tsvector": event.KindText, "tsquery": event.KindText,
		"hstore": event.KindText, "geometry": event.KindText, "": event.KindText, "_": event.KindText,
		"int4range": event.KindRange, "tstzrange": event.KindRange, "daterange": event.KindRange,
		"int4multirange": event.KindRange, "datemultirange": event.KindRange,
		"_int4": event.KindArray, "_text": event.KindArray, "_mood": event.KindArray,
	}
	for name, want := range cases {
		if got := KindOf(name); got != want {
			t.Errorf("KindOf(%q) = %d, want %d", name, got, want)
		}
	}
}

func TestTypeNewType(t *testing.T) {
	if got := NewType(1, "mood", 'e', 0, nil); got.Kind != event.KindEnum || got.OID != 1 || got.Name != "mood" {
		t.Errorf("enum: %+v", got)
	}
	if got := NewType(2, "pair", 'c', 0, nil); got.Kind != event.KindComposite {
		t.Errorf("composite: %+v", got)
	}
	if got := NewType(3, "floatrange", 'r', 0, nil); got.Kind != event.KindRange {
		t.Errorf("range: %+v", got)
	}
	if got := NewType(4, "floatmultirange", 'm', 0, nil); got.Kind != event.KindRange {
		t.Errorf("multirange: %+v", got)
	}
	if got := NewType(23, "int4", 'b', 0, nil); got.Kind != event.KindInt || got.Elem != nil {
		t.Errorf("int4: %+v", got)
	}
	// A domain over int4 keeps its own OID.
	if got := NewType(99999, "int4", 'b', 0, nil); got.Kind != event.KindInt || got.OID != 99999 {
		t.Errorf("domain: %+v", got)
	}
	arr := NewType(1007, "_int4", 'b', 0, nil)
	if arr.Kind != event.KindArray || arr.Elem == nil || arr.Elem.Kind != event.KindInt || arr.Elem.Name != "int4" {
		t.Errorf("_int4: %+v", arr)
	}
	mood := NewType(1, "mood", 'e', 0, nil)
	ea := NewType(5, "_mood", 'b', 0, &mood)
	if ea.Elem != &mood {
		t.Errorf("_mood elem not kept")
	}
	if got := NewType(6, "__x", 'b', 0, nil); got.Elem == nil || got.Elem.Kind != event.KindText {
		t.Errorf("__x: %+v", got)
	}
	if got := NewType(7, "int4", 'b', 0, &mood); got.Elem != nil {
		t.Errorf("elem kept for a non-array")
	}
}

func TestTypeLengthFromTypmod(t *testing.T) {
	for _, c := range []struct {
		name   string
		typmod int32
		want   int
	}{
		{"varchar", 14, 10}, {"bpchar", 5, 1}, {"varchar", -1, 0}, {"text", 14, 0}, {"numeric", 655366, 0},
	} {
		if got := LengthFromTypmod(c.name, c.typmod); got != c.want {
			t.Errorf("%s(%d) = %d, want %d", c.name, c.typmod, got, c.want)
		}
	}
}

// TestNewTypeFromCatalog: with the catalog's category at hand (as the
// source resolves columns), an array is category 'A' with an element,
// whatever its name, and the name alone never makes an array.
func TestNewTypeFromCatalog(t *testing.T) {
	int2 := NewType(21, "int2", 'b', 'N', nil)
	if got := NewType(22, "int2vector", 'b', 'A', &int2); got.Kind != event.KindArray || got.Elem != &int2 {
		t.Errorf("int2vector: %+v", got)
	}
	if got := NewType(1, "_odd", 'b', 'U', nil); got.Kind != event.KindText || got.Elem != nil {
		t.Errorf("a base type named like an array: %+v", got)
	}
	if got := NewType(2, "jsonb", 'b', 'U', nil); got.Kind != event.KindJSONB {
		t.Errorf("jsonb: %+v", got)
	}
	// Category 'A' without an element type (typelem 0) is not an array.
	if got := NewType(3, "_int4", 'b', 'A', nil); got.Kind != event.KindText || got.Elem != nil {
		t.Errorf("array without element: %+v", got)
	}
}

package schema

import (
	"encoding/json"
	"testing"

	"github.com/pg2kafka/pg2kafka/event"
)

func TestTypeFor(t *testing.T) {
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
		if got := TypeFor(name); got != want {
			t.Errorf("TypeFor(%q) = %d, want %d", name, got, want)
		}
	}
}

func TestTypeNewType(t *testing.T) {
	if got := NewType(1, "mood", 'e', nil); got.Kind != event.KindEnum || got.OID != 1 || got.Name != "mood" {
		t.Errorf("enum: %+v", got)
	}
	if got := NewType(2, "pair", 'c', nil); got.Kind != event.KindComposite {
		t.Errorf("composite: %+v", got)
	}
	if got := NewType(3, "floatrange", 'r', nil); got.Kind != event.KindRange {
		t.Errorf("range: %+v", got)
	}
	if got := NewType(4, "floatmultirange", 'm', nil); got.Kind != event.KindRange {
		t.Errorf("multirange: %+v", got)
	}
	if got := NewType(23, "int4", 'b', nil); got.Kind != event.KindInt || got.Elem != nil {
		t.Errorf("int4: %+v", got)
	}
	// A domain over int4 keeps its own OID.
	if got := NewType(99999, "int4", 'b', nil); got.Kind != event.KindInt || got.OID != 99999 {
		t.Errorf("domain: %+v", got)
	}
	arr := NewType(1007, "_int4", 'b', nil)
	if arr.Kind != event.KindArray || arr.Elem == nil || arr.Elem.Kind != event.KindInt || arr.Elem.Name != "int4" {
		t.Errorf("_int4: %+v", arr)
	}
	mood := NewType(1, "mood", 'e', nil)
	ea := NewType(5, "_mood", 'b', &mood)
	if ea.Elem != &mood {
		t.Errorf("_mood elem not kept")
	}
	if got := NewType(6, "__x", 'b', nil); got.Elem == nil || got.Elem.Kind != event.KindText {
		t.Errorf("__x: %+v", got)
	}
	if got := NewType(7, "int4", 'b', &mood); got.Elem != nil {
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

func TestTypeJSONSchemaFor(t *testing.T) {
	mood := NewType(1, "mood", 'e', nil)
	moods := NewType(2, "_mood", 'b', &mood)
	cases := []struct {
		typ      event.Type
		nullable bool
		opts     []SchemaOption
		want     string
	}{
		{NewType(0, "bool", 'b', nil), false, nil, `{"type":"boolean"}`},
		{NewType(0, "bool", 'b', nil), true, nil, `{"type":["boolean","null"]}`},
		{NewType(0, "int8", 'b', nil), false, nil, `{"type":"integer"}`},
		{NewType(0, "oid", 'b', nil), true, nil, `{"type":["integer","null"]}`},
		{NewType(0, "float8", 'b', nil), false, nil, `{"format":"number","type":["number","string"]}`},
		{NewType(0, "float4", 'b', nil), true, nil, `{"format":"number","type":["number","string","null"]}`},
		{NewType(0, "float8", 'b', nil), false, []SchemaOption{AsKey()}, `{"format":"number","type":"string"}`},
		{NewType(0, "numeric", 'b', nil), false, nil, `{"format":"number","type":"string"}`},
		{NewType(0, "text", 'b', nil), true, nil, `{"type":["string","null"]}`},
		{NewType(0, "varchar", 'b', nil), false, []SchemaOption{WithLength(10)}, `{"maxLength":10,"type":"string"}`},
		{NewType(0, "varchar", 'b', nil), false, []SchemaOption{WithLength(0)}, `{"type":"string"}`},
		{NewType(0, "bpchar", 'b', nil), false, []SchemaOption{WithLength(3)}, `{"maxLength":3,"minLength":3,"type":"string"}`},
		{NewType(0, "text", 'b', nil), false, []SchemaOption{WithLength(3)}, `{"type":"string"}`},
		{NewType(0, "bytea", 'b', nil), false, nil, `{"contentEncoding":"base64","type":"string"}`},
		{NewType(0, "uuid", 'b', nil), false, nil, `{"format":"uuid","type":"string"}`},
		{NewType(0, "json", 'b', nil), true, nil, `{"contentMediaType":"application/json"}`},
		{NewType(0, "jsonb", 'b', nil), false, nil, `{"contentMediaType":"application/vnd.estuary.postgresql.jsonb+json"}`},
		{NewType(0, "date", 'b', nil), false, nil, `{"format":"date","type":"string"}`},
		{NewType(0, "time", 'b', nil), false, nil, `{"format":"time","type":"string"}`},
		{NewType(0, "timetz", 'b', nil), false, nil, `{"format":"time","type":"string"}`},
		{NewType(0, "timestamp", 'b', nil), false, nil, `{"format":"date-time","type":"string"}`},
		{NewType(0, "timestamptz", 'b', nil), true, nil, `{"format":"date-time","type":["string","null"]}`},
		{NewType(0, "interval", 'b', nil), false, nil, `{"type":"string"}`},
		{NewType(0, "inet", 'b', nil), false, nil, `{"type":"string"}`},
		{NewType(0, "tsquery", 'b', nil), false, nil, `{"type":"string"}`},
		{NewType(0, "int4range", 'b', nil), false, nil, `{"type":"string"}`},
		{mood, false, nil, `{"type":"string"}`},
		{NewType(0, "pair", 'c', nil), false, nil, `{}`},
		{NewType(0, "hstore", 'b', nil), true, nil, `{}`},
		{NewType(0, "_int4", 'b', nil), true, nil, `{"items":{"type":["integer","null"]},"type":["array","null"]}`},
		{NewType(0, "_float8", 'b', nil), false, nil, `{"items":{"format":"number","type":["number","string","null"]},"type":"array"}`},
		{NewType(0, "_jsonb", 'b', nil), true, nil, `{"items":{"contentMediaType":"application/vnd.estuary.postgresql.jsonb+json"},"type":["array","null"]}`},
		{moods, true, nil, `{"items":{"type":["string","null"]},"type":["array","null"]}`},
		{NewType(0, "_hstore", 'b', nil), true, nil, `{"items":{},"type":["array","null"]}`},
		{NewType(0, "_int4", 'b', nil), true, []SchemaOption{NestedArrays()}, `{"type":["array","null"]}`},
	}
	for _, c := range cases {
		typ := c.typ
		b, err := json.Marshal(JSONSchemaFor(&typ, c.nullable, c.opts...))
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != c.want {
			t.Errorf("%s nullable=%v: got %s, want %s", c.typ.Name, c.nullable, b, c.want)
		}
	}
	if b, _ := json.Marshal(JSONSchemaFor(nil, true)); string(b) != `{}` {
		t.Errorf("nil: %s", b)
	}
	// Returned maps are independent.
	typ := NewType(0, "text", 'b', nil)
	m := JSONSchemaFor(&typ, false)
	m["description"] = "x"
	if _, ok := JSONSchemaFor(&typ, false)["description"]; ok {
		t.Errorf("schema map shared")
	}
}

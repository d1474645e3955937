package flow

import (
	"encoding/json"
	"testing"

	"github.com/pg2kafka/pg2kafka/event"
	"github.com/pg2kafka/pg2kafka/schema"
)

func TestTypeJSONSchemaFor(t *testing.T) {
	mood := schema.NewType(1, "mood", 'e', 0, nil)
	moods := schema.NewType(2, "_mood", 'b', 0, &mood)
	cases := []struct {
		typ      event.Type
		nullable bool
		opts     []SchemaOption
		want     string
	}{
		{schema.NewType(0, "bool", 'b', 0, nil), false, nil, `{"type":"boolean"}`},
		{schema.NewType(0, "bool", 'b', 0, nil), true, nil, `{"type":["boolean","null"]}`},
		{schema.NewType(0, "int8", 'b', 0, nil), false, nil, `{"type":"integer"}`},
		{schema.NewType(0, "oid", 'b', 0, nil), true, nil, `{"type":["integer","null"]}`},
		{schema.NewType(0, "float8", 'b', 0, nil), false, nil, `{"format":"number","type":["number","string"]}`},
		{schema.NewType(0, "float4", 'b', 0, nil), true, nil, `{"format":"number","type":["number","string","null"]}`},
		{schema.NewType(0, "float8", 'b', 0, nil), false, []SchemaOption{AsKey()}, `{"format":"number","type":"string"}`},
		{schema.NewType(0, "numeric", 'b', 0, nil), false, nil, `{"format":"number","type":"string"}`},
		{schema.NewType(0, "text", 'b', 0, nil), true, nil, `{"type":["string","null"]}`},
		{schema.NewType(0, "varchar", 'b', 0, nil), false, []SchemaOption{WithLength(10)}, `{"maxLength":10,"type":"string"}`},
		{schema.NewType(0, "varchar", 'b', 0, nil), false, []SchemaOption{WithLength(0)}, `{"type":"string"}`},
		{schema.NewType(0, "bpchar", 'b', 0, nil), false, []SchemaOption{WithLength(3)}, `{"maxLength":3,"minLength":3,"type":"string"}`},
		{schema.NewType(0, "text", 'b', 0, nil), false, []SchemaOption{WithLength(3)}, `{"type":"string"}`},
		{schema.NewType(0, "bytea", 'b', 0, nil), false, nil, `{"contentEncoding":"base64","type":"string"}`},
		{schema.NewType(0, "uuid", 'b', 0, nil), false, nil, `{"format":"uuid","type":"string"}`},
		{schema.NewType(0, "json", 'b', 0, nil), true, nil, `{"contentMediaType":"application/json"}`},
		{schema.NewType(0, "jsonb", 'b', 0, nil), false, nil, `{"contentMediaType":"application/vnd.estuary.postgresql.jsonb+json"}`},
		{schema.NewType(0, "date", 'b', 0, nil), false, nil, `{"format":"date","type":"string"}`},
		{schema.NewType(0, "time", 'b', 0, nil), false, nil, `{"format":"time","type":"string"}`},
		{schema.NewType(0, "timetz", 'b', 0, nil), false, nil, `{"format":"time","type":"string"}`},
		{schema.NewType(0, "timestamp", 'b', 0, nil), false, nil, `{"format":"date-time","type":"string"}`},
		{schema.NewType(0, "timestamptz", 'b', 0, nil), true, nil, `{"format":"date-time","type":["string","null"]}`},
		{schema.NewType(0, "interval", 'b', 0, nil), false, nil, `{"type":"string"}`},
		{schema.NewType(0, "inet", 'b', 0, nil), false, nil, `{"type":"string"}`},
		{schema.NewType(0, "tsquery", 'b', 0, nil), false, nil, `{"type":"string"}`},
		{schema.NewType(0, "int4range", 'b', 0, nil), false, nil, `{"type":"string"}`},
		{mood, false, nil, `{"type":"string"}`},
		{schema.NewType(0, "pair", 'c', 0, nil), false, nil, `{}`},
		{schema.NewType(0, "hstore", 'b', 0, nil), true, nil, `{}`},
		{schema.NewType(0, "_int4", 'b', 0, nil), true, nil, `{"items":{"type":["integer","null"]},"type":["array","null"]}`},
		{schema.NewType(0, "_float8", 'b', 0, nil), false, nil, `{"items":{"format":"number","type":["number","string","null"]},"type":"array"}`},
		{schema.NewType(0, "_jsonb", 'b', 0, nil), true, nil, `{"items":{"contentMediaType":"application/vnd.estuary.postgresql.jsonb+json"},"type":["array","null"]}`},
		{moods, true, nil, `{"items":{"type":["string","null"]},"type":["array","null"]}`},
		{schema.NewType(0, "_hstore", 'b', 0, nil), true, nil, `{"items":{},"type":["array","null"]}`},
		{schema.NewType(0, "_int4", 'b', 0, nil), true, []SchemaOption{NestedArrays()}, `{"type":["array","null"]}`},
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
	typ := schema.NewType(0, "text", 'b', 0, nil)
	m := JSONSchemaFor(&typ, false)
	m["description"] = "x"
	if _, ok := JSONSchemaFor(&typ, false)["description"]; ok {
		t.Errorf("schema map shared")
	}
}

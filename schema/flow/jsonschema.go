package flow

import (
	"github.com/pg2kafka/pg2kafka/event"
	"github.com/pg2kafka/pg2kafka/schema"
)

// SchemaOption adjusts what JSONSchemaFor produces.
type SchemaOption func(*typesSchemaOpts)

type typesSchemaOpts struct {
	length int
	key    bool
	nested bool
}

// WithLength gives the declared length n of a varchar(n) (schema maxLength n)
// or char(n) (minLength = maxLength = n) column; see schema.LengthFromTypmod. n <= 0
// means no limit. It is ignored for other types.
func WithLength(n int) SchemaOption {
	return func(o *typesSchemaOpts) { o.length = n }
}

// AsKey says the column is part of the row key, whose values AppendJSONKey
// writes: float4/float8 keys are decimal strings ("string", format "number").
func AsKey() SchemaOption {
	return func(o *typesSchemaOpts) { o.key = true }
}

// NestedArrays says arrays are written nested (AppendJSONNested), for which
// the schema is {"type":"array"} only (Flow's multidimensional_arrays flag).
func NestedArrays() SchemaOption {
	return func(o *typesSchemaOpts) { o.nested = true }
}

// JSONSchemaFor returns the JSON Schema of a column of type t, as in the third
// column of the type table of Flow's source-postgres (§6). A nullable column
// adds "null" to the schema's type (json, jsonb, composite and unknown types
// have no type and accept null anyway). The map is freshly allocated and may
// be modified by the caller. A nil t gets the catch-all schema {}.
func JSONSchemaFor(t *event.Type, nullable bool, opts ...SchemaOption) map[string]any {
	var o typesSchemaOpts
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	return typesSchema(t, nullable, o)
}

func typesSchema(t *event.Type, nullable bool, o typesSchemaOpts) map[string]any {
	if t == nil {
		return map[string]any{}
	}
	typ := func(names ...string) any {
		if nullable {
			names = append(names, "null")
		}
		if len(names) == 1 {
			return names[0]
		}
		return names
	}
	switch t.Kind {
	case event.KindBool:
		return map[string]any{"type": typ("boolean")}
	case event.KindInt:
		return map[string]any{"type": typ("integer")}
	case event.KindFloat4, event.KindFloat8:
		if o.key {
			return map[string]any{"type": typ("string"), "format": "number"}
		}
		return map[string]any{"type": typ("number", "string"), "format": "number"}
	case event.KindNumeric:
		return map[string]any{"type": typ("string"), "format": "number"}
	case event.KindBytea:
		return map[string]any{"type": typ("string"), "contentEncoding": "base64"}
	case event.KindJSON:
		return map[string]any{"contentMediaType": "application/json"}
	case event.KindJSONB:
		return map[string]any{"contentMediaType": "application/vnd.estuary.postgresql.jsonb+json"}
	case event.KindDate:
		return map[string]any{"type": typ("string"), "format": "date"}
	case event.KindTime, event.KindTimeTZ:
		return map[string]any{"type": typ("string"), "format": "time"}
	case event.KindTimestamp, event.KindTimestampTZ:
		return map[string]any{"type": typ("string"), "format": "date-time"}
	case event.KindUUID:
		return map[string]any{"type": typ("string"), "format": "uuid"}
	case event.KindInterval, event.KindEnum, event.KindRange:
		return map[string]any{"type": typ("string")}
	case event.KindComposite:
		return map[string]any{}
	case event.KindArray:
		if o.nested {
			return map[string]any{"type": typ("array")}
		}
		var items map[string]any
		if t.Elem == nil || t.Elem.Kind == event.KindArray {
			items = map[string]any{}
		} else {
			items = typesSchema(t.Elem, true, typesSchemaOpts{})
		}
		return map[string]any{"type": typ("array"), "items": items}
	}
	// KindText and anything unexpected.
	if !schema.TextLike(t.Name) {
		return map[string]any{}
	}
	m := map[string]any{"type": typ("string")}
	if o.length > 0 {
		switch t.Name {
		case "varchar":
			m["maxLength"] = o.length
		case "bpchar":
			m["minLength"] = o.length
			m["maxLength"] = o.length
		}
	}
	return m
}

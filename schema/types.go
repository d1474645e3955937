package schema

import (
	"strings"

	"github.com/pg2kafka/pg2kafka/event"
)

// typesKinds maps the pg_type.typname of a built-in (or well-known extension)
// base type to its Kind. Names absent from the map are KindText, except array
// names ("_..."), which are KindArray.
var typesKinds = map[string]event.Kind{
	"bool":        event.KindBool,
	"int2":        event.KindInt,
	"int4":        event.KindInt,
	"int8":        event.KindInt,
	"oid":         event.KindInt,
	"float4":      event.KindFloat4,
	"float8":      event.KindFloat8,
	"numeric":     event.KindNumeric,
	"bytea":       event.KindBytea,
	"json":        event.KindJSON,
	"jsonb":       event.KindJSONB,
	"date":        event.KindDate,
	"time":        event.KindTime,
	"timetz":      event.KindTimeTZ,
	"timestamp":   event.KindTimestamp,
	"timestamptz": event.KindTimestampTZ,
	"interval":    event.KindInterval,
	"uuid":        event.KindUUID,

	// Built-in ranges and multiranges are emitted as PostgreSQL's text form.
	"int4range":      event.KindRange,
	"int8range":      event.KindRange,
	"numrange":       event.KindRange,
	"tsrange":        event.KindRange,
	"tstzrange":      event.KindRange,
	"daterange":      event.KindRange,
	"int4multirange": event.KindRange,
	"int8multirange": event.KindRange,
	"nummultirange":  event.KindRange,
	"tsmultirange":   event.KindRange,
	"tstzmultirange": event.KindRange,
	"datemultirange": event.KindRange,
}

// typesKnownText lists the KindText types whose JSON Schema is a plain
// "string". Any other KindText type (hstore, geometry, vector, regclass, ...)
// gets the catch-all schema {}.
var typesKnownText = map[string]bool{
	"text": true, "varchar": true, "bpchar": true, "char": true, "name": true,
	"citext": true, "xml": true, "jsonpath": true, "money": true,
	"inet": true, "cidr": true, "macaddr": true, "macaddr8": true,
	"bit": true, "varbit": true,
	"point": true, "line": true, "lseg": true, "box": true, "path": true,
	"polygon": true, "circle": true,
	"tsvector": true, "tsquery": true,
}

// TypeFor returns the Kind of a base type given its pg_type.typname. Names
// starting with "_" are arrays (KindArray); unknown names are KindText. It
// cannot tell enums, composites or user ranges apart from other unknown types:
// use NewType when pg_type.typtype is at hand.
func TypeFor(name string) event.Kind {
	if len(name) > 1 && name[0] == '_' {
		return event.KindArray
	}
	if k, ok := typesKinds[name]; ok {
		return k
	}
	return event.KindText
}

// NewType builds the event.Type of a column from its declared type OID, its
// base type's pg_type.typname and pg_type.typtype ('b' base, 'e' enum, 'c'
// composite, 'r' range, 'm' multirange, 'd' domain, 'p' pseudo; 0 if unknown),
// and, for arrays, the element type. Domains must already be resolved to
// their base type's name and typtype by the caller (oid stays the domain's).
//
// For an array (a name starting with "_") whose elem is nil, the element type
// is derived from the name ("_int4" → int4 by TypeFor), so conversion still
// works; pass elem whenever the element is an enum, composite or range, which
// the name alone cannot reveal. elem is ignored for non-arrays.
func NewType(oid uint32, name string, typtype byte, elem *event.Type) event.Type {
	t := event.Type{OID: oid, Name: name}
	switch typtype {
	case 'e':
		t.Kind = event.KindEnum
		return t
	case 'c':
		t.Kind = event.KindComposite
		return t
	case 'r', 'm':
		t.Kind = event.KindRange
		return t
	}
	t.Kind = TypeFor(name)
	if t.Kind == event.KindArray {
		if elem == nil {
			en := strings.TrimPrefix(name, "_")
			elem = &event.Type{Name: en, Kind: TypeFor(en)}
			if elem.Kind == event.KindArray {
				// "__x" is not an array of arrays; treat the element as text.
				elem.Kind = event.KindText
			}
		}
		t.Elem = elem
	}
	return t
}

// LengthFromTypmod returns the declared length n of a varchar(n) or char(n)
// (bpchar) column from its pg_attribute.atttypmod, or 0 when the type has no
// length limit (typmod -1) or is another type. Pass the result to WithLength.
func LengthFromTypmod(name string, typmod int32) int {
	switch name {
	case "varchar", "bpchar":
		if typmod >= 4 {
			return int(typmod - 4)
		}
	}
	return 0
}

// SchemaOption adjusts what JSONSchemaFor produces.
type SchemaOption func(*typesSchemaOpts)

type typesSchemaOpts struct {
	length int
	key    bool
	nested bool
}

// WithLength gives the declared length n of a varchar(n) (schema maxLength n)
// or char(n) (minLength = maxLength = n) column; see LengthFromTypmod. n <= 0
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
	if !typesKnownText[t.Name] {
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

// Package schema is the one home of what pg2kafka knows about PostgreSQL
// types: the Kind of a type name, which types are text-like, which can be
// row-key columns and how (KeyModeOf), and whether ORDER BY on a key column
// orders like its row-key bytes (KeyOrderOf). Discovery, the encoders and
// the capture loop all ask it. Its subpackages do the encoding: pgtext
// reads PostgreSQL's text output, flow writes Flow documents and their JSON
// Schemas, debezium the Debezium envelope, avro the Avro forms and the
// schema registry client, rowkey the row keys and their tuple encoding, and
// format builds the encoder a configuration asks for.
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

// textLike lists the KindText types whose values are strings of known
// form (their JSON Schema is a plain "string"). Any other KindText type
// (hstore, geometry, vector, regclass, ...) is opaque.
var textLike = map[string]bool{
	"text": true, "varchar": true, "bpchar": true, "char": true, "name": true,
	"citext": true, "xml": true, "jsonpath": true, "money": true,
	"inet": true, "cidr": true, "macaddr": true, "macaddr8": true,
	"bit": true, "varbit": true,
	"point": true, "line": true, "lseg": true, "box": true, "path": true,
	"polygon": true, "circle": true,
	"tsvector": true, "tsquery": true,
}

// TextLike reports whether the KindText type named name holds strings of a
// form PostgreSQL documents (text, varchar, inet, tsvector, ...), as opposed
// to an opaque extension type (hstore, geometry, ...).
func TextLike(name string) bool { return textLike[name] }

// BaseKind returns the Kind of a base type given its pg_type.typname,
// KindText for names it does not list (array names included): what the
// name alone says once the catalog has ruled out enums, composites, ranges
// and arrays.
func BaseKind(name string) event.Kind {
	if k, ok := typesKinds[name]; ok {
		return k
	}
	return event.KindText
}

// KindOf returns the Kind of a base type given its pg_type.typname. Names
// starting with "_" are arrays (KindArray); unknown names are KindText. It
// cannot tell enums, composites or user ranges apart from other unknown types:
// use NewType when pg_type.typtype is at hand.
func KindOf(name string) event.Kind {
	if len(name) > 1 && name[0] == '_' {
		return event.KindArray
	}
	return BaseKind(name)
}

// NewType builds the event.Type of a column from the catalog: its declared
// type OID, its base type's pg_type.typname, typtype ('b' base, 'e' enum,
// 'c' composite, 'r' range, 'm' multirange, 'd' domain, 'p' pseudo; 0 if
// unknown) and typcategory ('A' for arrays; 0 if unknown), and, for an
// array, its element type. It is the one resolver of a type's Kind: the
// source resolves every column through it. Domains must already be resolved
// to their base type's name, typtype and category by the caller (oid stays
// the domain's).
//
// An array is a type of category 'A' with an element type. When the
// category is unknown (0), a name starting with "_" is an array whose
// element type is derived from the name ("_int4" → int4 by KindOf) unless
// elem is given; pass elem whenever the element is an enum, composite or
// range, which the name alone cannot reveal. elem is ignored for
// non-arrays.
func NewType(oid uint32, name string, typtype, category byte, elem *event.Type) event.Type {
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
	switch {
	case category == 'A' && elem != nil:
		t.Kind, t.Elem = event.KindArray, elem
		return t
	case category != 0:
		t.Kind = BaseKind(name)
		return t
	}
	t.Kind = KindOf(name)
	if t.Kind == event.KindArray {
		if elem == nil {
			en := strings.TrimPrefix(name, "_")
			elem = &event.Type{Name: en, Kind: KindOf(en)}
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

package schema

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"math/bits"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/pg2kafka/pg2kafka/event"
)

// This file is the Avro format (docs/avro.md): a record schema per table,
// derived from its columns, registered in a Confluent schema registry, and
// an encoder that appends Avro binary in the Confluent wire format (magic
// byte 0, the 4-byte big-endian schema ID, the body) straight from the text
// form of the values, without building Go values.
//
// Two rules keep the schemas stable, so a table does not flip between
// registered versions:
//
//   - A schema depends only on the column names, their Kind and base type
//     name (and the decimal hook of AvroDecimal), never on what only
//     discovery knows (nullability, comments, collations, domain OIDs): an
//     encoder built for a backfill (from discovery) and one built on a
//     RELATION message (which carries none of that) give the same text.
//   - Every column field is a union ["null", T] with default null, whatever
//     the column's NOT NULL: a delete carries only the replica identity's
//     columns, an update leaves unchanged TOASTed values out, and the
//     stream does not know nullability. All of those are written as null.

// AvroOption configures AvroSchemas and an AvroRegistry.
type AvroOption func(*avroOptions)

type avroOptions struct {
	namespace string
	tag       string
	compat    sr.CompatibilityLevel
	timeout   time.Duration
	decimal   func(t *event.Table, col int) (precision, scale int, ok bool)
}

// AvroNamespace sets the namespace prefix of the registry's record names
// (default "pg2kafka"); the records of table s.t are in namespace
// "<prefix>.<s>.<t>" (each part sanitized, see AvroSchemas).
func AvroNamespace(ns string) AvroOption { return func(o *avroOptions) { o.namespace = ns } }

// AvroSourceTag sets the value written as _meta.source.tag (null if empty).
func AvroSourceTag(tag string) AvroOption { return func(o *avroOptions) { o.tag = tag } }

// AvroCompatibility sets the compatibility level the registry gives a
// subject pg2kafka creates (default sr.CompatBackward). An existing
// subject's level is left alone; 0 leaves new subjects at the registry's
// global level too.
func AvroCompatibility(l sr.CompatibilityLevel) AvroOption {
	return func(o *avroOptions) { o.compat = l }
}

// AvroTimeout bounds the registry requests made for one table shape by the
// function NewEncoder returns (default 30s).
func AvroTimeout(d time.Duration) AvroOption { return func(o *avroOptions) { o.timeout = d } }

// AvroDecimal gives the precision and scale of a numeric column (t.Columns
// [col]), for which ok=true makes the field an Avro decimal (bytes) instead
// of a string. event.Type has no typmod, so without this hook every numeric
// is a string; see NumericTypmod. The function must answer the same for a
// table shape from discovery and from the stream. A precision outside
// 1..1000 or a scale outside 0..precision is ignored (string).
func AvroDecimal(f func(t *event.Table, col int) (precision, scale int, ok bool)) AvroOption {
	return func(o *avroOptions) { o.decimal = f }
}

// NumericTypmod decodes a numeric column's pg_attribute.atttypmod (also
// in pgoutput's RELATION message) into its declared precision and scale;
// ok is false for an unconstrained numeric (typmod -1). The scale may be
// negative or exceed the precision (PostgreSQL 15+), which Avro decimals
// cannot express: AvroDecimal then falls back to string.
func NumericTypmod(typmod int32) (precision, scale int, ok bool) {
	if typmod < 4 {
		return 0, 0, false
	}
	t := typmod - 4
	return int(t>>16) & 0xffff, int((t&0x7ff)^1024) - 1024, true
}

func avroOpts(opts []AvroOption) avroOptions {
	o := avroOptions{namespace: "pg2kafka", compat: sr.CompatBackward, timeout: 30 * time.Second}
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	return o
}

// avroKind is how one column (or array element) is written.
type avroKind uint8

const (
	avroString avroKind = iota
	avroBool
	avroInt
	avroLong
	avroFloat
	avroDouble
	avroBytes
	avroDecimal
	avroDate
	avroTime
	avroTimestamp
	avroUUID
	avroArray
)

type avroCol struct {
	kind             avroKind
	elem             avroKind // arrays
	delim            byte     // arrays: ',' (';' for box)
	precision, scale int      // decimals
}

func avroKindOf(t *event.Type) avroKind {
	switch t.Kind {
	case event.KindBool:
		return avroBool
	case event.KindInt:
		if t.Name == "int2" || t.Name == "int4" {
			return avroInt
		}
		return avroLong
	case event.KindFloat4:
		return avroFloat
	case event.KindFloat8:
		return avroDouble
	case event.KindBytea:
		return avroBytes
	case event.KindDate:
		return avroDate
	case event.KindTime:
		return avroTime
	case event.KindTimestamp, event.KindTimestampTZ:
		return avroTimestamp
	case event.KindUUID:
		return avroUUID
	case event.KindArray:
		return avroArray
	}
	return avroString
}

func avroColumn(t *event.Table, i int, o *avroOptions) avroCol {
	typ := &t.Columns[i].Type
	c := avroCol{kind: avroKindOf(typ)}
	switch typ.Kind {
	case event.KindNumeric:
		if o.decimal != nil {
			if p, s, ok := o.decimal(t, i); ok && p >= 1 && p <= 1000 && s >= 0 && s <= p {
				c.kind, c.precision, c.scale = avroDecimal, p, s
			}
		}
	case event.KindArray:
		c.delim = ','
		if typ.Elem != nil && typ.Elem.Kind != event.KindArray {
			c.elem = avroKindOf(typ.Elem)
			if typ.Elem.Name == "box" {
				c.delim = ';'
			}
		}
	}
	return c
}

// avroTypeJSON is the schema of a column's non-null values.
func avroTypeJSON(c avroCol) any {
	logical := func(typ, name string) map[string]any { return map[string]any{"type": typ, "logicalType": name} }
	switch c.kind {
	case avroBool:
		return "boolean"
	case avroInt:
		return "int"
	case avroLong:
		return "long"
	case avroFloat:
		return "float"
	case avroDouble:
		return "double"
	case avroBytes:
		return "bytes"
	case avroDecimal:
		m := logical("bytes", "decimal")
		m["precision"], m["scale"] = c.precision, c.scale
		return m
	case avroDate:
		return logical("int", "date")
	case avroTime:
		return logical("long", "time-micros")
	case avroTimestamp:
		return logical("long", "timestamp-micros")
	case avroUUID:
		return logical("string", "uuid")
	case avroArray:
		return map[string]any{"type": "array", "items": []any{"null", avroTypeJSON(avroCol{kind: c.elem})}}
	}
	return "string"
}

// avroName makes s a valid Avro name: every character other than an ASCII
// letter, digit or '_' becomes '_', and a leading digit gets a '_' before it.
func avroName(s string) string {
	var b strings.Builder
	for i, r := range s {
		switch {
		case r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z'):
			b.WriteRune(r)
		case r >= '0' && r <= '9':
			if i == 0 {
				b.WriteByte('_')
			}
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	if b.Len() == 0 {
		return "_"
	}
	return b.String()
}

// avroFieldNames gives each column its field name: avroName of the column
// name, with "_2", "_3", ... appended when an earlier column (in attribute
// order) or _meta already has it.
func avroFieldNames(t *event.Table) []string {
	used := map[string]bool{"_meta": true}
	names := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		n := avroName(c.Name)
		if used[n] {
			for k := 2; ; k++ {
				if cand := n + "_" + strconv.Itoa(k); !used[cand] {
					n = cand
					break
				}
			}
		}
		used[n] = true
		names[i] = n
	}
	return names
}

type avroRecordJSON struct {
	Type      string          `json:"type"`
	Name      string          `json:"name"`
	Namespace string          `json:"namespace,omitempty"`
	Fields    []avroFieldJSON `json:"fields"`
}

type avroFieldJSON struct {
	Name    string          `json:"name"`
	Type    any             `json:"type"`
	Default json.RawMessage `json:"default,omitempty"`
	// Column is the PostgreSQL column name when the field name differs.
	Column string `json:"pg.column,omitempty"`
}

var avroNullDefault = json.RawMessage("null")

// avroPlan is a table shape's schemas and how its columns are written.
type avroPlan struct {
	table       *event.Table
	key         []int
	names       []string
	cols        []avroCol
	keySchema   string
	valueSchema string
	// ns is the records' namespace and row the column fields of the
	// Value record, for the other envelopes built on the plan
	// (avro_debezium.go).
	ns  string
	row []avroFieldJSON
}

func newAvroPlan(t *event.Table, key []int, o *avroOptions) (*avroPlan, error) {
	for _, k := range key {
		if k < 0 || k >= len(t.Columns) {
			return nil, fmt.Errorf("avro schema of %s.%s: key index %d out of range", t.Schema, t.Name, k)
		}
	}
	p := &avroPlan{table: t, key: key, names: avroFieldNames(t), cols: make([]avroCol, len(t.Columns))}
	var ns []string
	for _, part := range strings.Split(o.namespace, ".") {
		if part != "" {
			ns = append(ns, avroName(part))
		}
	}
	ns = append(ns, avroName(t.Schema), avroName(t.Name))
	field := func(i int) avroFieldJSON {
		f := avroFieldJSON{Name: p.names[i], Type: []any{"null", avroTypeJSON(p.cols[i])}, Default: avroNullDefault}
		if f.Name != t.Columns[i].Name {
			f.Column = t.Columns[i].Name
		}
		return f
	}
	row := make([]avroFieldJSON, 0, len(t.Columns)+1)
	for i := range t.Columns {
		p.cols[i] = avroColumn(t, i, o)
		row = append(row, field(i))
	}
	nullable := func(name string, typ any) avroFieldJSON {
		return avroFieldJSON{Name: name, Type: []any{"null", typ}, Default: avroNullDefault}
	}
	source := avroRecordJSON{Type: "record", Name: "Source", Fields: []avroFieldJSON{
		nullable("ts_ms", "long"),
		{Name: "schema", Type: "string"},
		{Name: "table", Type: "string"},
		nullable("snapshot", "boolean"),
		{Name: "loc", Type: map[string]any{"type": "array", "items": "long"}},
		nullable("txid", "long"),
		nullable("tag", "string"),
	}}
	meta := avroRecordJSON{Type: "record", Name: "Meta", Fields: []avroFieldJSON{
		{Name: "op", Type: map[string]any{"type": "enum", "name": "Op", "symbols": []string{"c", "u", "d"}}},
		{Name: "source", Type: source},
		nullable("before", avroRecordJSON{Type: "record", Name: "Before", Fields: row}),
	}}
	p.ns, p.row = strings.Join(ns, "."), row
	value := avroRecordJSON{Type: "record", Name: "Value", Namespace: strings.Join(ns, "."),
		Fields: append(row[:len(row):len(row)], avroFieldJSON{Name: "_meta", Type: meta})}
	b, err := json.Marshal(value)
	if err != nil {
		return nil, err
	}
	p.valueSchema = string(b)
	if len(key) > 0 {
		kf := make([]avroFieldJSON, len(key))
		for i, k := range key {
			kf[i] = field(k)
		}
		b, err := json.Marshal(avroRecordJSON{Type: "record", Name: "Key", Namespace: strings.Join(ns, "."), Fields: kf})
		if err != nil {
			return nil, err
		}
		p.keySchema = string(b)
	}
	// Our own check that the schemas are valid Avro (names above all).
	for _, s := range []string{p.keySchema, p.valueSchema} {
		if s == "" {
			continue
		}
		if _, err := avro.ParseWithCache(s, "", &avro.SchemaCache{}); err != nil {
			return nil, fmt.Errorf("avro schema of %s.%s: %w", t.Schema, t.Name, err)
		}
	}
	return p, nil
}

// AvroSchemas returns the Avro schemas of a table shape: the key schema
// (a record "Key" of the key columns in key order, "" for a keyless table)
// and the value schema (a record "Value" of every column in attribute
// order, then _meta), both in namespace "<namespace>.<schema>.<table>".
// key indexes t.Columns. The mapping of PostgreSQL types and the rules for
// names are in docs/avro.md. Of opts, only AvroDecimal applies.
func AvroSchemas(t *event.Table, key []int, namespace string, opts ...AvroOption) (keySchema, valueSchema string, err error) {
	o := avroOpts(opts)
	o.namespace = namespace
	p, err := newAvroPlan(t, key, &o)
	if err != nil {
		return "", "", err
	}
	return p.keySchema, p.valueSchema, nil
}

// AvroEncoder writes a table shape's changes as Avro binary in the
// Confluent wire format, with the schemas of AvroSchemas registered under
// the IDs it was built with. It is built once per shape; encoding appends
// to the caller's buffer and allocates only for decimals of more than 18
// digits. It implements capture.Encoder.
//
// A value whose text does not parse as its column's type (which PostgreSQL
// never sends) is written as null, as are SQL NULL, unchanged TOASTed
// values and the columns a delete's old tuple leaves out.
type AvroEncoder struct {
	plan                *avroPlan
	keyID, valueID      int
	keyHeader, valueHdr [5]byte
	source              []byte // schema and table, encoded
	tag                 []byte // tag union, encoded
}

func newAvroEncoder(p *avroPlan, keyID, valueID int, tag string) *AvroEncoder {
	e := &AvroEncoder{plan: p, keyID: keyID, valueID: valueID}
	binary.BigEndian.PutUint32(e.keyHeader[1:], uint32(keyID))
	binary.BigEndian.PutUint32(e.valueHdr[1:], uint32(valueID))
	e.source = avroAppendString(nil, []byte(p.table.Schema))
	e.source = avroAppendString(e.source, []byte(p.table.Name))
	e.tag = []byte{0}
	if tag != "" {
		e.tag = avroAppendString([]byte{2}, []byte(tag))
	}
	return e
}

// Table returns the table the encoder was built for.
func (e *AvroEncoder) Table() *event.Table { return e.plan.table }

// KeySchema returns the key schema and its registry ID ("" and 0 for a
// keyless table).
func (e *AvroEncoder) KeySchema() (schema string, id int) { return e.plan.keySchema, e.keyID }

// ValueSchema returns the value schema and its registry ID.
func (e *AvroEncoder) ValueSchema() (schema string, id int) { return e.plan.valueSchema, e.valueID }

// AppendKey appends the Kafka key: the key columns as the Key record (the
// new values for inserts and updates, the old for deletes, both in c.New).
// A change to a keyless table has no key (nothing is appended).
func (e *AvroEncoder) AppendKey(dst []byte, c *event.Change) []byte {
	if len(e.plan.key) == 0 {
		return dst
	}
	dst = append(dst, e.keyHeader[:]...)
	for _, k := range e.plan.key {
		dst = avroAppendField(dst, &e.plan.cols[k], c.New[k])
	}
	return dst
}

// AppendRowKey appends the change's row key (§2.1), exactly as
// FlowEncoder.AppendRowKey does: the row key does not depend on the format.
func (e *AvroEncoder) AppendRowKey(dst []byte, c *event.Change) ([]byte, error) {
	t := e.plan.table
	for _, k := range e.plan.key {
		v := c.New[k]
		if v.Marker != event.MarkerText {
			dst = AppendTupleNull(dst)
			continue
		}
		var err error
		dst, err = AppendRowKey(dst, &t.Columns[k].Type, v.Data)
		if err != nil {
			return dst, fmt.Errorf("row key of %s.%s column %q: %w", t.Schema, t.Name, t.Columns[k].Name, err)
		}
	}
	return dst, nil
}

// AppendDocument appends the Kafka value: the Value record of c.New (the
// old tuple for a delete) with _meta, whose before holds c.Old for an
// update that has one.
func (e *AvroEncoder) AppendDocument(dst []byte, c *event.Change) []byte {
	dst = append(dst, e.valueHdr[:]...)
	dst = e.appendRow(dst, c.New)
	// _meta.op
	switch c.Op {
	case event.OpUpdate:
		dst = append(dst, 2)
	case event.OpDelete:
		dst = append(dst, 4)
	default:
		dst = append(dst, 0)
	}
	// _meta.source
	if c.Snapshot {
		dst = append(dst, 0) // ts_ms
	} else {
		dst = avroAppendLong(append(dst, 2), c.TSMillis)
	}
	dst = append(dst, e.source...)
	if c.Snapshot {
		dst = append(dst, 2, 1)
	} else {
		dst = append(dst, 0)
	}
	dst = append(dst, 6) // loc: one block of 3
	for _, l := range c.Loc {
		dst = avroAppendLong(dst, l)
	}
	dst = append(dst, 0)
	if c.Snapshot {
		dst = append(dst, 0) // txid
	} else {
		dst = avroAppendLong(append(dst, 2), int64(c.XID))
	}
	dst = append(dst, e.tag...)
	// _meta.before
	if c.Op == event.OpUpdate && c.Old != nil {
		return e.appendRow(append(dst, 2), c.Old)
	}
	return append(dst, 0)
}

func (e *AvroEncoder) appendRow(dst []byte, row []event.Value) []byte {
	for i := range e.plan.cols {
		var v event.Value
		if i < len(row) {
			v = row[i]
		}
		dst = avroAppendField(dst, &e.plan.cols[i], v)
	}
	return dst
}

// avroAppendField writes a ["null", T] union.
func avroAppendField(dst []byte, c *avroCol, v event.Value) []byte {
	if v.Marker != event.MarkerText {
		return append(dst, 0)
	}
	mark := len(dst)
	dst, ok := avroAppendValue(append(dst, 2), c, v.Data)
	if !ok {
		return append(dst[:mark], 0)
	}
	return dst
}

// avroAppendValue writes one non-null value of a column from its text form.
// On failure dst may hold garbage after its original length.
func avroAppendValue(dst []byte, c *avroCol, text []byte) ([]byte, bool) {
	switch c.kind {
	case avroBool:
		switch string(text) {
		case "t", "true":
			return append(dst, 1), true
		case "f", "false":
			return append(dst, 0), true
		}
		return dst, false
	case avroInt:
		v, ok := avroParseInt(text)
		if !ok || v < math.MinInt32 || v > math.MaxInt32 {
			return dst, false
		}
		return avroAppendLong(dst, v), true
	case avroLong:
		v, ok := avroParseInt(text)
		if !ok {
			return dst, false
		}
		return avroAppendLong(dst, v), true
	case avroFloat:
		v, err := strconv.ParseFloat(string(text), 32)
		if err != nil {
			return dst, false
		}
		return binary.LittleEndian.AppendUint32(dst, math.Float32bits(float32(v))), true
	case avroDouble:
		v, err := strconv.ParseFloat(string(text), 64)
		if err != nil {
			return dst, false
		}
		return binary.LittleEndian.AppendUint64(dst, math.Float64bits(v)), true
	case avroBytes:
		return avroAppendBytea(dst, text)
	case avroDecimal:
		return avroAppendDecimal(dst, text, c.scale)
	case avroDate:
		d, ok := avroParseDate(text)
		if !ok || d < math.MinInt32 || d > math.MaxInt32 {
			return dst, false
		}
		return avroAppendLong(dst, d), true
	case avroTime:
		us, ok := avroParseTime(text)
		if !ok {
			return dst, false
		}
		return avroAppendLong(dst, us), true
	case avroTimestamp:
		us, ok := avroParseTimestamp(text)
		if !ok {
			return dst, false
		}
		return avroAppendLong(dst, us), true
	case avroArray:
		return avroAppendArray(dst, c, text)
	}
	// string, uuid: the text form.
	return avroAppendString(dst, text), true
}

// avroAppendLong writes an Avro int or long: zig-zag, then a base-128 varint.
func avroAppendLong(dst []byte, v int64) []byte {
	u := uint64(v<<1) ^ uint64(v>>63)
	for u >= 0x80 {
		dst = append(dst, byte(u)|0x80)
		u >>= 7
	}
	return append(dst, byte(u))
}

// avroAppendString writes Avro bytes or string: the length, then s.
func avroAppendString(dst, s []byte) []byte {
	return append(avroAppendLong(dst, int64(len(s))), s...)
}

// avroGap is the room left for a length or count written after the data.
const avroGap = binary.MaxVarintLen64

// avroPrefix writes n at mark (where avroGap bytes were reserved) and
// moves the data from mark+avroGap down after it.
func avroPrefix(dst []byte, mark int, n int64) []byte {
	var tmp [avroGap]byte
	l := len(avroAppendLong(tmp[:0], n))
	copy(dst[mark:], tmp[:l])
	return valueShiftDown(dst, mark+l, mark+avroGap)
}

// avroAppendBytea decodes bytea's hex (\x...) or escape output format.
func avroAppendBytea(dst, text []byte) ([]byte, bool) {
	mark := len(dst)
	if len(text) >= 2 && text[0] == '\\' && text[1] == 'x' {
		h := text[2:]
		if len(h)%2 != 0 {
			return dst, false
		}
		dst = avroAppendLong(dst, int64(len(h)/2))
		for i := 0; i < len(h); i += 2 {
			a, ok1 := valueUnhex(h[i])
			b, ok2 := valueUnhex(h[i+1])
			if !ok1 || !ok2 {
				return dst[:mark], false
			}
			dst = append(dst, a<<4|b)
		}
		return dst, true
	}
	dst = append(dst, make([]byte, avroGap)...)
	start := len(dst)
	for i := 0; i < len(text); {
		c := text[i]
		switch {
		case c != '\\':
			dst = append(dst, c)
			i++
		case i+1 < len(text) && text[i+1] == '\\':
			dst = append(dst, '\\')
			i += 2
		case i+3 < len(text) && text[i+1] >= '0' && text[i+1] <= '3' &&
			text[i+2] >= '0' && text[i+2] <= '7' && text[i+3] >= '0' && text[i+3] <= '7':
			dst = append(dst, (text[i+1]-'0')<<6|(text[i+2]-'0')<<3|(text[i+3]-'0'))
			i += 4
		default:
			return dst[:mark], false
		}
	}
	return avroPrefix(dst, mark, int64(len(dst)-start)), true
}

// avroParseInt parses -?[0-9]+ into an int64.
func avroParseInt(s []byte) (int64, bool) {
	neg := len(s) > 0 && s[0] == '-'
	if neg {
		s = s[1:]
	}
	if len(s) == 0 || len(s) > 19 {
		return 0, false
	}
	var u uint64
	for _, c := range s {
		if !valueIsDigit(c) {
			return 0, false
		}
		u = u*10 + uint64(c-'0')
	}
	if neg {
		if u > 1<<63 {
			return 0, false
		}
		return int64(-u), true
	}
	if u > math.MaxInt64 {
		return 0, false
	}
	return int64(u), true
}

// avroAppendDecimal writes a numeric's text ("-12.340") as Avro bytes
// holding the big-endian two's-complement bytes of its unscaled value at
// scale (decimalAppendUnscaled).
func avroAppendDecimal(dst, text []byte, scale int) ([]byte, bool) {
	mark := len(dst)
	dst = append(dst, make([]byte, avroGap)...)
	start := len(dst)
	dst, ok := decimalAppendUnscaled(dst, text, scale)
	if !ok {
		return dst[:mark], false
	}
	return avroPrefix(dst, mark, int64(len(dst)-start)), true
}

// decimalAppendUnscaled appends the big-endian two's-complement bytes
// (shortest form) of the unscaled value at scale of a numeric's text
// ("-12.340"): the bytes of Avro's decimal and of Kafka Connect's Decimal.
// Fraction digits beyond the scale must be zeros; NaN and infinities fail.
// On failure dst may hold garbage after its original length.
func decimalAppendUnscaled(dst, text []byte, scale int) ([]byte, bool) {
	neg := len(text) > 0 && text[0] == '-'
	s := text
	if neg || (len(s) > 0 && s[0] == '+') {
		s = s[1:]
	}
	intPart, frac := s, []byte(nil)
	if i := valueIndexByte(s, '.'); i >= 0 {
		intPart, frac = s[:i], s[i+1:]
	}
	if len(intPart) == 0 && len(frac) == 0 {
		return dst, false
	}
	for _, c := range intPart {
		if !valueIsDigit(c) {
			return dst, false
		}
	}
	for i, c := range frac {
		if !valueIsDigit(c) || (i >= scale && c != '0') {
			return dst, false
		}
	}
	if len(frac) > scale {
		frac = frac[:scale]
	}
	for len(intPart) > 1 && intPart[0] == '0' {
		intPart = intPart[1:]
	}
	digits := len(intPart) + scale
	if digits <= 18 {
		var v int64
		for _, c := range intPart {
			v = v*10 + int64(c-'0')
		}
		for i := 0; i < scale; i++ {
			v *= 10
			if i < len(frac) {
				v += int64(frac[i] - '0')
			}
		}
		if neg {
			v = -v
		}
		n := 1
		if v >= 0 {
			n = bits.Len64(uint64(v))/8 + 1
		} else {
			n = bits.Len64(uint64(^v))/8 + 1
		}
		for i := n - 1; i >= 0; i-- {
			dst = append(dst, byte(v>>(8*i)))
		}
		return dst, true
	}
	var sb strings.Builder
	sb.Grow(digits)
	sb.Write(intPart)
	sb.Write(frac)
	for i := len(frac); i < scale; i++ {
		sb.WriteByte('0')
	}
	x, ok := new(big.Int).SetString(sb.String(), 10)
	if !ok {
		return dst, false
	}
	var n int
	if neg {
		x.Neg(x)
		m := new(big.Int).Neg(x)
		m.Sub(m, big.NewInt(1)) // ^x = -x-1
		n = m.BitLen()/8 + 1
		x.Add(x, new(big.Int).Lsh(big.NewInt(1), uint(8*n)))
	} else {
		n = x.BitLen()/8 + 1
	}
	start := len(dst)
	dst = append(dst, make([]byte, n)...)
	x.FillBytes(dst[start:])
	return dst, true
}

// Clamps for ±infinity, as the JSON format writes them (9999-12-31 and
// 0000-01-01, 9999-12-31T23:59:59Z and 0000-01-01T00:00:00Z).
const (
	avroDateMax      = 2932896
	avroDateMin      = -719528
	avroTimestampMax = 253402300799_000000
	avroTimestampMin = -62167219200_000000
)

// avroDaysFromCivil is the count of days from 1970-01-01 to the proleptic
// Gregorian date y-m-d (astronomical year: 1 BC is 0).
func avroDaysFromCivil(y int64, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era--
	}
	yoe := y - era*400
	mp := int64((m + 9) % 12)
	doy := (153*mp+2)/5 + int64(d) - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

func avroDigits(s []byte) int64 {
	var v int64
	for _, c := range s {
		v = v*10 + int64(c-'0')
	}
	return v
}

// avroParseDay parses "Y...Y-MM-DD" at the start of s into days since the
// epoch and returns the index after it; a " BC" suffix is the caller's.
func avroParseDay(s []byte, bc bool) (days int64, end int, ok bool) {
	yd, end, ok := valueDate(s)
	if !ok || yd > 9 {
		return 0, 0, false
	}
	y := avroDigits(s[:yd])
	m, d := int(avroDigits(s[yd+1:yd+3])), int(avroDigits(s[yd+4:yd+6]))
	if m < 1 || m > 12 || d < 1 || d > 31 {
		return 0, 0, false
	}
	if bc {
		y = 1 - y
	}
	return avroDaysFromCivil(y, m, d), end, true
}

// avroParseDate converts a date's text to days since 1970-01-01.
func avroParseDate(text []byte) (int64, bool) {
	switch string(text) {
	case "infinity":
		return avroDateMax, true
	case "-infinity":
		return avroDateMin, true
	}
	bc := len(text) > 3 && string(text[len(text)-3:]) == " BC"
	if bc {
		text = text[:len(text)-3]
	}
	days, end, ok := avroParseDay(text, bc)
	if !ok || end != len(text) {
		return 0, false
	}
	return days, true
}

// avroParseClock parses "HH:MM:SS[.f]" (all of s) into microseconds.
func avroParseClock(s []byte) (int64, bool) {
	secEnd, end, ok := valueClock(s)
	if !ok || end != len(s) {
		return 0, false
	}
	h, m, sec := avroDigits(s[0:2]), avroDigits(s[3:5]), avroDigits(s[6:8])
	if h > 24 || m > 59 || sec > 60 {
		return 0, false
	}
	var us int64
	frac := s[secEnd:end]
	if len(frac) > 0 {
		frac = frac[1:]
	}
	for i := 0; i < 6; i++ {
		us *= 10
		if i < len(frac) {
			us += int64(frac[i] - '0')
		}
	}
	return ((h*60+m)*60+sec)*1_000_000 + us, true
}

// avroParseTime converts a time's text to microseconds after midnight.
func avroParseTime(text []byte) (int64, bool) {
	return avroParseClock(text)
}

// avroParseTimestamp converts timestamp and timestamptz text ("Y-MM-DD
// HH:MM:SS[.f][±HH[:MM[:SS]]][ BC]") to microseconds since the epoch.
func avroParseTimestamp(text []byte) (int64, bool) {
	switch string(text) {
	case "infinity":
		return avroTimestampMax, true
	case "-infinity":
		return avroTimestampMin, true
	}
	bc := len(text) > 3 && string(text[len(text)-3:]) == " BC"
	if bc {
		text = text[:len(text)-3]
	}
	days, dateEnd, ok := avroParseDay(text, bc)
	if !ok || dateEnd >= len(text) || text[dateEnd] != ' ' {
		return 0, false
	}
	clock := text[dateEnd+1:]
	_, end, ok := valueClock(clock)
	if !ok {
		return 0, false
	}
	off := 0
	if end < len(clock) {
		if off, ok = valueOffset(clock[end:]); !ok {
			return 0, false
		}
	}
	us, ok := avroParseClock(clock[:end])
	if !ok {
		return 0, false
	}
	secs := days*86400 - int64(off)
	const limit = math.MaxInt64/1_000_000 - 86400
	if secs > limit || secs < -limit {
		return 0, false
	}
	return secs*1_000_000 + us, true
}

// avroAppendArray writes PostgreSQL's array text (optionally with a
// "[l:u]...=" decoration) as an Avro array of ["null", elem]: one block of
// all elements, flattened in row-major order as the JSON format does.
func avroAppendArray(dst []byte, c *avroCol, text []byte) ([]byte, bool) {
	mark := len(dst)
	elem := avroCol{kind: c.elem}
	a := newArrayText(text, c.delim)
	var n int64
	for tok := a.next(); tok != arrayEnd; tok = a.next() {
		switch tok {
		case arrayError:
			return dst[:mark], false
		case arrayOpen:
			if a.depth == 1 {
				dst = append(dst, make([]byte, avroGap)...)
			}
		case arrayElem:
			n++
			switch {
			case a.null:
				dst = append(dst, 0)
			case !a.escaped:
				dst = avroAppendField(dst, &elem, event.Value{Marker: event.MarkerText, Data: a.raw})
			default:
				// Unescape into the tail of dst, convert from there, then
				// move the converted value down over the unescaped bytes.
				tmp := len(dst)
				dst = arrayAppendUnescaped(dst, a.raw)
				from := len(dst)
				dst = avroAppendField(dst, &elem, event.Value{Marker: event.MarkerText, Data: dst[tmp:from]})
				dst = valueShiftDown(dst, tmp, from)
			}
		}
	}
	if n == 0 {
		return append(dst[:mark], 0), true
	}
	return append(avroPrefix(dst, mark, n), 0), true
}

// AvroRegistry registers the schemas of table shapes in a Confluent schema
// registry under the TopicNameStrategy subjects "<topic>-key" and
// "<topic>-value", and builds their encoders. It remembers the ID of every
// schema text it registered, so a shape seen again (a RELATION message
// after a reconnect, a backfill) costs no request. It is safe for
// concurrent use.
type AvroRegistry struct {
	client *sr.Client
	opts   avroOptions

	mu      sync.Mutex
	ids     map[[2]string]int // {subject, schema} → ID
	settled map[string]bool   // subjects whose compatibility was seen to
}

// NewAvroRegistry returns a registry of table schemas on client; see the
// AvroOption functions for opts.
func NewAvroRegistry(client *sr.Client, opts ...AvroOption) *AvroRegistry {
	return &AvroRegistry{client: client, opts: avroOpts(opts), ids: map[[2]string]int{}, settled: map[string]bool{}}
}

// NewEncoder returns a capture.NewEncoder-shaped function building, for a
// table shape, the encoder of the topic topicOf names for it; it
// registers the shape's schemas first (AvroRegistry.Encoder), each call
// bounded by the AvroTimeout. Wrap it to return a capture.Encoder.
func (r *AvroRegistry) NewEncoder(topicOf func(t *event.Table) string) func(t *event.Table, key []int) (*AvroEncoder, error) {
	return func(t *event.Table, key []int) (*AvroEncoder, error) {
		ctx, cancel := context.WithTimeout(context.Background(), r.opts.timeout)
		defer cancel()
		return r.Encoder(ctx, topicOf(t), t, key)
	}
}

// Encoder registers the schemas of a table shape for topic (the key schema
// only for a keyed table) and returns its encoder. A schema the registry
// refuses (an incompatible change, say) gives an *AvroSchemaError naming
// the table, the column most likely at fault, and the registry's reason.
func (r *AvroRegistry) Encoder(ctx context.Context, topic string, t *event.Table, key []int) (*AvroEncoder, error) {
	p, err := newAvroPlan(t, key, &r.opts)
	if err != nil {
		return nil, err
	}
	keyID, valueID, err := r.registerTopic(ctx, topic, p, p.valueSchema)
	if err != nil {
		return nil, err
	}
	return newAvroEncoder(p, keyID, valueID, r.opts.tag), nil
}

// registerTopic registers a table shape's key schema (keyed tables only)
// under <topic>-key and valueSchema under <topic>-value.
func (r *AvroRegistry) registerTopic(ctx context.Context, topic string, p *avroPlan, valueSchema string) (keyID, valueID int, err error) {
	if p.keySchema != "" {
		if keyID, err = r.register(ctx, topic+"-key", p.keySchema, p); err != nil {
			return 0, 0, err
		}
	}
	if valueID, err = r.register(ctx, topic+"-value", valueSchema, p); err != nil {
		return 0, 0, err
	}
	return keyID, valueID, nil
}

func (r *AvroRegistry) register(ctx context.Context, subject, schema string, p *avroPlan) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if id, ok := r.ids[[2]string{subject, schema}]; ok {
		return id, nil
	}
	t := p.table
	fail := func(err error) error {
		return &AvroSchemaError{Schema: t.Schema, Table: t.Name, Subject: subject, Err: err}
	}
	if r.opts.compat != 0 && !r.settled[subject] {
		// Only a subject we create gets our level: an operator's choice
		// for an existing one stands.
		_, err := r.client.SubjectVersions(ctx, subject)
		var re *sr.ResponseError
		switch {
		case errors.As(err, &re) && re.ErrorCode == sr.ErrSubjectNotFound.Code:
			res := r.client.SetCompatibility(ctx, sr.SetCompatibility{Level: r.opts.compat}, subject)
			if len(res) > 0 && res[0].Err != nil {
				return 0, fail(fmt.Errorf("setting compatibility %s: %w", r.opts.compat, res[0].Err))
			}
		case err != nil:
			return 0, fail(err)
		}
		r.settled[subject] = true
	}
	id, err := r.client.RegisterSchema(ctx, subject, sr.Schema{Schema: schema, Type: sr.TypeAvro}, -1, -1)
	if err != nil {
		e := fail(err).(*AvroSchemaError)
		var re *sr.ResponseError
		if errors.As(err, &re) && (re.StatusCode == 409 || re.StatusCode == 422) {
			e.Column, e.Change = r.culprit(ctx, subject, schema, p)
		}
		return 0, e
	}
	r.ids[[2]string{subject, schema}] = id
	return id, nil
}

// culprit compares a refused schema with the subject's latest version and
// names the first column whose field changed incompatibly (or at all).
func (r *AvroRegistry) culprit(ctx context.Context, subject, schema string, p *avroPlan) (column, change string) {
	latest, err := r.client.SchemaByVersion(ctx, subject, -1)
	if err != nil {
		return "", ""
	}
	oldS, err1 := avro.ParseWithCache(latest.Schema.Schema, "", &avro.SchemaCache{})
	newS, err2 := avro.ParseWithCache(schema, "", &avro.SchemaCache{})
	oldR, ok1 := oldS.(*avro.RecordSchema)
	newR, ok2 := newS.(*avro.RecordSchema)
	if err1 != nil || err2 != nil || !ok1 || !ok2 {
		return "", ""
	}
	old := map[string]*avro.Field{}
	for _, f := range oldR.Fields() {
		old[f.Name()] = f
	}
	compat := avro.NewSchemaCompatibility()
	var firstCol, firstChange string
	for i, name := range p.names {
		var nf *avro.Field
		for _, f := range newR.Fields() {
			if f.Name() == name {
				nf = f
				break
			}
		}
		if nf == nil {
			continue // a key schema: not a key column
		}
		of := old[name]
		switch {
		case of == nil:
			if !nf.HasDefault() {
				return p.table.Columns[i].Name, "added without a default"
			}
			continue
		case of.Type().String() == nf.Type().String():
			continue
		}
		ch := fmt.Sprintf("type %s → %s", of.Type().String(), nf.Type().String())
		if compat.Compatible(nf.Type(), of.Type()) != nil || compat.Compatible(of.Type(), nf.Type()) != nil {
			return p.table.Columns[i].Name, ch
		}
		if firstCol == "" {
			firstCol, firstChange = p.table.Columns[i].Name, ch
		}
	}
	return firstCol, firstChange
}

// AvroSchemaError is a schema the registry refused (or could not be asked
// about) for a table.
type AvroSchemaError struct {
	// Schema and Table name the PostgreSQL table.
	Schema, Table string
	// Subject is the registry subject ("<topic>-key" or "<topic>-value").
	Subject string
	// Column is the PostgreSQL column whose change the registry most
	// likely refused, and Change how its field changed; both are empty
	// when no changed column was found.
	Column, Change string
	// Err is the registry's error; for a refusal, its message is the
	// registry's reason.
	Err error
}

// Error describes the refusal: table, subject, column, reason.
func (e *AvroSchemaError) Error() string {
	var b strings.Builder
	verb := "could not register"
	var re *sr.ResponseError
	if errors.As(e.Err, &re) && re.StatusCode >= 400 && re.StatusCode < 500 {
		verb = "schema registry refused"
	}
	fmt.Fprintf(&b, "%s the Avro schema of table %s.%s for subject %q", verb, e.Schema, e.Table, e.Subject)
	if e.Column != "" {
		fmt.Fprintf(&b, " (column %q: %s)", e.Column, e.Change)
	}
	fmt.Fprintf(&b, ": %v", e.Err)
	return b.String()
}

// Unwrap returns the registry's error.
func (e *AvroSchemaError) Unwrap() error { return e.Err }

// Package avro writes changes as Avro records in the Confluent wire
// format (the Flow document's envelope), and registers their schemas in a
// Confluent schema registry (Registry). Its encoding plan (Plan), with the
// Avro primitives AppendLong and AppendString, is what other envelopes in
// Avro are built on: schema/debezium writes Debezium's with it. Values are
// read by pgtext; row keys are rowkey's.
package avro

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/pg2kafka/pg2kafka/event"
	"github.com/pg2kafka/pg2kafka/schema/pgtext"
	"github.com/pg2kafka/pg2kafka/schema/rowkey"
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
//     name (and the decimal hook of Decimal), never on what only
//     discovery knows (nullability, comments, collations, domain OIDs): an
//     encoder built for a backfill (from discovery) and one built on a
//     RELATION message (which carries none of that) give the same text.
//   - Every column field is a union ["null", T] with default null, whatever
//     the column's NOT NULL: a delete carries only the replica identity's
//     columns, an update leaves unchanged TOASTed values out, and the
//     stream does not know nullability. All of those are written as null.

// Option configures Schemas, NewPlan and a Registry.
type Option func(*options)

type options struct {
	namespace string
	tag       string
	compat    sr.CompatibilityLevel
	timeout   time.Duration
	decimal   func(t *event.Table, col int) (precision, scale int, ok bool)
}

// Namespace sets the namespace prefix of the registry's record names
// (default "pg2kafka"); the records of table s.t are in namespace
// "<prefix>.<s>.<t>" (each part sanitized, see Schemas).
func Namespace(ns string) Option { return func(o *options) { o.namespace = ns } }

// SourceTag sets the value written as _meta.source.tag (null if empty).
func SourceTag(tag string) Option { return func(o *options) { o.tag = tag } }

// Compatibility sets the compatibility level the registry gives a
// subject pg2kafka creates (default sr.CompatBackward). An existing
// subject's level is left alone; 0 leaves new subjects at the registry's
// global level too.
func Compatibility(l sr.CompatibilityLevel) Option {
	return func(o *options) { o.compat = l }
}

// Timeout bounds the registry requests made for one table shape by the
// function NewEncoder returns (default 30s).
func Timeout(d time.Duration) Option { return func(o *options) { o.timeout = d } }

// Decimal gives the precision and scale of a numeric column (t.Columns
// [col]), for which ok=true makes the field an Avro decimal (bytes) instead
// of a string. event.Type has no typmod, so without this hook every numeric
// is a string; see schema.NumericTypmod. The function must answer the same for a
// table shape from discovery and from the stream. A precision outside
// 1..1000 or a scale outside 0..precision is ignored (string).
func Decimal(f func(t *event.Table, col int) (precision, scale int, ok bool)) Option {
	return func(o *options) { o.decimal = f }
}

func newOptions(opts []Option) options {
	o := options{namespace: "pg2kafka", compat: sr.CompatBackward, timeout: 30 * time.Second}
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	return o
}

// fieldType is how one column (or array element) is written.
type fieldType uint8

const (
	typeString fieldType = iota
	typeBool
	typeInt
	typeLong
	typeFloat
	typeDouble
	typeBytes
	typeDecimal
	typeDate
	typeTime
	typeTimestamp
	typeUUID
	typeArray
)

type column struct {
	kind             fieldType
	elem             fieldType // arrays
	delim            byte      // arrays: ',' (';' for box)
	precision, scale int       // decimals
}

func fieldTypeOf(t *event.Type) fieldType {
	switch t.Kind {
	case event.KindBool:
		return typeBool
	case event.KindInt:
		if t.Name == "int2" || t.Name == "int4" {
			return typeInt
		}
		return typeLong
	case event.KindFloat4:
		return typeFloat
	case event.KindFloat8:
		return typeDouble
	case event.KindBytea:
		return typeBytes
	case event.KindDate:
		return typeDate
	case event.KindTime:
		return typeTime
	case event.KindTimestamp, event.KindTimestampTZ:
		return typeTimestamp
	case event.KindUUID:
		return typeUUID
	case event.KindArray:
		return typeArray
	}
	return typeString
}

func newColumn(t *event.Table, i int, o *options) column {
	typ := &t.Columns[i].Type
	c := column{kind: fieldTypeOf(typ)}
	switch typ.Kind {
	case event.KindNumeric:
		if o.decimal != nil {
			if p, s, ok := o.decimal(t, i); ok && p >= 1 && p <= 1000 && s >= 0 && s <= p {
				c.kind, c.precision, c.scale = typeDecimal, p, s
			}
		}
	case event.KindArray:
		c.delim = ','
		if typ.Elem != nil && typ.Elem.Kind != event.KindArray {
			c.elem = fieldTypeOf(typ.Elem)
			c.delim = pgtext.ArrayDelim(typ.Elem.Name)
		}
	}
	return c
}

// typeJSON is the schema of a column's non-null values.
func typeJSON(c column) any {
	logical := func(typ, name string) map[string]any { return map[string]any{"type": typ, "logicalType": name} }
	switch c.kind {
	case typeBool:
		return "boolean"
	case typeInt:
		return "int"
	case typeLong:
		return "long"
	case typeFloat:
		return "float"
	case typeDouble:
		return "double"
	case typeBytes:
		return "bytes"
	case typeDecimal:
		m := logical("bytes", "decimal")
		m["precision"], m["scale"] = c.precision, c.scale
		return m
	case typeDate:
		return logical("int", "date")
	case typeTime:
		return logical("long", "time-micros")
	case typeTimestamp:
		return logical("long", "timestamp-micros")
	case typeUUID:
		return logical("string", "uuid")
	case typeArray:
		return map[string]any{"type": "array", "items": []any{"null", typeJSON(column{kind: c.elem})}}
	}
	return "string"
}

// sanitize makes s a valid Avro name: every character other than an ASCII
// letter, digit or '_' becomes '_', and a leading digit gets a '_' before it.
func sanitize(s string) string {
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

// fieldNames gives each column its field name: sanitize of the column
// name, with "_2", "_3", ... appended when an earlier column (in attribute
// order) or _meta already has it.
func fieldNames(t *event.Table) []string {
	used := map[string]bool{"_meta": true}
	names := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		n := sanitize(c.Name)
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

type recordJSON struct {
	Type      string      `json:"type"`
	Name      string      `json:"name"`
	Namespace string      `json:"namespace,omitempty"`
	Fields    []fieldJSON `json:"fields"`
}

type fieldJSON struct {
	Name    string          `json:"name"`
	Type    any             `json:"type"`
	Default json.RawMessage `json:"default,omitempty"`
	// Column is the PostgreSQL column name when the field name differs.
	Column string `json:"pg.column,omitempty"`
}

var nullDefault = json.RawMessage("null")

// Plan is the encoding plan of a table shape: its Avro schemas (the Key
// record and the Flow envelope's Value record) and how each of its columns
// is written. Other envelopes in Avro (schema/debezium's) build their
// value schema from its Namespace and ColumnFields and write the columns
// with AppendColumn. A Plan is immutable and safe for concurrent use.
type Plan struct {
	table       *event.Table
	key         []int
	names       []string
	cols        []column
	keySchema   string
	valueSchema string
	// ns is the records' namespace and row the column fields of the
	// Value record, for the other envelopes built on the plan
	// (ColumnFields).
	ns  string
	row []fieldJSON
}

func newLayout(t *event.Table, key []int, o *options) (*Plan, error) {
	for _, k := range key {
		if k < 0 || k >= len(t.Columns) {
			return nil, fmt.Errorf("avro schema of %s.%s: key index %d out of range", t.Schema, t.Name, k)
		}
	}
	p := &Plan{table: t, key: key, names: fieldNames(t), cols: make([]column, len(t.Columns))}
	var ns []string
	for _, part := range strings.Split(o.namespace, ".") {
		if part != "" {
			ns = append(ns, sanitize(part))
		}
	}
	ns = append(ns, sanitize(t.Schema), sanitize(t.Name))
	field := func(i int) fieldJSON {
		f := fieldJSON{Name: p.names[i], Type: []any{"null", typeJSON(p.cols[i])}, Default: nullDefault}
		if f.Name != t.Columns[i].Name {
			f.Column = t.Columns[i].Name
		}
		return f
	}
	row := make([]fieldJSON, 0, len(t.Columns)+1)
	for i := range t.Columns {
		p.cols[i] = newColumn(t, i, o)
		row = append(row, field(i))
	}
	nullable := func(name string, typ any) fieldJSON {
		return fieldJSON{Name: name, Type: []any{"null", typ}, Default: nullDefault}
	}
	source := recordJSON{Type: "record", Name: "Source", Fields: []fieldJSON{
		nullable("ts_ms", "long"),
		{Name: "schema", Type: "string"},
		{Name: "table", Type: "string"},
		nullable("snapshot", "boolean"),
		{Name: "loc", Type: map[string]any{"type": "array", "items": "long"}},
		nullable("txid", "long"),
		nullable("tag", "string"),
	}}
	meta := recordJSON{Type: "record", Name: "Meta", Fields: []fieldJSON{
		{Name: "op", Type: map[string]any{"type": "enum", "name": "Op", "symbols": []string{"c", "u", "d"}}},
		{Name: "source", Type: source},
		nullable("before", recordJSON{Type: "record", Name: "Before", Fields: row}),
	}}
	p.ns, p.row = strings.Join(ns, "."), row
	value := recordJSON{Type: "record", Name: "Value", Namespace: strings.Join(ns, "."),
		Fields: append(row[:len(row):len(row)], fieldJSON{Name: "_meta", Type: meta})}
	b, err := json.Marshal(value)
	if err != nil {
		return nil, err
	}
	p.valueSchema = string(b)
	if len(key) > 0 {
		kf := make([]fieldJSON, len(key))
		for i, k := range key {
			kf[i] = field(k)
		}
		b, err := json.Marshal(recordJSON{Type: "record", Name: "Key", Namespace: strings.Join(ns, "."), Fields: kf})
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

// NewPlan returns the encoding plan of a table shape, its records in
// namespace "<namespace>.<schema>.<table>" (as Schemas). key indexes
// t.Columns. Of opts, only Decimal applies.
func NewPlan(t *event.Table, key []int, namespace string, opts ...Option) (*Plan, error) {
	o := newOptions(opts)
	o.namespace = namespace
	return newLayout(t, key, &o)
}

// Table returns the table shape the plan was made for.
func (p *Plan) Table() *event.Table { return p.table }

// Key returns the key columns, indexes of Table().Columns in key order
// (none for a keyless table); the caller must not change them.
func (p *Plan) Key() []int { return p.key }

// Namespace returns the namespace of the plan's records,
// "<namespace>.<schema>.<table>" with every part sanitized.
func (p *Plan) Namespace() string { return p.ns }

// KeySchema returns the key schema, the record "Key" ("" for a keyless
// table).
func (p *Plan) KeySchema() string { return p.keySchema }

// ColumnFields returns the JSON array of the column fields of the Value
// record: every column in attribute order as a field ["null", T] with
// default null, without _meta. An envelope's own row record is a record
// with these fields.
func (p *Plan) ColumnFields() (json.RawMessage, error) {
	return json.Marshal(p.row)
}

// StringOrBytes reports whether column i (an index of Table().Columns) is
// written as an Avro string or bytes, whose non-null values are both a
// length and then the bytes (AppendString).
func (p *Plan) StringOrBytes(i int) bool {
	return p.cols[i].kind == typeString || p.cols[i].kind == typeBytes
}

// AppendColumn appends the value of column i (an index of
// Table().Columns) as its ["null", T] union: null for SQL NULL, an
// unchanged TOASTed or an absent value, and for text that does not parse
// as the column's type.
func (p *Plan) AppendColumn(dst []byte, i int, v event.Value) []byte {
	return appendField(dst, &p.cols[i], v)
}

// AppendKey appends the Key record of a change: its key columns (the new
// values for inserts and updates, the old for deletes, both in c.New),
// without the wire format's header. It appends nothing for a keyless
// table.
func (p *Plan) AppendKey(dst []byte, c *event.Change) []byte {
	for _, k := range p.key {
		dst = appendField(dst, &p.cols[k], c.New[k])
	}
	return dst
}

// Schemas returns the Avro schemas of a table shape: the key schema
// (a record "Key" of the key columns in key order, "" for a keyless table)
// and the value schema (a record "Value" of every column in attribute
// order, then _meta), both in namespace "<namespace>.<schema>.<table>".
// key indexes t.Columns. The mapping of PostgreSQL types and the rules for
// names are in docs/avro.md. Of opts, only Decimal applies.
func Schemas(t *event.Table, key []int, namespace string, opts ...Option) (keySchema, valueSchema string, err error) {
	p, err := NewPlan(t, key, namespace, opts...)
	if err != nil {
		return "", "", err
	}
	return p.keySchema, p.valueSchema, nil
}

// Encoder writes a table shape's changes as Avro binary in the
// Confluent wire format, with the schemas of Schemas registered under
// the IDs it was built with. It is built once per shape; encoding appends
// to the caller's buffer and allocates only for decimals of more than 18
// digits. It implements event.Encoder.
//
// A value whose text does not parse as its column's type (which PostgreSQL
// never sends) is written as null, as are SQL NULL, unchanged TOASTed
// values and the columns a delete's old tuple leaves out.
type Encoder struct {
	plan                *Plan
	keyID, valueID      int
	keyHeader, valueHdr [5]byte
	source              []byte // schema and table, encoded
	tag                 []byte // tag union, encoded
}

func newEncoder(p *Plan, keyID, valueID int, tag string) *Encoder {
	e := &Encoder{plan: p, keyID: keyID, valueID: valueID}
	binary.BigEndian.PutUint32(e.keyHeader[1:], uint32(keyID))
	binary.BigEndian.PutUint32(e.valueHdr[1:], uint32(valueID))
	e.source = appendString(nil, []byte(p.table.Schema))
	e.source = appendString(e.source, []byte(p.table.Name))
	e.tag = []byte{0}
	if tag != "" {
		e.tag = appendString([]byte{2}, []byte(tag))
	}
	return e
}

// Table returns the table the encoder was built for.
func (e *Encoder) Table() *event.Table { return e.plan.table }

// KeySchema returns the key schema and its registry ID ("" and 0 for a
// keyless table).
func (e *Encoder) KeySchema() (schema string, id int) { return e.plan.keySchema, e.keyID }

// ValueSchema returns the value schema and its registry ID.
func (e *Encoder) ValueSchema() (schema string, id int) { return e.plan.valueSchema, e.valueID }

// AppendKey appends the Kafka key: the key columns as the Key record (the
// new values for inserts and updates, the old for deletes, both in c.New).
// A change to a keyless table has no key (nothing is appended).
func (e *Encoder) AppendKey(dst []byte, c *event.Change) []byte {
	if len(e.plan.key) == 0 {
		return dst
	}
	return e.plan.AppendKey(append(dst, e.keyHeader[:]...), c)
}

// AppendRowKey appends the change's row key (§2.1), exactly as
// flow.Encoder.AppendRowKey does: the row key does not depend on the format.
func (e *Encoder) AppendRowKey(dst []byte, c *event.Change) ([]byte, error) {
	return rowkey.AppendChange(dst, e.plan.table, e.plan.key, c)
}

// AppendDocument appends the Kafka value: the Value record of c.New (the
// old tuple for a delete) with _meta, whose before holds c.Old for an
// update that has one.
func (e *Encoder) AppendDocument(dst []byte, c *event.Change) []byte {
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
		dst = appendLong(append(dst, 2), c.TSMillis)
	}
	dst = append(dst, e.source...)
	if c.Snapshot {
		dst = append(dst, 2, 1)
	} else {
		dst = append(dst, 0)
	}
	dst = append(dst, 6) // loc: one block of 3
	for _, l := range c.Loc {
		dst = appendLong(dst, l)
	}
	dst = append(dst, 0)
	if c.Snapshot {
		dst = append(dst, 0) // txid
	} else {
		dst = appendLong(append(dst, 2), int64(c.XID))
	}
	dst = append(dst, e.tag...)
	// _meta.before
	if c.Op == event.OpUpdate && c.Old != nil {
		return e.appendRow(append(dst, 2), c.Old)
	}
	return append(dst, 0)
}

func (e *Encoder) appendRow(dst []byte, row []event.Value) []byte {
	for i := range e.plan.cols {
		var v event.Value
		if i < len(row) {
			v = row[i]
		}
		dst = appendField(dst, &e.plan.cols[i], v)
	}
	return dst
}

// appendField writes a ["null", T] union.
func appendField(dst []byte, c *column, v event.Value) []byte {
	if v.Marker != event.MarkerText {
		return append(dst, 0)
	}
	mark := len(dst)
	dst, ok := appendValue(append(dst, 2), c, v.Data)
	if !ok {
		return append(dst[:mark], 0)
	}
	return dst
}

// appendValue writes one non-null value of a column from its text form.
// On failure dst may hold garbage after its original length.
func appendValue(dst []byte, c *column, text []byte) ([]byte, bool) {
	switch c.kind {
	case typeBool:
		v, ok := pgtext.ParseBool(text)
		if !ok {
			return dst, false
		}
		if v {
			return append(dst, 1), true
		}
		return append(dst, 0), true
	case typeInt:
		v, ok := pgtext.ParseInt(text)
		if !ok || v < math.MinInt32 || v > math.MaxInt32 {
			return dst, false
		}
		return appendLong(dst, v), true
	case typeLong:
		v, ok := pgtext.ParseInt(text)
		if !ok {
			return dst, false
		}
		return appendLong(dst, v), true
	case typeFloat:
		v, err := pgtext.ParseFloat(text, 32)
		if err != nil {
			return dst, false
		}
		return binary.LittleEndian.AppendUint32(dst, math.Float32bits(float32(v))), true
	case typeDouble:
		v, err := pgtext.ParseFloat(text, 64)
		if err != nil {
			return dst, false
		}
		return binary.LittleEndian.AppendUint64(dst, math.Float64bits(v)), true
	case typeBytes:
		return appendBytea(dst, text)
	case typeDecimal:
		return appendDecimal(dst, text, c.scale)
	case typeDate:
		d, ok := pgtext.ParseDate(text)
		if !ok || d < math.MinInt32 || d > math.MaxInt32 {
			return dst, false
		}
		return appendLong(dst, d), true
	case typeTime:
		us, ok := pgtext.ParseClock(text)
		if !ok {
			return dst, false
		}
		return appendLong(dst, us), true
	case typeTimestamp:
		us, ok := pgtext.ParseTimestamp(text)
		if !ok {
			return dst, false
		}
		return appendLong(dst, us), true
	case typeArray:
		return appendArray(dst, c, text)
	}
	// string, uuid: the text form.
	return appendString(dst, text), true
}

// AppendLong appends v as an Avro int or long: zig-zag, then a base-128
// varint.
func AppendLong(dst []byte, v int64) []byte { return appendLong(dst, v) }

// AppendString appends s as an Avro string or bytes: its length (as
// AppendLong), then s.
func AppendString(dst, s []byte) []byte { return appendString(dst, s) }

// AppendHeader appends the header of the Confluent wire format: the magic
// byte 0 and the schema's registry ID, 4 bytes big-endian.
func AppendHeader(dst []byte, id int) []byte {
	return binary.BigEndian.AppendUint32(append(dst, 0), uint32(id))
}

// appendLong writes an Avro int or long: zig-zag, then a base-128 varint.
func appendLong(dst []byte, v int64) []byte {
	u := uint64(v<<1) ^ uint64(v>>63)
	for u >= 0x80 {
		dst = append(dst, byte(u)|0x80)
		u >>= 7
	}
	return append(dst, byte(u))
}

// appendString writes Avro bytes or string: the length, then s.
func appendString(dst, s []byte) []byte {
	return append(appendLong(dst, int64(len(s))), s...)
}

// gap is the room left for a length or count written after the data.
const gap = binary.MaxVarintLen64

// prefixLength writes n at mark (where gap bytes were reserved) and
// moves the data from mark+gap down after it.
func prefixLength(dst []byte, mark int, n int64) []byte {
	var tmp [gap]byte
	l := len(appendLong(tmp[:0], n))
	copy(dst[mark:], tmp[:l])
	return shiftDown(dst, mark+l, mark+gap)
}

// shiftDown moves dst[from:] to dst[to:] (to <= from) and truncates.
func shiftDown(dst []byte, to, from int) []byte {
	n := copy(dst[to:], dst[from:])
	return dst[:to+n]
}

// appendBytea writes a bytea (pgtext) as Avro bytes.
func appendBytea(dst, text []byte) ([]byte, bool) {
	mark := len(dst)
	dst = append(dst, make([]byte, gap)...)
	start := len(dst)
	dst, ok := pgtext.AppendBytea(dst, text)
	if !ok {
		return dst[:mark], false
	}
	return prefixLength(dst, mark, int64(len(dst)-start)), true
}

// appendDecimal writes a numeric's text ("-12.340") as Avro bytes
// holding the big-endian two's-complement bytes of its unscaled value at
// scale (pgtext.AppendUnscaled).
func appendDecimal(dst, text []byte, scale int) ([]byte, bool) {
	mark := len(dst)
	dst = append(dst, make([]byte, gap)...)
	start := len(dst)
	dst, ok := pgtext.AppendUnscaled(dst, text, scale)
	if !ok {
		return dst[:mark], false
	}
	return prefixLength(dst, mark, int64(len(dst)-start)), true
}

// appendArray writes an array (pgtext) as an Avro array of ["null",
// elem]: one block of all elements, flattened in row-major order as the
// JSON format does.
func appendArray(dst []byte, c *column, text []byte) ([]byte, bool) {
	mark := len(dst)
	elem := column{kind: c.elem}
	conv := func(dst, text []byte) []byte {
		return appendField(dst, &elem, event.Value{Marker: event.MarkerText, Data: text})
	}
	a := pgtext.NewArray(text, c.delim)
	var n int64
	for tok := a.Next(); tok != pgtext.ArrayEnd; tok = a.Next() {
		switch tok {
		case pgtext.ArrayError:
			return dst[:mark], false
		case pgtext.ArrayOpen:
			if a.Depth == 1 {
				dst = append(dst, make([]byte, gap)...)
			}
		case pgtext.ArrayElem:
			n++
			if a.Null {
				dst = append(dst, 0)
			} else {
				dst = a.AppendElem(dst, conv)
			}
		}
	}
	if n == 0 {
		return append(dst[:mark], 0), true
	}
	return append(prefixLength(dst, mark, n), 0), true
}

// Registry registers the schemas of table shapes in a Confluent schema
// registry under the TopicNameStrategy subjects "<topic>-key" and
// "<topic>-value", and builds their encoders. It remembers the ID of every
// schema text it registered, so a shape seen again (a RELATION message
// after a reconnect, a backfill) costs no request. It is safe for
// concurrent use.
type Registry struct {
	client *sr.Client
	opts   options

	mu      sync.Mutex
	ids     map[[2]string]int // {subject, schema} → ID
	settled map[string]bool   // subjects whose compatibility was seen to
}

// NewRegistry returns a registry of table schemas on client; see the
// Option functions for opts.
func NewRegistry(client *sr.Client, opts ...Option) *Registry {
	return &Registry{client: client, opts: newOptions(opts), ids: map[[2]string]int{}, settled: map[string]bool{}}
}

// NewEncoder returns a event.NewEncoder-shaped function building, for a
// table shape, the encoder of the topic topicOf names for it; it
// registers the shape's schemas first (Registry.Encoder), each call
// bounded by the Timeout. Wrap it to return an event.Encoder (schema/format does).
func (r *Registry) NewEncoder(topicOf func(t *event.Table) string) func(t *event.Table, key []int) (*Encoder, error) {
	return func(t *event.Table, key []int) (*Encoder, error) {
		ctx, cancel := context.WithTimeout(context.Background(), r.opts.timeout)
		defer cancel()
		return r.Encoder(ctx, topicOf(t), t, key)
	}
}

// Encoder registers the schemas of a table shape for topic (the key schema
// only for a keyed table) and returns its encoder. A schema the registry
// refuses (an incompatible change, say) gives an *SchemaError naming
// the table, the column most likely at fault, and the registry's reason.
func (r *Registry) Encoder(ctx context.Context, topic string, t *event.Table, key []int) (*Encoder, error) {
	p, err := newLayout(t, key, &r.opts)
	if err != nil {
		return nil, err
	}
	keyID, valueID, err := r.Register(ctx, topic, p, p.valueSchema)
	if err != nil {
		return nil, err
	}
	return newEncoder(p, keyID, valueID, r.opts.tag), nil
}

// Plan returns the encoding plan of a table shape with the registry's
// options (Namespace and Decimal). key indexes t.Columns.
func (r *Registry) Plan(t *event.Table, key []int) (*Plan, error) {
	return newLayout(t, key, &r.opts)
}

// RequestTimeout returns the bound of the registry requests made for one
// table shape by the function NewEncoder returns (the Timeout option).
func (r *Registry) RequestTimeout() time.Duration { return r.opts.timeout }

// Register registers a plan's schemas for topic, as Encoder does: the key
// schema (keyed tables only) under "<topic>-key" and valueSchema, the
// value schema of the envelope written with the plan, under
// "<topic>-value". It returns their registry IDs (keyID 0 for a keyless
// table); a refusal is a *SchemaError.
func (r *Registry) Register(ctx context.Context, topic string, p *Plan, valueSchema string) (keyID, valueID int, err error) {
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

func (r *Registry) register(ctx context.Context, subject, schema string, p *Plan) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if id, ok := r.ids[[2]string{subject, schema}]; ok {
		return id, nil
	}
	t := p.table
	fail := func(err error) error {
		return &SchemaError{Schema: t.Schema, Table: t.Name, Subject: subject, Err: err}
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
		e := fail(err).(*SchemaError)
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
func (r *Registry) culprit(ctx context.Context, subject, schema string, p *Plan) (column, change string) {
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

// SchemaError is a schema the registry refused (or could not be asked
// about) for a table.
type SchemaError struct {
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
func (e *SchemaError) Error() string {
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
	if re != nil && re.StatusCode == 409 {
		// The subject's compatibility level forbids the change; nothing
		// past the last record encoded was committed.
		fmt.Fprintf(&b, "; to accept the change, lower the compatibility level of subject %q "+
			`(PUT /config/%s with {"compatibility":"NONE"}, or a level that allows it) and restart pg2kafka, which resumes at its last checkpoint`,
			e.Subject, e.Subject)
	}
	return b.String()
}

// Unwrap returns the registry's error.
func (e *SchemaError) Unwrap() error { return e.Err }

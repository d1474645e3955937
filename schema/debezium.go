package schema

import (
	"encoding/base64"
	"strconv"
	"time"

	"github.com/pg2kafka/pg2kafka/event"
)

// DebeziumUnavailableValue is the placeholder Debezium writes for an
// unchanged TOASTed value the server did not send (its default
// unavailable.value.placeholder).
const DebeziumUnavailableValue = "__debezium_unavailable_value"

// DebeziumOptions configures a DebeziumEncoder.
type DebeziumOptions struct {
	// Version is written as source.version: the pg2kafka version (Debezium
	// writes its own, e.g. "2.7.0.Final").
	Version string
	// Name is written as source.name: Debezium's logical server name, its
	// topic.prefix.
	Name string
	// Database is written as source.db.
	Database string
	// Now returns the processing time, written as the top-level ts_ms;
	// nil means time.Now.
	Now func() time.Time
	// ReadTime returns the time a backfilled row was read, written as its
	// source.ts_ms; nil writes 0.
	ReadTime func() time.Time
}

// DebeziumEncoder writes a table's changes as Debezium PostgreSQL connector
// change events in the form of Kafka Connect's JsonConverter with
// schemas.enable=false: the value is the bare envelope
//
//	{"before":…,"after":…,"source":{…},"op":…,"ts_ms":…,"transaction":null}
//
// and the key the bare key struct, {"id":1} (as FlowEncoder's key).
//
// Columns are written in the table's attribute order with pg2kafka's JSON
// value forms (AppendJSON, docs/types.md), not Debezium's converter defaults
// (which write numeric as base64 bytes, timestamps as epoch micros, dates as
// epoch days, json as a string, ...): see docs/debezium.md.
//
// before is null for creates, backfill reads and updates without an old
// tuple; it is the old tuple for deletes and for updates that carry one
// (REPLICA IDENTITY FULL, or a key change when the capture does not split
// it), columns the old tuple lacks (key-only identity) written as null, as
// Debezium does.
//
// An unchanged TOASTed value (which the Flow document omits) is written as
// Debezium's placeholder where the column's value is a string: the string
// DebeziumUnavailableValue for text-like, numeric, json, jsonb, uuid, enum,
// range and composite columns, the base64 of its bytes for bytea, and a
// one-element array of it for arrays of those. Other columns (fixed-width
// types, which PostgreSQL never TOASTs, and arrays of them) are omitted.
//
// It is built once per table shape; encoding a change only appends to the
// caller's buffer.
type DebeziumEncoder struct {
	table *event.Table
	// flow writes the key and the row key: they are the Flow encoder's.
	flow *FlowEncoder
	now  func() time.Time
	read func() time.Time

	names [][]byte // `"name":` per column
	// toast is the placeholder per column for an unchanged TOASTed value,
	// nil to omit the column.
	toast [][]byte
	// Constant parts of source:
	srcHead []byte // `,"source":{"version":…,"connector":"postgresql","name":…,"ts_ms":`
	srcDB   []byte // `,"db":…,"sequence":`
	srcTab  []byte // `,"schema":…,"table":…,"txId":`
}

// NewDebeziumEncoder prepares the Debezium encoding of a table's changes.
// key holds the indexes of the key columns in t.Columns, in key order.
func NewDebeziumEncoder(t *event.Table, key []int, opts DebeziumOptions) *DebeziumEncoder {
	e := &DebeziumEncoder{table: t, flow: NewFlowEncoder(t, key, ""), now: opts.Now, read: opts.ReadTime}
	if e.now == nil {
		e.now = time.Now
	}
	e.names = make([][]byte, len(t.Columns))
	e.toast = make([][]byte, len(t.Columns))
	for i := range t.Columns {
		c := &t.Columns[i]
		e.names[i] = append(valueAppendString(nil, []byte(c.Name)), ':')
		e.toast[i] = debeziumToastPlaceholder(&c.Type)
	}
	h := append([]byte(`,"source":{"version":`), valueAppendString(nil, []byte(opts.Version))...)
	h = append(h, `,"connector":"postgresql","name":`...)
	h = valueAppendString(h, []byte(opts.Name))
	e.srcHead = append(h, `,"ts_ms":`...)
	e.srcDB = append(valueAppendString([]byte(`,"db":`), []byte(opts.Database)), `,"sequence":`...)
	s := append(valueAppendString([]byte(`,"schema":`), []byte(t.Schema)), `,"table":`...)
	e.srcTab = append(valueAppendString(s, []byte(t.Name)), `,"txId":`...)
	return e
}

// debeziumToastPlaceholder is the JSON written for an unchanged TOASTed
// value of type t, or nil when the column is to be omitted.
func debeziumToastPlaceholder(t *event.Type) []byte {
	str := valueAppendString(nil, []byte(DebeziumUnavailableValue))
	switch t.Kind {
	case event.KindBytea:
		return valueAppendString(nil, []byte(base64.StdEncoding.EncodeToString([]byte(DebeziumUnavailableValue))))
	case event.KindArray:
		if t.Elem != nil && debeziumStringKind(t.Elem.Kind) {
			return append(append([]byte{'['}, str...), ']')
		}
		return nil
	}
	if debeziumStringKind(t.Kind) {
		return str
	}
	return nil
}

// debeziumStringKind reports whether Debezium writes a value of kind k as a
// string and so writes its placeholder string for an unchanged TOASTed one.
func debeziumStringKind(k event.Kind) bool {
	switch k {
	case event.KindText, event.KindNumeric, event.KindJSON, event.KindJSONB, event.KindUUID,
		event.KindEnum, event.KindRange, event.KindComposite:
		return true
	}
	return false
}

// Table returns the table the encoder was built for.
func (e *DebeziumEncoder) Table() *event.Table { return e.table }

// AppendKey appends the Kafka key, as FlowEncoder.AppendKey: a JSON object
// of the key columns in key order ({"id":5001}); nothing for a keyless table
// (Debezium's key is null there too).
func (e *DebeziumEncoder) AppendKey(dst []byte, c *event.Change) []byte {
	return e.flow.AppendKey(dst, c)
}

// AppendRowKey appends the change's row key (§2.1), as
// FlowEncoder.AppendRowKey.
func (e *DebeziumEncoder) AppendRowKey(dst []byte, c *event.Change) ([]byte, error) {
	return e.flow.AppendRowKey(dst, c)
}

// AppendDocument appends the change's Debezium envelope (the Kafka value).
func (e *DebeziumEncoder) AppendDocument(dst []byte, c *event.Change) []byte {
	var before, after []event.Value
	op := byte(c.Op)
	switch {
	case c.Snapshot:
		op, after = 'r', c.New
	case c.Op == event.OpDelete:
		before = c.New
	case c.Op == event.OpUpdate:
		before, after = c.Old, c.New
	default:
		after = c.New
	}
	dst = append(dst, `{"before":`...)
	dst = e.appendRow(dst, before)
	dst = append(dst, `,"after":`...)
	dst = e.appendRow(dst, after)

	dst = append(dst, e.srcHead...)
	if c.Snapshot {
		var ts int64
		if e.read != nil {
			ts = e.read().UnixMilli()
		}
		dst = strconv.AppendInt(dst, ts, 10)
		dst = append(dst, `,"snapshot":"true"`...)
	} else {
		dst = strconv.AppendInt(dst, c.TSMillis, 10)
		dst = append(dst, `,"snapshot":"false"`...)
	}
	dst = append(dst, e.srcDB...)
	if c.Snapshot {
		// A backfilled row has no WAL position (its Loc counts rows).
		dst = append(dst, "null"...)
	} else {
		dst = append(dst, `"[`...)
		if c.Loc[0] > 0 {
			dst = append(dst, `\"`...)
			dst = strconv.AppendInt(dst, c.Loc[0], 10)
			dst = append(dst, `\"`...)
		} else {
			dst = append(dst, "null"...)
		}
		dst = append(dst, `,\"`...)
		dst = strconv.AppendInt(dst, c.Loc[1], 10)
		dst = append(dst, `\"]"`...)
	}
	dst = append(dst, e.srcTab...)
	if c.Snapshot {
		dst = append(dst, `null,"lsn":null`...)
	} else {
		dst = strconv.AppendUint(dst, uint64(c.XID), 10)
		dst = append(dst, `,"lsn":`...)
		dst = strconv.AppendInt(dst, c.Loc[1], 10)
	}
	dst = append(dst, `,"xmin":null},"op":"`...)
	dst = append(dst, op)
	dst = append(dst, `","ts_ms":`...)
	dst = strconv.AppendInt(dst, e.now().UnixMilli(), 10)
	return append(dst, `,"transaction":null}`...)
}

// appendRow appends a row as a JSON object of every column in attribute
// order (null for a nil row): SQL NULL and columns the tuple lacks are null,
// unchanged TOASTed values their placeholder or nothing.
func (e *DebeziumEncoder) appendRow(dst []byte, row []event.Value) []byte {
	if row == nil {
		return append(dst, "null"...)
	}
	dst = append(dst, '{')
	first := true
	for i := range e.table.Columns {
		var v event.Value
		if i < len(row) {
			v = row[i]
		}
		if v.Marker == event.MarkerUnchanged && e.toast[i] == nil {
			continue
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = append(dst, e.names[i]...)
		switch v.Marker {
		case event.MarkerText:
			dst = AppendJSON(dst, &e.table.Columns[i].Type, v.Data)
		case event.MarkerUnchanged:
			dst = append(dst, e.toast[i]...)
		default: // NULL, or absent from a key-only old tuple
			dst = append(dst, "null"...)
		}
	}
	return append(dst, '}')
}

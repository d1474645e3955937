// Package debezium writes the Debezium envelope: change events shaped as
// Debezium's PostgreSQL connector writes them, in both of its forms: the
// JSON form of Kafka Connect's JsonConverter (Encoder) and the Avro form of
// Confluent's AvroConverter (AvroEncoder, built on schema/avro's encoding
// plan and registry). Values are read by pgtext; where Debezium's form is
// not documented, the Flow form (schema/flow) is kept.
package debezium

import (
	"encoding/base64"
	"math"
	"strconv"
	"time"

	"github.com/pg2kafka/pg2kafka/event"
	"github.com/pg2kafka/pg2kafka/schema"
	"github.com/pg2kafka/pg2kafka/schema/flow"
	"github.com/pg2kafka/pg2kafka/schema/pgtext"
)

// UnavailableValue is the placeholder Debezium writes for an
// unchanged TOASTed value the server did not send (its default
// unavailable.value.placeholder).
const UnavailableValue = "__debezium_unavailable_value"

// Options configures an Encoder and an AvroEncoder.
type Options struct {
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
	// FlowValues writes column values in pg2kafka's Flow JSON forms
	// (flow.AppendJSON: RFC 3339 strings, numeric as a string, json embedded)
	// instead of the forms of Debezium's PostgreSQL connector defaults.
	// It applies to Encoder (JSON) only.
	FlowValues bool
}

// clock gives an envelope's times: the processing time (ts_ms) and a
// change's source.ts_ms. Both forms of the envelope keep one.
type clock struct {
	now, read func() time.Time
}

// clock returns the clock of the options: Now (time.Now when nil) and
// ReadTime.
func (o Options) clock() clock {
	k := clock{now: o.Now, read: o.ReadTime}
	if k.now == nil {
		k.now = time.Now
	}
	return k
}

// nowMillis is the processing time in milliseconds since the epoch, the
// envelope's top-level ts_ms.
func (k clock) nowMillis() int64 { return k.now().UnixMilli() }

// sourceMillis is source.ts_ms of a change: its commit time, or for a
// backfilled row the time ReadTime gives (0 without one).
func (k clock) sourceMillis(c *event.Change) int64 {
	if !c.Snapshot {
		return c.TSMillis
	}
	if k.read == nil {
		return 0
	}
	return k.read().UnixMilli()
}

// Encoder writes a table's changes as Debezium PostgreSQL connector
// change events in the form of Kafka Connect's JsonConverter with
// schemas.enable=false: the value is the bare envelope
//
//	{"before":…,"after":…,"source":{…},"op":…,"ts_ms":…,"transaction":null}
//
// and the key the bare key struct, {"id":1} (as flow.Encoder's key).
//
// Columns are written in the table's attribute order, each value in the
// form Debezium's PostgreSQL connector gives it under its default settings
// (time.precision.mode=adaptive, decimal.handling.mode=precise,
// binary.handling.mode=bytes, interval.handling.mode=numeric,
// hstore.handling.mode=json) as the JsonConverter writes it: see
// appendScalar and the type table of docs/debezium.md. With
// Options.FlowValues they are pg2kafka's Flow forms (flow.AppendJSON)
// instead.
//
// before is null for creates, backfill reads and updates without an old
// tuple; it is the old tuple for deletes and for updates that carry one
// (REPLICA IDENTITY FULL, or a key change when the capture does not split
// it), columns the old tuple lacks (key-only identity) written as null, as
// Debezium does.
//
// An unchanged TOASTed value (which the Flow document omits) is written as
// Debezium's placeholder where the column's value is a string: the string
// UnavailableValue for text-like, numeric, json, jsonb, uuid, enum,
// range and composite columns, the base64 of its bytes for bytea, and a
// one-element array of it for arrays of those. Other columns (fixed-width
// types, which PostgreSQL never TOASTs, and arrays of them) are omitted.
//
// It is built once per table shape; encoding a change only appends to the
// caller's buffer.
type Encoder struct {
	table *event.Table
	// flow writes the key and the row key: they are the Flow encoder's.
	flow  *flow.Encoder
	clock clock

	names [][]byte // `"name":` per column
	// elems converts a non-null element of an array column to its
	// Debezium form (nil for other columns, or with FlowValues).
	elems      []func(dst, text []byte) []byte
	flowValues bool
	// toast is the placeholder per column for an unchanged TOASTed value,
	// nil to omit the column.
	toast [][]byte
	// Constant parts of source:
	srcHead []byte // `,"source":{"version":…,"connector":"postgresql","name":…,"ts_ms":`
	srcDB   []byte // `,"db":…,"sequence":`
	srcTab  []byte // `,"schema":…,"table":…,"txId":`
}

// NewEncoder prepares the Debezium encoding of a table's changes.
// key holds the indexes of the key columns in t.Columns, in key order.
func NewEncoder(t *event.Table, key []int, opts Options) *Encoder {
	e := &Encoder{table: t, flow: flow.NewEncoder(t, key, ""), clock: opts.clock(), flowValues: opts.FlowValues}
	e.names = make([][]byte, len(t.Columns))
	e.toast = make([][]byte, len(t.Columns))
	e.elems = make([]func(dst, text []byte) []byte, len(t.Columns))
	for i := range t.Columns {
		c := &t.Columns[i]
		e.names[i] = append(flow.AppendString(nil, []byte(c.Name)), ':')
		e.toast[i] = toastPlaceholder(&c.Type)
		if c.Type.Kind == event.KindArray && !opts.FlowValues {
			e.elems[i] = elemFunc(c.Type.Elem, c.Type.Typmod)
		}
	}
	h := append([]byte(`,"source":{"version":`), flow.AppendString(nil, []byte(opts.Version))...)
	h = append(h, `,"connector":"postgresql","name":`...)
	h = flow.AppendString(h, []byte(opts.Name))
	e.srcHead = append(h, `,"ts_ms":`...)
	e.srcDB = append(flow.AppendString([]byte(`,"db":`), []byte(opts.Database)), `,"sequence":`...)
	s := append(flow.AppendString([]byte(`,"schema":`), []byte(t.Schema)), `,"table":`...)
	e.srcTab = append(flow.AppendString(s, []byte(t.Name)), `,"txId":`...)
	return e
}

// toastPlaceholder is the JSON written for an unchanged TOASTed
// value of type t, or nil when the column is to be omitted.
func toastPlaceholder(t *event.Type) []byte {
	str := flow.AppendString(nil, []byte(UnavailableValue))
	switch t.Kind {
	case event.KindBytea:
		return flow.AppendString(nil, []byte(base64.StdEncoding.EncodeToString([]byte(UnavailableValue))))
	case event.KindArray:
		if t.Elem != nil && stringKind(t.Elem.Kind) {
			return append(append([]byte{'['}, str...), ']')
		}
		return nil
	}
	if stringKind(t.Kind) {
		return str
	}
	return nil
}

// stringKind reports whether Debezium writes a value of kind k as a
// string and so writes its placeholder string for an unchanged TOASTed one.
func stringKind(k event.Kind) bool {
	switch k {
	case event.KindText, event.KindNumeric, event.KindJSON, event.KindJSONB, event.KindUUID,
		event.KindEnum, event.KindRange, event.KindComposite:
		return true
	}
	return false
}

// Table returns the table the encoder was built for.
func (e *Encoder) Table() *event.Table { return e.table }

// AppendKey appends the Kafka key, as flow.Encoder.AppendKey: a JSON object
// of the key columns in key order ({"id":5001}); nothing for a keyless table
// (Debezium's key is null there too).
func (e *Encoder) AppendKey(dst []byte, c *event.Change) []byte {
	return e.flow.AppendKey(dst, c)
}

// AppendRowKey appends the change's row key (§2.1), as
// flow.Encoder.AppendRowKey.
func (e *Encoder) AppendRowKey(dst []byte, c *event.Change) ([]byte, error) {
	return e.flow.AppendRowKey(dst, c)
}

// AppendDocument appends the change's Debezium envelope (the Kafka value).
func (e *Encoder) AppendDocument(dst []byte, c *event.Change) []byte {
	op, before, after := parts(c)
	dst = append(dst, `{"before":`...)
	dst = e.appendRow(dst, before)
	dst = append(dst, `,"after":`...)
	dst = e.appendRow(dst, after)

	dst = append(dst, e.srcHead...)
	dst = strconv.AppendInt(dst, e.clock.sourceMillis(c), 10)
	if c.Snapshot {
		dst = append(dst, `,"snapshot":"true"`...)
	} else {
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
	dst = strconv.AppendInt(dst, e.clock.nowMillis(), 10)
	return append(AppendTxn(append(dst, `,"transaction":`...), c.Txn), '}')
}

// appendRow appends a row as a JSON object of every column in attribute
// order (null for a nil row): SQL NULL and columns the tuple lacks are null,
// unchanged TOASTed values their placeholder or nothing.
func (e *Encoder) appendRow(dst []byte, row []event.Value) []byte {
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
			if e.flowValues {
				dst = flow.AppendJSON(dst, &e.table.Columns[i].Type, v.Data)
			} else {
				dst = e.appendValue(dst, i, v.Data)
			}
		case event.MarkerUnchanged:
			dst = append(dst, e.toast[i]...)
		default: // NULL, or absent from a key-only old tuple
			dst = append(dst, "null"...)
		}
	}
	return append(dst, '}')
}

// The Debezium value forms. Each rule cites the section of Debezium's
// PostgreSQL connector documentation ("Data type mappings",
// https://debezium.io/documentation/reference/connectors/postgresql.html)
// that it follows; the default settings apply (time.precision.mode=adaptive,
// decimal.handling.mode=precise, binary.handling.mode=bytes,
// interval.handling.mode=numeric, hstore.handling.mode=json), and Kafka
// Connect's JsonConverter writes BYTES as a base64 string and a STRUCT as
// an object. Where the documentation does not say what Debezium writes, the
// Flow form (flow.AppendJSON) is kept; a value a conversion cannot handle is also
// written in its Flow form (flow.AppendJSON's rules, so always valid JSON).

// Debezium's documented values for TIMESTAMP 'infinity' and '-infinity'
// ("TIMESTAMP type": "converted to timestamps with value
// 9223372036825200000 in case of positive infinity or
// -9223372036832400000 in case of negative infinity", mimicking the JDBC
// driver). The section names one value whatever the column's precision, so
// it is written for Timestamp (millisecond) and MicroTimestamp columns alike.
const (
	timestampInfinity    = 9223372036825200000
	timestampNegInfinity = -9223372036832400000
)

// microsPerMonth is MicroDuration's month: "the 365.25 / 12.0
// formula for days per month average" ("Basic types", INTERVAL), that is
// 30.4375 days, exactly 2629800 seconds.
const microsPerMonth = 2_629_800_000_000

const microsPerDay = 86_400_000_000

// appendValue appends the Debezium form of a non-null value of column i.
func (e *Encoder) appendValue(dst []byte, i int, text []byte) []byte {
	c := &e.table.Columns[i]
	if c.Type.Kind == event.KindArray {
		// Arrays (literal type ARRAY): a JSON array of the elements'
		// forms, flat as in the Flow form (multidimensional arrays are not
		// described by the documentation). PostgreSQL gives an array
		// column the typmod of its element (numeric(10,2)[]).
		mark := len(dst)
		if out, ok := flow.AppendArray(dst, c.Type.Elem, text, e.elems[i]); ok {
			return out
		}
		return flow.AppendJSON(dst[:mark], &c.Type, text)
	}
	return appendScalar(dst, &c.Type, c.Type.Typmod, text)
}

// elemFunc returns the converter of an array's elements of type
// elem, typmod being the array column's.
func elemFunc(elem *event.Type, typmod int32) func(dst, text []byte) []byte {
	if elem == nil || elem.Kind == event.KindArray {
		elem = &textType
	}
	return func(dst, text []byte) []byte { return appendScalar(dst, elem, typmod, text) }
}

// appendScalar appends the Debezium form of a non-null scalar value
// of type t (typmod: the column's pg_attribute.atttypmod, -1 for none), or
// its Flow form where Debezium's is not documented or the text does not
// convert.
func appendScalar(dst []byte, t *event.Type, typmod int32, text []byte) []byte {
	mark := len(dst)
	if out, ok := convert(dst, t, typmod, text); ok {
		return out
	}
	return flow.AppendJSON(dst[:mark], t, text)
}

// convert converts one value; ok is false to write the Flow form
// (dst may then hold garbage past its original length).
func convert(dst []byte, t *event.Type, typmod int32, text []byte) ([]byte, bool) {
	switch t.Kind {
	case event.KindDate:
		// "Temporal types", adaptive: DATE → INT32 io.debezium.time.Date,
		// "the number of days since the epoch". The documentation gives no
		// value for ±infinity: they are written as the days of 9999-12-31
		// and 0000-01-01, the dates the Flow and Avro forms clamp them to.
		d, ok := pgtext.ParseDate(text)
		if !ok || d < math.MinInt32 || d > math.MaxInt32 {
			return dst, false
		}
		return strconv.AppendInt(dst, d, 10), true
	case event.KindTime:
		// "Temporal types", adaptive: TIME(1..3) → INT32
		// io.debezium.time.Time, milliseconds past midnight; TIME(4..6) →
		// INT64 io.debezium.time.MicroTime, microseconds past midnight.
		// The table does not list TIME(0) or TIME without a precision:
		// TIME(0) is taken with 1..3 (adaptive chooses "millisecond,
		// microsecond, or nanosecond precision values based on the
		// database column's type", and whole seconds are exact in
		// milliseconds), TIME without one (precision 6) as MicroTime.
		us, ok := pgtext.ParseClock(text)
		if !ok {
			return dst, false
		}
		if typmod >= 0 && typmod <= 3 {
			us /= 1000
		}
		return strconv.AppendInt(dst, us, 10), true
	case event.KindTimeTZ:
		// "Basic types": TIMETZ → STRING io.debezium.time.ZonedTime, "a
		// string representation of a time value with timezone information,
		// where the timezone is GMT": the time in UTC, "HH:MM:SS[.f]Z".
		return appendZonedTime(dst, text)
	case event.KindTimestamp:
		// "Temporal types", adaptive: TIMESTAMP(1..3) → INT64
		// io.debezium.time.Timestamp, milliseconds since the epoch;
		// TIMESTAMP(4..6) and TIMESTAMP → INT64
		// io.debezium.time.MicroTimestamp, microseconds since the epoch
		// ("TIMESTAMP type": the value read as UTC). TIMESTAMP(0) is taken
		// with 1..3, as TIME(0). ±infinity: the documented constants.
		switch string(text) {
		case "infinity":
			return strconv.AppendInt(dst, timestampInfinity, 10), true
		case "-infinity":
			return strconv.AppendInt(dst, timestampNegInfinity, 10), true
		}
		us, ok := pgtext.ParseTimestamp(text)
		if !ok {
			return dst, false
		}
		if typmod >= 0 && typmod <= 3 {
			ms := us / 1000
			if us%1000 < 0 {
				ms-- // floor; p ≤ 3 leaves no sub-millisecond part anyway
			}
			us = ms
		}
		return strconv.AppendInt(dst, us, 10), true
	case event.KindTimestampTZ:
		// "Basic types": TIMESTAMPTZ → STRING
		// io.debezium.time.ZonedTimestamp, "a string representation of a
		// timestamp with timezone information, where the timezone is GMT":
		// ISO 8601 in UTC with a Z, the fraction without trailing zeros
		// (as the Flow form; the server's text is already in UTC under the
		// capture's TimeZone=UTC). ±infinity and years outside 1..9999,
		// which the documentation does not cover, keep the Flow form's
		// clamps (9999-12-31T23:59:59Z, 0000-01-01T00:00:00Z).
		if string(text) == "infinity" || string(text) == "-infinity" {
			return dst, false
		}
		us, ok := pgtext.ParseTimestamp(text)
		if !ok {
			return dst, false
		}
		tm := time.UnixMicro(us).UTC()
		if y := tm.Year(); y < 1 || y > 9999 {
			return dst, false
		}
		dst = append(dst, '"')
		dst = tm.AppendFormat(dst, "2006-01-02T15:04:05.999999Z07:00")
		return append(dst, '"'), true
	case event.KindNumeric:
		// "Decimal types", precise: NUMERIC(M,D) → BYTES
		// org.apache.kafka.connect.data.Decimal, the unscaled value (the
		// scale is the schema's, dropped by a schemaless converter);
		// NUMERIC without a scale → STRUCT
		// io.debezium.data.VariableScaleDecimal {scale INT32, value BYTES}.
		// NaN (and ±Infinity) cannot be written in precise mode (the
		// section only gives them for string and double): the Flow form
		// (the string "NaN") is kept, as for a negative scale (PostgreSQL
		// 15+), which the section does not cover.
		if _, scale, ok := schema.NumericTypmod(typmod); ok {
			if scale < 0 {
				return dst, false
			}
			return appendDecimal(dst, text, scale)
		}
		return appendVariableScale(dst, text)
	case event.KindInterval:
		// "Basic types": INTERVAL → INT64 io.debezium.time.MicroDuration
		// (interval.handling.mode=numeric, the default), "the approximate
		// number of microseconds ... using the 365.25 / 12.0 formula for
		// days per month average"; a day is 24 hours. A total beyond int64
		// keeps the Flow form.
		months, days, us, ok := pgtext.ParseInterval(text)
		if !ok {
			return dst, false
		}
		total, ok := microDuration(months, days, us)
		if !ok {
			return dst, false
		}
		return strconv.AppendInt(dst, total, 10), true
	case event.KindJSON, event.KindJSONB:
		// "Basic types": JSON, JSONB → STRING io.debezium.data.Json, "the
		// string representation of a JSON document": the server's text.
		return flow.AppendString(dst, text), true
	case event.KindBytea:
		// "Basic types": BYTEA → BYTES (binary.handling.mode=bytes), which
		// the JsonConverter writes in base64: the Flow form.
		return dst, false
	case event.KindText:
		switch t.Name {
		case "money":
			// "Decimal types", precise: MONEY → BYTES Decimal at the scale
			// of money.fraction.digits (2 by default).
			return appendMoney(dst, text)
		case "inet", "cidr", "macaddr", "macaddr8":
			// "Network address types": STRING, the server's text (the
			// Flow form of inet adds a /32 or /128 mask).
			return flow.AppendString(dst, text), true
		case "bit":
			// "Basic types": BIT(1) → BOOLEAN. BIT(>1) and BIT VARYING
			// (io.debezium.data.Bits, little-endian bytes) keep the Flow
			// form: the section does not pin down the bit order within a
			// byte.
			if typmod == 1 {
				switch string(text) {
				case "1":
					return append(dst, "true"...), true
				case "0":
					return append(dst, "false"...), true
				}
			}
		}
		// "Basic types": CHAR, VARCHAR, CITEXT, XML, LTREE → STRING; other
		// text-like types as their text. HSTORE (json mode: a JSON object
		// as a string, "HSTORE type") and POINT (a {x,y} struct) keep the
		// Flow form, their text: the documentation does not give the exact
		// string Debezium writes for hstore.
		return dst, false
	}
	// BOOLEAN, the integers (INT16/INT32/INT64) and REAL/DOUBLE PRECISION
	// (FLOAT32/FLOAT64) are JSON numbers and booleans, as in the Flow form
	// (NaN and ±Infinity, which the documentation does not cover, stay
	// strings); UUID (io.debezium.data.Uuid), ENUM (io.debezium.data.Enum)
	// and the ranges ("Basic types": STRING) are strings. tsrange,
	// tstzrange and daterange keep the Flow form's RFC 3339 bounds (the
	// documentation only says "string representation", and for tstzrange
	// "with the local system time zone"). Composite types are not captured
	// by Debezium by default (include.unknown.datatypes=false); they keep
	// the Flow form.
	return dst, false
}

// microDuration is MicroDuration's microseconds of an interval,
// ok false on int64 overflow.
func microDuration(months, days, us int64) (int64, bool) {
	const maxMonths = math.MaxInt64 / microsPerMonth
	const maxDays = math.MaxInt64 / microsPerDay
	if months > maxMonths || months < -maxMonths || days > maxDays || days < -maxDays {
		return 0, false
	}
	a, b := months*microsPerMonth, days*microsPerDay
	sum := a + b
	if (a > 0 && b > 0 && sum < 0) || (a < 0 && b < 0 && sum >= 0) {
		return 0, false
	}
	total := sum + us
	if (sum > 0 && us > 0 && total < 0) || (sum < 0 && us < 0 && total >= 0) {
		return 0, false
	}
	return total, true
}

// appendDecimal writes a Kafka Connect Decimal as the JsonConverter
// does: the base64 string of its unscaled value's big-endian
// two's-complement bytes.
func appendDecimal(dst, text []byte, scale int) ([]byte, bool) {
	mark := len(dst)
	dst, ok := pgtext.AppendUnscaled(dst, text, scale)
	if !ok {
		return dst, false
	}
	return flow.QuoteBase64(dst, mark, len(dst)-mark), true
}

// appendVariableScale writes an io.debezium.data.VariableScaleDecimal
// struct, {"scale":<digits after the point>,"value":"<base64 unscaled>"}.
func appendVariableScale(dst, text []byte) ([]byte, bool) {
	scale := pgtext.Scale(text)
	dst = append(dst, `{"scale":`...)
	dst = strconv.AppendInt(dst, int64(scale), 10)
	dst = append(dst, `,"value":`...)
	dst, ok := appendDecimal(dst, text, scale)
	if !ok {
		return dst, false
	}
	return append(dst, '}'), true
}

// moneyScale is money.fraction.digits' default.
const moneyScale = 2

// appendMoney converts money's text in the C locale's form (pgtext) to a
// Decimal at moneyScale. Other lc_monetary forms fail (the Flow form, the
// text, is written).
func appendMoney(dst, text []byte) ([]byte, bool) {
	// The plain decimal goes to the tail of dst, is converted from there,
	// and the result moved down over it.
	tmp := len(dst)
	dst, ok := pgtext.AppendMoney(dst, text)
	if !ok {
		return dst, false
	}
	from := len(dst)
	dst, ok = appendDecimal(dst, dst[tmp:from], moneyScale)
	if !ok {
		return dst, false
	}
	return shiftDown(dst, tmp, from), true
}

// appendZonedTime writes a timetz (pgtext) as the same time in UTC,
// "HH:MM:SS[.f]Z" (fraction without trailing zeros).
func appendZonedTime(dst, text []byte) ([]byte, bool) {
	secEnd, end, ok := pgtext.SplitClock(text)
	if !ok {
		return dst, false
	}
	us, ok := pgtext.ParseClock(text[:end])
	if !ok {
		return dst, false
	}
	off, ok := pgtext.ParseOffset(text[end:])
	if !ok {
		return dst, false
	}
	dst = append(dst, '"')
	dst = flow.AppendClock(dst, int(us/1_000_000)-off, text[secEnd:end])
	return append(dst, 'Z', '"'), true
}

// shiftDown moves dst[from:] to dst[to:] (to <= from) and truncates.
func shiftDown(dst []byte, to, from int) []byte {
	n := copy(dst[to:], dst[from:])
	return dst[:to+n]
}

// textType is the element type used when an array's is unknown.
var textType = event.Type{Kind: event.KindText}

// parts gives a change's Debezium op and its before and after rows:
// r for backfill rows, a delete's old tuple as before, an update's old
// tuple (when the server sent one) as before.
func parts(c *event.Change) (op byte, before, after []event.Value) {
	switch {
	case c.Snapshot:
		return 'r', nil, c.New
	case c.Op == event.OpDelete:
		return byte(c.Op), c.New, nil
	case c.Op == event.OpUpdate:
		return byte(c.Op), c.Old, c.New
	}
	return byte(c.Op), nil, c.New
}

// AppendTxn appends the transaction block of a Debezium envelope: null, or
// {"id":…,"total_order":…,"data_collection_order":…} when the change
// carries its place in its transaction (provide.transaction.metadata).
func AppendTxn(dst []byte, t *event.TxnOrder) []byte {
	if t == nil {
		return append(dst, "null"...)
	}
	dst = append(dst, `{"id":`...)
	dst = strconv.AppendQuote(dst, t.ID)
	dst = append(dst, `,"total_order":`...)
	dst = strconv.AppendInt(dst, t.TotalOrder, 10)
	dst = append(dst, `,"data_collection_order":`...)
	dst = strconv.AppendInt(dst, t.CollectionOrder, 10)
	return append(dst, '}')
}

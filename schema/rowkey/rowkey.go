// Package rowkey writes and reads row keys (reference §2.4): the
// FoundationDB tuple encoding of a change's key columns, which the capture
// compares as bytes to filter the replication stream against a backfill's
// cursor, and decodes back into query parameters to resume a backfill.
// Which types can be keyed, and how, is schema.KeyModeOf's to say; the
// values are read by pgtext.
package rowkey

// This file maps PostgreSQL key column values to tuple elements (reference
// §2.4) and decodes `scanned` cursors back into query parameters; for which
// types the byte order of encoded keys equals PostgreSQL's order (§2.6) is
// schema.KeyOrderOf's to say.
//
// Values arrive in PostgreSQL's text form, as the capture reads every value
// in text form under DateStyle=ISO, TimeZone=UTC, IntervalStyle=postgres and
// extra_float_digits=3.

import (
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"math/big"
	"time"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/pg2kafka/pg2kafka/event"
	"github.com/pg2kafka/pg2kafka/schema"
	"github.com/pg2kafka/pg2kafka/schema/pgtext"
)

// TimePlaceholder is the string a date, timestamp or timestamptz key
// value is replaced with when it cannot be written as a four-digit-year
// timestamp: years after 9999, BC years, and 'infinity'/'-infinity'. Flow's
// capture does the same (reference §2.6): the placeholder breaks the byte
// order of keys and cannot be used to resume a scan.
const TimePlaceholder = "0000-01-01T00:00:00Z"

// ErrTimePlaceholder is returned (wrapped) by Decode when a
// cursor holds TimePlaceholder: the original value is lost, so no
// resume parameter can be rebuilt and the table's backfill cannot continue
// precisely from that cursor.
var ErrTimePlaceholder = errors.New("row key holds the out-of-range timestamp placeholder " + TimePlaceholder)

// timeLayout is the key form of date, timestamp and timestamptz
// values: always nine fractional digits, zone Z for UTC.
const timeLayout = "2006-01-02T15:04:05.000000000Z07:00"

// numericBias is added to a numeric's decimal exponent in member E.
const numericBias = 20000

// Append appends to dst the tuple element of one key column value,
// given as its PostgreSQL text form; calling it once per key column, in key
// order, builds a row key. For SQL NULL (possible only with user-chosen keys)
// call AppendTupleNull instead.
//
// The mapping (reference §2.4):
//   - int2/int4/int8: integer; oid: unsigned integer.
//   - bool (t/f): false/true.
//   - float4: float32; float8: float64 (NaN and ±Infinity accepted).
//   - numeric: the nested tuple ("N", (E, F), B) with B produced by pgx's
//     binary numeric encoder; NaN and ±Infinity are errors.
//   - text, varchar, bpchar, name, enums, and types not known to the driver:
//     Unicode string of the raw text bytes.
//   - uuid: string, lowercase canonical form; macaddr/macaddr8: lowercase.
//   - date, timestamp, timestamptz: string YYYY-MM-DDTHH:MM:SS.fffffffffZ in
//     UTC (a date is midnight UTC). Values Go cannot hold as a four-digit
//     year (BC, after 9999, ±infinity) become TimePlaceholder, as in
//     Flow's capture.
//   - bytea (hex or escape output format): byte string.
//
// Other types are errors naming the type. On error dst is returned unchanged.
func Append(dst []byte, t *event.Type, text []byte) ([]byte, error) {
	mode, err := schema.KeyModeOf(t)
	if err != nil {
		return dst, err
	}
	out, err := appendMode(dst, mode, t, text)
	if err != nil {
		return dst, fmt.Errorf("row key: %s value %q: %w", t.Name, quote(text), err)
	}
	return out, nil
}

// quote shortens a value for an error message.
func quote(text []byte) string {
	const limit = 64
	if len(text) > limit {
		return string(text[:limit]) + "..."
	}
	return string(text)
}

// appendMode appends one value by mode.
func appendMode(dst []byte, mode schema.KeyMode, t *event.Type, text []byte) ([]byte, error) {
	switch mode {
	case schema.KeyInt:
		v, ok := pgtext.ParseInt(text)
		if !ok {
			return nil, errors.New("not an integer")
		}
		return AppendTupleInt(dst, v), nil
	case schema.KeyOID:
		v, ok := pgtext.ParseUint(text)
		if !ok || v > math.MaxUint32 {
			return nil, errors.New("not an oid")
		}
		return AppendTupleUint(dst, v), nil
	case schema.KeyBool:
		v, ok := pgtext.ParseBool(text)
		if !ok {
			return nil, errors.New("not a boolean")
		}
		return AppendTupleBool(dst, v), nil
	case schema.KeyFloat4:
		v, err := pgtext.ParseFloat(text, 32)
		if err != nil {
			return nil, err
		}
		return AppendTupleFloat32(dst, float32(v)), nil
	case schema.KeyFloat8:
		v, err := pgtext.ParseFloat(text, 64)
		if err != nil {
			return nil, err
		}
		return AppendTupleFloat64(dst, v), nil
	case schema.KeyNumeric:
		return appendNumeric(dst, text)
	case schema.KeyString:
		dst = append(dst, tupleCodeString)
		return tupleAppendEscaped(dst, text), nil
	case schema.KeyLower:
		dst = append(dst, tupleCodeString)
		for _, c := range text {
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			dst = append(dst, c)
			if c == 0x00 {
				dst = append(dst, tupleEscape)
			}
		}
		return append(dst, 0x00), nil
	case schema.KeyUUID:
		return appendUUID(dst, text)
	case schema.KeyBytea:
		b, ok := pgtext.AppendBytea(nil, text)
		if !ok {
			return nil, errors.New("malformed bytea")
		}
		return AppendTupleBytes(dst, b), nil
	case schema.KeyTime:
		tm, ok, err := parseTime(text, t.Kind)
		if err != nil {
			return nil, err
		}
		if !ok {
			return AppendTupleString(dst, TimePlaceholder), nil
		}
		// The formatted time never holds a 0x00 byte, so it needs no escaping.
		dst = append(dst, tupleCodeString)
		dst = tm.AppendFormat(dst, timeLayout)
		return append(dst, 0x00), nil
	default:
		return nil, fmt.Errorf("unknown row key mode %d", mode)
	}
}

// appendNumeric appends the nested tuple ("N", (E, F), B) of §2.4.
func appendNumeric(dst []byte, text []byte) ([]byte, error) {
	n, err := pgtext.ParseNumeric(text)
	if err != nil {
		return nil, err
	}
	if n.NaN || n.InfinityModifier != pgtype.Finite {
		return nil, errors.New("NaN and infinite numeric values cannot be row keys")
	}
	if !n.Valid || n.Int == nil {
		return nil, errors.New("parse numeric: no value")
	}
	plan := pgtype.NumericCodec{}.PlanEncode(nil, pgtype.NumericOID, pgtype.BinaryFormatCode, n)
	if plan == nil {
		return nil, errors.New("no binary numeric encode plan")
	}
	b, err := plan.Encode(n, nil)
	if err != nil {
		return nil, fmt.Errorf("encode numeric: %w", err)
	}

	dst = append(dst, tupleCodeNested)
	dst = AppendTupleString(dst, "N")
	dst = append(dst, tupleCodeNested)
	switch n.Int.Sign() {
	case 0:
		dst = AppendTupleInt(dst, 0)
		dst = AppendTupleBytes(dst, nil)
	default:
		digits := new(big.Int).Abs(n.Int).String()
		e := int64(len(digits)) + int64(n.Exp) + numericBias
		trimmed := digits
		for len(trimmed) > 1 && trimmed[len(trimmed)-1] == '0' {
			trimmed = trimmed[:len(trimmed)-1]
		}
		if n.Int.Sign() > 0 {
			dst = AppendTupleInt(dst, e)
			dst = AppendTupleBytes(dst, []byte(trimmed))
		} else {
			f := make([]byte, 0, len(trimmed)+1)
			for i := 0; i < len(trimmed); i++ {
				f = append(f, '9'-trimmed[i]+'0')
			}
			f = append(f, ':')
			dst = AppendTupleInt(dst, -e)
			dst = AppendTupleBytes(dst, f)
		}
	}
	dst = append(dst, 0x00)
	dst = AppendTupleBytes(dst, b)
	return append(dst, 0x00), nil
}

// appendUUID appends a uuid as its lowercase canonical string.
func appendUUID(dst []byte, text []byte) ([]byte, error) {
	raw, ok := pgtext.ParseUUID(text)
	if !ok {
		return nil, errors.New("malformed uuid")
	}
	var out [36]byte
	hex.Encode(out[0:8], raw[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], raw[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], raw[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], raw[8:10])
	out[23] = '-'
	hex.Encode(out[24:36], raw[10:16])
	dst = append(dst, tupleCodeString)
	dst = append(dst, out[:]...)
	return append(dst, 0x00), nil
}

// parseTime reads a date, timestamp or timestamptz (pgtext) and returns it
// in UTC. ok is false for values that have no four-digit-year form:
// 'infinity', '-infinity', BC years, years after 9999 (before or after
// conversion to UTC). A date is midnight; only a timestamptz may have a
// zone; the fraction has at most nine digits; the fields must make a valid
// date and a time before 24:00:00.
func parseTime(text []byte, kind event.Kind) (t time.Time, ok bool, err error) {
	if string(text) == "infinity" || string(text) == "-infinity" {
		return time.Time{}, false, nil
	}
	var ts pgtext.Timestamp
	if kind == event.KindDate {
		s, bc := pgtext.TrimBC(text)
		yd, end, ok := pgtext.SplitDate(s)
		if !ok || end != len(s) {
			return time.Time{}, false, errMalformedTime
		}
		ts = pgtext.Timestamp{Date: s, YearDigits: yd, BC: bc}
	} else {
		var ok bool
		if ts, ok = pgtext.SplitTimestamp(text); !ok || (ts.HasOffset && kind != event.KindTimestampTZ) {
			return time.Time{}, false, errMalformedTime
		}
	}
	if ts.YearDigits > 9 || len(ts.Clock)-ts.SecEnd > 10 || ts.Offset > 24*3600 || ts.Offset < -24*3600 {
		return time.Time{}, false, errMalformedTime
	}
	y, month, day := pgtext.DateFields(ts.Date, ts.YearDigits)
	year := int(y)
	var hour, minute, sec, nsec int
	if ts.Clock != nil {
		hour, minute, sec = pgtext.ClockFields(ts.Clock)
		if frac := ts.Clock[ts.SecEnd:]; len(frac) > 1 {
			nsec = int(pgtext.Digits(frac[1:]))
			for i := len(frac) - 1; i < 9; i++ {
				nsec *= 10
			}
		}
	}
	if month < 1 || month > 12 || day < 1 || day > daysIn(year, month) ||
		hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, false, errors.New("date/time field out of range")
	}
	if ts.BC || year > 9999 {
		return time.Time{}, false, nil
	}
	t = time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC)
	t = t.Add(-time.Duration(ts.Offset) * time.Second)
	if t.Year() < 0 || t.Year() > 9999 {
		return time.Time{}, false, nil
	}
	return t, true, nil
}

var errMalformedTime = errors.New("malformed date/time")

// daysIn is the number of days in a month of the proleptic Gregorian
// calendar.
func daysIn(year, month int) int {
	return time.Date(year, time.Month(month)+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// Decode decodes a row key (a `scanned` cursor) of the key columns
// typed by types into query parameters for pgx, one per column, for use in
// `WHERE (k1, ..., kn) > ($1, ..., $n)`. The Go types are:
//   - int2/int4/int8: int64; oid: uint32;
//   - bool: bool; float4: float32; float8: float64;
//   - numeric: pgtype.Numeric, rebuilt from member B;
//   - text-like, enum, unknown types, uuid, macaddr: string;
//   - bytea: []byte;
//   - date, timestamp, timestamptz: time.Time in UTC (a date at midnight);
//   - a null element: nil.
//
// A time element holding TimePlaceholder is an error wrapping
// ErrTimePlaceholder. A key whose element count or element types do not
// match types is an error.
func Decode(key []byte, types []*event.Type) ([]any, error) {
	elems, err := DecodeTuple(key)
	if err != nil {
		return nil, fmt.Errorf("decode row key: %w", err)
	}
	if len(elems) != len(types) {
		return nil, fmt.Errorf("decode row key: %d elements for %d key columns", len(elems), len(types))
	}
	out := make([]any, len(elems))
	for i, e := range elems {
		mode, err := schema.KeyModeOf(types[i])
		if err != nil {
			return nil, fmt.Errorf("decode row key column %d: %w", i, err)
		}
		if e == nil {
			continue
		}
		v, err := decodeElem(mode, e)
		if err != nil {
			return nil, fmt.Errorf("decode row key column %d (%s): %w", i, types[i].Name, err)
		}
		out[i] = v
	}
	return out, nil
}

// decodeElem turns one decoded tuple element into a query parameter.
func decodeElem(mode schema.KeyMode, e any) (any, error) {
	switch mode {
	case schema.KeyInt:
		if v, ok := e.(int64); ok {
			return v, nil
		}
	case schema.KeyOID:
		if v, ok := e.(int64); ok {
			if v < 0 || v > math.MaxUint32 {
				return nil, fmt.Errorf("oid %d out of range", v)
			}
			return uint32(v), nil
		}
	case schema.KeyBool:
		if v, ok := e.(bool); ok {
			return v, nil
		}
	case schema.KeyFloat4:
		if v, ok := e.(float32); ok {
			return v, nil
		}
	case schema.KeyFloat8:
		if v, ok := e.(float64); ok {
			return v, nil
		}
	case schema.KeyNumeric:
		return decodeNumeric(e)
	case schema.KeyString, schema.KeyLower, schema.KeyUUID:
		if v, ok := e.(string); ok {
			return v, nil
		}
	case schema.KeyBytea:
		if v, ok := e.([]byte); ok {
			return v, nil
		}
	case schema.KeyTime:
		if v, ok := e.(string); ok {
			if v == TimePlaceholder {
				return nil, ErrTimePlaceholder
			}
			t, err := time.Parse(timeLayout, v)
			if err != nil {
				return nil, fmt.Errorf("parse key timestamp: %w", err)
			}
			return t.UTC(), nil
		}
	}
	return nil, fmt.Errorf("unexpected tuple element %T", e)
}

// decodeNumeric rebuilds a numeric from the nested ("N", (E, F), B)
// element, using member B.
func decodeNumeric(e any) (any, error) {
	parts, ok := e.([]any)
	if !ok || len(parts) != 3 {
		return nil, fmt.Errorf("numeric key: expected nested (\"N\", (E, F), B), got %T", e)
	}
	if tag, ok := parts[0].(string); !ok || tag != "N" {
		return nil, errors.New("numeric key: missing \"N\" tag")
	}
	b, ok := parts[2].([]byte)
	if !ok {
		return nil, fmt.Errorf("numeric key: member B is %T, not bytes", parts[2])
	}
	var n pgtype.Numeric
	plan := pgtype.NumericCodec{}.PlanScan(nil, pgtype.NumericOID, pgtype.BinaryFormatCode, &n)
	if plan == nil {
		return nil, errors.New("numeric key: no binary numeric scan plan")
	}
	if err := plan.Scan(b, &n); err != nil {
		return nil, fmt.Errorf("numeric key: decode member B: %w", err)
	}
	if !n.Valid || n.NaN || n.InfinityModifier != pgtype.Finite {
		return nil, errors.New("numeric key: member B is not a finite number")
	}
	return n, nil
}

// AppendChange appends the row key of a change to table t whose key
// columns are key (indexes into t.Columns, in key order): the tuple
// encoding of the key columns' values, the new values for inserts and
// updates, the old for deletes (both in c.New). A NULL (possible only with
// user-chosen keys) is the tuple's null.
func AppendChange(dst []byte, t *event.Table, key []int, c *event.Change) ([]byte, error) {
	for _, k := range key {
		v := c.New[k]
		if v.Marker != event.MarkerText {
			dst = AppendTupleNull(dst)
			continue
		}
		var err error
		dst, err = Append(dst, &t.Columns[k].Type, v.Data)
		if err != nil {
			return dst, fmt.Errorf("row key of %s.%s column %q: %w", t.Schema, t.Name, t.Columns[k].Name, err)
		}
	}
	return dst, nil
}

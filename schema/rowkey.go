package schema

// This file maps PostgreSQL key column values to tuple elements (reference
// §2.4), decodes `scanned` cursors back into query parameters, and says for
// which types the byte order of encoded keys equals PostgreSQL's order (§2.6).
//
// Values arrive in PostgreSQL's text form, as the capture reads every value
// in text form under DateStyle=ISO, TimeZone=UTC, IntervalStyle=postgres and
// extra_float_digits=3.

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/pg2kafka/pg2kafka/event"
)

// RowKeyTimePlaceholder is the string a date, timestamp or timestamptz key
// value is replaced with when it cannot be written as a four-digit-year
// timestamp: years after 9999, BC years, and 'infinity'/'-infinity'. Flow's
// capture does the same (reference §2.6): the placeholder breaks the byte
// order of keys and cannot be used to resume a scan.
const RowKeyTimePlaceholder = "0000-01-01T00:00:00Z"

// ErrRowKeyTimePlaceholder is returned (wrapped) by DecodeRowKey when a
// cursor holds RowKeyTimePlaceholder: the original value is lost, so no
// resume parameter can be rebuilt and the table's backfill cannot continue
// precisely from that cursor.
var ErrRowKeyTimePlaceholder = errors.New("row key holds the out-of-range timestamp placeholder " + RowKeyTimePlaceholder)

// rowKeyTimeLayout is the key form of date, timestamp and timestamptz
// values: always nine fractional digits, zone Z for UTC.
const rowKeyTimeLayout = "2006-01-02T15:04:05.000000000Z07:00"

// rowKeyNumericBias is added to a numeric's decimal exponent in member E.
const rowKeyNumericBias = 20000

// rowKeyMode is how a column's values become tuple elements.
type rowKeyMode uint8

const (
	rowKeyModeInt rowKeyMode = iota + 1
	rowKeyModeOID
	rowKeyModeBool
	rowKeyModeFloat4
	rowKeyModeFloat8
	rowKeyModeNumeric
	rowKeyModeString // raw text bytes
	rowKeyModeLower  // text bytes lowercased (macaddr, macaddr8)
	rowKeyModeUUID
	rowKeyModeBytea
	rowKeyModeTime // date, timestamp, timestamptz
)

// rowKeyUnhandledText lists type names of KindText columns that Flow's
// capture cannot use as keys: pgx decodes them to Go types its tuple packer
// rejects (§2.4 "anything else"). Other KindText names, including types the
// driver does not know (citext, money, ...), are keyed by their raw text.
var rowKeyUnhandledText = map[string]bool{
	"bit": true, "varbit": true, "box": true, "char": true, "cid": true,
	"cidr": true, "circle": true, "inet": true, "line": true, "lseg": true,
	"path": true, "point": true, "polygon": true, "record": true, "tid": true,
	"tsvector": true, "xid": true, "xid8": true, "xml": true,
	"time": true, "timetz": true, "interval": true, "json": true, "jsonb": true,
}

// rowKeyModeOf resolves how values of t are keyed, or fails naming the type.
func rowKeyModeOf(t *event.Type) (rowKeyMode, error) {
	if t == nil {
		return 0, errors.New("row key: missing column type")
	}
	if t.Name == "oid" {
		return rowKeyModeOID, nil
	}
	switch t.Kind {
	case event.KindInt:
		return rowKeyModeInt, nil
	case event.KindBool:
		return rowKeyModeBool, nil
	case event.KindFloat4:
		return rowKeyModeFloat4, nil
	case event.KindFloat8:
		return rowKeyModeFloat8, nil
	case event.KindNumeric:
		return rowKeyModeNumeric, nil
	case event.KindBytea:
		return rowKeyModeBytea, nil
	case event.KindUUID:
		return rowKeyModeUUID, nil
	case event.KindDate, event.KindTimestamp, event.KindTimestampTZ:
		return rowKeyModeTime, nil
	case event.KindEnum:
		return rowKeyModeString, nil
	case event.KindText:
		switch {
		case t.Name == "macaddr" || t.Name == "macaddr8":
			return rowKeyModeLower, nil
		case rowKeyUnhandledText[t.Name]:
			return 0, fmt.Errorf("row key: unsupported key column type %q", t.Name)
		default:
			return rowKeyModeString, nil
		}
	default:
		return 0, fmt.Errorf("row key: unsupported key column type %q", t.Name)
	}
}

// AppendRowKey appends to dst the tuple element of one key column value,
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
//     year (BC, after 9999, ±infinity) become RowKeyTimePlaceholder, as in
//     Flow's capture.
//   - bytea (hex or escape output format): byte string.
//
// Other types are errors naming the type. On error dst is returned unchanged.
func AppendRowKey(dst []byte, t *event.Type, text []byte) ([]byte, error) {
	mode, err := rowKeyModeOf(t)
	if err != nil {
		return dst, err
	}
	out, err := rowKeyAppend(dst, mode, t, text)
	if err != nil {
		return dst, fmt.Errorf("row key: %s value %q: %w", t.Name, rowKeyQuote(text), err)
	}
	return out, nil
}

// rowKeyQuote shortens a value for an error message.
func rowKeyQuote(text []byte) string {
	const limit = 64
	if len(text) > limit {
		return string(text[:limit]) + "..."
	}
	return string(text)
}

// rowKeyAppend appends one value by mode.
func rowKeyAppend(dst []byte, mode rowKeyMode, t *event.Type, text []byte) ([]byte, error) {
	switch mode {
	case rowKeyModeInt:
		v, err := strconv.ParseInt(string(text), 10, 64)
		if err != nil {
			return nil, err
		}
		return AppendTupleInt(dst, v), nil
	case rowKeyModeOID:
		v, err := strconv.ParseUint(string(text), 10, 32)
		if err != nil {
			return nil, err
		}
		return AppendTupleUint(dst, v), nil
	case rowKeyModeBool:
		switch string(text) {
		case "t", "true":
			return AppendTupleBool(dst, true), nil
		case "f", "false":
			return AppendTupleBool(dst, false), nil
		}
		return nil, errors.New("not a boolean")
	case rowKeyModeFloat4:
		v, err := strconv.ParseFloat(string(text), 32)
		if err != nil {
			return nil, err
		}
		return AppendTupleFloat32(dst, float32(v)), nil
	case rowKeyModeFloat8:
		v, err := strconv.ParseFloat(string(text), 64)
		if err != nil {
			return nil, err
		}
		return AppendTupleFloat64(dst, v), nil
	case rowKeyModeNumeric:
		return rowKeyAppendNumeric(dst, text)
	case rowKeyModeString:
		dst = append(dst, tupleCodeString)
		return tupleAppendEscaped(dst, text), nil
	case rowKeyModeLower:
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
	case rowKeyModeUUID:
		return rowKeyAppendUUID(dst, text)
	case rowKeyModeBytea:
		b, err := rowKeyParseBytea(text)
		if err != nil {
			return nil, err
		}
		return AppendTupleBytes(dst, b), nil
	case rowKeyModeTime:
		tm, ok, err := rowKeyParseTime(text, t.Kind)
		if err != nil {
			return nil, err
		}
		if !ok {
			return AppendTupleString(dst, RowKeyTimePlaceholder), nil
		}
		// The formatted time never holds a 0x00 byte, so it needs no escaping.
		dst = append(dst, tupleCodeString)
		dst = tm.AppendFormat(dst, rowKeyTimeLayout)
		return append(dst, 0x00), nil
	default:
		return nil, fmt.Errorf("unknown row key mode %d", mode)
	}
}

// rowKeyAppendNumeric appends the nested tuple ("N", (E, F), B) of §2.4.
func rowKeyAppendNumeric(dst []byte, text []byte) ([]byte, error) {
	var n pgtype.Numeric
	if err := n.Scan(string(text)); err != nil {
		return nil, fmt.Errorf("parse numeric: %w", err)
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
		e := int64(len(digits)) + int64(n.Exp) + rowKeyNumericBias
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

// rowKeyAppendUUID appends a uuid as its lowercase canonical string. It
// accepts the canonical form in either case, plain 32 hex digits, and either
// wrapped in braces.
func rowKeyAppendUUID(dst []byte, text []byte) ([]byte, error) {
	s := text
	if len(s) >= 2 && s[0] == '{' && s[len(s)-1] == '}' {
		s = s[1 : len(s)-1]
	}
	var raw [16]byte
	var hexDigits [32]byte
	n := 0
	for i, c := range s {
		if c == '-' && len(s) == 36 && (i == 8 || i == 13 || i == 18 || i == 23) {
			continue
		}
		if n == len(hexDigits) {
			return nil, errors.New("malformed uuid")
		}
		hexDigits[n] = c
		n++
	}
	if n != len(hexDigits) || (len(s) != 32 && len(s) != 36) {
		return nil, errors.New("malformed uuid")
	}
	if _, err := hex.Decode(raw[:], hexDigits[:]); err != nil {
		return nil, fmt.Errorf("malformed uuid: %w", err)
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

// rowKeyParseBytea decodes bytea's text output: hex format (\x...) or the
// traditional escape format (backslash-octal escapes, doubled backslashes).
func rowKeyParseBytea(text []byte) ([]byte, error) {
	if len(text) >= 2 && text[0] == '\\' && text[1] == 'x' {
		h := text[2:]
		out := make([]byte, hex.DecodedLen(len(h)))
		if _, err := hex.Decode(out, h); err != nil {
			return nil, fmt.Errorf("malformed bytea hex: %w", err)
		}
		return out, nil
	}
	out := make([]byte, 0, len(text))
	for i := 0; i < len(text); i++ {
		c := text[i]
		if c != '\\' {
			out = append(out, c)
			continue
		}
		switch {
		case i+1 < len(text) && text[i+1] == '\\':
			out = append(out, '\\')
			i++
		case i+3 < len(text) && rowKeyIsOctal(text[i+1]) && text[i+1] <= '3' &&
			rowKeyIsOctal(text[i+2]) && rowKeyIsOctal(text[i+3]):
			out = append(out, (text[i+1]-'0')<<6|(text[i+2]-'0')<<3|(text[i+3]-'0'))
			i += 3
		default:
			return nil, errors.New("malformed bytea escape")
		}
	}
	return out, nil
}

// rowKeyIsOctal reports whether c is an octal digit.
func rowKeyIsOctal(c byte) bool { return '0' <= c && c <= '7' }

// rowKeyParseTime parses the ISO text output of a date, timestamp or
// timestamptz (DateStyle=ISO) and returns it in UTC. ok is false for values
// that have no four-digit-year form: 'infinity', '-infinity', BC years,
// years after 9999 (before or after conversion to UTC).
func rowKeyParseTime(text []byte, kind event.Kind) (t time.Time, ok bool, err error) {
	s := text
	if string(s) == "infinity" || string(s) == "-infinity" {
		return time.Time{}, false, nil
	}
	bc := false
	if bytes.HasSuffix(s, []byte(" BC")) {
		bc = true
		s = s[:len(s)-3]
	}
	p := rowKeyTimeParser{s: s}
	year := p.number(4, 9)
	p.expect('-')
	month := p.number(2, 2)
	p.expect('-')
	day := p.number(2, 2)
	var hour, minute, sec, nsec, offset int
	if kind != event.KindDate {
		if p.ok() && p.pos < len(p.s) && (p.s[p.pos] == ' ' || p.s[p.pos] == 'T') {
			p.pos++
		} else {
			p.fail()
		}
		hour = p.number(2, 2)
		p.expect(':')
		minute = p.number(2, 2)
		p.expect(':')
		sec = p.number(2, 2)
		if p.ok() && p.pos < len(p.s) && p.s[p.pos] == '.' {
			p.pos++
			start := p.pos
			frac := p.number(1, 9)
			for i := p.pos - start; i < 9; i++ {
				frac *= 10
			}
			nsec = frac
		}
		if kind == event.KindTimestampTZ && p.ok() && p.pos < len(p.s) {
			offset = p.zone()
		}
	}
	if !p.ok() || p.pos != len(p.s) {
		return time.Time{}, false, errors.New("malformed date/time")
	}
	if month < 1 || month > 12 || day < 1 || day > rowKeyDaysIn(year, month) ||
		hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, false, errors.New("date/time field out of range")
	}
	if bc || year > 9999 {
		return time.Time{}, false, nil
	}
	t = time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC)
	t = t.Add(-time.Duration(offset) * time.Second)
	if t.Year() < 0 || t.Year() > 9999 {
		return time.Time{}, false, nil
	}
	return t, true, nil
}

// rowKeyDaysIn is the number of days in a month of the proleptic Gregorian
// calendar.
func rowKeyDaysIn(year, month int) int {
	return time.Date(year, time.Month(month)+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// rowKeyTimeParser is a small cursor over a date/time text; after the first
// failure every step is a no-op and ok reports false.
type rowKeyTimeParser struct {
	s      []byte
	pos    int
	failed bool
}

func (p *rowKeyTimeParser) ok() bool { return !p.failed }
func (p *rowKeyTimeParser) fail()    { p.failed = true }

// number reads lo..hi decimal digits.
func (p *rowKeyTimeParser) number(lo, hi int) int {
	if p.failed {
		return 0
	}
	v, n := 0, 0
	for p.pos < len(p.s) && n < hi && '0' <= p.s[p.pos] && p.s[p.pos] <= '9' {
		v = v*10 + int(p.s[p.pos]-'0')
		p.pos++
		n++
	}
	if n < lo {
		p.fail()
	}
	return v
}

// expect consumes the byte c.
func (p *rowKeyTimeParser) expect(c byte) {
	if p.failed {
		return
	}
	if p.pos < len(p.s) && p.s[p.pos] == c {
		p.pos++
		return
	}
	p.fail()
}

// zone reads Z or ±HH[:MM[:SS]] and returns the offset east of UTC in
// seconds.
func (p *rowKeyTimeParser) zone() int {
	if p.failed || p.pos >= len(p.s) {
		p.fail()
		return 0
	}
	switch p.s[p.pos] {
	case 'Z':
		p.pos++
		return 0
	case '+', '-':
	default:
		p.fail()
		return 0
	}
	sign := 1
	if p.s[p.pos] == '-' {
		sign = -1
	}
	p.pos++
	off := p.number(2, 2) * 3600
	for _, unit := range []int{60, 1} {
		if p.ok() && p.pos < len(p.s) && p.s[p.pos] == ':' {
			p.pos++
			off += p.number(2, 2) * unit
		} else {
			break
		}
	}
	if off > 24*3600 {
		p.fail()
	}
	return sign * off
}

// DecodeRowKey decodes a row key (a `scanned` cursor) of the key columns
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
// A time element holding RowKeyTimePlaceholder is an error wrapping
// ErrRowKeyTimePlaceholder. A key whose element count or element types do not
// match types is an error.
func DecodeRowKey(key []byte, types []*event.Type) ([]any, error) {
	elems, err := DecodeTuple(key)
	if err != nil {
		return nil, fmt.Errorf("decode row key: %w", err)
	}
	if len(elems) != len(types) {
		return nil, fmt.Errorf("decode row key: %d elements for %d key columns", len(elems), len(types))
	}
	out := make([]any, len(elems))
	for i, e := range elems {
		mode, err := rowKeyModeOf(types[i])
		if err != nil {
			return nil, fmt.Errorf("decode row key column %d: %w", i, err)
		}
		if e == nil {
			continue
		}
		v, err := rowKeyDecodeElem(mode, e)
		if err != nil {
			return nil, fmt.Errorf("decode row key column %d (%s): %w", i, types[i].Name, err)
		}
		out[i] = v
	}
	return out, nil
}

// rowKeyDecodeElem turns one decoded tuple element into a query parameter.
func rowKeyDecodeElem(mode rowKeyMode, e any) (any, error) {
	switch mode {
	case rowKeyModeInt:
		if v, ok := e.(int64); ok {
			return v, nil
		}
	case rowKeyModeOID:
		if v, ok := e.(int64); ok {
			if v < 0 || v > math.MaxUint32 {
				return nil, fmt.Errorf("oid %d out of range", v)
			}
			return uint32(v), nil
		}
	case rowKeyModeBool:
		if v, ok := e.(bool); ok {
			return v, nil
		}
	case rowKeyModeFloat4:
		if v, ok := e.(float32); ok {
			return v, nil
		}
	case rowKeyModeFloat8:
		if v, ok := e.(float64); ok {
			return v, nil
		}
	case rowKeyModeNumeric:
		return rowKeyDecodeNumeric(e)
	case rowKeyModeString, rowKeyModeLower, rowKeyModeUUID:
		if v, ok := e.(string); ok {
			return v, nil
		}
	case rowKeyModeBytea:
		if v, ok := e.([]byte); ok {
			return v, nil
		}
	case rowKeyModeTime:
		if v, ok := e.(string); ok {
			if v == RowKeyTimePlaceholder {
				return nil, ErrRowKeyTimePlaceholder
			}
			t, err := time.Parse(rowKeyTimeLayout, v)
			if err != nil {
				return nil, fmt.Errorf("parse key timestamp: %w", err)
			}
			return t.UTC(), nil
		}
	}
	return nil, fmt.Errorf("unexpected tuple element %T", e)
}

// rowKeyDecodeNumeric rebuilds a numeric from the nested ("N", (E, F), B)
// element, using member B.
func rowKeyDecodeNumeric(e any) (any, error) {
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

// KeyOrder is how PostgreSQL's ORDER BY on a key column compares with the
// byte order of the column's row-key encoding (§2.6). Precise (filtered)
// backfills need the two to be equal: the replication filter compares row
// keys as bytes against the scan's cursor, so a row the scan has yet to reach
// but whose key bytes sort before the cursor would be dropped by the filter
// and never read.
type KeyOrder uint8

const (
	// KeyOrderDiffers: the orders may differ; the table must be backfilled
	// unfiltered.
	KeyOrderDiffers KeyOrder = iota
	// KeyOrderMatches: ORDER BY on the column as it is equals byte order.
	KeyOrderMatches
	// KeyOrderMatchesCollateC: ORDER BY equals byte order once the column
	// is ordered and compared COLLATE "C" (text, varchar and name under
	// another collation). That defeats the column's index, so only a forced
	// precise mode uses it.
	KeyOrderMatchesCollateC
)

// KeyOrderOf is the one place that decides, for a key column of type t,
// whether PostgreSQL's ORDER BY order equals the byte order of its row-key
// encoding (§2.6). Discovery, the choice of a binding's mode and the backfill
// query all ask it.
//
// KeyOrderMatches for integers, oid, bool, bytea, uuid, macaddr/macaddr8,
// numeric, float4/float8 (PostgreSQL's -0 = 0 aside, which a unique key
// cannot hold twice), date, timestamp and timestamptz (the capture's session
// is always UTC; values outside years 0-9999 become RowKeyTimePlaceholder and
// are caught by the backfill's ordering check), and text, varchar and name
// under the "C" or "POSIX" collation. KeyOrderMatchesCollateC for text,
// varchar and name under any other collation, unless the session receives
// text converted to an encoding of another byte order (a Collation suffixed
// " (WIN1252 to UTF8)", see event.Type). KeyOrderDiffers for everything
// else: enums (declaration order), bpchar (PostgreSQL ignores trailing
// blanks, so 'a' sorts before 'a\x01' while their blank-padded bytes sort the
// other way, whatever the collation), citext (case-insensitive under every
// collation), types unknown to the driver (money, domains, ...), and types
// that cannot be keys. The e2e test TestKeyOrderMatchesServer checks every
// KeyOrderMatches verdict against a real server.
func KeyOrderOf(t *event.Type) KeyOrder {
	if t == nil {
		return KeyOrderDiffers
	}
	mode, err := rowKeyModeOf(t)
	if err != nil {
		return KeyOrderDiffers
	}
	switch mode {
	case rowKeyModeInt, rowKeyModeOID, rowKeyModeBool, rowKeyModeFloat4, rowKeyModeFloat8,
		rowKeyModeNumeric, rowKeyModeLower, rowKeyModeUUID, rowKeyModeBytea, rowKeyModeTime:
		return KeyOrderMatches
	case rowKeyModeString:
		if t.Kind != event.KindText {
			return KeyOrderDiffers
		}
		switch t.Name {
		case "text", "varchar", "name":
			switch {
			case t.Collation == "C" || t.Collation == "POSIX":
				return KeyOrderMatches
			case strings.Contains(t.Collation, " ("):
				// Text converted from a server encoding (WIN1252,
				// EUC_JP, ...) whose byte order is not the order of the
				// converted bytes the row key holds.
				return KeyOrderDiffers
			}
			return KeyOrderMatchesCollateC
		}
	}
	return KeyOrderDiffers
}

// RowKeySupported reports whether values of t can be encoded in a row key
// (§2.4). A table whose key has another type cannot keep a keyed backfill
// cursor and is backfilled by physical location instead.
func RowKeySupported(t *event.Type) bool {
	_, err := rowKeyModeOf(t)
	return err == nil
}

// Package flow writes Flow documents (§3): a change as the JSON document
// Estuary Flow's PostgreSQL capture would emit, its key, and the JSON
// Schema of a column. Values are read by pgtext; row keys are rowkey's.
package flow

import (
	"bytes"
	"encoding/base64"
	"math"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/pg2kafka/pg2kafka/event"
	"github.com/pg2kafka/pg2kafka/schema/pgtext"
)

// MaxValueSize is the size above which AppendJSONTruncated cuts or replaces a
// value (8 MiB), as Flow's capture does (§3.5).
const MaxValueSize = 8 << 20

// AppendJSON appends to dst the Flow JSON value of one non-NULL column of type
// t whose PostgreSQL text output form is text (session settings DateStyle=ISO,
// TimeZone=UTC, IntervalStyle=postgres, extra_float_digits=3), and returns the
// extended slice. SQL NULL is the caller's business (it is JSON null).
//
// The value follows §6 of the Flow reference with pg2kafka's choices of §6.1.
// Arrays are written flat, in row-major order. A text form that does not parse
// as its type is written as a JSON string of the raw text, so the result is
// always valid JSON; a byte of invalid UTF-8 in a string becomes the escape of
// a lone surrogate, \udc80-\udcff (see AppendString). A nil t is
// treated as text.
func AppendJSON(dst []byte, t *event.Type, text []byte) []byte {
	return appendValue(dst, t, text, flags{})
}

// AppendJSONNested is AppendJSON except that arrays keep their dimensions
// as nested JSON arrays ({{1,2},{3,4}} → [[1,2],[3,4]]), like Flow's
// multidimensional_arrays flag. Other kinds are written as by AppendJSON.
func AppendJSONNested(dst []byte, t *event.Type, text []byte) []byte {
	return appendValue(dst, t, text, flags{nested: true})
}

// AppendJSONKey is AppendJSON for a row-key column: float4 and float8 values
// become strings in plain decimal notation, never in exponent form ("-1.1",
// "1", "0", "1000000000000000000000"); NaN and ±Infinity become "NaN",
// "Infinity" and "-Infinity". Every other kind is written as by AppendJSON.
func AppendJSONKey(dst []byte, t *event.Type, text []byte) []byte {
	return appendValue(dst, t, text, flags{key: true})
}

// AppendJSONTruncated is AppendJSON with Flow's oversized-value rules (§3.5)
// applied first: a text form longer than MaxValueSize of a kind written as a
// string of its text (text, enum, range, composite, numeric) is cut to its
// first MaxValueSize bytes (byte-wise; the bytes of a split UTF-8 sequence
// become \udc80-\udcff escapes); bytea is cut to its first MaxValueSize decoded bytes before base64;
// json and jsonb values longer than MaxValueSize are replaced by
// {"flow_truncated":true,"original_size":N}, N being the text's byte length.
// Other kinds, and arrays, are written unchanged.
func AppendJSONTruncated(dst []byte, t *event.Type, text []byte) []byte {
	return AppendJSONLimited(dst, t, text, MaxValueSize)
}

// AppendJSONLimited is AppendJSONTruncated with limit in place of
// MaxValueSize: the same rules, cutting or replacing values over limit
// bytes (used to make an oversized record fit Kafka).
func AppendJSONLimited(dst []byte, t *event.Type, text []byte, limit int) []byte {
	if t == nil || len(text) <= limit {
		return AppendJSON(dst, t, text)
	}
	switch t.Kind {
	case event.KindText, event.KindEnum, event.KindRange, event.KindComposite, event.KindNumeric:
		return AppendString(dst, text[:limit])
	case event.KindBytea:
		return appendValue(dst, t, text, flags{limit: limit})
	case event.KindJSON, event.KindJSONB:
		dst = append(dst, `{"flow_truncated":true,"original_size":`...)
		dst = strconv.AppendInt(dst, int64(len(text)), 10)
		return append(dst, '}')
	}
	return AppendJSON(dst, t, text)
}

type flags struct {
	key    bool // floats as decimal strings
	nested bool // arrays nested
	limit  int  // when > 0, cut bytea to this many bytes
	// elem, when set, converts an array's non-null elements in place of
	// appendValue (the Debezium value forms, schema/debezium).
	elem func(dst, text []byte) []byte
}

// appendValue converts one value; whenever the specific conversion fails it
// rolls dst back and writes the raw text as a JSON string.
func appendValue(dst []byte, t *event.Type, text []byte, f flags) []byte {
	if t == nil {
		return AppendString(dst, text)
	}
	mark := len(dst)
	var ok bool
	switch t.Kind {
	case event.KindBool:
		if v, ok := pgtext.ParseBool(text); ok {
			if v {
				return append(dst, "true"...)
			}
			return append(dst, "false"...)
		}
	case event.KindInt:
		if isInt(text) {
			return append(dst, text...)
		}
	case event.KindFloat4, event.KindFloat8:
		bits := 64
		if t.Kind == event.KindFloat4 {
			bits = 32
		}
		if f.key {
			dst, ok = appendFloatKey(dst, text, bits)
		} else {
			dst, ok = appendFloat(dst, text, bits)
		}
	case event.KindBytea:
		dst, ok = appendBytea(dst, text, f.limit)
	case event.KindJSON, event.KindJSONB:
		dst, ok = appendRawJSON(dst, text)
	case event.KindDate:
		dst, ok = appendDate(dst, text)
	case event.KindTime:
		dst, ok = appendTime(dst, text, false)
	case event.KindTimeTZ:
		dst, ok = appendTime(dst, text, true)
	case event.KindTimestamp, event.KindTimestampTZ:
		dst, ok = appendTimestamp(dst, text)
	case event.KindInterval:
		dst, ok = appendInterval(dst, text)
	case event.KindArray:
		dst, ok = appendArray(dst, t.Elem, text, f)
	case event.KindRange:
		switch t.Name {
		case "tsrange", "tstzrange":
			dst, ok = appendRange(dst, text, false)
		case "daterange":
			dst, ok = appendRange(dst, text, true)
		default:
			// Integer and numeric bounds, multiranges and user ranges:
			// the text itself.
			return AppendString(dst, text)
		}
	default:
		if t.Kind == event.KindText && t.Name == "inet" {
			return appendInet(dst, text)
		}
		// Text, numeric, uuid, enum, composite: the text itself.
		return AppendString(dst, text)
	}
	if ok {
		return dst
	}
	return AppendString(dst[:mark], text)
}

const hexDigits = "0123456789abcdef"

// AppendString appends s as a JSON string, escaping '"', '\\' and control
// characters, and writing each byte of invalid UTF-8 (possible in a
// SQL_ASCII database) as the escape of a lone surrogate, \udc80-\udcff.
func AppendString(dst, s []byte) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			// An invalid byte (always 0x80-0xff) becomes the lone low
			// surrogate U+DC80-U+DCFF, as Python's "surrogateescape":
			// valid UTF-8 never decodes to a surrogate, so distinct byte
			// strings stay distinct strings (keys included) and valid text
			// is unchanged.
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', 'd', 'c', hexDigits[c>>4], hexDigits[c&0xF])
			i++
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// isInt reports whether s is -?(0|[1-9][0-9]*), a valid JSON integer.
func isInt(s []byte) bool {
	if len(s) > 0 && s[0] == '-' {
		s = s[1:]
	}
	if len(s) == 0 || (s[0] == '0' && len(s) > 1) {
		return false
	}
	for _, c := range s {
		if !pgtext.IsDigit(c) {
			return false
		}
	}
	return true
}

// numberLen returns the length of the JSON number at the start of s, or 0.
func numberLen(s []byte) int {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	if i >= len(s) || !pgtext.IsDigit(s[i]) {
		return 0
	}
	if s[i] == '0' {
		i++
	} else {
		for i < len(s) && pgtext.IsDigit(s[i]) {
			i++
		}
	}
	if i < len(s) && s[i] == '.' {
		i++
		if i >= len(s) || !pgtext.IsDigit(s[i]) {
			return 0
		}
		for i < len(s) && pgtext.IsDigit(s[i]) {
			i++
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if i >= len(s) || !pgtext.IsDigit(s[i]) {
			return 0
		}
		for i < len(s) && pgtext.IsDigit(s[i]) {
			i++
		}
	}
	return i
}

func isJSONNumber(s []byte) bool {
	return len(s) > 0 && numberLen(s) == len(s)
}

// appendSpecialFloat writes NaN and ±Infinity as strings.
func appendSpecialFloat(dst []byte, v float64) []byte {
	switch {
	case math.IsNaN(v):
		return append(dst, `"NaN"`...)
	case v > 0:
		return append(dst, `"Infinity"`...)
	default:
		return append(dst, `"-Infinity"`...)
	}
}

func appendFloat(dst, text []byte, bits int) ([]byte, bool) {
	if isJSONNumber(text) {
		// PostgreSQL's shortest-exact output is already a JSON number.
		return append(dst, text...), true
	}
	v, err := pgtext.ParseFloat(text, bits)
	if err != nil {
		return dst, false
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return appendSpecialFloat(dst, v), true
	}
	return strconv.AppendFloat(dst, v, 'g', -1, bits), true
}

func appendFloatKey(dst, text []byte, bits int) ([]byte, bool) {
	v, err := pgtext.ParseFloat(text, bits)
	if err != nil {
		return dst, false
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return appendSpecialFloat(dst, v), true
	}
	dst = append(dst, '"')
	dst = strconv.AppendFloat(dst, v, 'f', -1, bits)
	return append(dst, '"'), true
}

// appendBytea decodes a bytea (pgtext) into the tail of dst, then replaces
// it by its base64 encoding, of the first limit bytes when limit > 0.
func appendBytea(dst, text []byte, limit int) ([]byte, bool) {
	mark := len(dst)
	dst, ok := pgtext.AppendBytea(dst, text)
	if !ok {
		return dst, false
	}
	n := len(dst) - mark
	if limit > 0 && n > limit {
		n = limit
	}
	return QuoteBase64(dst, mark, n), true
}

// QuoteBase64 replaces the tail dst[mark:] by the JSON string of the
// base64 encoding of its first n bytes (how JSON carries bytes: Flow's
// bytea, Kafka Connect's BYTES).
func QuoteBase64(dst []byte, mark, n int) []byte {
	raw := dst[mark : mark+n]
	enc := base64.StdEncoding.EncodedLen(n)
	start := len(dst)
	dst = grow(dst, enc+2)
	// raw may alias the old backing array if grow reallocated; it is
	// only read, so that is fine.
	dst = append(dst, '"')
	dst = dst[:len(dst)+enc]
	base64.StdEncoding.Encode(dst[start+1:], raw)
	dst = append(dst, '"')
	return shiftDown(dst, mark, start)
}

// grow makes sure dst has room for n more bytes.
func grow(dst []byte, n int) []byte {
	if cap(dst)-len(dst) >= n {
		return dst
	}
	return append(dst[:len(dst):len(dst)], make([]byte, n)...)[:len(dst)]
}

// shiftDown moves dst[from:] to dst[to:] (to <= from) and truncates.
func shiftDown(dst []byte, to, from int) []byte {
	n := copy(dst[to:], dst[from:])
	return dst[:to+n]
}

// bitStack is a stack of booleans (true = object) for the JSON scanner,
// kept on the Go stack for the first 512 levels.
type bitStack struct {
	small [8]uint64
	more  []uint64
	n     int
}

func (s *bitStack) push(b bool) {
	w, bit := s.n/64, uint(s.n%64)
	if w >= len(s.small) && w-len(s.small) >= len(s.more) {
		s.more = append(s.more, 0)
	}
	var word *uint64
	if w < len(s.small) {
		word = &s.small[w]
	} else {
		word = &s.more[w-len(s.small)]
	}
	if b {
		*word |= 1 << bit
	} else {
		*word &^= 1 << bit
	}
	s.n++
}

func (s *bitStack) top() bool {
	i := s.n - 1
	w, bit := i/64, uint(i%64)
	if w < len(s.small) {
		return s.small[w]>>bit&1 == 1
	}
	return s.more[w-len(s.small)]>>bit&1 == 1
}

func isJSONSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r'
}

// appendRawJSON validates a json/jsonb text and appends it compacted
// (insignificant whitespace removed), with escapes of unpaired UTF-16
// surrogates rewritten to \ufffd and invalid UTF-8 replaced by U+FFFD. It
// fails on anything that is not a single valid JSON value.
func appendRawJSON(dst, text []byte) ([]byte, bool) {
	const (
		stValue = iota // expecting a value
		stKey          // expecting an object key (after '{' non-empty or ',')
		stAfter        // after a value
	)
	mark := len(dst)
	var stack bitStack
	st := stValue
	i := 0
	for {
		for i < len(text) && isJSONSpace(text[i]) {
			i++
		}
		if st == stAfter {
			if stack.n == 0 {
				if i != len(text) {
					return dst[:mark], false
				}
				return dst, true
			}
			if i >= len(text) {
				return dst[:mark], false
			}
			c := text[i]
			obj := stack.top()
			switch {
			case c == ',':
				dst = append(dst, ',')
				i++
				if obj {
					st = stKey
				} else {
					st = stValue
				}
			case c == '}' && obj, c == ']' && !obj:
				dst = append(dst, c)
				i++
				stack.n--
			default:
				return dst[:mark], false
			}
			continue
		}
		if i >= len(text) {
			return dst[:mark], false
		}
		c := text[i]
		if st == stKey {
			if c != '"' {
				return dst[:mark], false
			}
			var ok bool
			if dst, i, ok = copyJSONString(dst, text, i); !ok {
				return dst[:mark], false
			}
			for i < len(text) && isJSONSpace(text[i]) {
				i++
			}
			if i >= len(text) || text[i] != ':' {
				return dst[:mark], false
			}
			dst = append(dst, ':')
			i++
			st = stValue
			continue
		}
		// st == stValue
		switch {
		case c == '{' || c == '[':
			dst = append(dst, c)
			i++
			for i < len(text) && isJSONSpace(text[i]) {
				i++
			}
			closer := byte('}')
			if c == '[' {
				closer = ']'
			}
			if i < len(text) && text[i] == closer {
				dst = append(dst, closer)
				i++
				st = stAfter
				continue
			}
			stack.push(c == '{')
			if c == '{' {
				st = stKey
			} else {
				st = stValue
			}
			continue
		case c == '"':
			var ok bool
			if dst, i, ok = copyJSONString(dst, text, i); !ok {
				return dst[:mark], false
			}
		case c == '-' || pgtext.IsDigit(c):
			n := numberLen(text[i:])
			if n == 0 {
				return dst[:mark], false
			}
			dst = append(dst, text[i:i+n]...)
			i += n
		default:
			var lit string
			switch c {
			case 't':
				lit = "true"
			case 'f':
				lit = "false"
			case 'n':
				lit = "null"
			default:
				return dst[:mark], false
			}
			if len(text)-i < len(lit) || string(text[i:i+len(lit)]) != lit {
				return dst[:mark], false
			}
			dst = append(dst, lit...)
			i += len(lit)
		}
		st = stAfter
	}
}

// hex4 parses 4 hex digits.
func hex4(s []byte) (rune, bool) {
	if len(s) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range s[:4] {
		v, ok := pgtext.Unhex(c)
		if !ok {
			return 0, false
		}
		r = r<<4 | rune(v)
	}
	return r, true
}

// copyJSONString copies the JSON string starting at text[i] (a '"'),
// fixing unpaired surrogate escapes and invalid UTF-8. It returns the index
// after the closing quote.
func copyJSONString(dst, text []byte, i int) ([]byte, int, bool) {
	dst = append(dst, '"')
	i++
	start := i
	for i < len(text) {
		c := text[i]
		switch {
		case c == '"':
			dst = append(dst, text[start:i]...)
			return append(dst, '"'), i + 1, true
		case c < 0x20:
			return dst, i, false
		case c == '\\':
			if i+1 >= len(text) {
				return dst, i, false
			}
			switch text[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
				continue
			case 'u':
			default:
				return dst, i, false
			}
			r, ok := hex4(text[i+2:])
			if !ok {
				return dst, i, false
			}
			switch {
			case r >= 0xD800 && r <= 0xDBFF:
				if i+11 < len(text) && text[i+6] == '\\' && text[i+7] == 'u' {
					if r2, ok := hex4(text[i+8:]); ok && r2 >= 0xDC00 && r2 <= 0xDFFF {
						i += 12
						continue
					}
				}
			case r >= 0xDC00 && r <= 0xDFFF:
			default:
				i += 6
				continue
			}
			// Unpaired surrogate.
			dst = append(dst, text[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += 6
			start = i
		case c < utf8.RuneSelf:
			i++
		default:
			r, size := utf8.DecodeRune(text[i:])
			if r == utf8.RuneError && size == 1 {
				dst = append(dst, text[start:i]...)
				dst = append(dst, "\uFFFD"...)
				i++
				start = i
				continue
			}
			i += size
		}
	}
	return dst, i, false
}

// AppendClock appends the time of day secs seconds after a midnight
// (taken modulo a day), "HH:MM:SS", and the fraction frac (".ddd", from
// the text) without its trailing zeros: the Flow form of a clock, which
// the Debezium form of timetz shares.
func AppendClock(dst []byte, secs int, frac []byte) []byte {
	secs = (secs%86400 + 86400) % 86400
	dst = append2(dst, secs/3600)
	dst = append(dst, ':')
	dst = append2(dst, secs/60%60)
	dst = append(dst, ':')
	dst = append2(dst, secs%60)
	return appendFrac(dst, frac)
}

// appendFrac appends a fraction ".ddd" with trailing zeros removed
// (nothing if it is all zeros).
func appendFrac(dst, frac []byte) []byte {
	n := len(frac)
	for n > 1 && frac[n-1] == '0' {
		n--
	}
	if n <= 1 {
		return dst
	}
	return append(dst, frac[:n]...)
}

// appendZone appends Z for a zero offset, else ±HH:MM.
func appendZone(dst []byte, off int) []byte {
	if off == 0 {
		return append(dst, 'Z')
	}
	sign := byte('+')
	if off < 0 {
		sign = '-'
		off = -off
	}
	h, m := off/3600, off/60%60
	return append(dst, sign, byte('0'+h/10), byte('0'+h%10), ':', byte('0'+m/10), byte('0'+m%10))
}

func append2(dst []byte, v int) []byte {
	return append(dst, byte('0'+v/10%10), byte('0'+v%10))
}

func appendDate(dst, text []byte) ([]byte, bool) {
	switch string(text) {
	case "infinity":
		return append(dst, `"9999-12-31"`...), true
	case "-infinity":
		return append(dst, `"0000-01-01"`...), true
	}
	date, bc := pgtext.TrimBC(text)
	yd, end, ok := pgtext.SplitDate(date)
	if !ok || end != len(date) {
		return dst, false
	}
	if bc || yd > 4 {
		return append(dst, `"0000-01-01"`...), true
	}
	dst = append(dst, '"')
	dst = append(dst, text[:end]...)
	return append(dst, '"'), true
}

// appendTime converts time ("HH:MM:SS[.f]") and timetz (with an offset
// "±HH[:MM[:SS]]"). An offset with seconds, which RFC 3339 cannot express,
// is applied to give the same instant in UTC.
func appendTime(dst, text []byte, tz bool) ([]byte, bool) {
	secEnd, end, ok := pgtext.SplitClock(text)
	if !ok {
		return dst, false
	}
	h, m, s := pgtext.ClockFields(text)
	if h > 24 || m > 59 || s > 60 {
		return dst, false
	}
	off := 0
	if tz {
		if off, ok = pgtext.ParseOffset(text[end:]); !ok {
			return dst, false
		}
	} else if end != len(text) {
		return dst, false
	}
	dst = append(dst, '"')
	if off%60 != 0 {
		dst = AppendClock(dst, h*3600+m*60+s-off, text[secEnd:end])
		off = 0
	} else {
		dst = append(dst, text[:secEnd]...)
		dst = appendFrac(dst, text[secEnd:end])
	}
	dst = appendZone(dst, off)
	return append(dst, '"'), true
}

// appendTimestamp converts timestamp and timestamptz text (pgtext) to
// RFC 3339.
func appendTimestamp(dst, text []byte) ([]byte, bool) {
	const (
		tsMax = `"9999-12-31T23:59:59Z"`
		tsMin = `"0000-01-01T00:00:00Z"`
	)
	switch string(text) {
	case "infinity":
		return append(dst, tsMax...), true
	case "-infinity":
		return append(dst, tsMin...), true
	}
	ts, ok := pgtext.SplitTimestamp(text)
	if !ok || ts.ISO8601 {
		return dst, false
	}
	if ts.BC || ts.YearDigits > 4 {
		return append(dst, tsMin...), true
	}
	off, clock := ts.Offset, ts.Clock
	if off%60 != 0 {
		// Seconds in the offset: give the instant in UTC.
		y, mo, d := pgtext.DateFields(ts.Date, ts.YearDigits)
		h, mi, sec := pgtext.ClockFields(clock)
		tm := time.Date(int(y), time.Month(mo), d, h, mi, sec, 0, time.UTC).
			Add(-time.Duration(off) * time.Second)
		y = int64(tm.Year())
		if y < 0 || y > 9999 {
			if y < 0 {
				return append(dst, tsMin...), true
			}
			return append(dst, tsMax...), true
		}
		dst = append(dst, '"')
		dst = append2(dst, int(y/100))
		dst = append2(dst, int(y%100))
		dst = append(dst, '-')
		dst = append2(dst, int(tm.Month()))
		dst = append(dst, '-')
		dst = append2(dst, tm.Day())
		dst = append(dst, 'T')
		dst = append2(dst, tm.Hour())
		dst = append(dst, ':')
		dst = append2(dst, tm.Minute())
		dst = append(dst, ':')
		dst = append2(dst, tm.Second())
		off = 0
	} else {
		dst = append(dst, '"')
		dst = append(dst, ts.Date...)
		dst = append(dst, 'T')
		dst = append(dst, clock[:ts.SecEnd]...)
	}
	dst = appendFrac(dst, clock[ts.SecEnd:])
	dst = appendZone(dst, off)
	return append(dst, '"'), true
}

// appendInterval converts an interval in IntervalStyle postgres
// ("1 year 2 mons -3 days +04:05:06.5") to the text form of the pgx v5
// Interval codec used by Flow: "<months> mon " if months != 0, then
// "<days> day" if days != 0, then " [-]HH:MM:SS[.ffffff]" if the time part
// is not zero ("14 mon 3 day", " 05:30:00", "", "12 mon ").
func appendInterval(dst, text []byte) ([]byte, bool) {
	months, days, us, ok := pgtext.ParseInterval(text)
	if !ok {
		return dst, false
	}
	neg := us < 0
	micros := uint64(us) // magnitude
	if neg {
		micros = -micros
	}
	dst = append(dst, '"')
	if months != 0 {
		dst = strconv.AppendInt(dst, months, 10)
		dst = append(dst, " mon "...)
	}
	if days != 0 {
		dst = strconv.AppendInt(dst, days, 10)
		dst = append(dst, " day"...)
	}
	if micros != 0 {
		dst = append(dst, ' ')
		if neg {
			dst = append(dst, '-')
		}
		h := micros / 3600_000_000
		if h < 10 {
			dst = append(dst, '0')
		}
		dst = strconv.AppendUint(dst, h, 10)
		dst = append(dst, ':')
		dst = append2(dst, int(micros/60_000_000%60))
		dst = append(dst, ':')
		dst = append2(dst, int(micros/1_000_000%60))
		if us := micros % 1_000_000; us != 0 {
			dst = append(dst, '.')
			for d := uint64(100_000); d > 0; d /= 10 {
				dst = append(dst, byte('0'+us/d%10))
			}
		}
	}
	return append(dst, '"'), true
}

// textType is the element type used when an array's is unknown.
var textType = event.Type{Kind: event.KindText}

// appendArray reads an array (pgtext) and writes its elements, converted
// by elem (or f.elem), as a flat JSON array (or nested, with f.nested).
func appendArray(dst []byte, elem *event.Type, text []byte, f flags) ([]byte, bool) {
	mark := len(dst)
	elemT := elem
	if elemT == nil || elemT.Kind == event.KindArray {
		// PostgreSQL has no arrays of arrays; never recurse.
		elemT = &textType
	}
	ef := flags{nested: f.nested}
	conv := f.elem
	if conv == nil {
		conv = func(dst, text []byte) []byte { return appendValue(dst, elemT, text, ef) }
	}
	a := pgtext.NewArray(text, pgtext.ArrayDelim(elemT.Name))
	needComma := false
	for {
		switch a.Next() {
		case pgtext.ArrayError:
			return dst[:mark], false
		case pgtext.ArrayEnd:
			return dst, true
		case pgtext.ArrayOpen:
			if a.Depth == 1 || f.nested {
				if needComma {
					dst = append(dst, ',')
				}
				dst = append(dst, '[')
				needComma = false
			}
		case pgtext.ArrayClose:
			// Flat output: a sub-array's braces add nothing.
			if f.nested || a.Depth == 0 {
				dst = append(dst, ']')
				needComma = true
			}
		case pgtext.ArrayElem:
			if needComma {
				dst = append(dst, ',')
			}
			if a.Null {
				dst = append(dst, "null"...)
			} else {
				dst = a.AppendElem(dst, conv)
			}
			needComma = true
		}
	}
}

// AppendArray writes an array's text as a flat JSON array of its elements,
// each non-null one converted by conv, for the formats whose element forms
// differ from Flow's (Debezium's); ok is false, with dst unchanged, when
// the text is not an array.
func AppendArray(dst []byte, elem *event.Type, text []byte, conv func(dst, text []byte) []byte) ([]byte, bool) {
	return appendArray(dst, elem, text, flags{elem: conv})
}

// appendInet writes an inet value with its mask always shown, as Flow's
// driver formats it ("192.168.1.1" → "192.168.1.1/32", "::1" → "::1/128").
func appendInet(dst, text []byte) []byte {
	if bytes.IndexByte(text, '/') >= 0 {
		return AppendString(dst, text)
	}
	dst = AppendString(dst, text)
	dst = dst[:len(dst)-1]
	if bytes.IndexByte(text, ':') >= 0 {
		dst = append(dst, "/128"...)
	} else {
		dst = append(dst, "/32"...)
	}
	return append(dst, '"')
}

// appendRange writes a tsrange, tstzrange or daterange (dates=true)
// text form ("[\"2024-01-01 10:00:00\",infinity)", "empty") as a string in
// range syntax whose bounds are RFC 3339 timestamps by the timestamp rules
// ("[2024-01-01T10:00:00Z,9999-12-31T23:59:59Z)", "(,2024-01-01T00:00:00Z]");
// daterange bounds become midnight timestamps, as Flow emits them.
func appendRange(dst, text []byte, dates bool) ([]byte, bool) {
	if string(text) == "empty" {
		return append(dst, `"empty"`...), true
	}
	open, lower, upper, close, escaped, ok := pgtext.SplitRange(text)
	if !ok || escaped { // timestamps and dates need no escapes
		return dst, false
	}
	mark := len(dst)
	dst = append(dst, '"', open)
	for i, raw := range [2][]byte{lower, upper} {
		if i == 1 {
			dst = append(dst, ',')
		}
		if len(raw) > 0 { // an empty bound is unbounded
			if dst, ok = appendRangeBound(dst, raw, dates); !ok {
				return dst[:mark], false
			}
		}
	}
	return append(dst, close, '"'), true
}

// appendRangeBound appends one timestamp (or date) bound as an
// RFC 3339 timestamp without the JSON quotes.
func appendRangeBound(dst, raw []byte, date bool) ([]byte, bool) {
	if date {
		if _, end, ok := pgtext.SplitDate(raw); ok {
			// "Y-MM-DD[ BC]" → "Y-MM-DD 00:00:00[ BC]"
			ts := make([]byte, 0, len(raw)+9)
			ts = append(ts, raw[:end]...)
			ts = append(ts, " 00:00:00"...)
			ts = append(ts, raw[end:]...)
			raw = ts
		}
	}
	start := len(dst)
	dst, ok := appendTimestamp(dst, raw)
	if !ok {
		return dst[:start], false
	}
	// Drop the quotes: timestamps hold no characters JSON escapes.
	copy(dst[start:], dst[start+1:len(dst)-1])
	return dst[:len(dst)-2], true
}

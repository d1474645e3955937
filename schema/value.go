package schema

import (
	"encoding/base64"
	"math"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/pg2kafka/pg2kafka/event"
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
// a lone surrogate, \udc80-\udcff (see valueAppendString). A nil t is
// treated as text.
func AppendJSON(dst []byte, t *event.Type, text []byte) []byte {
	return valueAppend(dst, t, text, valueFlags{})
}

// AppendJSONNested is AppendJSON except that arrays keep their dimensions
// as nested JSON arrays ({{1,2},{3,4}} → [[1,2],[3,4]]), like Flow's
// multidimensional_arrays flag. Other kinds are written as by AppendJSON.
func AppendJSONNested(dst []byte, t *event.Type, text []byte) []byte {
	return valueAppend(dst, t, text, valueFlags{nested: true})
}

// AppendJSONKey is AppendJSON for a row-key column: float4 and float8 values
// become strings in plain decimal notation, never in exponent form ("-1.1",
// "1", "0", "1000000000000000000000"); NaN and ±Infinity become "NaN",
// "Infinity" and "-Infinity". Every other kind is written as by AppendJSON.
func AppendJSONKey(dst []byte, t *event.Type, text []byte) []byte {
	return valueAppend(dst, t, text, valueFlags{key: true})
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
		return valueAppendString(dst, text[:limit])
	case event.KindBytea:
		return valueAppend(dst, t, text, valueFlags{limit: limit})
	case event.KindJSON, event.KindJSONB:
		dst = append(dst, `{"flow_truncated":true,"original_size":`...)
		dst = strconv.AppendInt(dst, int64(len(text)), 10)
		return append(dst, '}')
	}
	return AppendJSON(dst, t, text)
}

type valueFlags struct {
	key    bool // floats as decimal strings
	nested bool // arrays nested
	limit  int  // when > 0, cut bytea to this many bytes
	// elem, when set, converts an array's non-null elements in place of
	// valueAppend (the Debezium value forms, debezium.go).
	elem func(dst, text []byte) []byte
}

// valueAppend converts one value; whenever the specific conversion fails it
// rolls dst back and writes the raw text as a JSON string.
func valueAppend(dst []byte, t *event.Type, text []byte, f valueFlags) []byte {
	if t == nil {
		return valueAppendString(dst, text)
	}
	mark := len(dst)
	var ok bool
	switch t.Kind {
	case event.KindBool:
		switch string(text) {
		case "t", "true":
			return append(dst, "true"...)
		case "f", "false":
			return append(dst, "false"...)
		}
	case event.KindInt:
		if valueIsInt(text) {
			return append(dst, text...)
		}
	case event.KindFloat4, event.KindFloat8:
		bits := 64
		if t.Kind == event.KindFloat4 {
			bits = 32
		}
		if f.key {
			dst, ok = valueAppendFloatKey(dst, text, bits)
		} else {
			dst, ok = valueAppendFloat(dst, text, bits)
		}
	case event.KindBytea:
		dst, ok = valueAppendBytea(dst, text, f.limit)
	case event.KindJSON, event.KindJSONB:
		dst, ok = valueAppendRawJSON(dst, text)
	case event.KindDate:
		dst, ok = valueAppendDate(dst, text)
	case event.KindTime:
		dst, ok = valueAppendTime(dst, text, false)
	case event.KindTimeTZ:
		dst, ok = valueAppendTime(dst, text, true)
	case event.KindTimestamp, event.KindTimestampTZ:
		dst, ok = valueAppendTimestamp(dst, text)
	case event.KindInterval:
		dst, ok = valueAppendInterval(dst, text)
	case event.KindArray:
		dst, ok = valueAppendArray(dst, t.Elem, text, f)
	case event.KindRange:
		switch t.Name {
		case "tsrange", "tstzrange":
			dst, ok = valueAppendRange(dst, text, false)
		case "daterange":
			dst, ok = valueAppendRange(dst, text, true)
		default:
			// Integer and numeric bounds, multiranges and user ranges:
			// the text itself.
			return valueAppendString(dst, text)
		}
	default:
		if t.Kind == event.KindText && t.Name == "inet" {
			return valueAppendInet(dst, text)
		}
		// Text, numeric, uuid, enum, composite: the text itself.
		return valueAppendString(dst, text)
	}
	if ok {
		return dst
	}
	return valueAppendString(dst[:mark], text)
}

const valueHex = "0123456789abcdef"

// valueAppendString appends s as a JSON string, escaping '"', '\\' and control
// characters, and writing each byte of invalid UTF-8 (possible in a
// SQL_ASCII database) as the escape of a lone surrogate, \udc80-\udcff.
func valueAppendString(dst, s []byte) []byte {
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
				dst = append(dst, '\\', 'u', '0', '0', valueHex[c>>4], valueHex[c&0xF])
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
			dst = append(dst, '\\', 'u', 'd', 'c', valueHex[c>>4], valueHex[c&0xF])
			i++
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

func valueIsDigit(c byte) bool { return c >= '0' && c <= '9' }

// valueIsInt reports whether s is -?(0|[1-9][0-9]*), a valid JSON integer.
func valueIsInt(s []byte) bool {
	if len(s) > 0 && s[0] == '-' {
		s = s[1:]
	}
	if len(s) == 0 || (s[0] == '0' && len(s) > 1) {
		return false
	}
	for _, c := range s {
		if !valueIsDigit(c) {
			return false
		}
	}
	return true
}

// valueNumberLen returns the length of the JSON number at the start of s, or 0.
func valueNumberLen(s []byte) int {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	if i >= len(s) || !valueIsDigit(s[i]) {
		return 0
	}
	if s[i] == '0' {
		i++
	} else {
		for i < len(s) && valueIsDigit(s[i]) {
			i++
		}
	}
	if i < len(s) && s[i] == '.' {
		i++
		if i >= len(s) || !valueIsDigit(s[i]) {
			return 0
		}
		for i < len(s) && valueIsDigit(s[i]) {
			i++
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if i >= len(s) || !valueIsDigit(s[i]) {
			return 0
		}
		for i < len(s) && valueIsDigit(s[i]) {
			i++
		}
	}
	return i
}

func valueIsJSONNumber(s []byte) bool {
	return len(s) > 0 && valueNumberLen(s) == len(s)
}

// valueAppendSpecialFloat writes NaN and ±Infinity as strings.
func valueAppendSpecialFloat(dst []byte, v float64) []byte {
	switch {
	case math.IsNaN(v):
		return append(dst, `"NaN"`...)
	case v > 0:
		return append(dst, `"Infinity"`...)
	default:
		return append(dst, `"-Infinity"`...)
	}
}

func valueAppendFloat(dst, text []byte, bits int) ([]byte, bool) {
	if valueIsJSONNumber(text) {
		// PostgreSQL's shortest-exact output is already a JSON number.
		return append(dst, text...), true
	}
	v, err := strconv.ParseFloat(string(text), bits)
	if err != nil {
		return dst, false
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return valueAppendSpecialFloat(dst, v), true
	}
	return strconv.AppendFloat(dst, v, 'g', -1, bits), true
}

func valueAppendFloatKey(dst, text []byte, bits int) ([]byte, bool) {
	v, err := strconv.ParseFloat(string(text), bits)
	if err != nil {
		return dst, false
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return valueAppendSpecialFloat(dst, v), true
	}
	dst = append(dst, '"')
	dst = strconv.AppendFloat(dst, v, 'f', -1, bits)
	return append(dst, '"'), true
}

func valueUnhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// valueAppendBytea decodes bytea's hex (\x...) or escape output format into
// the tail of dst, then replaces it by its base64 encoding.
func valueAppendBytea(dst, text []byte, limit int) ([]byte, bool) {
	mark := len(dst)
	if len(text) >= 2 && text[0] == '\\' && text[1] == 'x' {
		h := text[2:]
		if len(h)%2 != 0 {
			return dst, false
		}
		for i := 0; i < len(h); i += 2 {
			a, ok1 := valueUnhex(h[i])
			b, ok2 := valueUnhex(h[i+1])
			if !ok1 || !ok2 {
				return dst[:mark], false
			}
			dst = append(dst, a<<4|b)
		}
	} else {
		for i := 0; i < len(text); {
			c := text[i]
			if c != '\\' {
				dst = append(dst, c)
				i++
				continue
			}
			if i+1 < len(text) && text[i+1] == '\\' {
				dst = append(dst, '\\')
				i += 2
				continue
			}
			if i+3 < len(text) && text[i+1] >= '0' && text[i+1] <= '3' &&
				text[i+2] >= '0' && text[i+2] <= '7' && text[i+3] >= '0' && text[i+3] <= '7' {
				dst = append(dst, (text[i+1]-'0')<<6|(text[i+2]-'0')<<3|(text[i+3]-'0'))
				i += 4
				continue
			}
			return dst[:mark], false
		}
	}
	n := len(dst) - mark
	if limit > 0 && n > limit {
		n = limit
	}
	return valueQuoteBase64(dst, mark, n), true
}

// valueQuoteBase64 replaces the tail dst[mark:] by the JSON string of the
// base64 encoding of its first n bytes.
func valueQuoteBase64(dst []byte, mark, n int) []byte {
	raw := dst[mark : mark+n]
	enc := base64.StdEncoding.EncodedLen(n)
	start := len(dst)
	dst = valueGrow(dst, enc+2)
	// raw may alias the old backing array if valueGrow reallocated; it is
	// only read, so that is fine.
	dst = append(dst, '"')
	dst = dst[:len(dst)+enc]
	base64.StdEncoding.Encode(dst[start+1:], raw)
	dst = append(dst, '"')
	return valueShiftDown(dst, mark, start)
}

// valueGrow makes sure dst has room for n more bytes.
func valueGrow(dst []byte, n int) []byte {
	if cap(dst)-len(dst) >= n {
		return dst
	}
	return append(dst[:len(dst):len(dst)], make([]byte, n)...)[:len(dst)]
}

// valueShiftDown moves dst[from:] to dst[to:] (to <= from) and truncates.
func valueShiftDown(dst []byte, to, from int) []byte {
	n := copy(dst[to:], dst[from:])
	return dst[:to+n]
}

// valueBitStack is a stack of booleans (true = object) for the JSON scanner,
// kept on the Go stack for the first 512 levels.
type valueBitStack struct {
	small [8]uint64
	more  []uint64
	n     int
}

func (s *valueBitStack) push(b bool) {
	w, bit := s.n/64, uint(s.n%64)
	if w >= len(s.small) && w-len(s.small) >= len(s.more) {
		s.more = append(s.more, 0)
	}
	word := &s.small[0]
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

func (s *valueBitStack) top() bool {
	i := s.n - 1
	w, bit := i/64, uint(i%64)
	if w < len(s.small) {
		return s.small[w]>>bit&1 == 1
	}
	return s.more[w-len(s.small)]>>bit&1 == 1
}

func valueIsJSONSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r'
}

// valueAppendRawJSON validates a json/jsonb text and appends it compacted
// (insignificant whitespace removed), with escapes of unpaired UTF-16
// surrogates rewritten to \ufffd and invalid UTF-8 replaced by U+FFFD. It
// fails on anything that is not a single valid JSON value.
func valueAppendRawJSON(dst, text []byte) ([]byte, bool) {
	const (
		stValue = iota // expecting a value
		stKey          // expecting an object key (after '{' non-empty or ',')
		stAfter        // after a value
	)
	mark := len(dst)
	var stack valueBitStack
	st := stValue
	i := 0
	for {
		for i < len(text) && valueIsJSONSpace(text[i]) {
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
			if dst, i, ok = valueCopyJSONString(dst, text, i); !ok {
				return dst[:mark], false
			}
			for i < len(text) && valueIsJSONSpace(text[i]) {
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
			for i < len(text) && valueIsJSONSpace(text[i]) {
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
			if dst, i, ok = valueCopyJSONString(dst, text, i); !ok {
				return dst[:mark], false
			}
		case c == '-' || valueIsDigit(c):
			n := valueNumberLen(text[i:])
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

// valueHex4 parses 4 hex digits.
func valueHex4(s []byte) (rune, bool) {
	if len(s) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range s[:4] {
		v, ok := valueUnhex(c)
		if !ok {
			return 0, false
		}
		r = r<<4 | rune(v)
	}
	return r, true
}

// valueCopyJSONString copies the JSON string starting at text[i] (a '"'),
// fixing unpaired surrogate escapes and invalid UTF-8. It returns the index
// after the closing quote.
func valueCopyJSONString(dst, text []byte, i int) ([]byte, int, bool) {
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
			r, ok := valueHex4(text[i+2:])
			if !ok {
				return dst, i, false
			}
			switch {
			case r >= 0xD800 && r <= 0xDBFF:
				if i+11 < len(text) && text[i+6] == '\\' && text[i+7] == 'u' {
					if r2, ok := valueHex4(text[i+8:]); ok && r2 >= 0xDC00 && r2 <= 0xDFFF {
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

// valueDate splits an ISO date "Y...Y-MM-DD" at the start of s. It returns
// the year's digit count and the index after the day, or ok=false.
func valueDate(s []byte) (yearDigits, end int, ok bool) {
	for yearDigits < len(s) && valueIsDigit(s[yearDigits]) {
		yearDigits++
	}
	if yearDigits < 4 || len(s) < yearDigits+6 {
		return 0, 0, false
	}
	d := s[yearDigits:]
	if d[0] != '-' || !valueIsDigit(d[1]) || !valueIsDigit(d[2]) || d[3] != '-' ||
		!valueIsDigit(d[4]) || !valueIsDigit(d[5]) {
		return 0, 0, false
	}
	return yearDigits, yearDigits + 6, true
}

// valueClock checks "HH:MM:SS[.f+]" at the start of s and returns the index
// after the seconds and after the fraction.
func valueClock(s []byte) (secEnd, end int, ok bool) {
	if len(s) < 8 || !valueIsDigit(s[0]) || !valueIsDigit(s[1]) || s[2] != ':' ||
		!valueIsDigit(s[3]) || !valueIsDigit(s[4]) || s[5] != ':' ||
		!valueIsDigit(s[6]) || !valueIsDigit(s[7]) {
		return 0, 0, false
	}
	end = 8
	if end < len(s) && s[end] == '.' {
		end++
		for end < len(s) && valueIsDigit(s[end]) {
			end++
		}
		if end == 9 {
			return 0, 0, false
		}
	}
	return 8, end, true
}

// valueAppendFrac appends a fraction ".ddd" with trailing zeros removed
// (nothing if it is all zeros).
func valueAppendFrac(dst, frac []byte) []byte {
	n := len(frac)
	for n > 1 && frac[n-1] == '0' {
		n--
	}
	if n <= 1 {
		return dst
	}
	return append(dst, frac[:n]...)
}

// valueOffset parses "±HH[:MM[:SS]]" (all of s) into seconds east of UTC.
func valueOffset(s []byte) (int, bool) {
	if len(s) < 3 || (s[0] != '+' && s[0] != '-') {
		return 0, false
	}
	parts := 0
	secs := 0
	i := 1
	for {
		if i+2 > len(s) || !valueIsDigit(s[i]) || !valueIsDigit(s[i+1]) {
			return 0, false
		}
		v := int(s[i]-'0')*10 + int(s[i+1]-'0')
		if parts > 0 && v > 59 {
			return 0, false
		}
		secs = secs*60 + v
		parts++
		i += 2
		if i == len(s) {
			break
		}
		if s[i] != ':' || parts == 3 {
			return 0, false
		}
		i++
	}
	for ; parts < 3; parts++ {
		secs *= 60
	}
	if s[0] == '-' {
		secs = -secs
	}
	return secs, true
}

// valueAppendZone appends Z for a zero offset, else ±HH:MM.
func valueAppendZone(dst []byte, off int) []byte {
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

func valueAppend2(dst []byte, v int) []byte {
	return append(dst, byte('0'+v/10%10), byte('0'+v%10))
}

func valueAppendDate(dst, text []byte) ([]byte, bool) {
	switch string(text) {
	case "infinity":
		return append(dst, `"9999-12-31"`...), true
	case "-infinity":
		return append(dst, `"0000-01-01"`...), true
	}
	yd, end, ok := valueDate(text)
	if !ok {
		return dst, false
	}
	switch string(text[end:]) {
	case "":
		if yd > 4 {
			return append(dst, `"0000-01-01"`...), true
		}
	case " BC":
		return append(dst, `"0000-01-01"`...), true
	default:
		return dst, false
	}
	dst = append(dst, '"')
	dst = append(dst, text[:end]...)
	return append(dst, '"'), true
}

// valueAppendTime converts time ("HH:MM:SS[.f]") and timetz (with an offset
// "±HH[:MM[:SS]]"). An offset with seconds, which RFC 3339 cannot express,
// is applied to give the same instant in UTC.
func valueAppendTime(dst, text []byte, tz bool) ([]byte, bool) {
	secEnd, end, ok := valueClock(text)
	if !ok {
		return dst, false
	}
	h := int(text[0]-'0')*10 + int(text[1]-'0')
	m := int(text[3]-'0')*10 + int(text[4]-'0')
	s := int(text[6]-'0')*10 + int(text[7]-'0')
	if h > 24 || m > 59 || s > 60 {
		return dst, false
	}
	off := 0
	if tz {
		if off, ok = valueOffset(text[end:]); !ok {
			return dst, false
		}
	} else if end != len(text) {
		return dst, false
	}
	dst = append(dst, '"')
	if off%60 != 0 {
		total := ((h*3600+m*60+s-off)%86400 + 86400) % 86400
		dst = valueAppend2(dst, total/3600)
		dst = append(dst, ':')
		dst = valueAppend2(dst, total/60%60)
		dst = append(dst, ':')
		dst = valueAppend2(dst, total%60)
		off = 0
	} else {
		dst = append(dst, text[:secEnd]...)
	}
	dst = valueAppendFrac(dst, text[secEnd:end])
	dst = valueAppendZone(dst, off)
	return append(dst, '"'), true
}

// valueAppendTimestamp converts timestamp and timestamptz text
// ("Y-MM-DD HH:MM:SS[.f][±HH[:MM[:SS]]][ BC]") to RFC 3339.
func valueAppendTimestamp(dst, text []byte) ([]byte, bool) {
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
	yd, dateEnd, ok := valueDate(text)
	if !ok || dateEnd >= len(text) || text[dateEnd] != ' ' {
		return dst, false
	}
	clock := text[dateEnd+1:]
	secEnd, end, ok := valueClock(clock)
	if !ok {
		return dst, false
	}
	rest := clock[end:]
	bc := false
	if n := len(rest); n >= 3 && string(rest[n-3:]) == " BC" {
		bc = true
		rest = rest[:n-3]
	}
	off := 0
	if len(rest) > 0 {
		if off, ok = valueOffset(rest); !ok {
			return dst, false
		}
	}
	if bc || yd > 4 {
		return append(dst, tsMin...), true
	}
	if off%60 != 0 {
		// Seconds in the offset: give the instant in UTC.
		num := func(b []byte) int {
			v := 0
			for _, c := range b {
				v = v*10 + int(c-'0')
			}
			return v
		}
		tm := time.Date(num(text[:4]), time.Month(num(text[5:7])), num(text[8:10]),
			num(clock[0:2]), num(clock[3:5]), num(clock[6:8]), 0, time.UTC).
			Add(-time.Duration(off) * time.Second)
		y := tm.Year()
		if y < 0 || y > 9999 {
			if y < 0 {
				return append(dst, tsMin...), true
			}
			return append(dst, tsMax...), true
		}
		dst = append(dst, '"')
		dst = valueAppend2(dst, y/100)
		dst = valueAppend2(dst, y%100)
		dst = append(dst, '-')
		dst = valueAppend2(dst, int(tm.Month()))
		dst = append(dst, '-')
		dst = valueAppend2(dst, tm.Day())
		dst = append(dst, 'T')
		dst = valueAppend2(dst, tm.Hour())
		dst = append(dst, ':')
		dst = valueAppend2(dst, tm.Minute())
		dst = append(dst, ':')
		dst = valueAppend2(dst, tm.Second())
		off = 0
	} else {
		dst = append(dst, '"')
		dst = append(dst, text[:dateEnd]...)
		dst = append(dst, 'T')
		dst = append(dst, clock[:secEnd]...)
	}
	dst = valueAppendFrac(dst, clock[secEnd:end])
	dst = valueAppendZone(dst, off)
	return append(dst, '"'), true
}

// valueParseUint parses unsigned decimal digits, failing on overflow.
func valueParseUint(s []byte) (uint64, bool) {
	if len(s) == 0 {
		return 0, false
	}
	var v uint64
	for _, c := range s {
		if !valueIsDigit(c) || v > (math.MaxUint64-9)/10 {
			return 0, false
		}
		v = v*10 + uint64(c-'0')
	}
	return v, true
}

// valueParseInt parses an optionally signed decimal integer within ±2^40
// (enough for an interval's years, months or days).
func valueParseInt(s []byte) (int64, bool) {
	neg := false
	if len(s) > 0 && (s[0] == '-' || s[0] == '+') {
		neg = s[0] == '-'
		s = s[1:]
	}
	u, ok := valueParseUint(s)
	if !ok || u > 1<<40 {
		return 0, false
	}
	if neg {
		return -int64(u), true
	}
	return int64(u), true
}

// valueParseInterval parses an interval in IntervalStyle postgres ("1 year
// 2 mons -3 days +04:05:06.5") into its months, days and signed
// microseconds (the time part).
func valueParseInterval(text []byte) (months, days, us int64, ok bool) {
	var micros uint64 // magnitude
	neg := false
	haveTime := false
	i := 0
	for i < len(text) {
		// Next space-separated token.
		j := i
		for j < len(text) && text[j] != ' ' {
			j++
		}
		tok := text[i:j]
		if j < len(text) {
			j++ // skip the space
		}
		if len(tok) == 0 || haveTime {
			return 0, 0, 0, false
		}
		if c := tok[len(tok)-1]; valueIsDigit(c) && valueIndexByte(tok, ':') >= 0 {
			// Time part: [+-]H+:MM:SS[.ffffff]
			haveTime = true
			if tok[0] == '-' || tok[0] == '+' {
				neg = tok[0] == '-'
				tok = tok[1:]
			}
			c1 := valueIndexByte(tok, ':')
			if c1 < 1 || len(tok) < c1+6 || tok[c1+3] != ':' {
				return 0, 0, 0, false
			}
			h, ok := valueParseUint(tok[:c1])
			if !ok || h > math.MaxInt64/3600_000_000 {
				return 0, 0, 0, false
			}
			mi, ok1 := valueParseUint(tok[c1+1 : c1+3])
			s, ok2 := valueParseUint(tok[c1+4 : c1+6])
			if !ok1 || !ok2 || mi > 59 || s > 59 {
				return 0, 0, 0, false
			}
			var us uint64
			if fr := tok[c1+6:]; len(fr) > 0 {
				if fr[0] != '.' || len(fr) < 2 || len(fr) > 7 {
					return 0, 0, 0, false
				}
				for k := 1; k < 7; k++ {
					us *= 10
					if k < len(fr) {
						if !valueIsDigit(fr[k]) {
							return 0, 0, 0, false
						}
						us += uint64(fr[k] - '0')
					}
				}
			}
			micros = ((h*60+mi)*60+s)*1_000_000 + us
			if micros > 1<<63 || (micros == 1<<63 && !neg) {
				return 0, 0, 0, false
			}
			i = j
			continue
		}
		// Number then unit.
		n, ok := valueParseInt(tok)
		if !ok || j >= len(text) {
			return 0, 0, 0, false
		}
		k := j
		for k < len(text) && text[k] != ' ' {
			k++
		}
		unit := text[j:k]
		if k < len(text) {
			k++
		}
		switch string(unit) {
		case "year", "years":
			months += n * 12
		case "mon", "mons":
			months += n
		case "day", "days":
			days += n
		default:
			return 0, 0, 0, false
		}
		if months > math.MaxInt32 || months < math.MinInt32 || days > math.MaxInt32 || days < math.MinInt32 {
			return 0, 0, 0, false
		}
		i = k
	}
	if i == 0 {
		return 0, 0, 0, false // empty text
	}
	if neg {
		return months, days, -int64(micros), true
	}
	return months, days, int64(micros), true
}

// valueAppendInterval converts an interval in IntervalStyle postgres
// ("1 year 2 mons -3 days +04:05:06.5") to the text form of the pgx v5
// Interval codec used by Flow: "<months> mon " if months != 0, then
// "<days> day" if days != 0, then " [-]HH:MM:SS[.ffffff]" if the time part
// is not zero ("14 mon 3 day", " 05:30:00", "", "12 mon ").
func valueAppendInterval(dst, text []byte) ([]byte, bool) {
	months, days, us, ok := valueParseInterval(text)
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
		dst = valueAppend2(dst, int(micros/60_000_000%60))
		dst = append(dst, ':')
		dst = valueAppend2(dst, int(micros/1_000_000%60))
		if us := micros % 1_000_000; us != 0 {
			dst = append(dst, '.')
			for d := uint64(100_000); d > 0; d /= 10 {
				dst = append(dst, byte('0'+us/d%10))
			}
		}
	}
	return append(dst, '"'), true
}

func valueIndexByte(s []byte, c byte) int {
	for i, b := range s {
		if b == c {
			return i
		}
	}
	return -1
}

// valueTextType is the element type used when an array's is unknown.
var valueTextType = event.Type{Kind: event.KindText}

func valueIsArraySpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

// valueAppendArray parses PostgreSQL's array literal text (optionally with
// a "[l:u]...=" dimension decoration) and writes its elements, converted by
// elem, as a flat JSON array (or nested, with f.nested).
func valueAppendArray(dst []byte, elem *event.Type, text []byte, f valueFlags) ([]byte, bool) {
	mark := len(dst)
	delim := byte(',')
	elemT := elem
	if elemT == nil || elemT.Kind == event.KindArray {
		// PostgreSQL has no arrays of arrays; never recurse.
		elemT = &valueTextType
	}
	if elemT.Name == "box" {
		delim = ';'
	}
	ef := valueFlags{nested: f.nested}

	a := newArrayText(text, delim)
	needComma := false
	for {
		switch a.next() {
		case arrayError:
			return dst[:mark], false
		case arrayEnd:
			return dst, true
		case arrayOpen:
			if a.depth == 1 || f.nested {
				if needComma {
					dst = append(dst, ',')
				}
				dst = append(dst, '[')
				needComma = false
			}
		case arrayClose:
			// Flat output: a sub-array's braces add nothing.
			if f.nested || a.depth == 0 {
				dst = append(dst, ']')
				needComma = true
			}
		case arrayElem:
			if needComma {
				dst = append(dst, ',')
			}
			switch {
			case a.null:
				dst = append(dst, "null"...)
			case !a.escaped:
				if f.elem != nil {
					dst = f.elem(dst, a.raw)
				} else {
					dst = valueAppend(dst, elemT, a.raw, ef)
				}
			default:
				// Unescape into the tail of dst, convert from there, then
				// move the converted value down over the unescaped bytes.
				tmp := len(dst)
				dst = arrayAppendUnescaped(dst, a.raw)
				from := len(dst)
				if f.elem != nil {
					dst = f.elem(dst, dst[tmp:from])
				} else {
					dst = valueAppend(dst, elemT, dst[tmp:from], ef)
				}
				dst = valueShiftDown(dst, tmp, from)
			}
			needComma = true
		}
	}
}

// valueAppendInet writes an inet value with its mask always shown, as Flow's
// driver formats it ("192.168.1.1" → "192.168.1.1/32", "::1" → "::1/128").
func valueAppendInet(dst, text []byte) []byte {
	if valueIndexByte(text, '/') >= 0 {
		return valueAppendString(dst, text)
	}
	dst = valueAppendString(dst, text)
	dst = dst[:len(dst)-1]
	if valueIndexByte(text, ':') >= 0 {
		dst = append(dst, "/128"...)
	} else {
		dst = append(dst, "/32"...)
	}
	return append(dst, '"')
}

// valueAppendRange writes a tsrange, tstzrange or daterange (dates=true)
// text form ("[\"2024-01-01 10:00:00\",infinity)", "empty") as a string in
// range syntax whose bounds are RFC 3339 timestamps by the timestamp rules
// ("[2024-01-01T10:00:00Z,9999-12-31T23:59:59Z)", "(,2024-01-01T00:00:00Z]");
// daterange bounds become midnight timestamps, as Flow emits them.
func valueAppendRange(dst, text []byte, dates bool) ([]byte, bool) {
	if string(text) == "empty" {
		return append(dst, `"empty"`...), true
	}
	n := len(text)
	if n < 3 || (text[0] != '[' && text[0] != '(') || (text[n-1] != ']' && text[n-1] != ')') {
		return dst, false
	}
	mark := len(dst)
	dst = append(dst, '"', text[0])
	i := 1
	for b := 0; b < 2; b++ {
		// One bound, quoted or not; an empty bound is unbounded.
		var raw []byte
		if i < n-1 && text[i] == '"' {
			i++
			s := i
			for i < n-1 && text[i] != '"' {
				if text[i] == '\\' {
					return dst[:mark], false // timestamps and dates need no escapes
				}
				i++
			}
			if i >= n-1 {
				return dst[:mark], false
			}
			raw = text[s:i]
			i++
		} else {
			s := i
			for i < n-1 && text[i] != ',' {
				i++
			}
			raw = text[s:i]
		}
		if len(raw) > 0 {
			var ok bool
			if dst, ok = valueAppendRangeBound(dst, raw, dates); !ok {
				return dst[:mark], false
			}
		}
		if b == 0 {
			if i >= n-1 || text[i] != ',' {
				return dst[:mark], false
			}
			dst = append(dst, ',')
			i++
		}
	}
	if i != n-1 {
		return dst[:mark], false
	}
	return append(dst, text[n-1], '"'), true
}

// valueAppendRangeBound appends one timestamp (or date) bound as an
// RFC 3339 timestamp without the JSON quotes.
func valueAppendRangeBound(dst, raw []byte, date bool) ([]byte, bool) {
	if date {
		if _, end, ok := valueDate(raw); ok {
			// "Y-MM-DD[ BC]" → "Y-MM-DD 00:00:00[ BC]"
			ts := make([]byte, 0, len(raw)+9)
			ts = append(ts, raw[:end]...)
			ts = append(ts, " 00:00:00"...)
			ts = append(ts, raw[end:]...)
			raw = ts
		}
	}
	start := len(dst)
	dst, ok := valueAppendTimestamp(dst, raw)
	if !ok {
		return dst[:start], false
	}
	// Drop the quotes: timestamps hold no characters JSON escapes.
	copy(dst[start:], dst[start+1:len(dst)-1])
	return dst[:len(dst)-2], true
}

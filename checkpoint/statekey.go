package checkpoint

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// StateKey returns the state key Flow assigns to a binding with the given
// resource path (for source-postgres: [schema, table], case preserved) and
// backfill counter.
//
// The path components are joined with "/"; every character is kept if it is
// one of "-_+.=" or alphanumeric in Rust's sense (char::is_alphanumeric:
// Unicode letters, numbers and Other_Alphabetic), and otherwise replaced by
// the percent-encoding of its UTF-8 bytes with uppercase hex ("/" becomes
// "%2F"). Bytes that are not valid UTF-8 are percent-encoded one by one. If
// backfillCounter is not 0, ".v<counter>" is appended. Flow's counters are
// never negative; a negative counter is appended as is (".v-1"), giving a
// key Flow never produces.
func StateKey(resourcePath []string, backfillCounter int) string {
	joined := strings.Join(resourcePath, "/")
	var b strings.Builder
	b.Grow(len(joined) + 8)
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(joined); {
		r, size := utf8.DecodeRuneInString(joined[i:])
		if !(r == utf8.RuneError && size <= 1) && keepInStateKey(r) {
			b.WriteString(joined[i : i+size])
		} else {
			for j := i; j < i+size; j++ {
				c := joined[j]
				b.WriteByte('%')
				b.WriteByte(hex[c>>4])
				b.WriteByte(hex[c&0xF])
			}
		}
		i += size
	}
	if backfillCounter != 0 {
		b.WriteString(".v")
		b.WriteString(strconv.Itoa(backfillCounter))
	}
	return b.String()
}

// keepInStateKey reports whether r is written literally in a state key.
func keepInStateKey(r rune) bool {
	switch r {
	case '-', '_', '+', '.', '=':
		return true
	}
	return unicode.IsLetter(r) || unicode.IsNumber(r) || unicode.Is(unicode.Other_Alphabetic, r)
}

// ParseStateKey inverts StateKey as far as possible: it splits off a
// ".v<counter>" suffix, percent-decodes the rest (either hex case) and
// splits it on "/".
//
// The suffix is split only if it is ".v" followed by a decimal number
// without leading zeros, greater than 0 and at most 2^32-1 (Flow's counters
// are unsigned 32-bit and StateKey never writes ".v0"); otherwise it is part
// of the last path component. Two ambiguities are inherent in the format: a
// table whose name really ends in ".v<N>" with counter 0 parses as counter N,
// and a path component containing "/" is split in two. In both cases
// StateKey(path, counter) still reproduces key exactly when key is canonical.
//
// It fails on an empty key, a malformed percent escape or an encoding that
// is not valid UTF-8.
func ParseStateKey(key string) (path []string, counter int, err error) {
	if key == "" {
		return nil, 0, errors.New("empty state key")
	}
	body := key
	if i := strings.LastIndex(key, ".v"); i >= 0 {
		if n, ok := parseCounter(key[i+2:]); ok {
			body, counter = key[:i], n
		}
	}
	decoded, err := percentDecode(body)
	if err != nil {
		return nil, 0, fmt.Errorf("state key %q: %w", key, err)
	}
	return strings.Split(decoded, "/"), counter, nil
}

// parseCounter parses a backfill counter suffix as StateKey writes it.
func parseCounter(s string) (int, bool) {
	if s == "" || s[0] == '0' {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, false
	}
	return int(n), true
}

func percentDecode(s string) (string, error) {
	if !strings.Contains(s, "%") {
		if !utf8.ValidString(s) {
			return "", errors.New("not valid UTF-8")
		}
		return s, nil
	}
	buf := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			buf = append(buf, s[i])
			continue
		}
		if i+2 >= len(s) || !isHexDigit(s[i+1]) || !isHexDigit(s[i+2]) {
			return "", fmt.Errorf("malformed percent escape at byte %d", i)
		}
		buf = append(buf, unhex(s[i+1])<<4|unhex(s[i+2]))
		i += 2
	}
	if !utf8.Valid(buf) {
		return "", errors.New("decodes to invalid UTF-8")
	}
	return string(buf), nil
}

func unhex(c byte) byte {
	switch {
	case c >= 'a':
		return c - 'a' + 10
	case c >= 'A':
		return c - 'A' + 10
	default:
		return c - '0'
	}
}

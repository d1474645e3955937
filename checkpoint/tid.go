package checkpoint

import (
	"errors"
	"fmt"
	"strconv"
)

// FormatTID returns the keyless backfill cursor for a page: the ASCII text
// of the PostgreSQL tid "(page,0)", which is what Scanned holds in
// KeylessBackfill mode.
func FormatTID(page uint32) []byte {
	b := make([]byte, 0, 14)
	b = append(b, '(')
	b = strconv.AppendUint(b, uint64(page), 10)
	return append(b, ",0)"...)
}

// ParseTID parses a keyless backfill cursor, the text "(page,offset)" with
// decimal numbers (page up to 2^32-1, offset up to 65535 as in a PostgreSQL
// tid; no signs or spaces). An unset (nil or empty) cursor means (0,0).
func ParseTID(b []byte) (page, offset uint32, err error) {
	if len(b) == 0 {
		return 0, 0, nil
	}
	s := string(b)
	if len(s) < 5 || s[0] != '(' || s[len(s)-1] != ')' {
		return 0, 0, fmt.Errorf("invalid tid %q: want (page,offset)", s)
	}
	inner := s[1 : len(s)-1]
	comma := -1
	for i := 0; i < len(inner); i++ {
		if inner[i] == ',' {
			comma = i
			break
		}
	}
	if comma < 0 {
		return 0, 0, fmt.Errorf("invalid tid %q: want (page,offset)", s)
	}
	p, err := parseDecimal(inner[:comma], 32)
	if err != nil {
		return 0, 0, fmt.Errorf("invalid tid %q: page: %w", s, err)
	}
	o, err := parseDecimal(inner[comma+1:], 16)
	if err != nil {
		return 0, 0, fmt.Errorf("invalid tid %q: offset: %w", s, err)
	}
	return uint32(p), uint32(o), nil
}

// parseDecimal parses a non-empty run of ASCII decimal digits that fits in
// bits bits.
func parseDecimal(s string, bits int) (uint64, error) {
	if s == "" {
		return 0, errors.New("empty number")
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("invalid digit %q", s[i])
		}
	}
	return strconv.ParseUint(s, 10, bits)
}

package checkpoint

import (
	"fmt"
	"strconv"
	"strings"
)

// LSN is a PostgreSQL write-ahead log position (pg_lsn). The checkpoint
// cursor is the end LSN of the last fully processed transaction.
type LSN uint64

// maxLSNComponentDigits is PostgreSQL's limit on the hex digits of each half
// of the pg_lsn text form (MAXPG_LSNCOMPONENT).
const maxLSNComponentDigits = 8

// ParseLSN parses the PostgreSQL text form of an LSN, "%X/%X": the high and
// low 32 bits as hexadecimal numbers (either case, 1 to 8 digits each, leading
// zeros allowed) separated by a slash. Signs, spaces, "0x" prefixes and
// trailing text are rejected.
func ParseLSN(s string) (LSN, error) {
	hi, lo, ok := strings.Cut(s, "/")
	if !ok {
		return 0, fmt.Errorf("invalid LSN %q: missing '/'", s)
	}
	h, err := parseLSNHalf(hi)
	if err != nil {
		return 0, fmt.Errorf("invalid LSN %q: high half: %w", s, err)
	}
	l, err := parseLSNHalf(lo)
	if err != nil {
		return 0, fmt.Errorf("invalid LSN %q: low half: %w", s, err)
	}
	return LSN(h<<32 | l), nil
}

func parseLSNHalf(s string) (uint64, error) {
	if len(s) == 0 || len(s) > maxLSNComponentDigits {
		return 0, fmt.Errorf("want 1 to %d hex digits, got %d characters", maxLSNComponentDigits, len(s))
	}
	for i := 0; i < len(s); i++ {
		if !isHexDigit(s[i]) {
			return 0, fmt.Errorf("invalid hex digit %q", s[i])
		}
	}
	return strconv.ParseUint(s, 16, 32)
}

func isHexDigit(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// String returns the canonical text form of l: uppercase hex halves without
// leading zeros, as PostgreSQL prints a pg_lsn ("1A/3F2B8F40", "0/0").
func (l LSN) String() string {
	return fmt.Sprintf("%X/%X", uint64(l)>>32, uint64(l)&0xFFFFFFFF)
}

// MarshalText implements encoding.TextMarshaler with the canonical form.
func (l LSN) MarshalText() ([]byte, error) {
	return []byte(l.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler using ParseLSN.
func (l *LSN) UnmarshalText(text []byte) error {
	v, err := ParseLSN(string(text))
	if err != nil {
		return err
	}
	*l = v
	return nil
}

// canonicalCursor returns the canonical form of a non-empty cursor, or ""
// for an empty one.
func canonicalCursor(c string) (string, error) {
	if c == "" {
		return "", nil
	}
	l, err := ParseLSN(c)
	if err != nil {
		return "", fmt.Errorf("cursor: %w", err)
	}
	return l.String(), nil
}

package pgtext

import (
	"testing"

	"github.com/jackc/pgx/v5/pgtype"
)

// ParseNumeric reads every form PostgreSQL writes exactly as pgx's own
// text scanner does, so that row keys (pgx's binary encoding of it) keep
// their bytes.
func TestParseNumericAsPgx(t *testing.T) {
	for _, text := range []string{"0", "-0", "0.00", "12.340", "-12.340", "1", "-1", "100", "0.5", ".5",
		"123456789012345678901234567890.123456789", "-0.000001", "NaN", "Infinity", "-Infinity", "00012.1000"} {
		got, err := ParseNumeric([]byte(text))
		if err != nil {
			t.Fatalf("ParseNumeric(%q): %v", text, err)
		}
		var want pgtype.Numeric
		if err := want.Scan(text); err != nil {
			t.Fatalf("pgx Scan(%q): %v", text, err)
		}
		if got.Valid != want.Valid || got.NaN != want.NaN || got.InfinityModifier != want.InfinityModifier || got.Exp != want.Exp ||
			(got.Int == nil) != (want.Int == nil) || (got.Int != nil && got.Int.Cmp(want.Int) != 0) {
			t.Errorf("ParseNumeric(%q) = %+v, pgx reads %+v", text, got, want)
		}
	}
	for _, bad := range []string{"", "-", "1.2.3", "abc", "1e5"} {
		if _, err := ParseNumeric([]byte(bad)); err == nil {
			t.Errorf("ParseNumeric(%q) accepted", bad)
		}
	}
}

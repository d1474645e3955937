package pgtext

import (
	"testing"
	"time"
)

func TestParseDateTimestamp(t *testing.T) {
	day := func(y int, m time.Month, d int) int64 { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400 }
	dates := []struct {
		text string
		want int64
		ok   bool
	}{
		{"1970-01-01", 0, true},
		{"2000-03-01", day(2000, 3, 1), true},
		{"1900-02-28", day(1900, 2, 28), true},
		{"0001-01-01 BC", day(0, 1, 1), true},
		{"0044-03-15 BC", day(-43, 3, 15), true},
		{"12345-06-07", day(12345, 6, 7), true},
		{"infinity", day(9999, 12, 31), true},
		{"-infinity", day(0, 1, 1), true},
		{"2024-13-01", 0, false},
		{"2024-01-01x", 0, false},
	}
	for _, tc := range dates {
		got, ok := ParseDate([]byte(tc.text))
		if ok != tc.ok || (ok && got != tc.want) {
			t.Errorf("date %q = %d, %v; want %d, %v", tc.text, got, ok, tc.want, tc.ok)
		}
	}
	stamps := []struct {
		text string
		want time.Time
		ok   bool
	}{
		{"2024-01-02 03:04:05", time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC), true},
		{"2024-01-02 03:04:05.000001+00", time.Date(2024, 1, 2, 3, 4, 5, 1000, time.UTC), true},
		{"2024-01-02 03:04:05-08", time.Date(2024, 1, 2, 11, 4, 5, 0, time.UTC), true},
		{"1900-01-01 00:00:00+00:19:32", time.Date(1899, 12, 31, 23, 40, 28, 0, time.UTC), true},
		{"1969-12-31 23:59:59.5+00", time.Date(1969, 12, 31, 23, 59, 59, 5e8, time.UTC), true},
		{"20000-01-01 00:00:00+00", time.Date(20000, 1, 1, 0, 0, 0, 0, time.UTC), true},
		{"infinity", time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC), true},
		{"294276-12-31 23:59:59+00", time.Time{}, false}, // beyond int64 microseconds
		{"2024-01-02T03:04:05", time.Time{}, false},
	}
	for _, tc := range stamps {
		got, ok := ParseTimestamp([]byte(tc.text))
		if ok != tc.ok || (ok && got != tc.want.UnixMicro()) {
			t.Errorf("timestamp %q = %d, %v; want %d, %v", tc.text, got, ok, tc.want.UnixMicro(), tc.ok)
		}
	}
}

package pgtext

import (
	"bytes"
	"testing"
)

func TestSplitTimestampFlagsISO8601(t *testing.T) {
	for _, tc := range []struct {
		text      string
		ok, iso   bool
		offset    int
		hasOffset bool
	}{
		{"2024-01-02 03:04:05", true, false, 0, false},
		{"2024-01-02 03:04:05.5-08", true, false, -8 * 3600, true},
		{"2024-01-02 03:04:05+05:30:15 BC", true, false, 5*3600 + 30*60 + 15, true},
		{"2024-01-02T03:04:05", true, true, 0, false},
		{"2024-01-02 03:04:05Z", true, true, 0, true},
		{"2024-01-02 03:04", false, false, 0, false},
		{"2024-01-02 03:04:05+5", false, false, 0, false},
	} {
		ts, ok := SplitTimestamp([]byte(tc.text))
		if ok != tc.ok || (ok && (ts.ISO8601 != tc.iso || ts.Offset != tc.offset || ts.HasOffset != tc.hasOffset)) {
			t.Errorf("%q: %+v, %v", tc.text, ts, ok)
		}
	}
	if _, ok := ParseOffset([]byte("Z")); ok {
		t.Error(`ParseOffset("Z"): PostgreSQL never writes it`)
	}
}

func TestAppendBytea(t *testing.T) {
	for _, tc := range []struct {
		text string
		want []byte
		ok   bool
	}{
		{`\x00ffAb`, []byte{0, 0xff, 0xab}, true},
		{`\x`, []byte{}, true},
		{`\x0`, nil, false},
		{`\xzz`, nil, false},
		{`a\\b\000\377`, []byte("a\\b\x00\xff"), true},
		{`a\9`, nil, false},
	} {
		got, ok := AppendBytea([]byte("p"), []byte(tc.text))
		if ok != tc.ok || (ok && !bytes.Equal(got[1:], tc.want)) || (!ok && string(got) != "p") {
			t.Errorf("%q: %q, %v", tc.text, got, ok)
		}
	}
}

func TestSplitRange(t *testing.T) {
	open, lo, hi, cl, esc, ok := SplitRange([]byte(`["2024-01-01 10:00:00",)`))
	if !ok || esc || open != '[' || cl != ')' || string(lo) != "2024-01-01 10:00:00" || len(hi) != 0 {
		t.Errorf("%c %q %q %c %v %v", open, lo, hi, cl, esc, ok)
	}
	if _, _, _, _, esc, ok := SplitRange([]byte(`("a\"b",c]`)); !ok || !esc {
		t.Errorf("escaped bound: %v %v", esc, ok)
	}
	for _, bad := range []string{"", "[1,2", "[1]", `["1,2]`, "[1,2]x"} {
		if _, _, _, _, _, ok := SplitRange([]byte(bad)); ok {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestParseUUID(t *testing.T) {
	want := [16]byte{0x66, 0xb9, 0x68, 0xa7, 0xae, 0xca, 0x44, 0x01, 0x82, 0x39, 0x5d, 0x57, 0x95, 0x8d, 0x15, 0x72}
	for _, s := range []string{"66b968a7-aeca-4401-8239-5d57958d1572", "{66B968A7AECA440182395D57958D1572}"} {
		if got, ok := ParseUUID([]byte(s)); !ok || got != want {
			t.Errorf("%q: %x, %v", s, got, ok)
		}
	}
	for _, s := range []string{"66b968a7-aeca-4401-8239-5d57958d157", "66b968a7aeca-4401-8239-5d57958d1572-", "x6b968a7aeca440182395d57958d1572"} {
		if _, ok := ParseUUID([]byte(s)); ok {
			t.Errorf("%q accepted", s)
		}
	}
}

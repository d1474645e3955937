package checkpoint

import "testing"

func TestLSN(t *testing.T) {
	tests := []struct {
		in    string
		want  LSN
		canon string
	}{
		{"0/0", 0, "0/0"},
		{"0/1A2B3C8", 0x1A2B3C8, "0/1A2B3C8"},
		{"1A/3F2B8F40", 0x1A_3F2B8F40, "1A/3F2B8F40"},
		{"1a/3f2b8f40", 0x1A_3F2B8F40, "1A/3F2B8F40"},
		{"0000001A/03F2B8F4", 0x1A_03F2B8F4, "1A/3F2B8F4"},
		{"FFFFFFFF/FFFFFFFF", 0xFFFFFFFF_FFFFFFFF, "FFFFFFFF/FFFFFFFF"},
		{"1/0", 1 << 32, "1/0"},
	}
	for _, tt := range tests {
		got, err := ParseLSN(tt.in)
		if err != nil {
			t.Errorf("ParseLSN(%q): %v", tt.in, err)
			continue
		}
		if got != tt.want {
			t.Errorf("ParseLSN(%q) = %#x, want %#x", tt.in, uint64(got), uint64(tt.want))
		}
		if s := got.String(); s != tt.canon {
			t.Errorf("ParseLSN(%q).String() = %q, want %q", tt.in, s, tt.canon)
		}
		if back, err := ParseLSN(got.String()); err != nil || back != got {
			t.Errorf("round trip of %q: %v, %v", tt.in, back, err)
		}
	}
}

func TestParseLSNErrors(t *testing.T) {
	for _, in := range []string{
		"", "/", "0", "0/", "/0", "0/0/0", "G/0", "0/-1", "+1/0", " 0/0", "0/0 ",
		"0x1/0", "100000000/0", "0/123456789", "1/2garbage",
	} {
		if l, err := ParseLSN(in); err == nil {
			t.Errorf("ParseLSN(%q) = %v, want error", in, l)
		}
	}
}

func TestLSNText(t *testing.T) {
	var l LSN
	if err := l.UnmarshalText([]byte("ab/cd")); err != nil || l != 0xAB_000000CD {
		t.Fatalf("UnmarshalText: %v, %v", l, err)
	}
	b, _ := l.MarshalText()
	if string(b) != "AB/CD" {
		t.Fatalf("MarshalText = %q", b)
	}
	if err := l.UnmarshalText([]byte("nope")); err == nil || l != 0xAB_000000CD {
		t.Fatalf("UnmarshalText(bad) = %v, left %v", err, l)
	}
}

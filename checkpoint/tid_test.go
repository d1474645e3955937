package checkpoint

import "testing"

func TestTID(t *testing.T) {
	for _, page := range []uint32{0, 1, 1503, 501, 0xFFFFFFFF} {
		b := FormatTID(page)
		p, o, err := ParseTID(b)
		if err != nil || p != page || o != 0 {
			t.Errorf("ParseTID(FormatTID(%d) = %q) = %d, %d, %v", page, b, p, o, err)
		}
	}
	if got := string(FormatTID(1503)); got != "(1503,0)" {
		t.Errorf("FormatTID(1503) = %q", got)
	}
	for _, tt := range []struct {
		in         string
		page, off  uint32
		shouldFail bool
	}{
		{"", 0, 0, false},
		{"(1503,0)", 1503, 0, false},
		{"(7,65535)", 7, 65535, false},
		{"(4294967295,1)", 0xFFFFFFFF, 1, false},
		{"(4294967296,0)", 0, 0, true},
		{"(1,65536)", 0, 0, true},
		{"(1503, 0)", 0, 0, true},
		{"(-1,0)", 0, 0, true},
		{"(1503)", 0, 0, true},
		{"1503,0", 0, 0, true},
		{"(,0)", 0, 0, true},
		{"(1,)", 0, 0, true},
		{"(1,2,3)", 0, 0, true},
		{"(", 0, 0, true},
	} {
		p, o, err := ParseTID([]byte(tt.in))
		if tt.shouldFail {
			if err == nil {
				t.Errorf("ParseTID(%q) = %d, %d, want error", tt.in, p, o)
			}
			continue
		}
		if err != nil || p != tt.page || o != tt.off {
			t.Errorf("ParseTID(%q) = %d, %d, %v; want %d, %d", tt.in, p, o, err, tt.page, tt.off)
		}
	}
	if p, o, err := ParseTID(nil); err != nil || p != 0 || o != 0 {
		t.Errorf("ParseTID(nil) = %d, %d, %v", p, o, err)
	}
}

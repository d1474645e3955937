package checkpoint

import (
	"slices"
	"testing"
)

func TestStateKeyVectors(t *testing.T) {
	tests := []struct {
		path    []string
		counter int
		want    string
		// parsed is what ParseStateKey returns when it differs from path.
		parsed []string
	}{
		{[]string{"public", "orders"}, 0, "public%2Forders", nil},
		{[]string{"public", "orders"}, 2, "public%2Forders.v2", nil},
		{[]string{"test", "USERS"}, 0, "test%2FUSERS", nil},
		{[]string{"my schema", "a.b"}, 0, "my%20schema%2Fa.b", nil},
		{
			[]string{"he!lo৬", "a/part%", "_¾the-=res+."}, 3,
			"he%21lo৬%2Fa%2Fpart%25%2F_¾the-=res+..v3",
			[]string{"he!lo৬", "a", "part%", "_¾the-=res+."},
		},
		{[]string{"public", "events"}, 1, "public%2Fevents.v1", nil},
		{[]string{"audit", "login_attempts"}, 0, "audit%2Flogin_attempts", nil},
		{[]string{"Straße", "日本"}, 0, "Straße%2F日本", nil},
		{[]string{"a~b", "c\"d"}, 10, "a%7Eb%2Fc%22d.v10", nil},
		{[]string{"é"}, 0, "é", nil},
		{[]string{"e\u0301"}, 0, "e%CC%81", nil}, // combining acute: Mn, not alphabetic
		{[]string{"ⅷ"}, 0, "ⅷ", nil},             // Nl
		{[]string{"😀"}, 0, "%F0%9F%98%80", nil},
		{[]string{"public", "t.v0"}, 0, "public%2Ft.v0", nil},
		{[]string{"public", "t.v03"}, 0, "public%2Ft.v03", nil},
		{[]string{"public", "t"}, 4294967295, "public%2Ft.v4294967295", nil},
	}
	for _, tt := range tests {
		got := StateKey(tt.path, tt.counter)
		if got != tt.want {
			t.Errorf("StateKey(%q, %d) = %q, want %q", tt.path, tt.counter, got, tt.want)
			continue
		}
		path, counter, err := ParseStateKey(got)
		if err != nil {
			t.Errorf("ParseStateKey(%q): %v", got, err)
			continue
		}
		wantPath := tt.path
		if tt.parsed != nil {
			wantPath = tt.parsed
		}
		if !slices.Equal(path, wantPath) || counter != tt.counter {
			t.Errorf("ParseStateKey(%q) = %q, %d; want %q, %d", got, path, counter, wantPath, tt.counter)
		}
		if again := StateKey(path, counter); again != got {
			t.Errorf("StateKey(ParseStateKey(%q)) = %q", got, again)
		}
	}
}

func TestStateKeyOtherAlphabetic(t *testing.T) {
	// U+0345 COMBINING GREEK YPOGEGRAMMENI is Mn but Other_Alphabetic, so
	// Rust's is_alphanumeric keeps it; U+0301 is Mn and not alphabetic.
	if got := StateKey([]string{"\u0345\u0301"}, 0); got != "\u0345%CC%81" {
		t.Errorf("got %q", got)
	}
}

func TestStateKeyInvalidUTF8(t *testing.T) {
	if got := StateKey([]string{"a\xffb"}, 0); got != "a%FFb" {
		t.Errorf("got %q", got)
	}
	if _, _, err := ParseStateKey("a%FFb"); err == nil {
		t.Error("ParseStateKey accepted invalid UTF-8")
	}
}

func TestParseStateKey(t *testing.T) {
	tests := []struct {
		key     string
		path    []string
		counter int
		fail    bool
	}{
		{key: "public%2forders", path: []string{"public", "orders"}},
		{key: "public%2Forders.v12", path: []string{"public", "orders"}, counter: 12},
		{key: "x.v", path: []string{"x.v"}},
		{key: "x.vx", path: []string{"x.vx"}},
		{key: "x.v1.v2", path: []string{"x.v1"}, counter: 2},
		{key: "x.v4294967296", path: []string{"x.v4294967296"}},
		{key: "", fail: true},
		{key: "a%2", fail: true},
		{key: "a%", fail: true},
		{key: "a%G0", fail: true},
		{key: "%C3", fail: true},
	}
	for _, tt := range tests {
		path, counter, err := ParseStateKey(tt.key)
		if tt.fail {
			if err == nil {
				t.Errorf("ParseStateKey(%q) = %q, %d; want error", tt.key, path, counter)
			}
			continue
		}
		if err != nil || !slices.Equal(path, tt.path) || counter != tt.counter {
			t.Errorf("ParseStateKey(%q) = %q, %d, %v; want %q, %d", tt.key, path, counter, err, tt.path, tt.counter)
		}
	}
}

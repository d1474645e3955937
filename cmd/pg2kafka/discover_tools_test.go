package main

import "testing"

func TestDiscoverNames(t *testing.T) {
	for in, want := range map[string]string{"public": "Public", "my schema": "My Schema", "a.b-c_d": "A.B-C_d", "USERS": "USERS", "ünï": "Ünï"} {
		if got := titleCase(in); got != want {
			t.Errorf("titleCase(%q) = %q, want %q", in, got, want)
		}
	}
	if got := keyPointer("a/b~c"); got != "/a~1b~0c" {
		t.Errorf("keyPointer = %q", got)
	}
	if got := recommendedName("My Schema", "Tab$le"); got != "my_schema/tab_le" {
		t.Errorf("recommendedName = %q", got)
	}
}

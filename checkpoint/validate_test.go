package checkpoint

import (
	"encoding/json"
	"testing"
)

func TestValidate(t *testing.T) {
	ok := []*State{
		nil,
		{},
		{Cursor: "0/0"},
		{Bindings: map[string]*TableState{"a%2Fb": {Mode: ModeActive}}},
		{Bindings: map[string]*TableState{"a%2Fb": nil}},
		{Bindings: map[string]*TableState{"a%2Fb.v2": {Mode: ModeKeylessBackfill}}},
		{Bindings: map[string]*TableState{"a%2Fb": {Mode: ModeMissing, KeyColumns: []string{"id"}, Backfilled: 4}}},
		{Bindings: map[string]*TableState{"a%2Fb": {Mode: ModeBackfill, KeyColumns: []string{"id"}}}},
		{Bindings: map[string]*TableState{"a%2Ft.v0": {Mode: ModeActive}}},
	}
	for i, st := range ok {
		if err := st.Validate(); err != nil {
			t.Errorf("ok[%d]: %v", i, err)
		}
	}
	bad := []struct {
		name string
		st   *State
	}{
		{"bad cursor", &State{Cursor: "x"}},
		{"empty key", &State{Bindings: map[string]*TableState{"": {Mode: ModeActive}}}},
		{"raw slash in key", &State{Bindings: map[string]*TableState{"a/b": {Mode: ModeActive}}}},
		{"lowercase escape", &State{Bindings: map[string]*TableState{"a%2fb": {Mode: ModeActive}}}},
		{"needless escape", &State{Bindings: map[string]*TableState{"%41": {Mode: ModeActive}}}},
		{"bad escape", &State{Bindings: map[string]*TableState{"a%2": {Mode: ModeActive}}}},
		{"unknown mode", &State{Bindings: map[string]*TableState{"a": {Mode: "Bogus"}}}},
		{"empty mode", &State{Bindings: map[string]*TableState{"a": {}}}},
		{"negative backfilled", &State{Bindings: map[string]*TableState{"a": {Mode: ModeActive, Backfilled: -1}}}},
		{"scanned in Active", &State{Bindings: map[string]*TableState{"a": {Mode: ModeActive, Scanned: []byte{1}}}}},
		{"scanned in Ignore", &State{Bindings: map[string]*TableState{"a": {Mode: ModeIgnore, Scanned: []byte{1}}}}},
		{"Backfill without keys", &State{Bindings: map[string]*TableState{"a": {Mode: ModeBackfill}}}},
		{"UnfilteredBackfill without keys", &State{Bindings: map[string]*TableState{"a": {Mode: ModeUnfilteredBackfill}}}},
		{"Keyless with keys", &State{Bindings: map[string]*TableState{"a": {Mode: ModeKeylessBackfill, KeyColumns: []string{"id"}}}}},
		{"Keyless bad tid", &State{Bindings: map[string]*TableState{"a": {Mode: ModeKeylessBackfill, Scanned: []byte{0x16, 0x04}}}}},
		{"Pending with backfilled", &State{Bindings: map[string]*TableState{"a": {Mode: ModePending, Backfilled: 1}}}},
		{"Ignore with keys", &State{Bindings: map[string]*TableState{"a": {Mode: ModeIgnore, KeyColumns: []string{"id"}}}}},
		{"Ignore with metadata", &State{Bindings: map[string]*TableState{"a": {Mode: ModeIgnore, Metadata: json.RawMessage(`{}`)}}}},
		{"empty key column", &State{Bindings: map[string]*TableState{"a": {Mode: ModeActive, KeyColumns: []string{""}}}}},
		{"duplicate key column", &State{Bindings: map[string]*TableState{"a": {Mode: ModeActive, KeyColumns: []string{"x", "y", "x"}}}}},
		{"invalid metadata", &State{Bindings: map[string]*TableState{"a": {Mode: ModeActive, Metadata: json.RawMessage(`{`)}}}},
	}
	for _, tt := range bad {
		if err := tt.st.Validate(); err == nil {
			t.Errorf("%s: Validate accepted %+v", tt.name, tt.st)
		}
	}
}

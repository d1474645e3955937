package checkpoint

import (
	"bytes"
	"reflect"
	"testing"
)

func TestApplyPatches(t *testing.T) {
	base := `{"cursor":"1A/3F2B0000","bindingStateV1":{
		"public%2Forders":{"mode":"Backfill","key_columns":["id"],"scanned":"FQE=","backfilled":500},
		"public%2Forder_items":{"mode":"Backfill","key_columns":["order_id","line_no"],"scanned":"FQE=","backfilled":50000}}}`
	tests := []struct {
		name  string
		base  string
		patch string
		want  string
	}{
		{
			name:  "chunk patch",
			base:  base,
			patch: `{"cursor":"1A/3F2B8F40","bindingStateV1":{"public%2Forder_items":{"mode":"Backfill","key_columns":["order_id","line_no"],"scanned":"FgSwFQM=","backfilled":100000}}}`,
			want: `{"cursor":"1A/3F2B8F40","bindingStateV1":{
				"public%2Forders":{"mode":"Backfill","key_columns":["id"],"scanned":"FQE=","backfilled":500},
				"public%2Forder_items":{"mode":"Backfill","key_columns":["order_id","line_no"],"scanned":"FgSwFQM=","backfilled":100000}}}`,
		},
		{
			name:  "cursor-only patch",
			base:  base,
			patch: `{"cursor":"1A/3F2B9A08"}`,
			want: `{"cursor":"1A/3F2B9A08","bindingStateV1":{
				"public%2Forders":{"mode":"Backfill","key_columns":["id"],"scanned":"FQE=","backfilled":500},
				"public%2Forder_items":{"mode":"Backfill","key_columns":["order_id","line_no"],"scanned":"FQE=","backfilled":50000}}}`,
		},
		{
			name:  "completion patch removes scanned",
			base:  base,
			patch: `{"cursor":"1A/40000000","bindingStateV1":{"public%2Forders":{"mode":"Active","key_columns":["id"],"scanned":null,"backfilled":1048576}}}`,
			want: `{"cursor":"1A/40000000","bindingStateV1":{
				"public%2Forders":{"mode":"Active","key_columns":["id"],"backfilled":1048576},
				"public%2Forder_items":{"mode":"Backfill","key_columns":["order_id","line_no"],"scanned":"FQE=","backfilled":50000}}}`,
		},
		{
			name:  "partial entry merges with existing",
			base:  base,
			patch: `{"cursor":"1A/40000000","bindingStateV1":{"public%2Forders":{"mode":"Active","scanned":null}}}`,
			want: `{"cursor":"1A/40000000","bindingStateV1":{
				"public%2Forders":{"mode":"Active","key_columns":["id"],"backfilled":500},
				"public%2Forder_items":{"mode":"Backfill","key_columns":["order_id","line_no"],"scanned":"FQE=","backfilled":50000}}}`,
		},
		{
			name:  "cursor reset and removal to Ignore",
			base:  base,
			patch: `{"cursor":null,"bindingStateV1":{"public%2Forders":{"mode":"Ignore","key_columns":null,"scanned":null,"metadata":null,"backfilled":0},"public%2Fnew":{"mode":"Pending","key_columns":null,"scanned":null,"backfilled":0}}}`,
			want: `{"bindingStateV1":{
				"public%2Forders":{"mode":"Ignore","backfilled":0},
				"public%2Fnew":{"mode":"Pending","backfilled":0},
				"public%2Forder_items":{"mode":"Backfill","key_columns":["order_id","line_no"],"scanned":"FQE=","backfilled":50000}}}`,
		},
		{
			name:  "null entry deletes it",
			base:  base,
			patch: `{"cursor":"1A/3F2B0000","bindingStateV1":{"public%2Forders":null,"public%2Forder_items":null}}`,
			want:  `{"cursor":"1A/3F2B0000"}`,
		},
		{
			name:  "onto empty state, lowercase cursor normalised",
			base:  ``,
			patch: `{"cursor":"1a/ff","bindingStateV1":{"k":{"mode":"KeylessBackfill","key_columns":null,"scanned":"KDE1MDMsMCk=","backfilled":120311}}}`,
			want:  `{"cursor":"1A/FF","bindingStateV1":{"k":{"mode":"KeylessBackfill","scanned":"KDE1MDMsMCk=","backfilled":120311}}}`,
		},
		{
			name:  "metadata merged recursively",
			base:  `{"bindingStateV1":{"k":{"mode":"Active","metadata":{"a":1,"b":{"c":2,"d":3}},"backfilled":0}}}`,
			patch: `{"bindingStateV1":{"k":{"metadata":{"a":null,"b":{"c":null,"e":[null]}}}}}`,
			want:  `{"bindingStateV1":{"k":{"mode":"Active","metadata":{"b":{"d":3,"e":[null]}},"backfilled":0}}}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := mustParse(t, tt.base)
			if err := st.Apply([]byte(tt.patch)); err != nil {
				t.Fatalf("Apply: %v", err)
			}
			out := mustMarshal(t, st)
			if got, want := jsonValue(t, out), jsonValue(t, []byte(tt.want)); !reflect.DeepEqual(got, want) {
				t.Errorf("reduced =\n%s\nwant\n%s", out, tt.want)
			}
		})
	}
}

func TestApplyErrorsLeaveStateUnchanged(t *testing.T) {
	for _, patch := range []string{
		`{"cursor":42}`,
		`{"cursor":"bogus"}`,
		`{"streams":{}}`,
		`{"bindingStateV1":{"public%2Forders":{"mode":"Nope"}}}`,
		`{"bindingStateV1":{"public%2Forders":{"extra":true}}}`,
		`{"bindingStateV1":{"public%2Forders":{"mode":null}}}`,
		`{"bindingStateV1":{"new":{"backfilled":1}}}`,
		`null`,
		`[]`,
		`"x"`,
		``,
		`{"cursor":"0/1"} x`,
	} {
		st := mustParse(t, realistic)
		before := mustMarshal(t, st)
		if err := st.Apply([]byte(patch)); err == nil {
			t.Errorf("Apply(%s) succeeded", patch)
		}
		if after := mustMarshal(t, st); !bytes.Equal(before, after) {
			t.Errorf("Apply(%s) changed the state on error", patch)
		}
	}
	var nilState *State
	if err := nilState.Apply([]byte(`{}`)); err == nil {
		t.Error("Apply on nil state succeeded")
	}
}

func TestPatch(t *testing.T) {
	st := mustParse(t, realistic)
	got, err := st.Patch("public%2Forder_items", "public%2Fevents", "public%2Forders", "absent")
	if err != nil {
		t.Fatal(err)
	}
	want := `{"cursor":"1A/3F2B8F40","bindingStateV1":{` +
		`"absent":null,` +
		`"public%2Fevents":{"mode":"Ignore","key_columns":null,"scanned":null,"metadata":null,"backfilled":0},` +
		`"public%2Forder_items":{"mode":"Backfill","key_columns":["order_id","line_no"],"scanned":"FgSwFQM=","backfilled":100000},` +
		`"public%2Forders":{"mode":"Active","key_columns":["id"],"scanned":null,"backfilled":1048576}}}`
	if string(got) != want {
		t.Errorf("Patch =\n%s\nwant\n%s", got, want)
	}
	empty := &State{}
	if got, _ := empty.Patch(); string(got) != `{"cursor":null}` {
		t.Errorf("empty Patch = %s", got)
	}
}

// TestDiffApply checks that Apply(prev, Diff(prev, next)) == next for
// transitions that exercise every kind of change.
func TestDiffApply(t *testing.T) {
	start := mustParse(t, realistic)
	start.Bindings["meta"] = &TableState{Mode: ModeActive, Metadata: []byte(`{"a":{"b":1}}`)}
	steps := []func(s *State){
		func(s *State) { s.Cursor = "1B/0" },
		func(s *State) {
			ts := s.Bindings["public%2Forder_items"]
			ts.Scanned, ts.Backfilled = []byte{0x16, 0x05}, 150000
		},
		func(s *State) {
			ts := s.Bindings["public%2Forder_items"]
			ts.Mode, ts.Scanned = ModeActive, nil
		},
		func(s *State) { s.Bindings["meta"].Metadata = nil },
		func(s *State) { s.Bindings["meta"].Metadata = []byte(`{"a":{"c":2}}`) },
		func(s *State) { delete(s.Bindings, "meta") },
		func(s *State) { Reconcile(s, []Binding{{"public%2Forders"}, {"public%2Fnew"}}) },
		func(s *State) { Reconcile(s, nil) },
	}
	prev := start
	for i, step := range steps {
		next := prev.Clone()
		step(next)
		patch, err := Diff(prev, next)
		if err != nil {
			t.Fatalf("step %d: Diff: %v", i, err)
		}
		reduced := prev.Clone()
		if err := reduced.Apply(patch); err != nil {
			t.Fatalf("step %d: Apply(%s): %v", i, patch, err)
		}
		if got, want := mustMarshal(t, reduced), mustMarshal(t, next); !bytes.Equal(got, want) {
			t.Fatalf("step %d: patch %s\nreduced to %s\nwant       %s", i, patch, got, want)
		}
		prev = next
	}
	// An unchanged state yields a cursor-only patch.
	if p, _ := Diff(prev, prev.Clone()); string(p) != `{"cursor":null}` {
		t.Errorf("no-op Diff = %s", p)
	}
	if p, _ := Diff(nil, &State{Cursor: "0/10"}); string(p) != `{"cursor":"0/10"}` {
		t.Errorf("Diff from nil = %s", p)
	}
}

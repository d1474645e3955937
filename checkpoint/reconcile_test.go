package checkpoint

import (
	"reflect"
	"testing"
)

func TestReconcile(t *testing.T) {
	tests := []struct {
		name     string
		state    string
		bindings []Binding
		want     string
		changed  bool
	}{
		{
			name:     "fresh capture",
			state:    `{}`,
			bindings: []Binding{NewBinding([]string{"public", "orders"}, 0), NewBinding([]string{"public", "items"}, 0)},
			want:     `{"bindingStateV1":{"public%2Forders":{"mode":"Pending"},"public%2Fitems":{"mode":"Pending"}}}`,
			changed:  true,
		},
		{
			name:     "all new resets cursor (all re-backfilled)",
			state:    `{"cursor":"1A/0","bindingStateV1":{"public%2Forders":{"mode":"Active","key_columns":["id"],"backfilled":10}}}`,
			bindings: []Binding{{"public%2Forders.v1"}},
			want:     `{"bindingStateV1":{"public%2Forders":{"mode":"Ignore"},"public%2Forders.v1":{"mode":"Pending"}}}`,
			changed:  true,
		},
		{
			name:     "one new one existing keeps cursor",
			state:    `{"cursor":"1A/0","bindingStateV1":{"public%2Forders":{"mode":"Backfill","key_columns":["id"],"scanned":"FQE=","backfilled":10}}}`,
			bindings: []Binding{{"public%2Forders"}, {"public%2Fitems"}},
			want:     `{"cursor":"1A/0","bindingStateV1":{"public%2Forders":{"mode":"Backfill","key_columns":["id"],"scanned":"FQE=","backfilled":10},"public%2Fitems":{"mode":"Pending"}}}`,
			changed:  true,
		},
		{
			name:     "removed binding becomes Ignore",
			state:    `{"cursor":"1A/0","bindingStateV1":{"a":{"mode":"Active","key_columns":["id"],"backfilled":10},"b":{"mode":"Backfill","key_columns":["id"],"scanned":"FQE=","metadata":{"x":1},"backfilled":5},"c":{"mode":"Missing"}}}`,
			bindings: []Binding{{"a"}},
			want:     `{"cursor":"1A/0","bindingStateV1":{"a":{"mode":"Active","key_columns":["id"],"backfilled":10},"b":{"mode":"Ignore"},"c":{"mode":"Ignore"}}}`,
			changed:  true,
		},
		{
			name:     "Ignore re-added becomes Pending, others existing",
			state:    `{"cursor":"1A/0","bindingStateV1":{"a":{"mode":"Active","backfilled":10},"b":{"mode":"Ignore","backfilled":0}}}`,
			bindings: []Binding{{"a"}, {"b"}},
			want:     `{"cursor":"1A/0","bindingStateV1":{"a":{"mode":"Active","backfilled":10},"b":{"mode":"Pending"}}}`,
			changed:  true,
		},
		{
			name:     "only Ignore re-added counts as all new",
			state:    `{"cursor":"1A/0","bindingStateV1":{"b":{"mode":"Ignore","backfilled":0}}}`,
			bindings: []Binding{{"b"}},
			want:     `{"bindingStateV1":{"b":{"mode":"Pending"}}}`,
			changed:  true,
		},
		{
			name:     "no bindings resets cursor, Ignore untouched",
			state:    `{"cursor":"1A/0","bindingStateV1":{"a":{"mode":"Ignore","backfilled":0},"b":{"mode":"Pending"}}}`,
			bindings: nil,
			want:     `{"bindingStateV1":{"a":{"mode":"Ignore"},"b":{"mode":"Ignore"}}}`,
			changed:  true,
		},
		{
			name:     "steady state unchanged",
			state:    `{"cursor":"1A/0","bindingStateV1":{"a":{"mode":"Active","backfilled":10},"b":{"mode":"Pending"},"old":{"mode":"Ignore"}}}`,
			bindings: []Binding{{"a"}, {"b"}, {"a"}},
			want:     `{"cursor":"1A/0","bindingStateV1":{"a":{"mode":"Active","backfilled":10},"b":{"mode":"Pending"},"old":{"mode":"Ignore"}}}`,
			changed:  false,
		},
		{
			name:     "empty everything",
			state:    `{}`,
			bindings: nil,
			want:     `{}`,
			changed:  false,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := mustParse(t, tt.state)
			changed := Reconcile(st, tt.bindings)
			if changed != tt.changed {
				t.Errorf("changed = %v, want %v", changed, tt.changed)
			}
			got, want := mustMarshal(t, st), mustMarshal(t, mustParse(t, tt.want))
			if !reflect.DeepEqual(jsonValue(t, got), jsonValue(t, want)) {
				t.Errorf("state =\n%s\nwant\n%s", got, want)
			}
			if err := st.Validate(); err != nil {
				t.Errorf("reconciled state invalid: %v", err)
			}
		})
	}
	if Reconcile(nil, []Binding{{"a"}}) {
		t.Error("Reconcile(nil) reported a change")
	}
}

// TestReconcilePatchMatchesFlow checks the reconciliation checkpoint Flow
// emits for a removed and an added binding.
func TestReconcilePatchMatchesFlow(t *testing.T) {
	st := mustParse(t, `{"cursor":"1A/0","bindingStateV1":{"a":{"mode":"Active","backfilled":3},"old":{"mode":"Active","key_columns":["id"],"backfilled":7}}}`)
	prev := st.Clone()
	Reconcile(st, []Binding{{"a"}, {"new"}})
	patch, err := Diff(prev, st)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"cursor":"1A/0","bindingStateV1":{"new":{"mode":"Pending","key_columns":null,"scanned":null,"backfilled":0},"old":{"mode":"Ignore","key_columns":null,"scanned":null,"metadata":null,"backfilled":0}}}`
	if string(patch) != want {
		t.Errorf("patch =\n%s\nwant\n%s", patch, want)
	}
}

package checkpoint

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// realistic is the reduced state of reference §1.7.
const realistic = `{
  "cursor": "1A/3F2B8F40",
  "bindingStateV1": {
    "public%2Forders": {
      "mode": "Active",
      "key_columns": ["id"],
      "backfilled": 1048576
    },
    "public%2Forder_items": {
      "mode": "Backfill",
      "key_columns": ["order_id", "line_no"],
      "scanned": "FgSwFQM=",
      "backfilled": 100000
    },
    "public%2Fcustomers": {
      "mode": "UnfilteredBackfill",
      "key_columns": ["email"],
      "scanned": "AmFsaWNlQGV4YW1wbGUuY29tAA==",
      "backfilled": 50000
    },
    "public%2Fevents.v1": {
      "mode": "KeylessBackfill",
      "scanned": "KDE1MDMsMCk=",
      "backfilled": 120311
    },
    "public%2Fevents": {
      "mode": "Ignore",
      "backfilled": 0
    },
    "audit%2Flogin_attempts": {
      "mode": "Active",
      "backfilled": 0
    }
  }
}`

// jsonValue decodes data into a generic value for comparison.
func jsonValue(t *testing.T, data []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatalf("unmarshal %s: %v", data, err)
	}
	return v
}

func mustParse(t *testing.T, data string) *State {
	t.Helper()
	st, err := Parse([]byte(data))
	if err != nil {
		t.Fatalf("Parse(%s): %v", data, err)
	}
	return st
}

func mustMarshal(t *testing.T, st *State) []byte {
	t.Helper()
	out, err := st.Marshal()
	if err != nil {
		t.Fatalf("Marshal: %v", err)
	}
	return out
}

func TestRealisticRoundTrip(t *testing.T) {
	st := mustParse(t, realistic)
	if err := st.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	out := mustMarshal(t, st)
	if got, want := jsonValue(t, out), jsonValue(t, []byte(realistic)); !reflect.DeepEqual(got, want) {
		t.Fatalf("round trip changed the state:\n got %s\nwant %s", out, realistic)
	}
	if bytes.Contains(out, []byte("null")) {
		t.Errorf("output contains null: %s", out)
	}
	// Deterministic and stable.
	st2 := mustParse(t, string(out))
	if out2 := mustMarshal(t, st2); !bytes.Equal(out, out2) {
		t.Errorf("not deterministic:\n%s\n%s", out, out2)
	}

	items := st.Bindings["public%2Forder_items"]
	if want := []byte{0x16, 0x04, 0xB0, 0x15, 0x03}; !bytes.Equal(items.Scanned, want) {
		t.Errorf("scanned = % X, want % X", items.Scanned, want)
	}
	if items.Mode != ModeBackfill || items.Backfilled != 100000 || !reflect.DeepEqual(items.KeyColumns, []string{"order_id", "line_no"}) {
		t.Errorf("order_items = %+v", items)
	}
	cust := st.Bindings["public%2Fcustomers"]
	if want := append(append([]byte{0x02}, "alice@example.com"...), 0x00); !bytes.Equal(cust.Scanned, want) {
		t.Errorf("customers scanned = %q", cust.Scanned)
	}
	ev := st.Bindings["public%2Fevents.v1"]
	if p, o, err := ParseTID(ev.Scanned); err != nil || p != 1503 || o != 0 {
		t.Errorf("events.v1 tid = %d, %d, %v", p, o, err)
	}
	if st.Cursor != "1A/3F2B8F40" {
		t.Errorf("cursor = %q", st.Cursor)
	}
	if l, ok, err := st.CursorLSN(); err != nil || !ok || l != 0x1A_3F2B8F40 {
		t.Errorf("CursorLSN = %v, %v, %v", l, ok, err)
	}
}

func TestParseAccepted(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string // Marshal output
	}{
		{"empty input", "", `{}`},
		{"whitespace", " \n", `{}`},
		{"empty object", "{}", `{}`},
		{"null", "null", `{}`},
		{"null fields", `{"cursor":null,"bindingStateV1":null}`, `{}`},
		{"null binding", `{"bindingStateV1":{"a":null}}`, `{}`},
		{"lowercase cursor", `{"cursor":"1a/3f2b8f40"}`, `{"cursor":"1A/3F2B8F40"}`},
		{"leading zeros", `{"cursor":"00000001/000000FF"}`, `{"cursor":"1/FF"}`},
		{"empty cursor", `{"cursor":""}`, `{}`},
		{
			"null table fields",
			`{"bindingStateV1":{"a":{"mode":"Active","key_columns":null,"scanned":null,"metadata":null,"backfilled":null}}}`,
			`{"bindingStateV1":{"a":{"mode":"Active","backfilled":0}}}`,
		},
		{
			"active without backfilled",
			`{"bindingStateV1":{"a":{"mode":"Active"}}}`,
			`{"bindingStateV1":{"a":{"mode":"Active","backfilled":0}}}`,
		},
		{
			"empty slices dropped",
			`{"bindingStateV1":{"a":{"mode":"Active","key_columns":[],"scanned":""}}}`,
			`{"bindingStateV1":{"a":{"mode":"Active","backfilled":0}}}`,
		},
		{
			"metadata kept, nulls stripped",
			`{"bindingStateV1":{"a":{"mode":"Active","metadata":{"z":1,"n":null,"o":{"x":null,"y":[null,2]}},"backfilled":3}}}`,
			`{"bindingStateV1":{"a":{"mode":"Active","metadata":{"o":{"y":[null,2]},"z":1},"backfilled":3}}}`,
		},
		{
			"big backfilled exact",
			`{"bindingStateV1":{"a":{"mode":"Active","backfilled":9007199254740993}}}`,
			`{"bindingStateV1":{"a":{"mode":"Active","backfilled":9007199254740993}}}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := mustParse(t, tt.in)
			if got := string(mustMarshal(t, st)); got != tt.want {
				t.Errorf("Marshal = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestParseRejected(t *testing.T) {
	tests := []struct {
		name string
		in   string
	}{
		{"unknown top-level field", `{"cursor":"0/1","streams":{}}`},
		{"unknown table field", `{"bindingStateV1":{"a":{"mode":"Active","backfilled":0,"extra":1}}}`},
		{"numeric cursor", `{"cursor":123}`},
		{"bad cursor", `{"cursor":"zz"}`},
		{"unknown mode", `{"bindingStateV1":{"a":{"mode":"active"}}}`},
		{"missing mode", `{"bindingStateV1":{"a":{"backfilled":1}}}`},
		{"null mode", `{"bindingStateV1":{"a":{"mode":null}}}`},
		{"bad base64", `{"bindingStateV1":{"a":{"mode":"Backfill","key_columns":["k"],"scanned":"!!"}}}`},
		{"unpadded base64", `{"bindingStateV1":{"a":{"mode":"Backfill","key_columns":["k"],"scanned":"FgSwFQM"}}}`},
		{"fractional backfilled", `{"bindingStateV1":{"a":{"mode":"Active","backfilled":1.5}}}`},
		{"string backfilled", `{"bindingStateV1":{"a":{"mode":"Active","backfilled":"1"}}}`},
		{"null key column", `{"bindingStateV1":{"a":{"mode":"Active","key_columns":["a",null]}}}`},
		{"array", `[]`},
		{"trailing data", `{} {}`},
		{"truncated", `{"cursor":"0/1"`},
		{"bindings not object", `{"bindingStateV1":[]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, err := Parse([]byte(tt.in))
			if err == nil {
				t.Fatalf("Parse(%s) = %+v, want error", tt.in, st)
			}
			if !strings.Contains(err.Error(), "unable to parse state checkpoint") {
				t.Errorf("error lacks context: %v", err)
			}
		})
	}
}

func TestMarshal(t *testing.T) {
	var nilState *State
	if got := string(mustMarshal(t, nilState)); got != "{}" {
		t.Errorf("nil Marshal = %s", got)
	}
	st := &State{
		Cursor: "a/b",
		Bindings: map[string]*TableState{
			"x":    {Mode: ModeIgnore},
			"gone": nil,
			"y":    {Mode: ModeBackfill, KeyColumns: []string{"<k>"}, Scanned: []byte{0x16, 0x04, 0xB0, 0x15, 0x03}, Metadata: json.RawMessage("null"), Backfilled: 7},
		},
	}
	want := `{"cursor":"A/B","bindingStateV1":{"x":{"mode":"Ignore","backfilled":0},"y":{"mode":"Backfill","key_columns":["<k>"],"scanned":"FgSwFQM=","backfilled":7}}}`
	if got := string(mustMarshal(t, st)); got != want {
		t.Errorf("Marshal =\n%s\nwant\n%s", got, want)
	}
	if st.Cursor != "a/b" {
		t.Error("Marshal modified the state")
	}
	for _, bad := range []*State{
		{Cursor: "nope"},
		{Bindings: map[string]*TableState{"x": {Mode: "Bogus"}}},
		{Bindings: map[string]*TableState{"x": {Mode: ModeActive, Metadata: json.RawMessage("{")}}},
	} {
		if out, err := bad.Marshal(); err == nil {
			t.Errorf("Marshal(%+v) = %s, want error", bad, out)
		}
	}
}

func TestClone(t *testing.T) {
	st := mustParse(t, realistic)
	st.Bindings["m"] = &TableState{Mode: ModeActive, Metadata: json.RawMessage(`{"a":1}`)}
	c := st.Clone()
	if !reflect.DeepEqual(st, c) {
		t.Fatal("clone differs")
	}
	c.Cursor = "0/0"
	c.Bindings["public%2Forder_items"].KeyColumns[0] = "changed"
	c.Bindings["public%2Forder_items"].Scanned[0] = 0xFF
	c.Bindings["m"].Metadata[1] = 'b'
	c.Bindings["public%2Forders"].Backfilled = 1
	delete(c.Bindings, "public%2Fevents")
	orig := mustParse(t, realistic)
	orig.Bindings["m"] = &TableState{Mode: ModeActive, Metadata: json.RawMessage(`{"a":1}`)}
	if !reflect.DeepEqual(st, orig) {
		t.Error("mutating the clone changed the original")
	}
	var nilState *State
	if nilState.Clone() != nil {
		t.Error("nil Clone not nil")
	}
}

func TestKeys(t *testing.T) {
	st := mustParse(t, realistic)
	st.Bindings["zzz"] = nil
	want := []string{"audit%2Flogin_attempts", "public%2Fcustomers", "public%2Fevents", "public%2Fevents.v1", "public%2Forder_items", "public%2Forders"}
	if got := st.Keys(); !reflect.DeepEqual(got, want) {
		t.Errorf("Keys = %q", got)
	}
}

package capture

import (
	"testing"

	"github.com/pg2kafka/pg2kafka/event"
)

// A window keeps copies of the values it remembers, in memory of their
// own: a change's values live in blocks shared with other changes (the
// stream's slabs), which an entry held for the whole window would
// otherwise keep alive.
func TestWindowKeepsCopies(t *testing.T) {
	in := []event.Value{
		{Marker: event.MarkerText, Data: []byte("42")},
		{Marker: event.MarkerNull},
		{Marker: event.MarkerText, Data: []byte{}},
		{Marker: event.MarkerUnchanged},
	}
	out := keepValues(in)
	if len(out) != len(in) {
		t.Fatalf("kept %d values of %d", len(out), len(in))
	}
	for i := range in {
		if out[i].Marker != in[i].Marker || string(out[i].Data) != string(in[i].Data) || (in[i].Data == nil) != (out[i].Data == nil) {
			t.Errorf("value %d kept as %+v, want %+v", i, out[i], in[i])
		}
	}
	if &out[0].Data[0] == &in[0].Data[0] {
		t.Fatal("the kept values share memory with the change's")
	}
}

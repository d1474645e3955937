package checkpoint

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
)

// The encoder's output equals Marshal's through a random walk of changes
// (table states changed in place or replaced, added, removed, cursor
// moved), and its table states are the document's.
func TestEncoderMatchesMarshal(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var e Encoder
	st := &State{}
	for i := 0; i < 500; i++ {
		if rng.IntN(3) == 0 {
			st.Cursor = LSN(uint64(i) * 16).String()
		}
		if st.Bindings == nil && rng.IntN(2) == 0 {
			st.Bindings = map[string]*TableState{}
		}
		for j := rng.IntN(4); j > 0 && st.Bindings != nil; j-- {
			k := fmt.Sprintf("public%%2Ft\"%d<", rng.IntN(20))
			switch rng.IntN(5) {
			case 0:
				delete(st.Bindings, k)
			case 1:
				st.Bindings[k] = nil
			case 2:
				if ts := st.Bindings[k]; ts != nil {
					ts.Backfilled++ // in place, as the capture does
					ts.Scanned = append(ts.Scanned, byte(i))
					ts.KeyColumns = append(ts.KeyColumns[:0:0], "id")
				}
			default:
				st.Bindings[k] = &TableState{Mode: ModeBackfill, KeyColumns: []string{"id"}, Scanned: []byte{byte(i)}, Metadata: []byte(`{"a":null,"b":1}`)}
			}
		}
		want, err := st.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		got, tables, err := e.Marshal(st)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("step %d: encoder %s (%v); Marshal %s", i, got, err, want)
		}
		for k, doc := range tables {
			ts := st.Bindings[k]
			one, _ := (&State{Bindings: map[string]*TableState{k: ts}}).Marshal()
			if !bytes.Contains(one, doc) || ts == nil {
				t.Fatalf("step %d: table %q encoded %s; the state holds %s", i, k, doc, one)
			}
		}
	}
}

func BenchmarkEncoder(b *testing.B) {
	st := &State{Cursor: "0/1000", Bindings: map[string]*TableState{}}
	for i := 0; i < 10000; i++ {
		st.Bindings[fmt.Sprintf("public%%2Fmany_%05d", i)] = &TableState{Mode: ModeBackfill, KeyColumns: []string{"id"}, Scanned: []byte{0x15, byte(i)}, Backfilled: 1}
	}
	b.Run("Marshal", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			_, _ = st.Marshal()
		}
	})
	b.Run("Encoder", func(b *testing.B) {
		var e Encoder
		for i := 0; i < b.N; i++ {
			st.Bindings["public%2Fmany_00042"].Backfilled++
			_, _, _ = e.Marshal(st)
		}
	})
}

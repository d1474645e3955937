package capture

import (
	"testing"

	"github.com/pg2kafka/pg2kafka/checkpoint"
	"github.com/pg2kafka/pg2kafka/event"
)

// A binding's mode follows schema.KeyOrderOf: only keys whose ORDER BY
// order equals their row-key byte order are filtered (§2.6). citext and
// bpchar keys under the C collation are not, so they backfill unfiltered
// even in a forced "Precise" mode.
func TestActivationModeFollowsKeyOrder(t *testing.T) {
	text := func(name, coll string) event.Type {
		return event.Type{Name: name, Kind: event.KindText, Collation: coll}
	}
	cases := []struct {
		typ  event.Type
		mode string
		want checkpoint.Mode
	}{
		{event.Type{Name: "int4", Kind: event.KindInt}, "", checkpoint.ModeBackfill},
		{text("text", "C"), "", checkpoint.ModeBackfill},
		{text("varchar", "POSIX"), "", checkpoint.ModeBackfill},
		{text("text", ""), "", checkpoint.ModeUnfilteredBackfill},
		{text("text", ""), "Precise", checkpoint.ModeBackfill}, // with COLLATE "C"
		{text("citext", "C"), "", checkpoint.ModeUnfilteredBackfill},
		{text("citext", "C"), "Precise", checkpoint.ModeUnfilteredBackfill},
		{text("bpchar", "C"), "", checkpoint.ModeUnfilteredBackfill},
		{text("bpchar", "C"), "Precise", checkpoint.ModeUnfilteredBackfill},
		{text("money", ""), "", checkpoint.ModeUnfilteredBackfill},
		{event.Type{Name: "mood", Kind: event.KindEnum}, "", checkpoint.ModeUnfilteredBackfill},
		{event.Type{Name: "int4", Kind: event.KindInt}, "Normal", checkpoint.ModeUnfilteredBackfill},
	}
	for _, c := range cases {
		b := &Binding{Mode: c.mode, KeyColumns: []string{"id", "k"}, Columns: []event.Column{
			{Name: "id", Type: event.Type{Name: "int8", Kind: event.KindInt}},
			{Name: "k", Type: c.typ},
		}}
		if got := activationMode(b); got != c.want {
			t.Errorf("%s key (collation %q), mode %q: %s, want %s", c.typ.Name, c.typ.Collation, c.mode, got, c.want)
		}
	}
}

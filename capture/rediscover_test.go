package capture

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/pg2kafka/pg2kafka/checkpoint"
	"github.com/pg2kafka/pg2kafka/event"
)

// A run ends with ErrRediscover when told the tables changed (the periodic
// discovery), when the stream shows a relation discovery did not see, and
// when a captured table shows up under a new name; a relation that already
// caused a rediscovery is followed by OID without another.
func TestRunEndsForRediscovery(t *testing.T) {
	renamed := *crashTable
	renamed.OID, renamed.Name = 42, "t_renamed"
	stranger := *crashTable
	stranger.OID, stranger.Name = 77, "other"
	for _, tc := range []struct {
		name         string
		told         string       // sent on Options.Rediscover
		table        *event.Table // a change of this relation arrives
		rediscovered map[uint32]bool
		want         bool
	}{
		{name: "told", told: "periodic discovery: table public.new is new or renamed", want: true},
		{name: "renamed", table: &renamed, want: true},
		{name: "unknown relation", table: &stranger, want: true},
		{name: "renamed, already rediscovered", table: &renamed, rediscovered: map[uint32]bool{42: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(1, 0, 0, 1)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			w.cancel = cancel
			told := make(chan string, 1)
			if tc.told != "" {
				told <- tc.told
			}
			c := New(fakeDB{w}, &fakeSink{w: w}, &checkpoint.State{}, []Binding{{
				Schema: "public", Table: "t", OID: 42, StateKey: "public%2Ft", Topic: "t", Mode: "Only Changes",
				KeyColumns: []string{"id"}, Columns: crashTable.Columns,
			}}, testOptions(Options{Relations: map[uint32]bool{42: true}, Rediscovered: tc.rediscovered, Rediscover: told, Logger: zerolog.Nop()}))
			done := make(chan error, 1)
			go func() { done <- c.Run(ctx) }()
			if tc.table != nil {
				time.Sleep(100 * time.Millisecond) // after the slot's start
				w.mu.Lock()
				w.appendTxn([]event.Item{{Kind: event.ItemChange, Change: event.Change{Op: event.OpCreate, Table: tc.table, New: values(1, 1)}}})
				w.mu.Unlock()
			}
			select {
			case err := <-done:
				if got := errors.Is(err, ErrRediscover); got != tc.want {
					t.Fatalf("run ended with %v, want ErrRediscover %v", err, tc.want)
				}
			case <-time.After(2 * time.Second):
				if tc.want {
					t.Fatal("the run did not end for a rediscovery")
				}
			}
		})
	}
}

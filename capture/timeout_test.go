package capture

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/pg2kafka/pg2kafka/checkpoint"
	"github.com/pg2kafka/pg2kafka/event"
)

// A chunk read cut by statement_timeout is retried at half the size until
// it fits, and the backfill completes with every row; when even one row is
// too slow, the run stops with an error naming the settings.
func TestChunkTimeoutHalvesTheChunk(t *testing.T) {
	for _, tc := range []struct {
		name         string
		timeoutAbove int
		wantErr      bool
	}{
		{"fits at 10 rows", 10, false},
		{"never fits", -1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(3, 200, 0, 1)
			w.timeoutAbove = tc.timeoutAbove
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			w.cancel = cancel
			c := New(fakeDB{w}, &fakeSink{w: w}, &checkpoint.State{}, []Binding{{
				Schema: "public", Table: "t", StateKey: "public%2Ft", Topic: "t",
				KeyColumns: []string{"id"}, Columns: crashTable.Columns,
			}}, testOptions(Options{ChunkSize: 1000, MaxDelay: time.Millisecond, Logger: zerolog.Nop()}))
			done := make(chan error, 1)
			go func() { done <- c.Run(ctx) }()
			deadline := time.After(10 * time.Second)
			for {
				select {
				case err := <-done:
					if !tc.wantErr || err == nil || !errors.Is(err, event.ErrReadTimeout) || !strings.Contains(err.Error(), "statement_timeout") {
						t.Fatalf("run ended with %v", err)
					}
					return
				case <-deadline:
					t.Fatal("the backfill did not complete")
				case <-time.After(5 * time.Millisecond):
				}
				w.mu.Lock()
				st, _ := checkpoint.Parse(w.checkpoint)
				w.mu.Unlock()
				if ts := st.Bindings["public%2Ft"]; ts != nil && ts.Mode == checkpoint.ModeActive {
					if tc.wantErr {
						t.Fatal("the backfill completed although every read timed out")
					}
					w.check(t, false, tc.name)
					return
				}
			}
		})
	}
}

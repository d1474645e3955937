package capture

import (
	"bytes"
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/pg2kafka/pg2kafka/checkpoint"
	"github.com/pg2kafka/pg2kafka/event"
)

// backlogDB is the world's database with a stream the test feeds by hand,
// which always says that more is waiting: a backlog being drained, where
// the loop keeps adding whole transactions to the open batch rather than
// committing each.
type backlogDB struct {
	fakeDB
	stream *backlogStream
}

func (d backlogDB) StartReplication(context.Context, uint64) (event.Stream, error) {
	return d.stream, nil
}

type backlogStream struct {
	out   chan []event.Item
	mu    sync.Mutex
	acked uint64
}

func (s *backlogStream) C() <-chan []event.Item { return s.out }
func (s *backlogStream) Err() error             { return nil }
func (s *backlogStream) Waiting() bool          { return true }
func (s *backlogStream) Acknowledge(lsn uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.acked = max(s.acked, lsn)
}

// A graceful stop (SIGTERM) commits an open batch of whole PostgreSQL
// transactions, with the checkpoint covering them, and confirms it; one
// asked in the middle of a transaction aborts the batch and commits
// nothing, so that the next start resumes at the last checkpoint. Either
// way the run ends without an error. (Losing nothing holds both ways:
// this checks which of the two the loop does.)
func TestStopCommitsWholeTransactionsAbortsPartOfOne(t *testing.T) {
	for _, tc := range []struct {
		name string
		// partial: a fourth transaction's changes arrive, not its commit.
		partial bool
	}{
		{"between transactions", false},
		{"inside a transaction", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(1, 0, 0, 1)
			stream := &backlogStream{out: make(chan []event.Item)}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			w.cancel = cancel
			c := New(backlogDB{fakeDB{w}, stream}, &fakeSink{w: w}, &checkpoint.State{}, []Binding{{
				Schema: "public", Table: "t", StateKey: "public%2Ft", Topic: "t", Mode: "Only Changes",
				KeyColumns: []string{"id"}, Columns: crashTable.Columns,
			}}, testOptions(Options{MaxDelay: time.Hour, Logger: testLogger()}))
			done := make(chan error, 1)
			go func() { done <- c.Run(ctx) }()

			// Three transactions of two changes each after the slot's
			// start (0x1000), then perhaps the changes of a fourth.
			lsn, changes := uint64(0x1000), 0
			send := func(id int64, commit bool) uint64 {
				prev, end := lsn, lsn+0x30
				var items []event.Item
				for k := range 2 {
					lsn += 0x10
					items = append(items, event.Item{Kind: event.ItemChange, Change: event.Change{
						Op: event.OpCreate, Table: crashTable, New: values(id*10+int64(k), 1),
						Loc: [3]int64{int64(prev), int64(lsn), int64(end)}}})
				}
				lsn = end
				if commit {
					items = append(items, event.Item{Kind: event.ItemCommit, LSN: lsn})
				}
				select {
				case stream.out <- items:
				case err := <-done:
					t.Fatalf("the run ended early: %v", err)
				}
				changes += 2
				return lsn
			}
			var last uint64
			for id := int64(1); id <= 3; id++ {
				last = send(id, true)
			}
			if tc.partial {
				send(4, false)
			}
			// The loop has written every change sent, none committed yet.
			deadline := time.Now().Add(10 * time.Second)
			for {
				w.mu.Lock()
				open, committed := len(w.open), len(w.log)
				w.mu.Unlock()
				if committed > 0 {
					t.Fatalf("%d records committed with more waiting and no limit reached", committed)
				}
				if open == changes {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("%d of %d changes written", open, changes)
				}
				time.Sleep(time.Millisecond)
			}

			cancel() // SIGTERM
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("a stop ended the run with %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the run did not stop")
			}
			w.mu.Lock()
			defer w.mu.Unlock()
			stream.mu.Lock()
			acked := stream.acked
			stream.mu.Unlock()
			if tc.partial {
				// Only the start's checkpoint, at the slot's position.
				if len(w.log) != 0 || len(w.open) != 0 || w.durableCursor() != 0x1000 || acked > 0x1000 {
					t.Fatalf("stopped inside a transaction: %d records committed, %d left open, checkpoint at %X, %X confirmed; want the batch aborted, at 1000",
						len(w.log), len(w.open), w.durableCursor(), acked)
				}
				return
			}
			if len(w.log) != changes || w.durableCursor() != last || acked != last {
				t.Fatalf("stopped between transactions: %d of %d records committed, checkpoint at %X, %X confirmed; want all, at %X",
					len(w.log), changes, w.durableCursor(), acked, last)
			}
			for i, r := range w.log {
				if want := `"id":` + strconv.Itoa((i/2+1)*10+i%2); !bytes.Contains(r.value, []byte(want)) {
					t.Fatalf("record %d is %s, want %s", i, r.value, want)
				}
			}
		})
	}
}

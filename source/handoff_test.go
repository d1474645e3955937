package source

import (
	"context"
	"testing"
	"time"

	"github.com/pg2kafka/pg2kafka/event"
)

// newHandoff is a Stream with only the decoder-to-consumer handoff: no
// connection (flush sends status updates only when its wait passes the
// next status time, which the tests keep far away).
func newHandoff(t *testing.T) (*Stream, *time.Time) {
	t.Helper()
	s := &Stream{
		out:   make(chan []event.Item),
		ready: make(chan struct{}, 1),
		taken: make(chan struct{}, 1),
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); s.forward(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	next := time.Now().Add(time.Hour)
	return s, &next
}

// TestHandoffDeliversEachItemOnceInOrder decodes flushes of every size,
// across chunk boundaries, while the consumer writes into what it received
// (run with -race: the decoder must never touch a handed-over item).
func TestHandoffDeliversEachItemOnceInOrder(t *testing.T) {
	s, next := newHandoff(t)
	const total = 5*batchItems + 37
	sizes := []int{1, 2, 3, batchItems - 1, batchItems, batchItems + 1, 7, 2*batchItems + 5}
	got := make(chan []uint64)
	go func() {
		var lsns []uint64
		for len(lsns) < total {
			b := <-s.out
			for i := range b {
				lsns = append(lsns, b[i].LSN)
				b[i].LSN = 0 // the consumer owns what it received
			}
		}
		got <- lsns
	}()
	// Transactions of each size, decoded as messages of one to three items
	// (a TRUNCATE of several tables is one message), so that a chunk also
	// fills in the middle of a message, with items not yet handed over.
	lsn, k, m := uint64(0), 0, 0
	for lsn < total {
		n := sizes[k%len(sizes)]
		k++
		for i := 0; i < n && lsn < total; {
			m++
			for j := 0; j < 1+m%3 && i < n && lsn < total; j++ {
				lsn++
				i++
				s.add(event.Item{Kind: event.ItemCommit, LSN: lsn})
			}
			if len(s.batch) == cap(s.batch) {
				if err := s.flush(context.Background(), next); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := s.flush(context.Background(), next); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case lsns := <-got:
		for i, l := range lsns {
			if l != uint64(i+1) {
				t.Fatalf("item %d has LSN %d, want %d (lost, repeated or reordered)", i, l, i+1)
			}
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the consumer did not receive every item")
	}
}

// TestHandoffWaiting checks what the consumer's group commit relies on:
// while flushed views wait behind the one it received, Waiting says so,
// and once it has received everything, Waiting is false.
func TestHandoffWaiting(t *testing.T) {
	s, next := newHandoff(t)
	for i := 0; i < 3*batchItems; i++ { // three chunks: three views
		s.add(event.Item{Kind: event.ItemCommit, LSN: uint64(i + 1)})
		if len(s.batch) == cap(s.batch) {
			if err := s.flush(context.Background(), next); err != nil {
				t.Fatal(err)
			}
		}
	}
	if b := <-s.out; len(b) != batchItems || b[0].LSN != 1 {
		t.Fatalf("first batch has %d items from LSN %d, want the first chunk", len(b), b[0].LSN)
	}
	if !s.Waiting() {
		t.Fatal("Waiting is false while a flushed view is still queued")
	}
	<-s.out
	<-s.out
	if s.Waiting() {
		t.Fatal("Waiting is true after the consumer received everything")
	}
}

// TestHandoffJoinsAdjacentViews checks that flushes of one chunk reach a
// busy consumer as one batch, without copies: queued views merge, and the
// view on offer takes in what continues it.
func TestHandoffJoinsAdjacentViews(t *testing.T) {
	s := &Stream{ready: make(chan struct{}, 1), taken: make(chan struct{}, 1)}
	next := time.Now().Add(time.Hour)
	flush := func(lsns ...uint64) {
		for _, l := range lsns {
			s.add(event.Item{Kind: event.ItemCommit, LSN: l})
		}
		if err := s.flush(context.Background(), &next); err != nil {
			t.Fatal(err)
		}
	}
	flush(1)
	flush(2, 3)
	flush(4)
	if len(s.queue) != 1 {
		t.Fatalf("%d views queued, want the three flushes joined in one", len(s.queue))
	}
	b := s.next(view{})
	if b.lo != 0 || b.hi != 4 || s.Waiting() {
		t.Fatalf("took [%d, %d) (waiting %v), want [0, 4) and nothing left", b.lo, b.hi, s.Waiting())
	}
	flush(5)
	if b = s.next(b); b.lo != 0 || b.hi != 5 {
		t.Fatalf("the view on offer is [%d, %d), want [0, 5): the next flush joins it", b.lo, b.hi)
	}
	items := b.items()
	if len(items) != 5 || cap(items) != 5 || items[0].LSN != 1 || items[4].LSN != 5 {
		t.Fatalf("batch of %d items (cap %d), want LSNs 1-5, capped", len(items), cap(items))
	}
	// A new chunk starts a new view: no batch spans two chunks.
	for l := uint64(6); len(s.batch) < cap(s.batch); l++ {
		s.add(event.Item{Kind: event.ItemCommit, LSN: l})
	}
	flush()
	flush(0)
	if len(s.queue) != 2 || s.queue[0].hi != batchItems || s.queue[1].lo != 0 || s.queue[1].hi != 1 {
		t.Fatalf("%d views queued, want two: the rest of the first chunk, then the new chunk's first item", len(s.queue))
	}
}

// TestHandoffBoundsQueue checks that the decoder waits once maxPending items
// are queued, and goes on when the consumer takes some.
func TestHandoffBoundsQueue(t *testing.T) {
	s, next := newHandoff(t)
	var lsn uint64
	fill := func(n int) error {
		for i := 0; i < n; i++ {
			lsn++
			s.add(event.Item{Kind: event.ItemCommit, LSN: lsn})
			if len(s.batch) == cap(s.batch) {
				if err := s.flush(context.Background(), next); err != nil {
					return err
				}
			}
		}
		return s.flush(context.Background(), next)
	}
	// One view on offer plus maxPending queued: the next flush must wait.
	if err := fill(batchItems + maxPending); err != nil {
		t.Fatal(err)
	}
	flushed := make(chan error, 1)
	go func() { flushed <- fill(1) }()
	select {
	case <-flushed:
		t.Fatal("flush did not wait with maxPending items queued")
	case <-time.After(100 * time.Millisecond):
	}
	<-s.out // the view on offer
	<-s.out // a queued one: room for the waiting flush
	select {
	case err := <-flushed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("flush still waits after the consumer took items")
	}
}

// TestHandoffWideRows checks the bounds on message bytes: a chunk whose
// items hold maxChunkBytes is left to the consumer (the decoder starts a
// new one instead of keeping values alive), and the decoder waits once
// maxPendingBytes are queued.
func TestHandoffWideRows(t *testing.T) {
	s, next := newHandoff(t)
	flushed := make(chan error, 3)
	kept := make(chan bool, 3)
	go func() { // the decoder: three rows of maxPendingBytes
		for lsn := uint64(1); lsn <= 3; lsn++ {
			s.add(event.Item{Kind: event.ItemCommit, LSN: lsn})
			s.unsent += maxPendingBytes
			s.chunkBytes += maxPendingBytes
			err := s.flush(context.Background(), next)
			kept <- s.batch != nil
			flushed <- err
		}
	}()
	// The first goes on offer, the second into the queue; the third must
	// wait until the consumer takes something.
	for i := 0; i < 2; i++ {
		select {
		case err := <-flushed:
			if err != nil {
				t.Fatal(err)
			}
			if <-kept {
				t.Fatal("the decoder kept a chunk holding more than maxChunkBytes")
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("wide row %d was never queued", i+1)
		}
	}
	select {
	case <-flushed:
		t.Fatal("a wide row was queued beyond maxPendingBytes")
	case <-time.After(200 * time.Millisecond):
	}
	for lsn := uint64(1); lsn <= 3; lsn++ {
		if b := <-s.out; len(b) != 1 || b[0].LSN != lsn {
			t.Fatalf("batch %d has %d items, want wide row %d alone", lsn, len(b), lsn)
		}
	}
	if err := <-flushed; err != nil {
		t.Fatal(err)
	}
}

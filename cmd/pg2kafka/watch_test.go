package main

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/pg2kafka/pg2kafka/event"
	"github.com/pg2kafka/pg2kafka/source"
)

// TestWatchTables runs the periodic discovery against discoveries given in
// turn: it says why on changed at the first discovery that differs from the
// tables the capture started with, and not before; a failed discovery is
// tried again at the next interval.
func TestWatchTables(t *testing.T) {
	table := func(oid uint32, name string, published bool, parts ...uint32) *source.DiscoveredTable {
		return &source.DiscoveredTable{Table: event.Table{OID: oid, Schema: "public", Name: name}, Published: published, Partitions: parts}
	}
	start := []*source.DiscoveredTable{table(1, "a", true), table(2, "b", true, 20, 21), table(3, "private", false)}
	for _, tc := range []struct {
		name string
		then []*source.DiscoveredTable // the discovery after two unchanged ones and a failed one
		want string                    // in the reason; "" for no change
	}{
		{"unchanged", start, ""},
		{"unpublished table added", append(start[:3:3], table(4, "c", false)), ""},
		{"table added", append(start[:3:3], table(4, "c", true)), "public.c is new or renamed"},
		{"table renamed", []*source.DiscoveredTable{table(1, "a2", true), start[1], start[2]}, "public.a2 is new or renamed"},
		{"table created again", []*source.DiscoveredTable{table(5, "a", true), start[1], start[2]}, "public.a is new or renamed"},
		{"table left the publication", []*source.DiscoveredTable{start[0], table(2, "b", false, 20, 21), start[2]}, "left the publication"},
		{"partition attached", []*source.DiscoveredTable{start[0], table(2, "b", true, 20, 21, 22), start[2]}, "a partition was attached to public.b"},
		{"partition detached", []*source.DiscoveredTable{start[0], table(2, "b", true, 20), start[2]}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			results := []func() ([]*source.DiscoveredTable, error){
				func() ([]*source.DiscoveredTable, error) { return start, nil },
				func() ([]*source.DiscoveredTable, error) { return nil, errors.New("connection refused") },
				func() ([]*source.DiscoveredTable, error) { return start, nil },
				func() ([]*source.DiscoveredTable, error) { return tc.then, nil },
			}
			calls := make(chan int, 16)
			n := 0
			discover := func(context.Context) ([]*source.DiscoveredTable, error) {
				i := min(n, len(results)-1)
				n++
				select { // never blocks the watch once the test stops reading
				case calls <- n:
				default:
				}
				return results[i]()
			}
			changed := make(chan string, 1)
			done := make(chan struct{})
			go func() {
				watchTables(ctx, time.Millisecond, discover, zerolog.Nop(), start, changed)
				close(done)
			}()
			if tc.want == "" {
				// Unchanged: still watching after the last discovery,
				// several intervals later.
				for c := range calls {
					if c >= len(results)+3 {
						break
					}
				}
				select {
				case why := <-changed:
					t.Fatalf("changed: %q, want no change", why)
				default:
				}
				cancel()
				<-done
				return
			}
			select {
			case why := <-changed:
				if !strings.Contains(why, tc.want) {
					t.Errorf("changed: %q, want it to say %q", why, tc.want)
				}
				if n != len(results) {
					t.Errorf("the change was told after %d discoveries, want %d", n, len(results))
				}
			case <-time.After(10 * time.Second):
				t.Fatal("no change told")
			}
			<-done // it returns once it told
		})
	}
}

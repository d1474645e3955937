package kafka

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/pg2kafka/pg2kafka/checkpoint"
	"github.com/pg2kafka/pg2kafka/event"
	"github.com/pg2kafka/pg2kafka/internal/kafkatest"
)

// compactedLog is a one-partition compacted topic: the log, and what
// compaction may leave of it (the last record of each key, tombstones
// dropped or not).
type compactedLog struct{ recs []*kgo.Record }

func (l *compactedLog) compact(dropTombstones bool) {
	last := map[string]int{}
	for i, r := range l.recs {
		last[string(r.Key)] = i
	}
	var kept []*kgo.Record
	for i, r := range l.recs {
		if last[string(r.Key)] == i && (r.Value != nil || !dropTombstones) {
			kept = append(kept, r)
		}
	}
	l.recs = kept
}

func (l *compactedLog) read(t *testing.T, capture string) (event.Checkpoint, map[string][]byte) {
	t.Helper()
	rd := NewCheckpointReader(capture)
	for _, r := range l.recs {
		rd.Add(r)
	}
	cp, _, parts, err := rd.Checkpoint()
	if err != nil {
		t.Fatal(err)
	}
	return cp, parts
}

func stateDoc(t *testing.T, cursor uint64, tables map[string]*checkpoint.TableState) []byte {
	t.Helper()
	st := &checkpoint.State{Cursor: checkpoint.LSN(cursor).String(), Bindings: tables}
	doc, err := st.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// Every commit of a random walk over table states is read back exactly,
// whatever compaction did in between, and writes only the parts that
// changed; a previous version's whole-state record is read, and replaced by
// parts at the next commit; two captures sharing the topic never mix.
func TestCheckpointLayoutRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var enc checkpoint.Encoder
	log := &compactedLog{}
	tables := map[string]*checkpoint.TableState{}
	// A previous version's record, and another capture's.
	old := stateDoc(t, 5, map[string]*checkpoint.TableState{"public%2Fa": {Mode: checkpoint.ModeActive}})
	log.recs = append(log.recs,
		&kgo.Record{Key: []byte("cap"), Value: old, Headers: []kgo.RecordHeader{{Key: HeaderWithin, Value: []byte("0/5:3")}}},
		&kgo.Record{Key: []byte("cap2"), Value: []byte(`{"cursor":"0/1"}`)})
	cp, known := log.read(t, "cap")
	if !bytes.Equal(cp.State, old) || string(cp.Within) != "0/5:3" || len(known) != 0 {
		t.Fatalf("previous version's checkpoint read as %q within %q parts %d", cp.State, cp.Within, len(known))
	}
	tables["public%2Fa"] = &checkpoint.TableState{Mode: checkpoint.ModeActive}
	for i := 0; i < 300; i++ {
		changes := 0
		for j := rng.IntN(4); j > 0; j-- {
			k := fmt.Sprintf("public%%2Ft%d", rng.IntN(30))
			switch rng.IntN(4) {
			case 0:
				delete(tables, k)
			default:
				tables[k] = &checkpoint.TableState{Mode: checkpoint.ModeBackfill, KeyColumns: []string{"id"}, Scanned: []byte{byte(i)}, Backfilled: int64(i)}
			}
			changes++
		}
		doc := stateDoc(t, uint64(10+i), tables)
		var sweeps []byte
		if i%3 == 0 {
			sweeps = []byte("x")
		}
		cp := event.Checkpoint{State: doc, Sweeps: sweeps}
		if i%2 == 0 {
			// As the capture commits: the table states given beside.
			st := &checkpoint.State{Cursor: checkpoint.LSN(uint64(10 + i)).String(), Bindings: tables}
			if i%4 == 0 {
				st.Cursor = ""
			}
			d, ts, err := enc.Marshal(st)
			if err != nil {
				t.Fatal(err)
			}
			doc, cp.State, cp.Tables = d, d, ts
		}
		recs, next := CheckpointRecords("cp", "cap", known, cp)
		if i > 0 && len(recs) > changes+1 {
			t.Fatalf("commit %d wrote %d records for %d changed tables", i, len(recs), changes)
		}
		if i%5 == 4 {
			// A commit that aborts: never read.
			_, _ = CheckpointRecords("cp", "cap", next, event.Checkpoint{State: []byte(`{"cursor":"FF/0"}`)})
		}
		log.recs = append(log.recs, recs...)
		known = next
		if rng.IntN(3) == 0 {
			log.compact(rng.IntN(2) == 0)
		}
		cp, parts := log.read(t, "cap")
		if !bytes.Equal(cp.State, doc) || !bytes.Equal(cp.Sweeps, sweeps) || cp.Within != nil {
			t.Fatalf("commit %d: read %q sweeps %q within %q; want %q sweeps %q", i, cp.State, cp.Sweeps, cp.Within, doc, sweeps)
		}
		if len(parts) != len(next) {
			t.Fatalf("commit %d: reader knows %d parts, writer %d", i, len(parts), len(next))
		}
		other, _ := log.read(t, "cap2")
		if string(other.State) != `{"cursor":"0/1"}` {
			t.Fatalf("the other capture's checkpoint became %q", other.State)
		}
	}
	// A document the layout does not split is written whole, and replaces
	// the parts.
	recs, _ := CheckpointRecords("cp", "cap", known, event.Checkpoint{State: []byte(`{"cursor":"0/1","future":1}`)})
	log.recs = append(log.recs, recs...)
	log.compact(true)
	if cp, parts := log.read(t, "cap"); string(cp.State) != `{"cursor":"0/1","future":1}` || len(parts) != 0 {
		t.Fatalf("whole document read as %q with %d parts", cp.State, len(parts))
	}
}

// A part lost from the topic (not by compaction) is an error naming the
// fix, never a state silently missing a table.
func TestCheckpointLayoutMissingPart(t *testing.T) {
	doc := stateDoc(t, 7, map[string]*checkpoint.TableState{"a": {Mode: checkpoint.ModeActive}, "b": {Mode: checkpoint.ModeActive}})
	recs, _ := CheckpointRecords("cp", "cap", nil, event.Checkpoint{State: doc})
	rd := NewCheckpointReader("cap")
	for _, r := range recs[1:] {
		rd.Add(r)
	}
	_, _, _, err := rd.Checkpoint()
	if err == nil || !strings.Contains(err.Error(), "state import") {
		t.Fatalf("a missing part: %v", err)
	}
}

// A state of 10,000 tables, over 1 MiB as one document, commits through a
// sink whose records are limited to 1 MiB and reads back exactly; a backfill
// chunk's commit then writes two records.
func TestLargeCheckpointCommits(t *testing.T) {
	brokers := kafkatest.Fake(t)
	s := newSink(t, brokers, "t7", true)
	ctx := context.Background()
	if _, err := s.ReadCheckpoint(ctx); err != nil {
		t.Fatal(err)
	}
	tables := map[string]*checkpoint.TableState{}
	for i := 0; i < 10_000; i++ {
		tables[fmt.Sprintf("public%%2Fsome_rather_long_table_name_%05d", i)] = &checkpoint.TableState{Mode: checkpoint.ModeBackfill, KeyColumns: []string{"tenant_id", "id"}, Scanned: []byte("0123456789abcdef"), Backfilled: 123456}
	}
	doc := stateDoc(t, 100, tables)
	if len(doc) <= 1<<20 {
		t.Fatalf("the state is only %d bytes", len(doc))
	}
	if err := s.Commit(ctx, event.Checkpoint{State: doc}); err != nil {
		t.Fatal(err)
	}
	tables["public%2Fsome_rather_long_table_name_00042"].Backfilled++
	doc = stateDoc(t, 200, tables)
	if err := s.Commit(ctx, event.Checkpoint{State: doc, Within: []byte("0/C8:1")}); err != nil {
		t.Fatal(err)
	}
	recs := readCommitted(t, brokers, "t7.checkpoints")
	if len(recs) != 10_001+2 {
		t.Fatalf("%d checkpoint records; want 10,001 then 2", len(recs))
	}
	cp, err := newSink(t, brokers, "t7", true).ReadCheckpoint(ctx)
	if err != nil || !bytes.Equal(cp.State, doc) || string(cp.Within) != "0/C8:1" {
		t.Fatalf("read back %d bytes (within %q), %v; want the %d bytes committed", len(cp.State), cp.Within, err, len(doc))
	}
}

// A checkpoint record over the record limit (only a table state holding a
// huge backfill cursor can be) fails the commit with an error naming the
// checkpoint, the limit and the settings that fix it.
func TestOversizedCheckpointNamesTheFix(t *testing.T) {
	brokers := kafkatest.Fake(t)
	s, err := New(brokers, Checkpoints("t8.checkpoints", "cap"), Transactional("pg2kafka-test-t8"), MaxRecordBytes(64<<10))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	if err := s.Init(ctx, []string{"t8"}); err != nil {
		t.Fatal(err)
	}
	doc := stateDoc(t, 9, map[string]*checkpoint.TableState{"public%2Fwide": {Mode: checkpoint.ModeBackfill, KeyColumns: []string{"k"}, Scanned: make([]byte, 100<<10)}})
	err = s.Commit(ctx, event.Checkpoint{State: doc})
	if err == nil {
		t.Fatal("an oversized checkpoint committed")
	}
	for _, want := range []string{`capture "cap"`, "public%2Fwide", "kafka.max_message_bytes (65536)", `max.message.bytes of topic "t8.checkpoints"`, "backfill cursor"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
}

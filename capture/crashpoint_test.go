package capture

// The crash-point test: the loop runs against a scripted PostgreSQL (WAL,
// table, slot) and a Kafka broker emulated with its transactional
// semantics, both fakes of this file. Every step of the commit path —
// produce, flush, end transaction, confirm — is numbered; for each step k
// the run fails, is cancelled (SIGTERM), or crashes at k, then restarts from
// what a real broker and slot would hold and runs to the end. After each
// scenario: no key lost or back in time, no change record twice, and the
// slot never confirmed past the durable checkpoint.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/pg2kafka/pg2kafka/checkpoint"
	"github.com/pg2kafka/pg2kafka/event"
	"github.com/pg2kafka/pg2kafka/sink/kafka"
)

// fault is what happens at the chosen step.
type fault int

const (
	faultNone       fault = iota
	faultFail             // the step returns an error
	faultCancel           // a stop is asked (SIGTERM) just before the step
	faultCrash            // the process dies just before the step
	faultCrashAfter       // the process dies just after the step
)

func (f fault) String() string {
	return [...]string{"none", "fail", "cancel", "crash-before", "crash-after"}[f]
}

// step kinds of the commit path.
const (
	stepProduce = "produce"
	stepFlush   = "flush"
	stepEnd     = "end"
	stepConfirm = "confirm"
)

var crashTable = &event.Table{Schema: "public", Name: "t", Columns: []event.Column{
	{Name: "id", Type: event.Type{Name: "int8", Kind: event.KindInt}},
	{Name: "v", Type: event.Type{Name: "int8", Kind: event.KindInt}, Nullable: true},
}, Key: []int{0}}

var watermarkTable = &event.Table{Schema: "public", Name: "flow_watermarks", Columns: []event.Column{
	{Name: "slot", Type: event.Type{Name: "text", Kind: event.KindText}},
}}

type scriptOp struct {
	id     int64
	delete bool
}

type walTxn struct {
	end   uint64
	items []event.Item
}

type record struct {
	topic      string
	key, value []byte
	lsn        string
}

// world is PostgreSQL and Kafka as the loop sees them, shared by every run
// of one scenario (the restarts included).
type world struct {
	mu sync.Mutex

	// PostgreSQL.
	rows      map[int64]int64 // the table: id → v
	versions  map[int64]int64 // the last version given to each id
	script    [][]scriptOp    // transactions still to commit
	wal       []walTxn
	lsn       uint64
	changed   chan struct{} // closed (and replaced) when the WAL grows
	slot      bool
	confirmed uint64

	// Kafka: the committed log, the last committed checkpoint, the open
	// transaction.
	log        []record
	checkpoint []byte
	within     []byte
	sweeps     []byte
	// cpLog is the compacted checkpoint topic, in the sink's layout
	// (sink/kafka/layout.go); checkpoint, within and sweeps are what
	// reading it gives.
	cpLog   []*kgo.Record
	commits int
	upgrade bool // withOldCheckpoint
	// ghosts: the log starts with a previous capture's records, some of
	// keys the table no longer has (a state reset): the sweep tombstones
	// them, without a delete record before.
	ghosts bool
	// activeAt is the cursor of the first committed checkpoint with the
	// table active: every later change is owed to Kafka.
	activeAt uint64
	open     []record
	inTxn    bool

	// Fault injection for the current run.
	step    int
	faultAt int
	fault   fault
	kind    string // the kind of step faultAt turned out to be
	crashed bool
	cancel  context.CancelFunc

	violations []string
	// connUsers counts the uses of the query connection under way: it
	// serves one query at a time, so a prefetched chunk read overlapping
	// any other use is a violation.
	connUsers atomic.Int32
	restarts  int // in-process restarts (ErrRediscover) of the current run
	// timeoutAbove makes chunk reads of more rows than this fail as if cut
	// by statement_timeout (-1: every read).
	timeoutAbove int
	// side turns side channels on (transaction metadata: see checkTxns).
	side SideChannels
}

func newWorld(seed uint64, initial, txns, maxOps int) *world {
	r := rand.New(rand.NewPCG(seed, 1))
	w := &world{rows: map[int64]int64{}, versions: map[int64]int64{}, lsn: 0x1000, changed: make(chan struct{})}
	for id := int64(1); id <= int64(initial); id++ {
		w.rows[id], w.versions[id] = 1, 1
	}
	live := map[int64]bool{}
	for id := range w.rows {
		live[id] = true
	}
	for range txns {
		var txn []scriptOp
		for range 1 + r.IntN(maxOps) {
			id := 1 + r.Int64N(int64(initial)+10)
			del := live[id] && r.IntN(4) == 0
			live[id] = !del
			txn = append(txn, scriptOp{id: id, delete: del})
		}
		w.script = append(w.script, txn)
	}
	return w
}

// withOldCheckpoint starts the checkpoint topic with a checkpoint in the
// layout of versions before table states had records of their own: one
// whole document, of a table removed from the capture (no cursor yet),
// whose state must survive. The first commit writes it as parts.
func (w *world) withOldCheckpoint() *world {
	old := []byte(`{"bindingStateV1":{"public%2Fold":{"mode":"Ignore","backfilled":3}}}`)
	w.cpLog = []*kgo.Record{{Key: []byte("cap"), Value: old}}
	w.checkpoint = old
	w.upgrade = true
	return w
}

// hit counts one step of the commit path and applies the fault if it is
// the chosen one; it reports whether the step is to fail.
func (w *world) hit(kind string) (fail, crashAfter bool) {
	if w.crashed {
		return true, false
	}
	w.step++
	if w.step != w.faultAt {
		return false, false
	}
	w.kind = kind
	switch w.fault {
	case faultFail:
		return true, false
	case faultCancel:
		w.cancel()
	case faultCrash:
		w.crashed = true
		w.cancel()
		return true, false
	case faultCrashAfter:
		return false, true
	}
	return false, false
}

func (w *world) crashNow() { w.crashed = true; w.cancel() }

// commitScript commits up to n scripted transactions (a writer beside the
// capture).
func (w *world) commitScript(n int) {
	for ; n > 0 && len(w.script) > 0; n-- {
		txn := w.script[0]
		w.script = w.script[1:]
		var items []event.Item
		prev := w.lsn
		for _, op := range txn {
			w.lsn += 0x10
			ch := event.Change{Table: crashTable, Loc: [3]int64{int64(prev), int64(w.lsn), 0}}
			_, exists := w.rows[op.id]
			switch {
			case op.delete && exists:
				ch.Op = event.OpDelete
				ch.New = values(op.id, w.rows[op.id])
				delete(w.rows, op.id)
			case op.delete:
				continue
			case exists:
				ch.Op = event.OpUpdate
				w.versions[op.id]++
				w.rows[op.id] = w.versions[op.id]
				ch.New = values(op.id, w.rows[op.id])
			default:
				ch.Op = event.OpCreate
				w.versions[op.id]++
				w.rows[op.id] = w.versions[op.id]
				ch.New = values(op.id, w.rows[op.id])
			}
			items = append(items, event.Item{Kind: event.ItemChange, Change: ch})
		}
		w.appendTxn(items)
	}
}

func (w *world) appendTxn(items []event.Item) {
	w.lsn += 0x10
	for i := range items {
		items[i].Change.Loc[2] = int64(w.lsn)
	}
	items = append(items, event.Item{Kind: event.ItemCommit, LSN: w.lsn})
	w.wal = append(w.wal, walTxn{end: w.lsn, items: items})
	close(w.changed)
	w.changed = make(chan struct{})
}

func values(id, v int64) []event.Value {
	return []event.Value{
		{Marker: event.MarkerText, Data: []byte(strconv.FormatInt(id, 10))},
		{Marker: event.MarkerText, Data: []byte(strconv.FormatInt(v, 10))},
	}
}

// fakeDB is the loop's Database over the world.
type fakeDB struct{ w *world }

// conn marks the query connection in use by what until the returned func
// is called.
func (w *world) conn(what string) func() {
	if w.connUsers.Add(1) > 1 {
		w.mu.Lock()
		w.violations = append(w.violations, what+" used the query connection while another query ran")
		w.mu.Unlock()
	}
	return func() { w.connUsers.Add(-1) }
}

func (d fakeDB) CreateSlot(context.Context) (uint64, error) {
	defer d.w.conn("CreateSlot")()
	w := d.w
	w.mu.Lock()
	defer w.mu.Unlock()
	w.slot, w.confirmed = true, w.lsn
	return w.lsn, nil
}

func (d fakeDB) StartReplication(ctx context.Context, start uint64) (event.Stream, error) {
	w := d.w
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.slot {
		return nil, errors.New("no slot")
	}
	// As PostgreSQL: a start before the slot's confirmed position is
	// moved up to it (what was confirmed is gone).
	s := &fakeStream{w: w, out: make(chan []event.Item, 4), done: make(chan struct{})}
	go s.run(ctx, max(start, w.confirmed))
	return s, nil
}

func (d fakeDB) CurrentLSN(context.Context) (uint64, error) {
	defer d.w.conn("CurrentLSN")()
	d.w.mu.Lock()
	defer d.w.mu.Unlock()
	return d.w.lsn, nil
}

func (d fakeDB) WriteWatermark(context.Context, string) error {
	defer d.w.conn("WriteWatermark")()
	w := d.w
	w.mu.Lock()
	defer w.mu.Unlock()
	w.commitScript(2) // the writer keeps writing during backfills
	w.appendTxn([]event.Item{{Kind: event.ItemChange, Change: event.Change{Op: event.OpUpdate, Table: watermarkTable,
		New: []event.Value{{Marker: event.MarkerText, Data: []byte("wm")}}}}})
	return nil
}

func (d fakeDB) ReadChunk(_ context.Context, q *event.ChunkQuery) ([]event.Row, error) {
	w := d.w
	defer w.conn("ReadChunk")()
	runtime.Gosched() // a read takes a while: let the loop run meanwhile
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.timeoutAbove < 0 || w.timeoutAbove > 0 && q.Limit > w.timeoutAbove {
		return nil, fmt.Errorf("backfilling: %w", event.ErrReadTimeout)
	}
	ids := make([]int64, 0, len(w.rows))
	for id := range w.rows {
		if q.After == nil || id > q.After[0].(int64) {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	var out []event.Row
	for _, id := range ids[:min(len(ids), q.Limit)] {
		out = append(out, values(id, w.rows[id]))
	}
	return out, nil
}

func (d fakeDB) ReadPages(context.Context, *event.PagesQuery) ([]event.Row, error) {
	return nil, errors.New("not keyless")
}

func (d fakeDB) TableSize(context.Context, string, string) (uint32, float64, error) {
	defer d.w.conn("TableSize")()
	d.w.mu.Lock()
	defer d.w.mu.Unlock()
	return 1, float64(len(d.w.rows)), nil
}

type fakeStream struct {
	w    *world
	out  chan []event.Item
	done chan struct{}
}

func (s *fakeStream) C() <-chan []event.Item { return s.out }
func (s *fakeStream) Err() error             { <-s.done; return nil }
func (s *fakeStream) Waiting() bool          { return len(s.out) > 0 }

// Acknowledge is the last step of the commit path.
func (s *fakeStream) Acknowledge(lsn uint64) {
	w := s.w
	w.mu.Lock()
	defer w.mu.Unlock()
	if fail, _ := w.hit(stepConfirm); fail {
		return
	}
	if lsn > w.confirmed {
		w.confirmed = lsn
	}
	if cp := w.durableCursor(); w.confirmed > cp {
		w.violations = append(w.violations, fmt.Sprintf("slot confirmed %X past the durable checkpoint %X", w.confirmed, cp))
	}
}

func (w *world) durableCursor() uint64 {
	st, err := checkpoint.Parse(w.checkpoint)
	if err != nil || st.Cursor == "" {
		return 0
	}
	lsn, _ := checkpoint.ParseLSN(st.Cursor)
	return uint64(lsn)
}

// run delivers the WAL after pos, one transaction a batch; once caught up
// it lets the writer commit one more transaction, as a live database would.
func (s *fakeStream) run(ctx context.Context, pos uint64) {
	defer close(s.done)
	defer close(s.out)
	w := s.w
	for {
		w.mu.Lock()
		var next []event.Item
		for _, t := range w.wal {
			if t.end > pos {
				next, pos = t.items, t.end
				break
			}
		}
		wrote := false
		if next == nil && len(w.script) > 0 {
			w.commitScript(1)
			wrote = true
		}
		changed := w.changed
		w.mu.Unlock()
		if wrote {
			continue
		}
		if next == nil {
			select {
			case <-ctx.Done():
				return
			case <-changed:
			}
			continue
		}
		select {
		case <-ctx.Done():
			return
		case s.out <- next:
		}
	}
}

// fakeSink is the loop's Sink: a transactional Kafka producer whose
// committed log and checkpoint live in the world.
type fakeSink struct {
	w       *world
	failed  bool // a produce failed: Commit fails (as franz-go's promise)
	records int
	// parts are the table states the checkpoint topic holds (nil: read
	// them at the first commit, as the real sink does).
	parts map[string][]byte
}

// readCheckpoint reassembles the checkpoint from the compacted checkpoint
// topic as the real sink does at start.
func (w *world) readCheckpoint() (event.Checkpoint, map[string][]byte, error) {
	rd := kafka.NewCheckpointReader("cap")
	for _, r := range w.cpLog {
		rd.Add(r)
	}
	cp, _, parts, err := rd.Checkpoint()
	return cp, parts, err
}

// compact is the broker's log compaction of the checkpoint topic: the last
// record of each key is kept, tombstones dropped or not.
func (w *world) compact(dropTombstones bool) {
	last := map[string]int{}
	for i, r := range w.cpLog {
		last[string(r.Key)] = i
	}
	var kept []*kgo.Record
	for i, r := range w.cpLog {
		if last[string(r.Key)] == i && (r.Value != nil || !dropTombstones) {
			kept = append(kept, r)
		}
	}
	w.cpLog = kept
}

func (k *fakeSink) Begin() error {
	k.w.mu.Lock()
	defer k.w.mu.Unlock()
	k.w.inTxn = true
	return nil
}

func (k *fakeSink) InTxn() bool {
	k.w.mu.Lock()
	defer k.w.mu.Unlock()
	return k.w.inTxn
}

func (k *fakeSink) Write(ctx context.Context, r event.Record) {
	w := k.w
	w.mu.Lock()
	defer w.mu.Unlock()
	k.records++
	fail, crashAfter := w.hit(stepProduce)
	// As franz-go: a record produced with a cancelled context fails.
	if fail || ctx.Err() != nil {
		k.failed = true
		return
	}
	w.open = append(w.open, record{topic: r.Topic, key: r.Key, value: r.Value, lsn: string(r.LSN)})
	if crashAfter {
		w.crashNow()
	}
}

func (k *fakeSink) Commit(ctx context.Context, cp event.Checkpoint) error {
	w := k.w
	w.mu.Lock()
	defer w.mu.Unlock()
	k.records = 0
	abort := func(err error) error {
		w.open, w.inTxn, k.failed = nil, false, false
		return err
	}
	// The checkpoint's records join the transaction one by one (a crash
	// may fall between any two).
	if k.parts == nil {
		_, parts, err := w.readCheckpoint()
		if err != nil {
			return abort(err)
		}
		k.parts = parts
	}
	cpRecs, parts := kafka.CheckpointRecords("checkpoints", "cap", k.parts, cp)
	for range cpRecs {
		fail, crashAfter := w.hit(stepProduce)
		if fail || ctx.Err() != nil {
			k.failed = true
		}
		if crashAfter {
			w.crashNow()
			return abort(errors.New("crashed"))
		}
	}
	// As franz-go: a flush on a cancelled context fails, and the sink
	// aborts the transaction.
	if fail, crashAfter := w.hit(stepFlush); fail || k.failed || ctx.Err() != nil {
		if ctx.Err() != nil {
			return abort(fmt.Errorf("flushing: %w", ctx.Err()))
		}
		return abort(errors.New("flush failed"))
	} else if crashAfter {
		w.crashNow()
		return abort(errors.New("crashed"))
	}
	fail, crashAfter := w.hit(stepEnd)
	if fail {
		return abort(errors.New("end transaction failed"))
	}
	// The broker commits the records and the checkpoint atomically.
	w.log = append(w.log, w.open...)
	w.cpLog = append(w.cpLog, cpRecs...)
	k.parts = parts
	w.commits++
	if w.commits%3 == 0 {
		w.compact(w.commits%2 == 0)
	}
	// What a restart reads is exactly what was committed.
	read, _, err := w.readCheckpoint()
	if err != nil || !bytes.Equal(read.State, cp.State) || !bytes.Equal(read.Within, cp.Within) || !bytes.Equal(read.Sweeps, cp.Sweeps) {
		w.violations = append(w.violations, fmt.Sprintf("checkpoint read back as %s within %q sweeps %q (%v); committed %s within %q sweeps %q",
			read.State, read.Within, read.Sweeps, err, cp.State, cp.Within, cp.Sweeps))
	}
	w.checkpoint, w.within, w.sweeps = read.State, read.Within, read.Sweeps
	w.open, w.inTxn = nil, false
	if st, err := checkpoint.Parse(cp.State); err == nil && w.activeAt == 0 && st.Bindings["public%2Ft"] != nil && st.Bindings["public%2Ft"].Mode == checkpoint.ModeActive {
		w.activeAt = w.durableCursor()
	}
	if crashAfter {
		w.crashNow()
		return errors.New("crashed")
	}
	return nil
}

func (k *fakeSink) Abort(context.Context) error {
	k.w.mu.Lock()
	defer k.w.mu.Unlock()
	k.w.open, k.w.inTxn, k.failed, k.records = nil, false, false, 0
	return nil
}

func (k *fakeSink) Pending() (int, int64) { return k.records, 0 }

// Holds and ReadKeys read the committed log (event.Topics).
func (k *fakeSink) Holds(_ context.Context, topic string) (bool, error) {
	k.w.mu.Lock()
	defer k.w.mu.Unlock()
	if k.w.crashed {
		return false, errors.New("crashed")
	}
	return slices.ContainsFunc(k.w.log, func(r record) bool { return r.topic == topic }), nil
}

func (k *fakeSink) ReadKeys(ctx context.Context, topic string, fn func(key []byte, live bool) error) error {
	k.w.mu.Lock()
	if k.w.crashed || ctx.Err() != nil {
		k.w.mu.Unlock()
		return errors.New("crashed or stopped")
	}
	log := slices.Clone(k.w.log)
	k.w.mu.Unlock()
	for _, r := range log {
		if r.topic != topic {
			continue
		}
		if err := fn(r.key, r.value != nil); err != nil {
			return err
		}
	}
	return nil
}

// withGhosts fills the log with a previous capture's records (its
// checkpoint lost, as by state reset): every row of the table at an older
// version, keys the table no longer has (some of which the writer creates
// again), and one key deleted with its tombstone.
func (w *world) withGhosts() *world {
	w.ghosts = true
	doc := func(id int64) []byte {
		return []byte(fmt.Sprintf(`{"_meta":{"op":"c","source":{"snapshot":true}},"id":%d,"v":0}`, id))
	}
	for id := int64(1); id <= int64(len(w.rows))+15; id++ {
		w.log = append(w.log, record{topic: "t", key: []byte(fmt.Sprintf(`{"id":%d}`, id)), value: doc(id)})
	}
	key := []byte(fmt.Sprintf(`{"id":%d}`, len(w.rows)+20))
	w.log = append(w.log, record{topic: "t", key: key, value: doc(int64(len(w.rows) + 20))},
		record{topic: "t", key: key, value: []byte(fmt.Sprintf(`{"_meta":{"op":"d"},"id":%d,"v":0}`, len(w.rows)+20))},
		record{topic: "t", key: key})
	return w
}

// runOnce runs the loop from the world's durable checkpoint until the
// script is done and committed, or until the fault stops it.
func runOnce(t *testing.T, w *world, mode string, split, faultAt int, f fault) (steps int, err error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w.mu.Lock()
	w.step, w.faultAt, w.fault, w.crashed, w.cancel, w.kind, w.restarts = 0, faultAt, f, false, cancel, "", 0
	w.open, w.inTxn = nil, false // a restart: the broker aborted what was open
	state, perr := checkpoint.Parse(w.checkpoint)
	within, sweeps := w.within, w.sweeps
	w.mu.Unlock()
	if perr != nil {
		t.Fatalf("checkpoint: %v", perr)
	}
	binding := Binding{
		Schema: "public", Table: "t", StateKey: "public%2Ft", Topic: "t", Mode: mode,
		KeyColumns: []string{"id"}, Columns: crashTable.Columns,
	}
	sink := &fakeSink{w: w}
	c := New(fakeDB{w}, sink, state, []Binding{binding}, testOptions(Options{Tombstones: true, MaxDelay: time.Millisecond, ChunkSize: 7, SplitRecords: split,
		Within: within, Sweeps: sweeps, Topics: sink, SlotBusyRetries: 0, Logger: testLogger(), Side: w.side}))
	done := make(chan error, 1)
	go func() {
		err := c.Run(ctx)
		for errors.Is(err, ErrRediscover) && ctx.Err() == nil {
			// As the command does: a new run from the last checkpoint.
			w.mu.Lock()
			w.open, w.inTxn = nil, false
			state, _ := checkpoint.Parse(w.checkpoint)
			opts := c.opts
			opts.Within, opts.Sweeps = w.within, w.sweeps
			w.mu.Unlock()
			w.restarts++
			sink := &fakeSink{w: w}
			opts.Topics = sink
			c = New(fakeDB{w}, sink, state, []Binding{binding}, opts)
			err = c.Run(ctx)
		}
		done <- err
	}()
	deadline := time.After(30 * time.Second) // generous: a loaded 2-core machine runs TestSweepInPasses near 10s
	for {
		select {
		case err = <-done:
			w.mu.Lock()
			defer w.mu.Unlock()
			return w.step, err
		case <-time.After(time.Millisecond):
		case <-deadline:
			t.Fatalf("run did not finish (fault %s at step %d)", f, faultAt)
		}
		w.mu.Lock()
		finished := len(w.script) == 0 && w.durableCursor() >= w.wal[len(w.wal)-1].end && !w.crashed && w.sweeps == nil
		if finished {
			st, _ := checkpoint.Parse(w.checkpoint)
			finished = st.Bindings["public%2Ft"] != nil && st.Bindings["public%2Ft"].Mode == checkpoint.ModeActive
		}
		w.mu.Unlock()
		if finished {
			cancel()
		}
	}
}

// check verifies the invariants on the committed log.
func (w *world) check(t *testing.T, exactlyOnce bool, scenario string) {
	t.Helper()
	for _, v := range w.violations {
		t.Errorf("%s: %s", scenario, v)
	}
	if st, err := checkpoint.Parse(w.checkpoint); w.upgrade && (err != nil || st.Bindings["public%2Fold"] == nil || st.Bindings["public%2Fold"].Backfilled != 3) {
		t.Errorf("%s: the previous version's table state was lost: %s (%v)", scenario, w.checkpoint, err)
	}
	type doc struct {
		ID   int64 `json:"id"`
		V    int64 `json:"v"`
		Meta struct {
			Op     string `json:"op"`
			Source struct {
				Snapshot bool     `json:"snapshot"`
				Loc      [3]int64 `json:"loc"`
			} `json:"source"`
		} `json:"_meta"`
	}
	last := map[string]*doc{}
	dead := map[string]bool{} // tombstoned since its last document
	seen := map[string]bool{}
	for _, r := range w.log {
		if r.topic == w.side.TransactionTopic {
			continue // checkTxns
		}
		if r.topic != "t" {
			t.Fatalf("%s: record for topic %q", scenario, r.topic)
		}
		k := string(r.key)
		if r.value == nil {
			// The sweep tombstones keys the table no longer has with no
			// delete before (a ghost); any other tombstone follows its
			// delete.
			if d := last[k]; (d == nil || d.Meta.Op != "d") && !w.ghosts {
				t.Errorf("%s: tombstone of %s not after its delete", scenario, k)
			}
			dead[k] = true
			continue
		}
		dead[k] = false
		d := &doc{}
		if err := json.Unmarshal(r.value, d); err != nil {
			t.Fatalf("%s: record %s: %v", scenario, r.value, err)
		}
		if p := last[k]; p != nil && d.V < p.V {
			t.Errorf("%s: key %s went back in time: v%d after v%d", scenario, k, d.V, p.V)
		}
		if !d.Meta.Source.Snapshot {
			id := fmt.Sprintf("%s@%d", k, d.Meta.Source.Loc[1])
			if seen[id] {
				t.Errorf("%s: change %s written twice", scenario, id)
			}
			seen[id] = true
		}
		last[k] = d
	}
	// lastEnd is the commit end of each key's last change.
	lastEnd := map[int64]uint64{}
	for _, txn := range w.wal {
		for _, it := range txn.items {
			if it.Kind == event.ItemChange && it.Change.Table == crashTable {
				id, _ := strconv.ParseInt(string(it.Change.New[0].Data), 10, 64)
				lastEnd[id] = txn.end
			}
		}
	}
	for id, v := range w.rows {
		k := fmt.Sprintf(`{"id":%d}`, id)
		if exactlyOnce && lastEnd[id] <= w.activeAt {
			// Only Changes: a key last written before the table's first
			// Active checkpoint is owed nothing (a run that stopped before
			// that checkpoint left the table Pending, and the next run drops
			// what it streams before activation, as Flow does); how much
			// the writer wrote by then depends on the scheduling.
			continue
		}
		if d := last[k]; d == nil || d.Meta.Op == "d" || d.V != v || dead[k] {
			t.Errorf("%s: key %s should end at v%d, has %+v (tombstoned: %v)", scenario, k, v, d, dead[k])
		}
	}
	for k, d := range last {
		var id struct{ ID int64 }
		_ = json.Unmarshal([]byte(k), &id)
		if _, ok := w.rows[id.ID]; !ok && d.Meta.Op != "d" && !dead[k] {
			t.Errorf("%s: deleted key %s still live (v%d)", scenario, k, d.V)
		}
	}
	if exactlyOnce {
		// Every change after the table's activation is in the log.
		for _, txn := range w.wal {
			if txn.end <= w.activeAt {
				continue
			}
			for _, it := range txn.items {
				if it.Kind == event.ItemChange && it.Change.Table == crashTable {
					id := fmt.Sprintf(`{"id":%s}@%d`, it.Change.New[0].Data, it.Change.Loc[1])
					if !seen[id] {
						t.Errorf("%s: change %s lost", scenario, id)
					}
				}
			}
		}
	}
}

func TestCrashPoints(t *testing.T) {
	for _, tc := range []struct {
		name, mode  string
		initialRows int
		maxOps      int // changes per transaction, at most
		split       int // SplitRecords (0: default)
		exactlyOnce bool
		ghosts      bool // the topic holds a previous capture's records
		txns        bool // transaction metadata on
	}{
		{"backfill", "", 30, 3, 0, false, false, false},
		{"changes only", "Only Changes", 0, 3, 0, true, false, false},
		// Transactions of up to 8 changes split every 3 records, inside
		// backfill windows too.
		{"split transactions", "", 30, 8, 3, false, false, false},
		{"split transactions, changes only", "Only Changes", 0, 8, 3, true, false, false},
		// After a state reset: the backfill is followed by the sweep of
		// the keys the table no longer has.
		{"sweep after state reset", "", 30, 3, 0, false, true, false},
		// Transaction metadata: each BEGIN and END once, the END's counts
		// those of the records, split transactions included.
		{"transaction metadata", "", 30, 3, 0, false, false, true},
		{"transaction metadata, split, changes only", "Only Changes", 0, 8, 3, true, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The steps of a clean run bound the fault points.
			world := func() *world {
				w := newWorld(7, tc.initialRows, 40, tc.maxOps).withOldCheckpoint()
				if tc.ghosts {
					w.withGhosts()
				}
				if tc.txns {
					w.side.TransactionTopic = "txn"
				}
				return w
			}
			clean := world()
			total, err := runOnce(t, clean, tc.mode, tc.split, 0, faultNone)
			if err != nil {
				t.Fatalf("clean run: %v", err)
			}
			clean.check(t, tc.exactlyOnce, "clean")
			clean.checkTxns(t, tc.exactlyOnce, "clean")
			kinds := map[string]int{}
			tryAt := func(f fault, k int) {
				w := world()
				_, err := runOnce(t, w, tc.mode, tc.split, k, f)
				scenario := fmt.Sprintf("%s at step %d (%s)", f, k, w.kind)
				if w.kind == "" {
					return // this run had fewer steps
				}
				kinds[w.kind]++
				switch {
				case f == faultCancel && err != nil:
					t.Errorf("%s: a stop request ended the run with %v", scenario, err)
				case f == faultFail && err == nil && w.kind != stepConfirm && w.restarts == 0:
					t.Errorf("%s: a failed step did not stop the run", scenario)
				}
				// Restart from what the broker and the slot hold, and finish.
				if _, err := runOnce(t, w, tc.mode, tc.split, 0, faultNone); err != nil {
					t.Fatalf("%s: restart: %v", scenario, err)
				}
				w.check(t, tc.exactlyOnce, scenario)
				w.checkTxns(t, tc.exactlyOnce, scenario)
			}
			missing := func() bool {
				for _, k := range []string{stepProduce, stepFlush, stepEnd, stepConfirm} {
					if kinds[k] == 0 {
						return true
					}
				}
				return false
			}
			for _, f := range []fault{faultFail, faultCancel, faultCrash, faultCrashAfter} {
				for k := 1; k <= total; k += faultStride {
					tryAt(f, k)
				}
			}
			// With a stride (under -race), the steps skipped are tried in
			// turn until every kind of step has had a fault.
			for off := 1; off < faultStride && missing(); off++ {
				for k := 1 + off; k <= total && missing(); k += faultStride {
					for _, f := range []fault{faultFail, faultCancel, faultCrash, faultCrashAfter} {
						tryAt(f, k)
					}
				}
			}
			for _, k := range []string{stepProduce, stepFlush, stepEnd, stepConfirm} {
				if kinds[k] == 0 {
					t.Errorf("no fault was injected at a %s step", k)
				}
			}
			t.Logf("%d steps in a clean run; faults injected: %v", total, kinds)
		})
	}
}

func testLogger() zerolog.Logger {
	if os.Getenv("CRASHPOINT_LOG") != "" {
		return zerolog.New(os.Stderr)
	}
	return zerolog.Nop()
}

// A topic with more live keys than one pass may hold is swept in several
// passes, each a share of the keys: every ghost is still tombstoned.
func TestSweepInPasses(t *testing.T) {
	defer func(n int) { sweepKeys = n }(sweepKeys)
	sweepKeys = 12 // 45 live keys: four passes
	w := newWorld(11, 30, 20, 3).withGhosts().withOldCheckpoint()
	if _, err := runOnce(t, w, "", 0, 0, faultNone); err != nil {
		t.Fatal(err)
	}
	w.check(t, false, "passes")
	tombstones := 0
	for _, r := range w.log {
		if r.value == nil {
			tombstones++
		}
	}
	if tombstones == 0 {
		t.Error("no tombstone written")
	}
}

// Each key falls in exactly one share of a sweep's passes, and doubling
// the passes splits share p into 2p and 2p+1 (so passes already swept stay
// swept).
func TestSweepShares(t *testing.T) {
	for i := range 2000 {
		key := []byte(fmt.Sprintf(`{"id":%d}`, i))
		for _, passes := range []int{1, 2, 4, 8, 16} {
			in := -1
			for p := range passes {
				if sweepShare(key, p, passes) {
					if in >= 0 {
						t.Fatalf("key %s in shares %d and %d of %d", key, in, p, passes)
					}
					in = p
				}
			}
			if in < 0 {
				t.Fatalf("key %s in no share of %d", key, passes)
			}
			if passes > 1 && !sweepShare(key, in/2, passes/2) {
				t.Fatalf("key %s: share %d of %d is not within share %d of %d", key, in, passes, in/2, passes/2)
			}
		}
	}
}

// Package capture is pg2kafka's capture loop: it joins the PostgreSQL
// source, the document encoders and the Kafka sink, and owns the algorithm
// of the reference (§4): binding modes, fences, batching, and the
// checkpoint state. It is written to be read top to bottom.
//
// The one rule every line here serves: a checkpoint is written only in the
// same Kafka transaction as (or, at-least-once, after the acknowledgement
// of) every record it covers, and a cursor is confirmed to PostgreSQL only
// after its checkpoint is durable. A crash at any instruction therefore
// resumes from a checkpoint whose records are all in Kafka, and PostgreSQL
// still holds the WAL after it.
package capture

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rs/zerolog"

	"github.com/pg2kafka/pg2kafka/checkpoint"
	"github.com/pg2kafka/pg2kafka/event"
	"github.com/pg2kafka/pg2kafka/schema"
	"github.com/pg2kafka/pg2kafka/sink/kafka"
	"github.com/pg2kafka/pg2kafka/source"
)

// Database is what the loop needs of PostgreSQL.
type Database interface {
	CreateSlot(ctx context.Context) (uint64, error)
	StartReplication(ctx context.Context, startLSN uint64) (*source.Stream, error)
	CurrentLSN(ctx context.Context) (uint64, error)
	WriteWatermark(ctx context.Context, watermark string) error
	ReadChunk(ctx context.Context, q *source.ChunkQuery) ([]source.Row, error)
	ReadPages(ctx context.Context, schema, table string, columns []string, from, to uint32, filter string) ([]source.Row, error)
	TableSize(ctx context.Context, schema, table string) (pages uint32, rows float64, err error)
}

// Sink is what the loop needs of Kafka.
type Sink interface {
	Begin() error
	InTxn() bool
	Write(ctx context.Context, r kafka.Record)
	Commit(ctx context.Context, checkpoint []byte) error
	Abort(ctx context.Context) error
	Pending() (records int, bytes int64)
}

// Encoder turns a table's changes into record keys and values. Encoders
// append to the caller's buffer.
type Encoder interface {
	// AppendKey appends the Kafka key (nothing for a keyless table).
	AppendKey(dst []byte, c *event.Change) []byte
	// AppendDocument appends the Kafka value.
	AppendDocument(dst []byte, c *event.Change) []byte
	// AppendRowKey appends the row key of §2.1 (FoundationDB tuple).
	AppendRowKey(dst []byte, c *event.Change) ([]byte, error)
}

// NewEncoder builds the encoder of a table shape; key indexes its key
// columns in key order. It is called once per shape (at a backfill's start
// and on each RELATION message), before anything of that shape is written,
// so an error (a schema registry refusing a new version, say) stops the
// capture with nothing of the change written.
type NewEncoder func(t *event.Table, key []int) (Encoder, error)

// Observer receives the capture's measurements (metrics). Calls come from
// the capture goroutine and must not block.
type Observer interface {
	// Record: one record written for schema.table with this op.
	Record(schema, table string, op event.Op, bytes int)
	// Committed: a batch of records committed with its checkpoint; commit
	// is the Kafka commit's duration, oldest the commit time of the
	// oldest PostgreSQL transaction in it (zero if none).
	Committed(records int, commit time.Duration, cursor uint64, oldest time.Time)
	// Backfill: a table's backfill progress.
	Backfill(schema, table string, done int64, estimate float64, complete bool)
}

type nopObserver struct{}

func (nopObserver) Record(string, string, event.Op, int)            {}
func (nopObserver) Committed(int, time.Duration, uint64, time.Time) {}
func (nopObserver) Backfill(string, string, int64, float64, bool)   {}

// Binding is one captured table.
type Binding struct {
	// Schema and Table name the table (the resource's namespace and stream).
	Schema, Table string
	// StateKey is the binding's key in the checkpoint state (§1.4).
	StateKey string
	// Topic receives the table's records.
	Topic string
	// Mode is the resource mode ("", Normal, Precise, Only Changes,
	// Without Primary Key).
	Mode string
	// Priority orders backfills (§4.1).
	Priority int
	// KeyColumns are the key's column names in key order; empty for a
	// keyless table.
	KeyColumns []string
	// SkipBackfill makes activation go straight to Active.
	SkipBackfill bool
	// Columns are the table's columns as discovered (generated columns
	// left out): what a backfill reads.
	Columns []event.Column
	// KeyUnpredictable says the key's ORDER BY order may differ from the
	// byte order of its encoding (text under a collation, enums).
	KeyUnpredictable bool
	// Filter is the binding's additional_backfill_filter, or "".
	Filter string
}

// Options tunes the loop.
type Options struct {
	// Tombstones writes a tombstone after each delete.
	Tombstones bool
	// MaxDelay, MaxRecords and MaxBytes close a batch (a Kafka transaction)
	// at the next PostgreSQL commit once reached; a batch also closes as
	// soon as no more changes are waiting.
	MaxDelay   time.Duration
	MaxRecords int
	MaxBytes   int64
	// SourceTag is written as _meta.source.tag.
	SourceTag string
	// SlotBusyRetries bounds the retries while another process holds the
	// slot; negative retries forever.
	SlotBusyRetries int
	// Encoder builds record encoders; the default writes Flow documents.
	Encoder NewEncoder
	// Observer receives measurements; nil ignores them.
	Observer Observer
	// KeyChangeAsDeleteCreate writes an update that changes the key as a
	// delete of the old key (plus its tombstone) and a create of the new
	// one, as Debezium does; by default it is one update (as Flow).
	KeyChangeAsDeleteCreate bool
	// Truncates writes TRUNCATEs of captured tables as records (op t, no
	// key); otherwise they are logged and skipped, as Flow does.
	Truncates bool
	// MaxRecordBytes is the largest record Kafka takes (0: no check here;
	// the sink reports oversized records).
	MaxRecordBytes int
	// TruncateOversize re-encodes a record over MaxRecordBytes with its
	// large values cut as Flow cuts oversized values (§3.5), when the
	// encoder supports it; otherwise the sink fails the batch clearly.
	TruncateOversize bool
	// ChunkSize is the rows per backfill chunk (default 50,000).
	ChunkSize int
	// Ready, when set, is called once the capture streams.
	Ready func()
	// Logger receives the loop's logs.
	Logger zerolog.Logger
}

// Capture is one run of the capture loop.
type Capture struct {
	db       Database
	sink     Sink
	opts     Options
	log      zerolog.Logger
	state    *checkpoint.State
	bindings map[string]*binding // by "schema.table"
	byTable  map[*event.Table]*tableRun

	stream *source.Stream
	// prefetched is the next chunk, read while the previous one commits.
	prefetched *chunkRead
	cursor     uint64 // cursor of the batch being built (last commit seen)
	inTxn      bool   // a PostgreSQL transaction's changes are being written

	batchStart  time.Time
	batchDirty  bool      // the batch holds records or a cursor move
	batchOldest time.Time // commit time of the batch's oldest transaction
	rowKey      []byte    // reused row-key buffer of the reconciliation
	scratch     []byte

	// batchLost: a Commit failed, so the sink aborted the batch's records;
	// its cursor must never be committed (a later checkpoint would skip
	// the changes those records held).
	batchLost bool
}

type binding struct {
	Binding
	state *checkpoint.TableState
	// backfill is the table's backfill reader, built at activation.
	backfill *backfill
}

// tableRun is the loop's view of one relation shape from the stream.
type tableRun struct {
	b   *binding // nil: not captured
	enc Encoder
	key []int
}

// New prepares a capture of bindings from state (as read from the
// checkpoint topic; empty for a new capture).
func New(db Database, sink Sink, state *checkpoint.State, bindings []Binding, opts Options) *Capture {
	if opts.MaxDelay <= 0 {
		opts.MaxDelay = 100 * time.Millisecond
	}
	if opts.MaxRecords <= 0 {
		opts.MaxRecords = 50_000
	}
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = 16 << 20
	}
	if opts.ChunkSize <= 0 {
		opts.ChunkSize = 50_000
	}
	if opts.Encoder == nil {
		tag := opts.SourceTag
		opts.Encoder = func(t *event.Table, key []int) (Encoder, error) { return schema.NewFlowEncoder(t, key, tag), nil }
	}
	if opts.Observer == nil {
		opts.Observer = nopObserver{}
	}
	c := &Capture{db: db, sink: sink, opts: opts, log: opts.Logger, state: state,
		bindings: map[string]*binding{}, byTable: map[*event.Table]*tableRun{}}
	if c.state.Bindings == nil {
		c.state.Bindings = map[string]*checkpoint.TableState{}
	}
	for _, b := range bindings {
		c.bindings[b.Schema+"."+b.Table] = &binding{Binding: b}
	}
	return c
}

// State returns the capture's current state (for tests and tools).
func (c *Capture) State() *checkpoint.State { return c.state }

// Run captures until ctx is cancelled (then it commits what it can and
// returns nil) or an error stops it.
func (c *Capture) Run(ctx context.Context) error {
	// 1. Reconcile the state with the configured bindings (§1.6).
	refs := make([]checkpoint.Binding, 0, len(c.bindings))
	for _, b := range c.bindings {
		refs = append(refs, checkpoint.Binding{StateKey: b.StateKey})
	}
	checkpoint.Reconcile(c.state, refs)
	for _, b := range c.bindings {
		b.state = c.state.Bindings[b.StateKey]
	}

	// 2. A capture without a cursor starts from a new slot. The slot is
	// created before the checkpoint naming its start is written: a crash
	// in between leaves no cursor, and the next start recreates the slot.
	if c.state.Cursor == "" {
		lsn, err := c.db.CreateSlot(ctx)
		if err != nil {
			return err
		}
		c.state.Cursor = checkpoint.LSN(lsn).String()
		c.log.Info().Str("slot_start", c.state.Cursor).Msg("created replication slot")
	}
	start, err := checkpoint.ParseLSN(c.state.Cursor)
	if err != nil {
		return fmt.Errorf("checkpoint cursor: %w", err)
	}
	c.cursor = uint64(start)
	if err := c.commit(ctx); err != nil {
		return err
	}

	// 3. Open the stream; a slot still held by a predecessor's exiting
	// walsender is waited for.
	streamCtx, stopStream := context.WithCancel(context.WithoutCancel(ctx))
	defer stopStream()
	if err := c.startStream(ctx, streamCtx); err != nil {
		return err
	}
	defer func() {
		stopStream()
		_ = c.stream.Err()
	}()

	// 4. Catch up to the current WAL position, then activate pending
	// bindings (§4.1): their first events are the ones after activation.
	if err := c.streamToFence(ctx, true); err != nil {
		return c.stop(err)
	}
	// Activation has no checkpoint of its own (as in Flow): the new modes
	// first appear in the next one, a chunk's or a batch's.
	if err := c.activate(ctx); err != nil {
		return c.stop(err)
	}
	c.log.Info().Str("cursor", c.state.Cursor).Int("tables", len(c.bindings)).Msg("capture is streaming")
	if c.opts.Ready != nil {
		c.opts.Ready()
	}

	// 5. Backfill one chunk at a time while any table needs it; then
	// stream, closing a batch whenever the input runs dry or a limit is hit.
	for {
		b := c.nextBackfill()
		if c.prefetched != nil {
			b = c.prefetched.b
		}
		if b == nil {
			break
		}
		if err := c.backfillChunk(ctx, b); err != nil {
			return c.stop(err)
		}
	}
	c.log.Info().Msg("backfills complete; streaming changes")
	return c.stop(c.streamForever(ctx))
}

func (c *Capture) startStream(ctx, streamCtx context.Context) error {
	backoff := 200 * time.Millisecond
	for attempt := 0; ; attempt++ {
		s, err := c.db.StartReplication(streamCtx, c.cursor)
		if err == nil {
			c.stream = s
			return nil
		}
		var busy *source.Busy
		if !errors.As(err, &busy) || (c.opts.SlotBusyRetries >= 0 && attempt >= c.opts.SlotBusyRetries) {
			return err
		}
		c.log.Warn().Err(err).Dur("retry_in", backoff).Msg("another capture holds the slot; retrying")
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 10*time.Second)
	}
}

// stop ends the run: on cancellation it commits the batch if it ends at a
// transaction boundary (aborting it otherwise) and confirms the cursor.
func (c *Capture) stop(err error) error {
	c.waitPrefetch()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err != nil && !errors.Is(err, context.Canceled) {
		_ = c.sink.Abort(ctx)
		return err
	}
	if c.batchLost {
		// A commit cancelled by the stop itself (its Flush saw the
		// cancelled context) aborted the batch: stop at the last
		// committed checkpoint; the next run replays from there.
		return c.sink.Abort(ctx)
	}
	if c.inTxn {
		return c.sink.Abort(ctx)
	}
	if c.batchDirty {
		return c.commit(ctx)
	}
	return nil
}

// streamToFence relays changes until the first commit at or after the
// server's current WAL position (§4.3). With perCommit, batches close at
// commits as in plain streaming; without, everything up to the fence stays
// in the open batch (a backfill chunk's window).
func (c *Capture) streamToFence(ctx context.Context, perCommit bool) error {
	fence, err := c.db.CurrentLSN(ctx)
	if err != nil {
		return err
	}
	if fence <= c.cursor {
		return nil
	}
	// The watermark write guarantees a commit after the fence, so the wait
	// ends even on an idle database.
	if err := c.db.WriteWatermark(ctx, fmt.Sprintf("%d", time.Now().UnixNano())); err != nil {
		return err
	}
	for c.cursor < fence || c.inTxn {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case items, ok := <-c.stream.C():
			if err := c.receive(ctx, items, ok, perCommit); err != nil {
				return err
			}
		}
	}
	return nil
}

// receive relays one batch of the stream; with perCommit the batch may
// then close (see maybeCommit).
func (c *Capture) receive(ctx context.Context, items []source.Item, ok, perCommit bool) error {
	if !ok {
		return c.streamEnded()
	}
	if err := c.process(ctx, items); err != nil {
		return err
	}
	if perCommit {
		return c.maybeCommit(ctx, false)
	}
	return nil
}

func (c *Capture) streamForever(ctx context.Context) error {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case items, ok := <-c.stream.C():
			if err := c.receive(ctx, items, ok, true); err != nil {
				return err
			}
		case <-timer.C:
			if err := c.maybeCommit(ctx, true); err != nil {
				return err
			}
		}
		if c.batchDirty {
			timer.Reset(max(time.Until(c.batchStart.Add(c.opts.MaxDelay)), 0))
		}
	}
}

func (c *Capture) streamEnded() error {
	if err := c.stream.Err(); err != nil {
		return err
	}
	return errors.New("replication stream ended")
}

// maybeCommit closes the batch at a transaction boundary when nothing more
// is waiting, a limit is reached, or the batch is old enough.
func (c *Capture) maybeCommit(ctx context.Context, timedOut bool) error {
	if !c.batchDirty || c.inTxn {
		return nil
	}
	records, bytes := c.sink.Pending()
	if len(c.stream.C()) == 0 || timedOut || records >= c.opts.MaxRecords || bytes >= c.opts.MaxBytes ||
		time.Since(c.batchStart) >= c.opts.MaxDelay {
		return c.commit(ctx)
	}
	return nil
}

// commit writes the checkpoint with the batch, then confirms its cursor.
// Order matters: the checkpoint commits in the records' transaction (or
// after they are acknowledged), and only a committed cursor is confirmed.
func (c *Capture) commit(ctx context.Context) error {
	if c.batchLost {
		return errors.New("a failed commit aborted the batch: its cursor cannot be committed")
	}
	committed := c.state.Cursor
	c.state.Cursor = checkpoint.LSN(c.cursor).String()
	doc, err := c.state.Marshal()
	if err != nil {
		return fmt.Errorf("encoding the checkpoint: %w", err)
	}
	records, _ := c.sink.Pending()
	started := time.Now()
	if err := c.sink.Commit(ctx, doc); err != nil {
		c.batchLost = true
		failed := c.state.Cursor
		c.state.Cursor = committed
		return fmt.Errorf("committing the batch ending at %s: %w", failed, err)
	}
	c.opts.Observer.Committed(records, time.Since(started), c.cursor, c.batchOldest)
	c.batchOldest = time.Time{}
	if c.stream != nil {
		c.stream.Acknowledge(c.cursor)
	}
	c.batchDirty = false
	return nil
}

// process relays a batch of stream items into the open Kafka batch.
func (c *Capture) process(ctx context.Context, items []source.Item) error {
	for i := range items {
		it := &items[i]
		switch it.Kind {
		case source.ItemChange:
			c.inTxn = true
			if err := c.change(ctx, &it.Change); err != nil {
				return err
			}
		case source.ItemCommit:
			c.inTxn = false
			c.advance(it.LSN)
		case source.ItemIdle:
			if !c.inTxn {
				c.advance(it.LSN)
			}
		}
	}
	return nil
}

func (c *Capture) advance(lsn uint64) {
	if lsn <= c.cursor {
		return
	}
	c.cursor = lsn
	c.markDirty()
}

func (c *Capture) markDirty() {
	if !c.batchDirty {
		c.batchDirty = true
		c.batchStart = time.Now()
	}
}

// change writes one change of the stream if its table is captured and in a
// mode that emits it (§4.4); while the table's backfill window is open the
// change also takes part in the chunk's reconciliation.
func (c *Capture) change(ctx context.Context, ch *event.Change) error {
	tr, err := c.tableRun(ch.Table)
	if err != nil {
		return err
	}
	if tr.b == nil {
		return nil
	}
	if ch.Op == event.OpTruncate {
		return c.truncate(ctx, tr, ch)
	}
	switch tr.b.state.Mode {
	case checkpoint.ModeActive, checkpoint.ModeKeylessBackfill:
	case checkpoint.ModeBackfill, checkpoint.ModeUnfilteredBackfill:
		emit, err := c.reconcile(tr, ch)
		if err != nil || !emit {
			return err
		}
	default:
		return nil
	}
	return c.write(ctx, tr, ch)
}

// truncate writes a TRUNCATE of a captured table as a keyless record, or
// logs it: the table's records in Kafka no longer match it either way.
func (c *Capture) truncate(ctx context.Context, tr *tableRun, ch *event.Change) error {
	switch tr.b.state.Mode {
	case checkpoint.ModePending, checkpoint.ModeIgnore, checkpoint.ModeMissing:
		return nil
	}
	if !c.opts.Truncates {
		c.log.Warn().Str("table", tr.b.Schema+"."+tr.b.Table).Msg("table truncated: no record is written for a TRUNCATE (kafka.truncates with the debezium envelope writes one); its topic still holds the old rows")
		return nil
	}
	return c.writeWith(ctx, tr.b, tr.enc, ch, uint64(ch.Loc[1]))
}

// tableRun finds (or builds, once per relation shape) the encoder of a
// stream table.
func (c *Capture) tableRun(t *event.Table) (*tableRun, error) {
	if tr, ok := c.byTable[t]; ok {
		return tr, nil
	}
	tr := &tableRun{b: c.bindings[t.Schema+"."+t.Name]}
	if tr.b != nil {
		key, err := keyIndexes(t, tr.b.KeyColumns)
		if err != nil {
			return nil, err
		}
		enc, err := c.opts.Encoder(t, key)
		if err != nil {
			return nil, fmt.Errorf("encoding %s.%s: %w", t.Schema, t.Name, err)
		}
		tr.enc, tr.key = enc, key
	}
	c.byTable[t] = tr
	return tr, nil
}

func keyIndexes(t *event.Table, names []string) ([]int, error) {
	key := make([]int, 0, len(names))
	for _, n := range names {
		found := -1
		for i, col := range t.Columns {
			if col.Name == n {
				found = i
				break
			}
		}
		if found < 0 {
			return nil, fmt.Errorf("key column %q not found in relation %q", n, t.Schema+"."+t.Name)
		}
		key = append(key, found)
	}
	return key, nil
}

var opHeaders = map[event.Op][]byte{event.OpCreate: []byte("c"), event.OpUpdate: []byte("u"), event.OpDelete: []byte("d"), event.OpTruncate: []byte("t")}

// write encodes a change into one allocation (key, document and LSN
// header) and hands it to the sink; a delete is followed by a tombstone.
func (c *Capture) write(ctx context.Context, tr *tableRun, ch *event.Change) error {
	if c.opts.KeyChangeAsDeleteCreate && ch.Op == event.OpUpdate && ch.Old != nil && keyChanged(tr.key, ch) {
		// The old key's delete carries what the old tuple has; the new
		// key's create carries the new row.
		del := *ch
		del.Op, del.New, del.Old = event.OpDelete, ch.Old, nil
		if err := c.writeWith(ctx, tr.b, tr.enc, &del, uint64(ch.Loc[1])); err != nil {
			return err
		}
		create := *ch
		create.Op, create.Old = event.OpCreate, nil
		return c.writeWith(ctx, tr.b, tr.enc, &create, uint64(ch.Loc[1]))
	}
	return c.writeWith(ctx, tr.b, tr.enc, ch, uint64(ch.Loc[1]))
}

// limitedEncoder is an Encoder that can cut oversized values.
type limitedEncoder interface {
	AppendDocumentLimited(dst []byte, c *event.Change, limit int) []byte
}

// truncated re-encodes an oversized document with ever smaller value limits
// until the record fits (rows this large are rare: the log line is fine).
func (c *Capture) truncated(enc Encoder, buf []byte, keyLen int, b *binding, ch *event.Change) []byte {
	le, ok := enc.(limitedEncoder)
	if !ok {
		return buf
	}
	size := len(buf)
	for limit := c.opts.MaxRecordBytes / 2; limit >= 256 && len(buf) > c.opts.MaxRecordBytes; limit /= 2 {
		buf = le.AppendDocumentLimited(buf[:keyLen], ch, limit)
	}
	c.log.Warn().Str("table", b.Schema+"."+b.Table).Bytes("key", buf[:keyLen]).Int("bytes", size).Int("now", len(buf)).
		Msg("record over kafka.max_message_bytes: large values truncated (kafka.oversize: truncate)")
	return buf
}

// appendLSN appends lsn in PostgreSQL's text form (%X/%X, uppercase hex
// without leading zeros) without going through fmt.
func appendLSN(dst []byte, lsn uint64) []byte {
	dst = appendUpperHex(dst, lsn>>32)
	dst = append(dst, '/')
	return appendUpperHex(dst, lsn&0xFFFFFFFF)
}

func appendUpperHex(dst []byte, v uint64) []byte {
	const digits = "0123456789ABCDEF"
	var b [16]byte
	i := len(b)
	for {
		i--
		b[i] = digits[v&0xF]
		v >>= 4
		if v == 0 {
			break
		}
	}
	return append(dst, b[i:]...)
}

// keyChanged reports whether an update's old tuple holds another key.
func keyChanged(key []int, ch *event.Change) bool {
	for _, k := range key {
		o, n := ch.Old[k], ch.New[k]
		if o.Marker == event.MarkerText && (n.Marker != event.MarkerText || string(o.Data) != string(n.Data)) {
			return true
		}
	}
	return false
}

func (c *Capture) writeWith(ctx context.Context, b *binding, enc Encoder, ch *event.Change, lsn uint64) error {
	if !c.sink.InTxn() {
		if err := c.sink.Begin(); err != nil {
			return err
		}
	}
	buf := c.scratch[:0]
	if ch.Op != event.OpTruncate { // a truncate has no key
		buf = enc.AppendKey(buf, ch)
	}
	keyLen := len(buf)
	buf = enc.AppendDocument(buf, ch)
	if c.opts.TruncateOversize && c.opts.MaxRecordBytes > 0 && len(buf) > c.opts.MaxRecordBytes {
		buf = c.truncated(enc, buf, keyLen, b, ch)
	}
	docLen := len(buf)
	buf = appendLSN(buf, lsn)
	c.scratch = buf
	rec := make([]byte, len(buf))
	copy(rec, buf)
	r := kafka.Record{Topic: b.Topic, Value: rec[keyLen:docLen:docLen], Op: opHeaders[ch.Op], LSN: rec[docLen:]}
	if keyLen > 0 {
		r.Key = rec[:keyLen:keyLen]
	}
	c.sink.Write(ctx, r)
	c.opts.Observer.Record(b.Schema, b.Table, ch.Op, len(rec))
	if !ch.Snapshot && c.batchOldest.IsZero() {
		c.batchOldest = time.UnixMilli(ch.TSMillis)
	}
	if ch.Op == event.OpDelete && c.opts.Tombstones && r.Key != nil {
		c.sink.Write(ctx, kafka.Record{Topic: b.Topic, Key: r.Key})
	}
	c.markDirty()
	return nil
}

// activate gives each Pending binding its mode (§4.5) and prepares the
// backfill of every backfilling binding (resumed ones included).
func (c *Capture) activate(ctx context.Context) error {
	for _, b := range c.bindings {
		if b.state.Mode == checkpoint.ModePending {
			b.state.Mode = activationMode(&b.Binding)
			b.state.KeyColumns = b.KeyColumns
			if b.state.Mode == checkpoint.ModeKeylessBackfill {
				b.state.KeyColumns = nil
			}
			b.state.Scanned = nil
			c.markDirty()
		}
		if checkpoint.IsBackfillMode(b.state.Mode) && b.SkipBackfill {
			// skip_backfills also cancels a half-finished backfill.
			b.state.Mode, b.state.Scanned = checkpoint.ModeActive, nil
			c.markDirty()
		}
		if checkpoint.IsBackfillMode(b.state.Mode) {
			bf, err := c.newBackfill(ctx, b)
			if err != nil {
				return err
			}
			b.backfill = bf
		}
	}
	return nil
}

// activationMode is the mode a Pending binding starts in (§4.5). A key
// whose type cannot be held in a row-key cursor is backfilled by physical
// location (its records keep their Kafka keys).
func activationMode(b *Binding) checkpoint.Mode {
	switch {
	case b.Mode == "Only Changes" || b.SkipBackfill:
		return checkpoint.ModeActive
	case b.Mode == "Without Primary Key" || len(b.KeyColumns) == 0 || !keyEncodable(b):
		return checkpoint.ModeKeylessBackfill
	case b.Mode == "Precise":
		return checkpoint.ModeBackfill
	case b.Mode == "Normal" || b.KeyUnpredictable || b.Filter != "":
		return checkpoint.ModeUnfilteredBackfill
	}
	return checkpoint.ModeBackfill
}

// keyEncodable reports whether every key column's type fits a row key.
func keyEncodable(b *Binding) bool {
	for _, name := range b.KeyColumns {
		for i := range b.Columns {
			if b.Columns[i].Name == name && !schema.RowKeySupported(&b.Columns[i].Type) {
				return false
			}
		}
	}
	return true
}

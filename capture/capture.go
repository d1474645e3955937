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
//
// A graceful stop (ctx cancelled: SIGTERM) keeps the same rule: the stop is
// taken only where the loop's state and the open batch agree (between
// PostgreSQL transactions, or between backfill chunks), and the last commit
// runs on a context of its own, so a signal never cuts a commit in half.
// Anywhere else, and after any failed commit, the open batch is aborted and
// nothing more is written: the next start resumes from the last durable
// checkpoint.
package capture

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/pg2kafka/pg2kafka/checkpoint"
	"github.com/pg2kafka/pg2kafka/event"
	"github.com/pg2kafka/pg2kafka/internal/slab"
	"github.com/pg2kafka/pg2kafka/schema"
)

// Database is what the loop needs of PostgreSQL.
type Database interface {
	CreateSlot(ctx context.Context) (uint64, error)
	StartReplication(ctx context.Context, startLSN uint64) (event.Stream, error)
	CurrentLSN(ctx context.Context) (uint64, error)
	WriteWatermark(ctx context.Context, watermark string) error
	ReadChunk(ctx context.Context, q *event.ChunkQuery) ([]event.Row, error)
	ReadPages(ctx context.Context, q *event.PagesQuery) ([]event.Row, error)
	TableSize(ctx context.Context, schema, table string) (pages uint32, rows float64, err error)
}

// TableSizer is a Database that reads the sizes of many tables in one
// query (TableSize of each, in the order asked): activation then reads the
// sizes of all the tables it backfills at once.
type TableSizer interface {
	TableSizes(ctx context.Context, schemas, tables []string) (pages []uint32, rows []float64, err error)
}

// TopicsHolder is an event.Topics that tells of many topics in one request
// whether each holds any record (Holds of each): activation then asks it
// once for every table it backfills.
type TopicsHolder interface {
	HoldsEach(ctx context.Context, topics []string) (map[string]bool, error)
}

// Sink is what the loop needs of Kafka.
type Sink interface {
	Begin() error
	InTxn() bool
	Write(ctx context.Context, r event.Record)
	Commit(ctx context.Context, checkpoint event.Checkpoint) error
	Abort(ctx context.Context) error
	Pending() (records int, bytes int64)
}

// Encoder turns a table's changes into record keys and values
// (event.Encoder).
type Encoder = event.Encoder

// NewEncoder builds the encoder of a table shape (event.NewEncoder).
type NewEncoder = event.NewEncoder

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
	// OID is the table's OID when it was discovered (0: match by name).
	OID uint32
	// Rebackfill, when set, says why the table's rows must be read anew (it
	// was dropped and created again, a partition with rows was attached):
	// the binding's state goes back to Pending.
	Rebackfill string
	// Sweep, when set, says why the table's topic may hold keys the table
	// no longer has although its backfill is done (a partition detached or
	// dropped): the topic is swept of them (sweep.go).
	Sweep string
	// ColumnsAdded says columns were added since the table was last
	// discovered: a backfill under way starts over, so that the rows it
	// already wrote get them too.
	ColumnsAdded bool
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
	// Filter is the binding's additional_backfill_filter, or "".
	Filter string
	// Attributes is the table's pg_class.relnatts when discovered (0:
	// unknown): a backfill chunk that finds more stops the run for a
	// rediscovery, so a column added during the backfill reaches every row.
	Attributes int16
}

// Options tunes the loop.
type Options struct {
	// Tombstones writes a tombstone after each delete.
	Tombstones bool
	// MaxDelay, MaxRecords and MaxBytes close a batch (a Kafka transaction)
	// at the next PostgreSQL commit once reached; a batch also closes as
	// soon as no more changes are waiting. A zero MaxDelay closes it at
	// every commit; MaxRecords and MaxBytes must be at least 1.
	MaxDelay   time.Duration
	MaxRecords int
	MaxBytes   int64
	// SplitRecords and SplitBytes split a PostgreSQL transaction larger than
	// either across Kafka transactions (so none outlives the broker's
	// transaction timeout): the checkpoint then keeps the position inside
	// it (event.Checkpoint.Within) and a restart skips exactly what was
	// committed. Both must be at least 1.
	SplitRecords int
	SplitBytes   int64
	// Within is the position inside a split transaction from the checkpoint
	// the run resumes from (event.Checkpoint.Within).
	Within []byte
	// ChunkBytes bounds a backfill chunk in bytes as ChunkSize bounds it in
	// rows (default 8 MiB): chunk sizes follow the table's row width.
	ChunkBytes int64
	// SlotBusyRetries bounds the retries while another process holds the
	// slot; negative retries forever.
	SlotBusyRetries int
	// Encoder builds record encoders (schema/format builds the configured
	// one). It is required.
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
	// ChunkSize is the rows per backfill chunk (at least 1).
	ChunkSize int
	// CommitTimeout bounds one commit of a batch, including the final one
	// on a graceful stop (at least 1s; Kafka's transaction timeout).
	CommitTimeout time.Duration
	// Relations are the OIDs of every table discovery saw (captured or
	// not): a change of any other relation, or of a captured table under a
	// new name, ends the run with ErrRediscover so that the caller
	// discovers again. Nil turns the check off (tables match by name).
	Relations map[uint32]bool
	// Rediscovered are OIDs that already caused a rediscovery: they match
	// their binding by OID, or else by name, and never cause another (a
	// dropped table's changes, replayed under its old name, say).
	Rediscovered map[uint32]bool
	// Topics, when set, reads back what topics hold, for the sweep of a
	// topic after its table's re-backfill (sweep.go); nil: no sweeps.
	Topics event.Topics
	// Sweeps names the tables still to sweep, from the checkpoint the run
	// resumes from (event.Checkpoint.Sweeps).
	Sweeps []byte
	// Rediscover delivers, when the caller's periodic discovery saw the
	// tables change, why: the run then ends with ErrRediscover at the next
	// point where it can (between stream batches or backfill chunks).
	Rediscover <-chan string
	// Side configures Debezium's side channels (sidechannels.go).
	Side SideChannels
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
	byOID    map[uint32]*binding
	byTable  map[*event.Table]*tableRun

	stream event.Stream
	// work is the context of writes and commits: never cancelled by a stop
	// request, so a batch is never half written.
	work context.Context
	// broken is set once a commit failed: the state in memory is then
	// ahead of what Kafka holds and must never be committed.
	broken bool
	// durable is the cursor of the last committed checkpoint.
	durable string

	// The PostgreSQL transaction being relayed: its commit LSN and the
	// changes of it seen so far; skip is the part of a split transaction
	// that a previous run committed.
	txnCommit uint64
	txnSeen   int
	txnXID    uint32
	txnTS     int64
	skip      within
	// window is the binding whose backfill window is open, if any.
	window *binding
	// within is the position written with a split commit (nil otherwise).
	within []byte
	// prefetched is the next chunk, read while the previous one is written
	// and committed.
	prefetched *chunkRead
	cursor     uint64 // cursor of the batch being built (last commit seen)
	inTxn      bool   // a PostgreSQL transaction's changes are being written

	batchStart  time.Time
	batchDirty  bool      // the batch holds records or a cursor move
	batchOldest time.Time // commit time of the batch's oldest transaction
	rowKey      []byte    // reused row-key buffer of the reconciliation
	scratch     []byte
	// records holds the bytes of the records written (key, value and LSN
	// header of each): a batch's records are released together, once
	// committed, so they are carved from shared blocks.
	records *slab.Slab[byte]
	txnMeta txnMeta // transaction metadata (sidechannels.go)
	// sizes are the table sizes activation read at once (TableSizer), by
	// "schema.table", each taken by the table's backfill.
	sizes map[string]tableSize
	// holds says whether each topic of a table to backfill holds records,
	// as activation read it at once (TopicsHolder); a table's later
	// backfill asks anew.
	holds map[string]bool
	// enc encodes the state of each commit, re-encoding only the table
	// states that changed.
	enc checkpoint.Encoder
}

type tableSize struct {
	pages uint32
	rows  float64
}

type binding struct {
	Binding
	state *checkpoint.TableState
	// backfill is the table's backfill reader, built at activation.
	backfill *backfill
	// sweepAfter: the topic is to be swept once the backfill completes.
	sweepAfter bool
	// sweep is the topic's sweep under way, if any.
	sweep *sweep
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
	if opts.ChunkBytes <= 0 {
		opts.ChunkBytes = 8 << 20 // with the prefetched chunk and the records, about 40 MiB
	}
	if opts.Observer == nil {
		opts.Observer = nopObserver{}
	}
	c := &Capture{db: db, sink: sink, opts: opts, log: opts.Logger, state: state,
		bindings: map[string]*binding{}, byOID: map[uint32]*binding{}, byTable: map[*event.Table]*tableRun{},
		records: slab.New[byte](64 << 10)}
	if c.state.Bindings == nil {
		c.state.Bindings = map[string]*checkpoint.TableState{}
	}
	for _, b := range bindings {
		bb := &binding{Binding: b}
		c.bindings[b.Schema+"."+b.Table] = bb
		if b.OID != 0 {
			c.byOID[b.OID] = bb
		}
	}
	return c
}

// State returns the capture's current state (for tests and tools); it may
// be ahead of the last committed checkpoint.
func (c *Capture) State() *checkpoint.State { return c.state }

// Durable returns the cursor of the last checkpoint committed by this run
// ("" if none).
func (c *Capture) Durable() string { return c.durable }

// errStopAsked is the loop's own word for a stop request taken at a point
// where the open batch is whole (see stop).
var errStopAsked = errors.New("stop requested")

// Run captures until ctx is cancelled (a graceful stop: it commits the open
// batch if it is whole, else aborts it, and returns nil) or an error stops
// it.
func (c *Capture) Run(ctx context.Context) error {
	if err := c.opts.check(); err != nil {
		return err
	}
	err := c.run(ctx)
	if errors.Is(err, ErrRediscover) && ctx.Err() != nil {
		// Stopping anyway: the next start discovers the tables afresh.
		return nil
	}
	return err
}

func (c *Capture) run(ctx context.Context) error {
	c.work = context.WithoutCancel(ctx)
	if c.opts.Within != nil {
		w, err := parseWithin(c.opts.Within)
		if err != nil {
			return fmt.Errorf("checkpoint: %w", err)
		}
		c.skip = w
	}
	sweeps, err := parseSweeps(c.opts.Sweeps)
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	// 1. Reconcile the state with the configured bindings (§1.6).
	refs := make([]checkpoint.Binding, 0, len(c.bindings))
	for _, b := range c.bindings {
		refs = append(refs, checkpoint.Binding{StateKey: b.StateKey})
	}
	checkpoint.Reconcile(c.state, refs)
	for _, b := range c.bindings {
		b.state = c.state.Bindings[b.StateKey]
		switch {
		case b.Rebackfill != "" && b.state.Mode != checkpoint.ModePending:
			c.log.Warn().Str("table", b.Schema+"."+b.Table).Str("reason", b.Rebackfill).Msg("backfilling the table anew")
			*b.state = checkpoint.TableState{Mode: checkpoint.ModePending}
			c.markDirty()
		case b.ColumnsAdded && checkpoint.IsBackfillMode(b.state.Mode) && (b.state.Scanned != nil || b.state.Backfilled > 0):
			c.log.Warn().Str("table", b.Schema+"."+b.Table).Msg("columns were added during the table's backfill: backfilling it anew, so that every row has them")
			*b.state = checkpoint.TableState{Mode: checkpoint.ModePending}
			c.markDirty()
		}
		if (sweeps[b.StateKey] || b.Sweep != "") && b.state.Mode == checkpoint.ModeActive && c.opts.Topics != nil && c.opts.Tombstones {
			// A sweep a previous run left unfinished, or one the caller
			// asks for.
			if b.Sweep != "" {
				c.log.Warn().Str("table", b.Schema+"."+b.Table).Str("reason", b.Sweep).Msg("sweeping the table's topic of keys the table no longer has")
			}
			b.sweep = &sweep{}
		}
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

	// 3. Open the stream, which owns the slot; a slot still held by a
	// predecessor's exiting walsender (or by the active instance, for a
	// standby) is waited for. Only then is anything written: the first
	// checkpoint (naming a new slot's start, or the reconciled state).
	streamCtx, stopStream := context.WithCancel(context.WithoutCancel(ctx))
	defer stopStream()
	if err := c.startStream(ctx, streamCtx); err != nil {
		return err
	}
	defer func() {
		stopStream()
		_ = c.stream.Err()
	}()
	if err := c.commit(); err != nil {
		return c.stop(err)
	}

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
		if ctx.Err() != nil {
			// Between chunks: the last chunk committed, the batch is whole.
			return c.stop(errStopAsked)
		}
		select {
		case reason := <-c.opts.Rediscover:
			return c.stop(&RediscoverError{Reason: reason})
		case s := <-c.opts.Side.Signals:
			if err := c.signal(s); err != nil {
				return c.stop(err)
			}
		default:
		}
		b := c.nextBackfill(nil)
		if c.prefetched != nil {
			b = c.prefetched.b
		}
		if b == nil {
			// Sweeps follow the backfills: the topics of tables backfilled
			// anew lose the keys their tables no longer have.
			if s := c.nextSweep(); s != nil {
				if err := c.sweepStep(ctx, s); err != nil {
					return c.stop(err)
				}
				continue
			}
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
		if !errors.Is(err, event.ErrSlotBusy) || (c.opts.SlotBusyRetries >= 0 && attempt >= c.opts.SlotBusyRetries) {
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

// stop ends the run. Only a stop asked for where the batch is whole (the
// loop returned errStopAsked outside a PostgreSQL transaction) commits the
// batch: its records and the state in memory then describe the same
// position. Every other way out (an error, a failed commit, a stop asked in
// the middle of a transaction or a backfill window) aborts the open Kafka
// transaction and writes nothing: the state in memory may be ahead of the
// records, and the last durable checkpoint (whose cursor is all PostgreSQL
// was told) is where the next start resumes.
func (c *Capture) stop(err error) error {
	c.waitPrefetch()
	if errors.Is(err, errStopAsked) && !c.inTxn && !c.broken {
		if !c.batchDirty {
			return nil
		}
		// A stop here is safe: the commit is the same as any batch's, on
		// its own context; a second signal exits the process before or
		// after it, and either way the broker holds the whole transaction
		// or none of it.
		return c.commit()
	}
	ctx, cancel := context.WithTimeout(c.work, c.opts.CommitTimeout)
	defer cancel()
	if aerr := c.sink.Abort(ctx); aerr != nil && err == nil {
		err = aerr
	}
	if errors.Is(err, errStopAsked) || errors.Is(err, context.Canceled) && !c.broken {
		c.log.Info().Str("durable_cursor", c.durable).Msg("stopped inside a transaction or backfill window: its open batch was aborted; the next start resumes from the last checkpoint")
		return nil
	}
	return err
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
	// The catch-up at start (perCommit) logs its progress when far behind;
	// a backfill window's is short.
	progress := &catchUp{}
	if perCommit {
		progress = newCatchUp(c.log, c.cursor, fence)
	}
	for c.cursor < fence || c.inTxn {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case items, ok := <-c.stream.C():
			if err := c.receive(items, ok, perCommit); err != nil {
				return err
			}
		case <-progress.C():
			progress.line(c.cursor)
		}
	}
	progress.done()
	return nil
}

// receive relays one batch of the stream; with perCommit the batch may
// then close (see maybeCommit).
func (c *Capture) receive(items []event.Item, ok, perCommit bool) error {
	for offered := false; ; offered = true {
		if !ok {
			return c.streamEnded()
		}
		if err := c.process(items); err != nil {
			return err
		}
		if !perCommit {
			return nil
		}
		if offered || !c.batchDirty || c.inTxn || c.stream.Waiting() || c.commitDue() {
			return c.maybeCommit(false)
		}
		// Waiting does not count the batch C offers, which may have been
		// ready before this one was taken: it joins this commit. One only:
		// taking more would put this commit off for as long as changes
		// keep arriving.
		select {
		case items, ok = <-c.stream.C():
		default:
			return c.maybeCommit(false)
		}
	}
}

func (c *Capture) streamForever(ctx context.Context) error {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	heartbeats, stopHeartbeats := c.heartbeatTicker()
	defer stopHeartbeats()
	for {
		select {
		case <-ctx.Done():
			// Between two stream batches: stop (commits if no transaction
			// is open, see stop).
			return errStopAsked
		case items, ok := <-c.stream.C():
			if err := c.receive(items, ok, true); err != nil {
				return err
			}
		case <-timer.C:
			if err := c.maybeCommit(true); err != nil {
				return err
			}
		case reason := <-c.opts.Rediscover:
			return &RediscoverError{Reason: reason}
		case <-heartbeats:
			if err := c.heartbeat(); err != nil {
				return err
			}
		case s := <-c.opts.Side.Signals:
			if err := c.signal(s); err != nil {
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
func (c *Capture) maybeCommit(timedOut bool) error {
	if !c.batchDirty || c.inTxn {
		return nil
	}
	if timedOut || c.commitDue() || !c.stream.Waiting() {
		return c.commit()
	}
	return nil
}

// commitDue reports whether the batch reached a limit: records, bytes or
// age.
func (c *Capture) commitDue() bool {
	records, bytes := c.sink.Pending()
	return records >= c.opts.MaxRecords || bytes >= c.opts.MaxBytes || time.Since(c.batchStart) >= c.opts.MaxDelay
}

// commit writes the checkpoint with the batch, then confirms its cursor.
// Order matters: the checkpoint commits in the records' transaction (or
// after they are acknowledged), and only a committed cursor is confirmed.
// It runs on the loop's own context (bounded by CommitTimeout), never the
// one a signal cancels: a commit cut short would abort the records while
// the state in memory had already moved past them.
func (c *Capture) commit() error {
	if c.broken {
		return errors.New("capture: a commit failed earlier; nothing more may be committed by this run")
	}
	c.state.Cursor = checkpoint.LSN(c.cursor).String()
	doc, tables, err := c.enc.Marshal(c.state)
	if err != nil {
		c.broken = true
		return fmt.Errorf("encoding the checkpoint: %w", err)
	}
	records, _ := c.sink.Pending()
	started := time.Now()
	ctx, cancel := context.WithTimeout(c.work, c.opts.CommitTimeout)
	defer cancel()
	// A crash before Commit returns is safe: the broker then holds this
	// transaction whole or not at all, and PostgreSQL was told only the
	// previous cursor.
	within := c.within
	if within == nil && c.skip.changes > 0 {
		// The split transaction the run resumed inside is still ahead:
		// its committed part must stay skipped after another restart.
		within = c.skip.text()
	}
	if err := c.sink.Commit(ctx, event.Checkpoint{State: doc, Tables: tables, Within: within, Sweeps: c.sweepsText()}); err != nil {
		// From here the state in memory is ahead of Kafka: never commit it.
		c.broken = true
		return fmt.Errorf("committing the batch ending at %s: %w", c.state.Cursor, err)
	}
	c.durable = c.state.Cursor
	c.opts.Observer.Committed(records, time.Since(started), c.cursor, c.batchOldest)
	c.batchOldest = time.Time{}
	// A crash after the commit and before (or after) the acknowledgement
	// is safe: the slot then resumes at or before the durable cursor, and
	// the checkpoint read at start says where records end.
	if c.stream != nil {
		c.stream.Acknowledge(c.cursor)
	}
	c.batchDirty = false
	return nil
}

// process relays a batch of stream items into the open Kafka batch.
func (c *Capture) process(items []event.Item) error {
	for i := range items {
		it := &items[i]
		switch it.Kind {
		case event.ItemChange:
			if !c.inTxn {
				c.inTxn, c.txnSeen, c.txnCommit = true, 0, uint64(it.Change.Loc[2])
				c.txnMeta.reset()
				c.txnXID, c.txnTS = it.Change.XID, it.Change.TSMillis
			}
			c.txnSeen++
			if c.txnCommit == c.skip.commit && c.txnSeen <= c.skip.changes {
				c.txnSkipped(&it.Change)
				continue // committed by a previous run, inside a split transaction
			}
			if err := c.change(&it.Change); err != nil {
				return err
			}
			if records, bytes := c.sink.Pending(); records >= c.opts.SplitRecords || bytes >= c.opts.SplitBytes {
				if err := c.commitWithin(); err != nil {
					return err
				}
			}
		case event.ItemCommit:
			if c.inTxn {
				if err := c.txnEnd(c.txnXID, c.txnTS); err != nil {
					return err
				}
			}
			c.inTxn = false
			if c.txnCommit == c.skip.commit {
				c.skip = within{}
			}
			c.advance(it.LSN)
		case event.ItemIdle:
			if !c.inTxn {
				c.advance(it.LSN)
			}
		}
	}
	return nil
}

// within is a position inside a PostgreSQL transaction: its commit LSN and
// how many of its changes (as the stream delivers them) are committed.
type within struct {
	commit  uint64
	changes int
}

// text is the "LSN:changes" form of event.Checkpoint.Within.
func (w within) text() []byte {
	return fmt.Appendf(nil, "%s:%d", checkpoint.LSN(w.commit), w.changes)
}

// parseWithin reads the "LSN:changes" text of event.Checkpoint.Within.
func parseWithin(b []byte) (within, error) {
	lsn, n, ok := strings.Cut(string(b), ":")
	l, err := checkpoint.ParseLSN(lsn)
	changes, nerr := strconv.Atoi(n)
	if !ok || err != nil || nerr != nil || changes < 0 {
		return within{}, fmt.Errorf("the checkpoint record's pg2kafka.within header %q is not LSN:changes (rewrite the checkpoint with pg2kafka state import, or state reset --yes)", b)
	}
	return within{commit: uint64(l), changes: changes}, nil
}

// commitWithin commits the open batch in the middle of a PostgreSQL
// transaction too large for one Kafka transaction. The checkpoint keeps
// the cursor of the last whole transaction and, beside it, how many changes
// of this one are committed: a crash or stop after it replays the
// transaction and skips exactly those.
//
// Inside a backfill window no part may commit: the window has emitted
// changes of keys its chunk covers while the chunk's rows (and cursor) are
// not written yet. The run then ends for a restart from the last
// checkpoint, whose catch-up relays the transaction, split, before any
// chunk is read again.
func (c *Capture) commitWithin() error {
	if c.window != nil {
		return &RediscoverError{Reason: fmt.Sprintf("a transaction (commit %s) too large for one Kafka transaction arrived during the backfill of %s.%s: resuming from the last checkpoint to relay it first",
			checkpoint.LSN(c.txnCommit), c.window.Schema, c.window.Table)}
	}
	c.within = within{commit: c.txnCommit, changes: c.txnSeen}.text()
	err := c.commit()
	c.within = nil
	return err
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
func (c *Capture) change(ch *event.Change) error {
	tr, err := c.tableRun(ch.Table)
	if err != nil {
		return err
	}
	if tr.b == nil {
		return c.signalRow(ch)
	}
	if ch.Op == event.OpTruncate {
		return c.truncate(tr, ch)
	}
	switch tr.b.state.Mode {
	case checkpoint.ModeActive:
	case checkpoint.ModeKeylessBackfill:
		c.supersedeByKafkaKey(tr, ch)
	case checkpoint.ModeBackfill, checkpoint.ModeUnfilteredBackfill:
		emit, err := c.reconcile(tr, ch)
		if err != nil || !emit {
			return err
		}
	default:
		return nil
	}
	return c.write(tr, ch)
}

// truncate writes a TRUNCATE of a captured table as a keyless record, or
// logs it: the table's records in Kafka no longer match it either way.
func (c *Capture) truncate(tr *tableRun, ch *event.Change) error {
	switch tr.b.state.Mode {
	case checkpoint.ModePending, checkpoint.ModeIgnore, checkpoint.ModeMissing:
		return nil
	}
	if !c.opts.Truncates {
		c.log.Warn().Str("table", tr.b.Schema+"."+tr.b.Table).Msg("table truncated: no record is written for a TRUNCATE (kafka.truncates with the debezium envelope writes one); its topic still holds the old rows")
		return nil
	}
	return c.writeWith(tr.b, tr.enc, ch, uint64(ch.Loc[1]))
}

// tableRun finds (or builds, once per relation shape) the encoder of a
// stream table.
func (c *Capture) tableRun(t *event.Table) (*tableRun, error) {
	if tr, ok := c.byTable[t]; ok {
		return tr, nil
	}
	b, err := c.bindingOf(t)
	if err != nil {
		return nil, err
	}
	if b != nil && b.backfill != nil && !sameColumns(t, b.backfill.table) && !c.opts.Rediscovered[t.OID] {
		// DDL during the backfill (its chunks read the discovered columns):
		// discover again, so chunks follow the new columns.
		return nil, &RediscoverError{OID: t.OID, Reason: fmt.Sprintf("the columns of %s.%s changed during its backfill", b.Schema, b.Table)}
	}
	tr := &tableRun{b: b}
	if tr.b != nil {
		key, err := relationKey(t, &tr.b.Binding)
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

// ErrRediscover ends a run when the stream names a relation that discovery
// did not see, or a captured table under a new name: the caller discovers
// the tables again and restarts from the last durable checkpoint.
var ErrRediscover = errors.New("the captured tables changed")

// RediscoverError is the ErrRediscover of one relation, or of a signal.
type RediscoverError struct {
	OID    uint32
	Reason string
	// Rebackfill names ("schema.table") the tables an execute-snapshot
	// signal asks to backfill anew: the caller sets their
	// Binding.Rebackfill, and remembers Signal (its SignalID) in
	// SideChannels.SignalsDone so that the signal's replay is ignored.
	Rebackfill []string
	Signal     string
}

func (e *RediscoverError) Error() string        { return e.Reason }
func (e *RediscoverError) Is(target error) bool { return target == ErrRediscover }

// bindingOf finds the binding of a stream relation: by its OID, which a
// rename keeps, else by name. A relation discovery did not see (a table
// added to the publication, or created again) and a renamed captured table
// end the run for a rediscovery, never a silent drop.
func (c *Capture) bindingOf(t *event.Table) (*binding, error) {
	name := t.Schema + "." + t.Name
	if c.opts.Relations == nil || t.OID == 0 {
		return c.bindings[name], nil
	}
	b := c.byOID[t.OID]
	again := c.opts.Rediscovered[t.OID]
	switch {
	case b != nil && (b.Schema != t.Schema || b.Table != t.Name) && !again:
		return nil, &RediscoverError{OID: t.OID, Reason: fmt.Sprintf("captured table %s.%s is now named %s", b.Schema, b.Table, name)}
	case b != nil:
		return b, nil
	case !c.opts.Relations[t.OID] && !again:
		return nil, &RediscoverError{OID: t.OID, Reason: fmt.Sprintf("table %s (oid %d) joined the publication or was created again", name, t.OID)}
	}
	return c.bindings[name], nil
}

// sameColumns reports whether a stream relation has the columns a backfill
// reads, by name.
func sameColumns(t, backfill *event.Table) bool {
	if len(t.Columns) != len(backfill.Columns) {
		return false
	}
	for i := range t.Columns {
		if t.Columns[i].Name != backfill.Columns[i].Name {
			return false
		}
	}
	return true
}

// relationKey finds a binding's key columns in a stream relation: by name,
// or, when a key column was renamed since discovery (a restart replays the
// changes before the rename, whose RELATION has the old name), by the
// relation's replica-identity columns, which pair with the discovered key
// columns in attribute order.
func relationKey(t *event.Table, b *Binding) ([]int, error) {
	key, err := keyIndexes(t, b.KeyColumns)
	if err == nil || len(t.Key) != len(b.KeyColumns) {
		return key, err
	}
	pos := make([]int, len(b.KeyColumns))
	for i, name := range b.KeyColumns {
		pos[i] = slices.IndexFunc(b.Columns, func(c event.Column) bool { return c.Name == name })
		if pos[i] < 0 {
			return nil, err
		}
	}
	order := make([]int, len(pos))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return pos[a] - pos[b] })
	key = make([]int, len(pos))
	for j, i := range order {
		key[i] = t.Key[j]
	}
	return key, nil
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

// write encodes a change into one slice carved from c.records (key,
// document and LSN header) and hands it to the sink; a delete is followed
// by a tombstone.
func (c *Capture) write(tr *tableRun, ch *event.Change) error {
	if c.opts.KeyChangeAsDeleteCreate && ch.Op == event.OpUpdate && ch.Old != nil && keyChanged(tr.key, ch) {
		// The old key's delete carries what the old tuple has; the new
		// key's create carries the new row.
		del := *ch
		del.Op, del.New, del.Old = event.OpDelete, ch.Old, nil
		if err := c.writeWith(tr.b, tr.enc, &del, uint64(ch.Loc[1])); err != nil {
			return err
		}
		create := *ch
		create.Op, create.Old = event.OpCreate, nil
		return c.writeWith(tr.b, tr.enc, &create, uint64(ch.Loc[1]))
	}
	if err := c.writeWith(tr.b, tr.enc, ch, uint64(ch.Loc[1])); err != nil {
		return err
	}
	if c.opts.Tombstones && ch.Op == event.OpUpdate && ch.Old != nil && len(tr.key) > 0 && keyChanged(tr.key, ch) {
		// The update keeps Flow's shape under its new key; the old key is
		// gone from the table, so compaction must forget it too.
		old := c.scratch[:0]
		old = tr.enc.AppendKey(old, &event.Change{New: ch.Old})
		c.scratch = old
		c.sink.Write(c.work, event.Record{Topic: tr.b.Topic, Key: bytes.Clone(old)})
	}
	return nil
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

func (c *Capture) writeWith(b *binding, enc Encoder, ch *event.Change, lsn uint64) error {
	if !c.sink.InTxn() {
		if err := c.sink.Begin(); err != nil {
			return err
		}
	}
	if c.opts.Side.TransactionTopic != "" && !ch.Snapshot {
		c.txnRecord(b, ch)
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
	rec := c.records.Copy(buf)
	r := event.Record{Topic: b.Topic, Value: rec[keyLen:docLen:docLen], Op: opHeaders[ch.Op], LSN: rec[docLen:]}
	if keyLen > 0 {
		r.Key = rec[:keyLen:keyLen]
	}
	c.sink.Write(c.work, r)
	if b.sweep != nil && r.Key != nil {
		// A key a change touches while its topic is swept is known to the
		// topic by this record: never a ghost.
		delete(b.sweep.keys, string(r.Key))
	}
	c.opts.Observer.Record(b.Schema, b.Table, ch.Op, len(rec))
	if !ch.Snapshot && c.batchOldest.IsZero() {
		c.batchOldest = time.UnixMilli(ch.TSMillis)
	}
	if ch.Op == event.OpDelete && c.opts.Tombstones && r.Key != nil {
		c.sink.Write(c.work, event.Record{Topic: b.Topic, Key: r.Key})
	}
	c.markDirty()
	return nil
}

// activate gives each Pending binding its mode (§4.5) and prepares the
// backfill of every backfilling binding (resumed ones included).
func (c *Capture) activate(ctx context.Context) error {
	c.prefetch(ctx)
	defer func() { c.sizes, c.holds = nil, nil }()
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
			if b.sweepAfter, err = c.needsSweep(ctx, b); err != nil {
				return err
			}
		}
	}
	return nil
}

// prefetch reads, when the database can (TableSizer), the sizes of every
// table activation will backfill in one query, rather than one per table;
// and likewise whether their topics hold records (TopicsHolder).
func (c *Capture) prefetch(ctx context.Context) {
	var schemas, tables, topics []string
	for _, b := range c.bindings {
		mode := b.state.Mode
		if mode == checkpoint.ModePending {
			mode = activationMode(&b.Binding)
		}
		if checkpoint.IsBackfillMode(mode) && !b.SkipBackfill {
			schemas, tables = append(schemas, b.Schema), append(tables, b.Table)
			topics = append(topics, b.Topic)
		}
	}
	if len(tables) < 2 {
		return
	}
	if holder, ok := c.opts.Topics.(TopicsHolder); ok && c.opts.Tombstones {
		holds, err := holder.HoldsEach(ctx, topics)
		if err == nil {
			c.holds = holds
		} else {
			c.log.Debug().Err(err).Msg("asking whether the topics of the tables to backfill hold records at once failed; asking one by one")
		}
	}
	sizer, ok := c.db.(TableSizer)
	if !ok {
		return
	}
	pages, rows, err := sizer.TableSizes(ctx, schemas, tables)
	if err != nil {
		// Each backfill reads its table's size itself, and names the
		// table that fails.
		c.log.Debug().Err(err).Msg("reading the sizes of the tables to backfill at once failed; reading them one by one")
		return
	}
	c.sizes = make(map[string]tableSize, len(tables))
	for i := range tables {
		c.sizes[schemas[i]+"."+tables[i]] = tableSize{pages[i], rows[i]}
	}
}

// activationMode is the mode a Pending binding starts in (§4.5). A key
// whose type cannot be held in a row-key cursor is backfilled by physical
// location (its records keep their Kafka keys). A precise (filtered)
// backfill needs PostgreSQL's key order to equal the byte order of row keys
// (schema.KeyOrderOf): the automatic mode asks for it as the columns are, a
// forced "Precise" mode gets it through COLLATE "C" where that suffices, and
// any other key is backfilled unfiltered, "Precise" or not, since filtering
// it would silently drop rows written during the backfill.
func activationMode(b *Binding) checkpoint.Mode {
	switch {
	case b.Mode == "Only Changes" || b.SkipBackfill:
		return checkpoint.ModeActive
	case b.Mode == "Without Primary Key" || len(b.KeyColumns) == 0 || !keyEncodable(b):
		return checkpoint.ModeKeylessBackfill
	}
	order := keyOrder(b)
	switch {
	case b.Mode == "Precise" && order != schema.KeyOrderDiffers:
		return checkpoint.ModeBackfill
	case b.Mode == "Precise":
		return checkpoint.ModeUnfilteredBackfill
	case b.Mode == "Normal" || order != schema.KeyOrderMatches || b.Filter != "":
		return checkpoint.ModeUnfilteredBackfill
	}
	return checkpoint.ModeBackfill
}

// keyOrder is the weakest schema.KeyOrderOf of the key's columns.
func keyOrder(b *Binding) schema.KeyOrder {
	order := schema.KeyOrderMatches
	for _, name := range b.KeyColumns {
		found := false
		for i := range b.Columns {
			if b.Columns[i].Name != name {
				continue
			}
			found = true
			switch schema.KeyOrderOf(&b.Columns[i].Type) {
			case schema.KeyOrderDiffers:
				return schema.KeyOrderDiffers
			case schema.KeyOrderMatchesCollateC:
				order = schema.KeyOrderMatchesCollateC
			}
		}
		if !found {
			return schema.KeyOrderDiffers
		}
	}
	return order
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

package capture

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/bits"
	"slices"
	"time"

	"github.com/pg2kafka/pg2kafka/checkpoint"
	"github.com/pg2kafka/pg2kafka/event"
)

// The sweep (docs/operations.md, "After a lost slot"): a table backfilled anew into a
// topic that already held records (after `state reset`, a table dropped and
// created again, a backfill restarted) leaves in its compacted topic every
// key the table no longer has — rows deleted while nothing captured them.
// Once the backfill completes, the sweep reads the topic's live keys and
// scans the table's keys in chunks, each between two fences of the stream
// as backfill chunks are. A key the scan does not find and no change
// touched while the sweep ran is absent from the table at the last fence,
// so its tombstone, written there, is in commit order.
//
// Memory is bounded: a pass keeps at most sweepKeys keys, those whose hash
// falls in the pass's share; a topic with more live keys is swept in as
// many passes as it takes, each reading the topic and scanning the table
// again. A sweep is not resumed within a pass: the checkpoint's Sweeps
// names the tables still to sweep, and a restart sweeps them from the
// start (tombstones are idempotent).

// sweepKeys bounds the keys one sweep pass holds (about 20 MiB of keys of
// 30 bytes); a variable so that tests can sweep in many passes.
var sweepKeys = 250_000

// errTooManyKeys ends a topic read whose pass holds more than sweepKeys.
var errTooManyKeys = errors.New("too many keys for one sweep pass")

// sweep is a table's sweep under way.
type sweep struct {
	pass, passes int
	// keys are the pass's candidates: live in the topic, not yet seen in
	// the table or in a change since the sweep began. Nil between passes.
	keys map[string]struct{}
	scan *backfill // the table's key scan
	st   checkpoint.TableState
	// ghosts counts the tombstones written.
	ghosts int
}

// sweepShare reports whether key falls in pass's share of passes: the
// pass-th of passes equal ranges of its 64-bit FNV-1a hash. Ranges, not
// residues, so that doubling the passes splits each share in two and the
// shares already swept stay the first ones.
func sweepShare(key []byte, pass, passes int) bool {
	if passes == 1 {
		return true
	}
	h := uint64(14695981039346656037)
	for _, b := range key {
		h ^= uint64(b)
		h *= 1099511628211
	}
	share, _ := bits.Mul64(h, uint64(passes))
	return int(share) == pass
}

// needsSweep decides, as b's backfill starts, whether its topic must be
// swept once it completes: a backfill from the start sweeps if the topic
// already holds records; a resumed one always does, since what the topic
// held before it began is not known.
func (c *Capture) needsSweep(ctx context.Context, b *binding) (bool, error) {
	if c.opts.Topics == nil || len(b.KeyColumns) == 0 || !c.opts.Tombstones {
		return false, nil
	}
	if b.state.Scanned != nil || b.state.Backfilled > 0 {
		return true, nil
	}
	if holds, known := c.holds[b.Topic]; known {
		return holds, nil
	}
	holds, err := c.opts.Topics.Holds(ctx, b.Topic)
	if err != nil {
		return false, fmt.Errorf("checking whether topic %s holds records of an earlier capture: %w", b.Topic, err)
	}
	return holds, nil
}

// sweepsText is the checkpoint's event.Checkpoint.Sweeps: the state keys
// of the tables still to sweep, as a JSON array, or nil.
func (c *Capture) sweepsText() []byte {
	var keys []string
	for _, b := range c.bindings {
		if b.sweep != nil {
			keys = append(keys, b.StateKey)
		}
	}
	if len(keys) == 0 {
		return nil
	}
	slices.Sort(keys)
	out, _ := json.Marshal(keys)
	return out
}

// parseSweeps reads event.Checkpoint.Sweeps.
func parseSweeps(b []byte) (map[string]bool, error) {
	if b == nil {
		return nil, nil
	}
	var keys []string
	if err := json.Unmarshal(b, &keys); err != nil {
		return nil, fmt.Errorf("the checkpoint record's pg2kafka.sweeps header %q is not a JSON array of state keys (rewrite the checkpoint with pg2kafka state import, or state reset --yes): %w", b, err)
	}
	out := make(map[string]bool, len(keys))
	for _, k := range keys {
		out[k] = true
	}
	return out, nil
}

// nextSweep picks a table whose sweep is under way, or nil.
func (c *Capture) nextSweep() *binding {
	var next *binding
	for _, b := range c.bindings {
		if b.sweep != nil && (next == nil || b.StateKey < next.StateKey) {
			next = b
		}
	}
	return next
}

// sweepStep runs one step of b's sweep: at a pass's start, read the topic's
// live keys of the pass; then scan one chunk of the table's keys and stream
// to a fence; after the last chunk, write the tombstones of the keys left
// and commit them with the checkpoint that drops the pass (or the sweep).
func (c *Capture) sweepStep(ctx context.Context, b *binding) error {
	sw := b.sweep
	if sw.keys == nil {
		if err := c.startSweepPass(ctx, b); err != nil {
			return err
		}
	}
	rows, complete, err := c.scanKeys(ctx, b)
	if err != nil {
		return err
	}
	var key []byte
	for _, row := range rows {
		key = sw.scan.enc.AppendKey(key[:0], &event.Change{New: row})
		delete(sw.keys, string(key))
	}
	// Changes up to the fence remove the keys they touch (writeWith): a key
	// still held after it was absent from its chunk and untouched since the
	// sweep began, so it is absent at the fence.
	if err := c.streamToFence(ctx, false); err != nil {
		return err
	}
	if complete {
		for k := range sw.keys {
			if err := c.writeGhost(b, sw.scan.enc, []byte(k)); err != nil {
				return err
			}
		}
		sw.ghosts += len(sw.keys)
		sw.keys = nil
		if sw.pass++; sw.pass == sw.passes {
			b.sweep = nil
			c.log.Info().Str("table", b.Schema+"."+b.Table).Str("topic", b.Topic).Int("tombstones", sw.ghosts).
				Msg("swept the topic: keys the table no longer has are tombstoned")
		}
		c.markDirty()
	}
	if !c.batchDirty {
		return nil
	}
	// A stop waits for this commit (its own context); a crash before it
	// leaves the sweep named in the durable checkpoint, so the next start
	// sweeps again, and a crash after it is past the tombstones.
	return c.commit()
}

// startSweepPass reads the pass's live keys from the topic, in as many
// passes as keep each within sweepKeys, and prepares the table's scan.
func (c *Capture) startSweepPass(ctx context.Context, b *binding) error {
	sw := b.sweep
	if sw.passes == 0 {
		sw.passes = 1
	}
	// The topic read sees only committed records: commit the open batch
	// first, so a key deleted in it is not taken for a live one.
	if c.batchDirty && !c.inTxn {
		if err := c.commit(); err != nil {
			return err
		}
	}
	started := time.Now()
	for {
		keys := map[string]struct{}{}
		err := c.opts.Topics.ReadKeys(ctx, b.Topic, func(key []byte, live bool) error {
			if key == nil || !sweepShare(key, sw.pass, sw.passes) {
				return nil
			}
			if !live {
				delete(keys, string(key))
				return nil
			}
			keys[string(key)] = struct{}{}
			if len(keys) > sweepKeys {
				return errTooManyKeys
			}
			return nil
		})
		if errors.Is(err, errTooManyKeys) {
			// Each pass covers a share of the keys: twice as many passes,
			// this one restarting.
			sw.pass, sw.passes = sw.pass*2, sw.passes*2
			continue
		}
		if err != nil {
			return fmt.Errorf("sweeping topic %s of %s.%s: reading its keys: %w", b.Topic, b.Schema, b.Table, err)
		}
		sw.keys = keys
		break
	}
	c.log.Info().Str("table", b.Schema+"."+b.Table).Str("topic", b.Topic).Int("pass", sw.pass+1).Int("passes", sw.passes).
		Int("live_keys", len(sw.keys)).Dur("read", time.Since(started)).Msg("sweeping the topic of keys the table no longer has")
	// The scan reads the key columns in key order (or by location for a
	// key without a row-key cursor), without the backfill's filters: a row
	// the filter leaves out still exists, so its key is kept.
	sw.st = checkpoint.TableState{Mode: activationMode(&Binding{KeyColumns: b.KeyColumns, Columns: b.Columns, Mode: "Normal"}), KeyColumns: b.KeyColumns}
	if sw.st.Mode == checkpoint.ModeKeylessBackfill {
		sw.st.KeyColumns = nil
	}
	tmp := *b
	tmp.state = &sw.st
	tmp.Filter = ""
	scan, err := c.newBackfill(ctx, &tmp)
	if err != nil {
		return fmt.Errorf("sweeping topic %s: %w", b.Topic, err)
	}
	sw.scan = scan
	return nil
}

// scanKeys reads the next chunk of the sweep's scan: rows holding only the
// Kafka key's columns (the others null), and whether the scan is complete.
func (c *Capture) scanKeys(ctx context.Context, b *binding) ([]event.Row, bool, error) {
	sw := b.sweep
	bf := sw.scan
	cols := make([]string, len(b.KeyColumns))
	copy(cols, b.KeyColumns)
	pos := make([]int, len(cols))
	for i, name := range cols {
		pos[i] = slices.IndexFunc(bf.table.Columns, func(col event.Column) bool { return col.Name == name })
		if pos[i] < 0 {
			return nil, false, fmt.Errorf("sweeping topic %s: key column %q of %s.%s not found", b.Topic, name, b.Schema, b.Table)
		}
	}
	// The key's columns without the backfill's filters: a row a filter
	// leaves out still exists, so its key is kept.
	rows, complete, scanned, err := c.readChunk(ctx, b, bf, &sw.st, bf.limit, bf.pagesPerChunk, cols, "")
	if bf.keyless {
		sw.st.Scanned = scanned
	}
	if err != nil {
		if errors.Is(err, event.ErrTableChanged) {
			return nil, false, &RediscoverError{OID: b.OID, Reason: fmt.Sprintf("table %s.%s changed during the sweep of its topic (%v)", b.Schema, b.Table, err)}
		}
		return nil, false, fmt.Errorf("sweeping topic %s: %w", b.Topic, err)
	}
	// Widen each row to the table's columns, as the encoder expects.
	full := make([]event.Row, len(rows))
	for i, r := range rows {
		w := make(event.Row, len(bf.table.Columns))
		for j := range w {
			w[j] = event.Value{Marker: event.MarkerNull}
		}
		for j, p := range pos {
			w[p] = r[j]
		}
		full[i] = w
	}
	if !bf.keyless && len(full) > 0 {
		rk, err := bf.enc.AppendRowKey(nil, &event.Change{New: full[len(full)-1]})
		if err != nil {
			return nil, false, err
		}
		sw.st.Scanned = rk
		if len(full) == bf.limit {
			bf.limit = min(bf.limit*4, c.opts.ChunkSize)
		}
	}
	return full, complete, nil
}

// writeGhost writes, for a key b's topic holds and its table no longer
// has, a delete record when the encoder can build one from the key alone
// (event.DeletionEncoder), then the tombstone. The delete carries the
// loop's cursor as its position: the key is known absent there.
func (c *Capture) writeGhost(b *binding, enc Encoder, key []byte) error {
	if !c.sink.InTxn() {
		if err := c.sink.Begin(); err != nil {
			return err
		}
	}
	if de, ok := enc.(event.DeletionEncoder); ok {
		ch := event.Change{Op: event.OpDelete, TSMillis: time.Now().UnixMilli(), Loc: [3]int64{int64(c.cursor), int64(c.cursor), 0}}
		if doc, ok := de.AppendDeletion(nil, key, &ch); ok {
			lsn := appendLSN(nil, c.cursor)
			c.sink.Write(c.work, event.Record{Topic: b.Topic, Key: key, Value: doc, Op: opHeaders[event.OpDelete], LSN: lsn})
			c.opts.Observer.Record(b.Schema, b.Table, event.OpDelete, len(key)+len(doc))
		}
	}
	c.sink.Write(c.work, event.Record{Topic: b.Topic, Key: key})
	return nil
}

package capture

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"
	"unsafe"

	"github.com/pg2kafka/pg2kafka/checkpoint"
	"github.com/pg2kafka/pg2kafka/event"
	"github.com/pg2kafka/pg2kafka/internal/slab"
	"github.com/pg2kafka/pg2kafka/schema"
	"github.com/pg2kafka/pg2kafka/schema/rowkey"
)

// backfill reads one table's existing rows, chunk by chunk (§4.2, §4.6).
type backfill struct {
	table    *event.Table // the discovered columns a chunk reads
	key      []int
	keyTypes []*event.Type
	collateC []bool
	enc      Encoder
	keyless  bool
	// kafkaKeyed: a keyless (by physical location) backfill of a table
	// that has a key: its window reconciles by the records' Kafka key.
	kafkaKeyed bool
	// Keyless tables: the page ceiling and pages per chunk (§4.6).
	pageCeiling, pagesPerChunk uint32
	// limit is the rows of the next keyed chunk: it starts small and
	// follows the table's row width, within ChunkSize rows and ChunkBytes.
	limit int

	estimate  float64
	started   time.Time
	startRows int64
	lastLog   time.Time

	win *window // the open chunk's window, nil between chunks
}

// window is a chunk held while the stream runs to its fence. A held row
// whose key sees a change in the window is dropped: the change, emitted
// in stream order, carries the key's newer state (DBLog). So no key's
// records ever go back in time.
type window struct {
	rows    []event.Row
	index   map[string]int // row key → index in rows
	dropped []bool
	// emitAll: the chunk completed the table, so no change is filtered.
	emitAll bool
	// latest holds each key's latest values from changes in the window;
	// with the held rows, they fill unchanged TOASTed columns an update
	// leaves out. They are copies (keepValues).
	latest map[string]known
}

// keepValues copies values into memory of their own, for a window entry:
// a change's values share blocks with other changes' (the stream's
// slabs), which an entry held for the whole window would keep alive with
// it. Each copy is an allocation of its own, freed when a later change to
// the key replaces it, so the window holds one copy a key, however often
// the key changes.
func keepValues(values []event.Value) []event.Value {
	size := 0
	for _, v := range values {
		size += len(v.Data)
	}
	data := make([]byte, 0, size)
	out := make([]event.Value, len(values))
	for i, v := range values {
		out[i] = event.Value{Marker: v.Marker}
		if v.Data != nil {
			start := len(data)
			data = append(data, v.Data...)
			out[i].Data = data[start:len(data):len(data)]
		}
	}
	return out
}

type known struct {
	table  *event.Table
	values []event.Value
}

const progressEvery = 5 * time.Second

func (c *Capture) newBackfill(ctx context.Context, b *binding) (*backfill, error) {
	bf := &backfill{
		table:   &event.Table{Schema: b.Schema, Name: b.Table, Columns: b.Columns},
		keyless: b.state.Mode == checkpoint.ModeKeylessBackfill,
		started: time.Now(), startRows: b.state.Backfilled,
	}
	if len(bf.table.Columns) == 0 {
		return nil, fmt.Errorf("backfill of %s.%s: no columns are known (is the table readable?)", b.Schema, b.Table)
	}
	if !bf.keyless {
		key, err := keyIndexes(bf.table, b.state.KeyColumns)
		if err != nil && b.state.Scanned != nil && len(b.KeyColumns) > 0 {
			// A key column renamed (or the key replaced) since the backfill
			// began: its cursor means nothing now, so it starts over.
			c.log.Warn().Str("table", b.Schema+"."+b.Table).Strs("was", b.state.KeyColumns).Strs("now", b.KeyColumns).
				Msg("the backfill key changed since the backfill began: backfilling the table anew")
			b.state.KeyColumns, b.state.Scanned, b.state.Backfilled = b.KeyColumns, nil, 0
			c.markDirty()
			key, err = keyIndexes(bf.table, b.state.KeyColumns)
		}
		if err != nil {
			return nil, fmt.Errorf("backfill of %s.%s: %w (the key changed since the backfill began: re-backfill the table by bumping its backfill_counter)", b.Schema, b.Table, err)
		}
		bf.key = key
		precise := b.state.Mode == checkpoint.ModeBackfill
		for _, k := range key {
			t := &bf.table.Columns[k].Type
			bf.keyTypes = append(bf.keyTypes, t)
			bf.collateC = append(bf.collateC, precise && schema.KeyOrderOf(t) == schema.KeyOrderMatchesCollateC)
		}
	}
	// Records keep the table's Kafka key even when the backfill goes by
	// physical location.
	kafkaKey := bf.key
	if bf.keyless && len(b.KeyColumns) > 0 {
		k, err := keyIndexes(bf.table, b.KeyColumns)
		if err != nil {
			return nil, fmt.Errorf("backfill of %s.%s: %w", b.Schema, b.Table, err)
		}
		kafkaKey = k
		bf.kafkaKeyed = true
	}
	var err error
	if bf.enc, err = c.opts.Encoder(bf.table, kafkaKey); err != nil {
		return nil, fmt.Errorf("encoding %s.%s: %w", b.Schema, b.Table, err)
	}
	size, known := c.sizes[b.Schema+"."+b.Table]
	delete(c.sizes, b.Schema+"."+b.Table) // read once: a later backfill reads it anew
	pages, rows := size.pages, size.rows
	if !known {
		var err error
		if pages, rows, err = c.db.TableSize(ctx, b.Schema, b.Table); err != nil {
			return nil, err
		}
	}
	bf.estimate = rows
	bf.pageCeiling = uint32(math.Ceil(1.05 * float64(pages)))
	bf.pagesPerChunk = min(uint32(c.opts.ChunkSize/100+1), 16)
	bf.limit = min(c.opts.ChunkSize, 100)
	return bf, nil
}

// sizeChunks sets the size of a backfill's next chunk from the last one's
// rows and bytes: as many rows (or pages) as fit ChunkBytes at that width,
// growing at most fourfold a chunk and never past ChunkSize rows, so a
// table of wide rows never reads a chunk larger than memory allows.
func (c *Capture) sizeChunks(bf *backfill, rows []event.Row) {
	size := int64(0)
	for _, row := range rows {
		for _, v := range row {
			size += int64(len(v.Data)) + 16
		}
	}
	scale := func(n, ceiling int) int {
		if size > 0 {
			n = int(min(int64(n)*c.opts.ChunkBytes/size, int64(n)*4))
		}
		return max(1, min(n, ceiling))
	}
	if bf.keyless {
		bf.pagesPerChunk = uint32(scale(int(bf.pagesPerChunk), c.opts.ChunkSize/100+1))
	} else if len(rows) == bf.limit {
		bf.limit = scale(bf.limit, c.opts.ChunkSize)
	}
}

// nextBackfill picks the table whose chunk runs next: among backfilling
// bindings of the highest priority, one at random (§4.1). completing, when
// not nil, is a binding whose last chunk is being written.
func (c *Capture) nextBackfill(completing *binding) *binding {
	var best []*binding
	for _, b := range c.bindings {
		if b.backfill == nil || !checkpoint.IsBackfillMode(b.state.Mode) || b == completing {
			continue
		}
		switch {
		case len(best) == 0 || b.Priority > best[0].Priority:
			best = []*binding{b}
		case b.Priority == best[0].Priority:
			best = append(best, b)
		}
	}
	if len(best) == 0 {
		return nil
	}
	return best[rand.IntN(len(best))]
}

// backfillChunk runs one iteration of the backfill (§4.1–4.4 with DBLog's
// reconciliation): read a chunk (the stream is at the previous fence), hold
// it while streaming to a new fence, write the rows no change touched, and
// commit all of it with the checkpoint in one Kafka transaction.
func (c *Capture) backfillChunk(ctx context.Context, b *binding) (err error) {
	bf := b.backfill
	st := b.state
	read := c.prefetched
	c.prefetched = nil
	if read == nil || read.b != b {
		if read != nil {
			<-read.done // the connection is the read's until it ends
		}
		read = c.startRead(ctx, b)
	}
	<-read.done
	if errors.Is(read.err, event.ErrReadTimeout) {
		// A chunk slower than statement_timeout: the next try reads half
		// as much, down to one row (or page), then gives up clearly.
		atFloor := bf.limit <= 1
		if bf.keyless {
			atFloor = bf.pagesPerChunk <= 1
		}
		if atFloor {
			return fmt.Errorf("backfill of %s.%s: even a one-row chunk exceeds statement_timeout (raise source.advanced.statement_timeout, or the role's own, or check the table's health): %w", b.Schema, b.Table, read.err)
		}
		bf.limit, bf.pagesPerChunk = max(1, bf.limit/2), max(1, bf.pagesPerChunk/2)
		c.log.Warn().Str("table", b.Schema+"."+b.Table).Int("rows", bf.limit).Uint32("pages", bf.pagesPerChunk).
			Msg("backfill chunk exceeded statement_timeout: retrying it smaller (source.advanced.backfill_chunk_size, statement_timeout)")
		return nil
	}
	if errors.Is(read.err, event.ErrTableChanged) {
		return &RediscoverError{OID: b.OID, Reason: fmt.Sprintf("table %s.%s changed during its backfill (%v)", b.Schema, b.Table, read.err)}
	}
	if read.err != nil {
		return read.err
	}
	rows, complete, scanned := read.rows, read.complete, read.scanned
	win := &window{rows: rows, dropped: make([]bool, len(rows)), emitAll: complete, index: read.index}
	if !bf.keyless {
		win.latest = map[string]known{}
	}
	// The precise filter of the window uses the new cursor (§4.4).
	prevScanned := st.Scanned
	if !bf.keyless {
		st.Scanned = scanned
	}
	bf.win, c.window = win, b
	err = c.streamToFence(ctx, false)
	bf.win, c.window = nil, nil
	if err != nil {
		st.Scanned = prevScanned
		return err
	}

	// The next chunk's query runs while this one is written and committed:
	// the stream has reached this chunk's fence, which is all the DBLog
	// order asks of the next read (changes before the fence are in it, and
	// those after reach its window).
	st.Scanned = scanned
	c.sizeChunks(bf, rows)
	completing := b
	if !complete {
		completing = nil
	}
	if next := c.nextBackfill(completing); next != nil {
		c.prefetched = c.startRead(ctx, next)
		defer func() {
			if err != nil {
				// Nothing else may use the connection until the read ends.
				c.waitPrefetch()
			}
		}()
	}
	var ch event.Change // one for the chunk: encoders take it by pointer
	for i, row := range rows {
		if win.dropped[i] {
			continue
		}
		ch = event.Change{Op: event.OpCreate, New: row, Snapshot: true, Loc: [3]int64{-1, st.Backfilled, 0}}
		if err := c.writeWith(b, bf.enc, &ch, c.cursor); err != nil {
			return err
		}
		st.Backfilled++
	}
	if complete {
		st.Mode, st.Scanned = checkpoint.ModeActive, nil
		if b.sweepAfter {
			// Named in this chunk's checkpoint: the sweep is owed from
			// the moment the backfill is complete, across restarts.
			b.sweep, b.sweepAfter = &sweep{}, false
		}
	}
	c.markDirty()
	// A stop asked now waits for this commit (its own context): the chunk,
	// its window's changes and the checkpoint naming both are one
	// transaction, whole or absent.
	if err = c.commit(); err != nil {
		return err
	}
	c.progress(b, complete)
	return nil
}

// chunkRead is one chunk being read, possibly ahead of its turn.
type chunkRead struct {
	b        *binding
	done     chan struct{}
	rows     []event.Row
	complete bool
	// scanned is the cursor after the chunk: its last row's key for a
	// keyed read (the cursor before it when the chunk is empty).
	scanned []byte
	// index is the window's index of the rows (indexChunk), made with
	// the read, off the loop's goroutine.
	index map[string]int
	err   error
}

// startRead reads b's next chunk in the background from a copy of its
// state: only the database connection is shared, and nothing else uses it
// until the read is waited for.
func (c *Capture) startRead(ctx context.Context, b *binding) *chunkRead {
	r := &chunkRead{b: b, done: make(chan struct{})}
	bf, st, limit, pages := b.backfill, *b.state, b.backfill.limit, b.backfill.pagesPerChunk
	go func() {
		defer close(r.done)
		r.rows, r.complete, r.scanned, r.err = c.readChunk(ctx, b, bf, &st, limit, pages, columnNames(bf.table), b.Filter)
		if r.err == nil {
			r.index, r.scanned, r.err = indexChunk(b, bf, &st, r.rows, r.scanned)
		}
	}()
	return r
}

// indexChunk indexes a chunk's rows for its window: by row key for a keyed
// read (checking, in precise mode, that they ascend past the cursor), by
// Kafka key for a read by location of a table that has one. It returns the
// keyed read's cursor after the chunk. Encoders only append to the buffer
// they are given, so this runs beside the loop's own encoding.
func indexChunk(b *binding, bf *backfill, st *checkpoint.TableState, rows []event.Row, scanned []byte) (map[string]int, []byte, error) {
	switch {
	case !bf.keyless:
		index := make(map[string]int, len(rows))
		precise := st.Mode == checkpoint.ModeBackfill
		var key []byte
		var err error
		last := scanned
		// The keys live as long as the window's index: one block for many.
		keys := slab.New[byte](16 << 10)
		var ch event.Change
		for i, row := range rows {
			ch.New = row
			if key, err = bf.enc.AppendRowKey(key[:0], &ch); err != nil {
				return nil, nil, err
			}
			if precise && last != nil && bytes.Compare(key, last) <= 0 {
				return nil, nil, fmt.Errorf("backfill of %s.%s: scan key ordering failure: last=%x, next=%x (PostgreSQL orders this key differently from its encoding: set the binding's resource.mode to \"Normal\" and bump its backfill_counter)", b.Schema, b.Table, last, key)
			}
			// The map's key doubles as the previous key. A slab's bytes
			// are never written again once handed out: a string may view them.
			k := keys.Copy(key)
			index[unsafe.String(unsafe.SliceData(k), len(k))] = i
			last = k
		}
		if len(rows) > 0 {
			scanned = []byte(string(last))
		}
		return index, scanned, nil
	case bf.kafkaKeyed:
		// Rows read by physical location are held by their Kafka key: a
		// change in the window to the same key supersedes the held row.
		index := make(map[string]int, len(rows))
		var key []byte
		for i, row := range rows {
			key = bf.enc.AppendKey(key[:0], &event.Change{New: row})
			index[string(key)] = i
		}
		return index, scanned, nil
	}
	return nil, scanned, nil
}

func (c *Capture) waitPrefetch() {
	if c.prefetched != nil {
		<-c.prefetched.done
	}
}

// readChunk reads the chunk after st's cursor of the columns cols (the
// table's for a backfill, the key's for a sweep), with filter (an SQL
// predicate, or ""). scanned is the cursor after the chunk for a read by
// location, the one before it for a keyed read.
func (c *Capture) readChunk(ctx context.Context, b *binding, bf *backfill, st *checkpoint.TableState, limit int, pages uint32, cols []string, filter string) (rows []event.Row, complete bool, scanned []byte, err error) {
	if bf.keyless {
		from := uint32(0)
		if st.Scanned != nil {
			if from, _, err = checkpoint.ParseTID(st.Scanned); err != nil {
				return nil, false, nil, fmt.Errorf("backfill of %s.%s: cursor %q: %w", b.Schema, b.Table, st.Scanned, err)
			}
		}
		to := from + pages
		q := &event.PagesQuery{Schema: b.Schema, Table: b.Table, Columns: cols,
			From: from, To: to, Filter: filter, Attributes: b.Attributes}
		if rows, err = c.db.ReadPages(ctx, q); err != nil {
			return nil, false, nil, err
		}
		return rows, to >= bf.pageCeiling, checkpoint.FormatTID(to), nil
	}
	q := &event.ChunkQuery{Schema: b.Schema, Table: b.Table, Columns: cols,
		Key: st.KeyColumns, CollateC: bf.collateC, Limit: limit, Filter: filter, Attributes: b.Attributes}
	if st.Scanned != nil {
		if q.After, err = rowkey.Decode(st.Scanned, bf.keyTypes); err != nil {
			return nil, false, nil, fmt.Errorf("backfill of %s.%s: decoding cursor %x: %w", b.Schema, b.Table, st.Scanned, err)
		}
	}
	if rows, err = c.db.ReadChunk(ctx, q); err != nil {
		return nil, false, nil, err
	}
	return rows, len(rows) < limit, st.Scanned, nil
}

// reconcile decides whether a change to a backfilling keyed table is
// emitted (§4.4) and, inside a chunk's window, drops the held rows it
// supersedes and fills the unchanged TOASTed columns it leaves out.
func (c *Capture) reconcile(tr *tableRun, ch *event.Change) (bool, error) {
	// The key buffer is reused: map lookups by string(key) do not copy, and
	// only keys kept in the window's maps are copied into them.
	key, err := tr.enc.AppendRowKey(c.rowKey[:0], ch)
	c.rowKey = key
	if err != nil {
		return false, err
	}
	var win *window
	if bf := tr.b.backfill; bf != nil {
		win = bf.win
	}
	// The precise filter also applies while catching up after a restart,
	// before the backfill is prepared again.
	if tr.b.state.Mode == checkpoint.ModeBackfill && (win == nil || !win.emitAll) {
		if s := tr.b.state.Scanned; s == nil || bytes.Compare(key, s) > 0 {
			return false, nil // a later chunk reads this key
		}
	}
	if win == nil {
		return true, nil
	}
	if i, ok := win.index[string(key)]; ok {
		win.dropped[i] = true
	}
	if ch.Op == event.OpUpdate && ch.Old != nil {
		// A key change: the old key's held row is gone too.
		if oldKey, err := tr.enc.AppendRowKey(nil, &event.Change{New: ch.Old}); err == nil && !bytes.Equal(oldKey, key) {
			if i, ok := win.index[string(oldKey)]; ok {
				win.dropped[i] = true
			}
			delete(win.latest, string(oldKey))
		}
	}
	if ch.Op == event.OpDelete {
		delete(win.latest, string(key))
		return true, nil
	}
	i, held := win.index[string(key)]
	if !held {
		// Only the chunk's keys are remembered, so the window's memory is
		// bounded by the chunk whatever the size of the transactions in it.
		return true, nil
	}
	if ch.Op == event.OpUpdate {
		if prev, ok := win.latest[string(key)]; ok {
			fillUnchanged(ch, prev)
		} else {
			fillUnchanged(ch, known{table: tr.b.backfill.table, values: win.rows[i]})
		}
	}
	win.latest[string(key)] = known{table: ch.Table, values: keepValues(ch.New)}
	return true, nil
}

// supersedeByKafkaKey drops the held rows of a backfill by physical
// location that a change in its window supersedes, matched by Kafka key
// (the table's key has no row-key encoding, so the window cannot be
// ordered; it can still be reconciled).
func (c *Capture) supersedeByKafkaKey(tr *tableRun, ch *event.Change) {
	bf := tr.b.backfill
	if bf == nil || bf.win == nil || bf.win.index == nil || len(tr.key) == 0 {
		return
	}
	key := tr.enc.AppendKey(c.rowKey[:0], ch)
	c.rowKey = key
	if i, ok := bf.win.index[string(key)]; ok {
		bf.win.dropped[i] = true
	}
	if ch.Op == event.OpUpdate && ch.Old != nil {
		key = tr.enc.AppendKey(c.rowKey[:0], &event.Change{New: ch.Old})
		c.rowKey = key
		if i, ok := bf.win.index[string(key)]; ok {
			bf.win.dropped[i] = true
		}
	}
}

// fillUnchanged replaces the unchanged-TOAST markers of ch with the latest
// known values of the same columns.
func fillUnchanged(ch *event.Change, prev known) {
	for i := range ch.New {
		if ch.New[i].Marker != event.MarkerUnchanged {
			continue
		}
		if prev.table == ch.Table {
			if prev.values[i].Marker == event.MarkerText || prev.values[i].Marker == event.MarkerNull {
				ch.New[i] = prev.values[i]
			}
			continue
		}
		name := ch.Table.Columns[i].Name
		for j, col := range prev.table.Columns {
			if col.Name == name && j < len(prev.values) {
				if v := prev.values[j]; v.Marker == event.MarkerText || v.Marker == event.MarkerNull {
					ch.New[i] = v
				}
				break
			}
		}
	}
}

func columnNames(t *event.Table) []string {
	out := make([]string, len(t.Columns))
	for i, col := range t.Columns {
		out[i] = col.Name
	}
	return out
}

// progress logs a table's backfill progress, at most every few seconds.
func (c *Capture) progress(b *binding, complete bool) {
	bf := b.backfill
	c.opts.Observer.Backfill(b.Schema, b.Table, b.state.Backfilled, bf.estimate, complete)
	now := time.Now()
	if !complete && now.Sub(bf.lastLog) < progressEvery {
		return
	}
	bf.lastLog = now
	done := b.state.Backfilled
	rate := float64(done-bf.startRows) / now.Sub(bf.started).Seconds()
	ev := c.log.Info().Str("table", b.Schema+"."+b.Table).Int64("rows", done).
		Float64("estimate", bf.estimate).Float64("rows_per_s", math.Round(rate))
	if bf.estimate > 0 {
		ev = ev.Float64("percent", math.Min(100, math.Round(1000*float64(done)/bf.estimate)/10))
		if rate > 0 && float64(done) < bf.estimate {
			ev = ev.Int64("eta_s", int64(math.Round((bf.estimate-float64(done))/rate)))
		}
	}
	if complete {
		ev.Msg("backfill complete")
		b.backfill = nil
		return
	}
	ev.Msg("backfilling")
}

package source

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/pg2kafka/pg2kafka/event"
	"github.com/pg2kafka/pg2kafka/internal/slab"
)

// statusInterval is how often a standby status update is sent (§5.5).
const statusInterval = 10 * time.Second

// batchItems is the capacity of a chunk, the array the decoder fills with
// items: it is handed to the consumer in views, never copied.
const batchItems = 1024

// Stream is a running logical replication stream. Its batches arrive on C,
// in commit order; it reports to the server, every 10 s and whenever asked,
// the position given to Acknowledge, never more.
type Stream struct {
	conn  *pgconn.PgConn
	slot  string
	types *typeCache
	out   chan []event.Item
	ack   atomic.Uint64
	done  chan struct{}
	err   error

	rels map[uint32]*event.Table
	// keep holds, for a relation whose RELATION message lists generated
	// columns, its tuple length and the indexes of the values to keep.
	keep     map[uint32]relShape
	inTxn    bool
	begin    pgoBegin
	prevEnd  uint64 // end LSN of the last commit seen (loc[0])
	lastSent uint64 // highest LSN announced through a Commit or Idle item
	// batch is the chunk being filled: items before sent are handed over
	// (the consumer may be reading them), the rest are the decoder's.
	// unsent and chunkBytes are the message bytes the unsent items and all
	// the chunk's items hold.
	batch      []event.Item
	sent       int
	unsent     int
	chunkBytes int
	// data and values hold the messages' copies and their decoded tuples:
	// a change's values point into its message, and both live as long as
	// the change's chunk, so they are carved from shared blocks, new ones
	// for each chunk.
	data   *slab.Slab[byte]
	values *slab.Slab[event.Value]

	// Group commit: decoded items wait in queue, as views of their chunks,
	// while the consumer is busy (committing a Kafka transaction,
	// typically); Waiting tells it that more is there, so it takes all of
	// it before committing, and the batches it commits grow with the cost
	// of a commit instead of the stream waiting one transaction a commit.
	// Views, not copies: a backlog's items are never moved once decoded,
	// and adjacent views of a chunk merge into one (a backlog of one-row
	// transactions is flushed two items at a time).
	mu          sync.Mutex
	queue       []view
	queued      int           // items in queue
	queuedBytes int           // message bytes they hold
	ready       chan struct{} // queue became non-empty
	taken       chan struct{} // the forwarder took a view from queue
}

// maxPending and maxPendingBytes bound the items waiting for the consumer,
// and the message bytes they hold; the decoder waits (sending status
// updates) beyond them.
const (
	maxPending      = 16 * batchItems
	maxPendingBytes = 32 << 20
)

// maxChunkBytes bounds the message bytes the items of a chunk hold: a chunk
// of wide rows is handed over before it is full, and the decoder starts a
// new one rather than keep the values of items the consumer is done with.
const maxChunkBytes = 4 << 20

// C delivers batches of items. It is closed when the stream ends; Err then
// tells why.
func (s *Stream) C() <-chan []event.Item { return s.out }

// Err returns the error that ended the stream, after C is closed.
func (s *Stream) Err() error {
	<-s.done
	return s.err
}

// Acknowledge sets the position reported to the server as written, flushed
// and applied: everything before lsn is durable downstream. It never moves
// backwards.
func (s *Stream) Acknowledge(lsn uint64) {
	for {
		cur := s.ack.Load()
		if lsn <= cur || s.ack.CompareAndSwap(cur, lsn) {
			return
		}
	}
}

func (s *Stream) run(ctx context.Context) {
	defer close(s.done)
	defer close(s.out)
	defer func() {
		// One last status update so the server keeps what we acknowledged.
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = s.sendStatus(false)
		_ = s.conn.Close(cctx)
		cancel()
	}()
	fctx, stopForward := context.WithCancel(ctx)
	forwarded := make(chan struct{})
	go func() {
		defer close(forwarded)
		s.forward(fctx)
	}()
	s.err = s.loop(ctx)
	if slotInvalidated(s.err) {
		s.err = slotLost(s.slot, s.ack.Load(), s.err)
	}
	stopForward()
	<-forwarded
}

// Waiting reports whether decoded items wait for the consumer beyond the
// batch on offer: the consumer takes them before it commits, so a change
// that arrives while it commits waits for that commit and its own, not for
// one more.
func (s *Stream) Waiting() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.queued > 0
}

// view is the items [lo, hi) of a chunk, holding bytes of messages.
type view struct {
	chunk  []event.Item
	lo, hi int
	bytes  int
}

// items is the view as a slice capped at hi, so that no append through it
// reaches the decoder's part of the chunk.
func (v view) items() []event.Item { return v.chunk[v.lo:v.hi:v.hi] }

// precedes reports whether w continues v in the same chunk.
func (v view) precedes(w view) bool {
	return v.hi == w.lo && &v.chunk[:1][0] == &w.chunk[:1][0]
}

// forward offers the queued views to the consumer, in order, one per
// receive. What the decoder adds to the chunk of the view on offer joins
// it, as long as the consumer is busy.
func (s *Stream) forward(ctx context.Context) {
	var b view
	for {
		var out chan<- []event.Item
		var items []event.Item
		if b.chunk != nil {
			out, items = s.out, b.items()
		}
		select {
		case <-ctx.Done():
			return
		case out <- items:
			b = s.next(view{})
		case <-s.ready:
			b = s.next(b)
		}
	}
}

// next returns b with the first queued view joined to it when it continues
// b, the first queued view when b is empty, else b.
func (s *Stream) next(b view) view {
	s.mu.Lock()
	if len(s.queue) == 0 || b.chunk != nil && !b.precedes(s.queue[0]) {
		s.mu.Unlock()
		return b
	}
	v := s.queue[0]
	s.queue[0] = view{}
	s.queue = s.queue[1:]
	s.queued -= v.hi - v.lo
	s.queuedBytes -= v.bytes
	s.mu.Unlock()
	select {
	case s.taken <- struct{}{}:
	default:
	}
	if b.chunk != nil {
		b.hi = v.hi
		b.bytes += v.bytes
		return b
	}
	return v
}

// add appends an item to the chunk, starting a new chunk when it is full:
// a chunk never grows, so the decoder never moves (nor touches) the items
// it handed over.
func (s *Stream) add(it event.Item) {
	s.room()
	s.batch = append(s.batch, it)
}

// room starts a new chunk when the current one is full, with new blocks
// for the messages and values decoded into it. The receive loop calls it
// before it carves a message too, so that a message starting a chunk is
// carved from the chunk's blocks: a block of values may point into many
// messages (those over 16 KiB have an allocation of their own), and must
// keep alive what one chunk holds, no more.
func (s *Stream) room() {
	if len(s.batch) < cap(s.batch) {
		return
	}
	chunk := make([]event.Item, 0, batchItems)
	s.batch = append(chunk, s.batch[s.sent:]...) // the unsent items only
	s.sent, s.chunkBytes = 0, s.unsent
	s.data.Reset()
	s.values.Reset()
}

func (s *Stream) sendStatus(reply bool) error {
	ack := pglogrepl.LSN(s.ack.Load())
	err := pglogrepl.SendStandbyStatusUpdate(context.Background(), s.conn, pglogrepl.StandbyStatusUpdate{
		WALWritePosition: ack, WALFlushPosition: ack, WALApplyPosition: ack,
		ClientTime: time.Now(), ReplyRequested: reply,
	})
	if err != nil {
		return fmt.Errorf("sending standby status update: %w", err)
	}
	return nil
}

func (s *Stream) loop(ctx context.Context) error {
	nextStatus := time.Now().Add(statusInterval)
	// The receive's deadline is the next status update, set on the socket
	// itself: a receive with a context costs pgconn a context watcher per
	// message (an AfterFunc, a channel, the parent's lock), and a backlog's
	// drain is a message per row. The stream's end (ctx) moves the deadline
	// to now, which ends a receive under way as a timeout.
	sock := s.conn.Conn()
	stopWatch := context.AfterFunc(ctx, func() { _ = sock.SetReadDeadline(time.Now()) })
	defer stopWatch()
	var deadline time.Time
	for {
		if ctx.Err() != nil {
			return nil
		}
		if !time.Now().Before(nextStatus) {
			if err := s.sendStatus(true); err != nil {
				return err
			}
			nextStatus = time.Now().Add(statusInterval)
		}
		if !deadline.Equal(nextStatus) {
			if err := sock.SetReadDeadline(nextStatus); err != nil {
				return fmt.Errorf("setting the replication connection's read deadline: %w", err)
			}
			deadline = nextStatus
			// ctx ends before its AfterFunc runs: checked after the set, an
			// end whose "now" deadline the set overwrote is not missed.
			if ctx.Err() != nil {
				return nil
			}
		}
		msg, err := s.conn.ReceiveMessage(context.Background())
		if err != nil {
			if pgconn.Timeout(err) || ctx.Err() != nil {
				continue
			}
			return fmt.Errorf("receiving replication message: %w", err)
		}
		switch msg := msg.(type) {
		case *pgproto3.CopyData:
			if len(msg.Data) == 0 {
				continue
			}
			switch msg.Data[0] {
			case pglogrepl.PrimaryKeepaliveMessageByteID:
				ka, err := pglogrepl.ParsePrimaryKeepaliveMessage(msg.Data[1:])
				if err != nil {
					return fmt.Errorf("parsing keepalive: %w", err)
				}
				if !s.inTxn && uint64(ka.ServerWALEnd) > s.lastSent {
					s.lastSent = uint64(ka.ServerWALEnd)
					s.add(event.Item{Kind: event.ItemIdle, LSN: uint64(ka.ServerWALEnd)})
					if err := s.flush(ctx, &nextStatus); err != nil {
						return err
					}
				}
				if ka.ReplyRequested {
					if err := s.sendStatus(false); err != nil {
						return err
					}
					nextStatus = time.Now().Add(statusInterval)
				}
			case pglogrepl.XLogDataByteID:
				xld, err := pglogrepl.ParseXLogData(msg.Data[1:])
				if err != nil {
					return fmt.Errorf("parsing XLogData: %w", err)
				}
				// The receive buffer is reused: keep one copy of the message,
				// which the values of its change point into.
				s.room() // before the message is carved: see room
				data := s.data.Copy(xld.WALData)
				commit, err := s.handle(ctx, uint64(xld.WALStart), data)
				if err != nil {
					return err
				}
				s.unsent += len(data)
				s.chunkBytes += len(data)
				if commit || len(s.batch) == cap(s.batch) || s.unsent >= maxChunkBytes {
					if err := s.flush(ctx, &nextStatus); err != nil {
						return err
					}
				}
			}
		case *pgproto3.ErrorResponse:
			return fmt.Errorf("replication stream: %w", pgconn.ErrorResponseToPgError(msg))
		case *pgproto3.CopyDone:
			return errors.New("replication stream: the server ended the stream")
		}
	}
}

// flush queues the unsent items of the chunk for the consumer, as a view
// (capped, so that no append through it reaches the decoder's part); past
// maxPending or maxPendingBytes it waits for the consumer, sending status
// updates meanwhile so a slow consumer never gets the connection dropped.
func (s *Stream) flush(ctx context.Context, nextStatus *time.Time) error {
	n := len(s.batch)
	if n == s.sent {
		return nil
	}
	for {
		s.mu.Lock()
		if s.queued == 0 || s.queued+n-s.sent <= maxPending && s.queuedBytes+s.unsent <= maxPendingBytes {
			v := view{chunk: s.batch, lo: s.sent, hi: n, bytes: s.unsent}
			if last := len(s.queue) - 1; last >= 0 && s.queue[last].precedes(v) {
				s.queue[last].hi = n
				s.queue[last].bytes += v.bytes
			} else {
				s.queue = append(s.queue, v)
			}
			s.queued += n - s.sent
			s.queuedBytes += s.unsent
			s.mu.Unlock()
			s.sent, s.unsent = n, 0
			if s.chunkBytes >= maxChunkBytes {
				// The next item starts a new chunk (add): this one is
				// the consumer's alone, and goes once it is done with it.
				s.batch, s.sent, s.chunkBytes = nil, 0, 0
			}
			select {
			case s.ready <- struct{}{}:
			default:
			}
			return nil
		}
		s.mu.Unlock()
		wait := time.Until(*nextStatus)
		if wait < 0 {
			wait = 0
		}
		timer := time.NewTimer(wait)
		select {
		case <-s.taken:
			timer.Stop()
		case <-ctx.Done():
			timer.Stop()
			return nil
		case <-timer.C:
			if err := s.sendStatus(false); err != nil {
				return err
			}
			*nextStatus = time.Now().Add(statusInterval)
		}
	}
}

// handle decodes one pgoutput message; it reports whether it was a COMMIT.
func (s *Stream) handle(ctx context.Context, walStart uint64, data []byte) (bool, error) {
	if len(data) == 0 {
		return false, nil
	}
	typ, body := data[0], data[1:]
	switch typ {
	case 'B':
		if s.inTxn {
			return false, errors.New("replication stream: BEGIN inside an open transaction")
		}
		b, err := parseBegin(body)
		if err != nil {
			return false, fmt.Errorf("parsing BEGIN: %w", err)
		}
		s.begin, s.inTxn = b, true
	case 'C':
		c, err := parseCommit(body)
		if err != nil {
			return false, fmt.Errorf("parsing COMMIT: %w", err)
		}
		if !s.inTxn || c.commitLSN != s.begin.finalLSN {
			return false, fmt.Errorf("replication stream: COMMIT at %s does not match BEGIN's %s",
				pglogrepl.LSN(c.commitLSN), pglogrepl.LSN(s.begin.finalLSN))
		}
		s.inTxn = false
		s.prevEnd = c.endLSN
		if c.endLSN > s.lastSent {
			s.lastSent = c.endLSN
		}
		s.add(event.Item{Kind: event.ItemCommit, LSN: c.endLSN})
		return true, nil
	case 'R':
		r, err := parseRelation(body)
		if err != nil {
			return false, fmt.Errorf("parsing RELATION: %w", err)
		}
		t, keep, err := s.types.table(ctx, r)
		if err != nil {
			return false, err
		}
		s.rels[r.oid] = t
		if keep != nil {
			if s.keep == nil {
				s.keep = map[uint32]relShape{}
			}
			s.keep[r.oid] = relShape{n: len(r.columns), keep: keep}
		} else {
			delete(s.keep, r.oid)
		}
	case 'Y':
		// Domains and other user types are resolved from the catalog when a
		// RELATION names them, which covers what TYPE announces.
	case 'O':
	case 'I', 'U', 'D':
		if !s.inTxn {
			return false, fmt.Errorf("replication stream: %c message outside a transaction", typ)
		}
		rel, newT, oldT, err := parseChange(typ, body, s.values)
		if err != nil {
			return false, fmt.Errorf("parsing %c message: %w", typ, err)
		}
		t, ok := s.rels[rel]
		if !ok {
			return false, fmt.Errorf("replication stream: change for unknown relation %d", rel)
		}
		if shape, ok := s.keep[rel]; ok {
			if newT, err = shape.project(newT); err == nil {
				oldT, err = shape.project(oldT)
			}
			if err != nil {
				return false, fmt.Errorf("replication stream: %s.%s: %w", t.Schema, t.Name, err)
			}
		}
		if len(newT) != len(t.Columns) || (oldT != nil && len(oldT) != len(t.Columns)) {
			return false, fmt.Errorf("replication stream: %s.%s: tuple has %d columns, RELATION said %d", t.Schema, t.Name, len(newT), len(t.Columns))
		}
		op := event.OpCreate
		if typ == 'U' {
			op = event.OpUpdate
			// An unchanged TOASTed value is taken from the old tuple when the
			// server sent one (REPLICA IDENTITY FULL), else left out.
			if oldT != nil {
				for i := range newT {
					if newT[i].Marker == event.MarkerUnchanged && oldT[i].Marker != event.MarkerUnchanged {
						newT[i] = oldT[i]
					}
				}
			}
		} else if typ == 'D' {
			op = event.OpDelete
		}
		s.add(event.Item{Kind: event.ItemChange, Change: event.Change{
			Op: op, Table: t, New: newT, Old: oldT,
			Loc:      [3]int64{int64(s.prevEnd), int64(walStart), int64(s.begin.finalLSN)},
			TSMillis: pgTimeToUnixMillis(s.begin.commitTime),
			XID:      s.begin.xid,
		}})
	case 'T':
		// One change per truncated table; the capture decides whether it
		// becomes a record (Debezium's op t) or only a warning (as Flow).
		rels, err := parseTruncate(body)
		if err != nil {
			return false, fmt.Errorf("parsing TRUNCATE: %w", err)
		}
		for _, rel := range rels {
			t, ok := s.rels[rel]
			if !ok {
				return false, fmt.Errorf("replication stream: TRUNCATE of unknown relation %d", rel)
			}
			s.add(event.Item{Kind: event.ItemChange, Change: event.Change{
				Op: event.OpTruncate, Table: t,
				Loc:      [3]int64{int64(s.prevEnd), int64(walStart), int64(s.begin.finalLSN)},
				TSMillis: pgTimeToUnixMillis(s.begin.commitTime),
				XID:      s.begin.xid,
			}})
		}
	case 'M':
	default:
		return false, fmt.Errorf("replication stream: unsupported message type %q", typ)
	}
	return false, nil
}

// relShape maps the tuples of a relation with generated columns onto the
// table's columns.
type relShape struct {
	n    int   // values in a tuple (columns of the RELATION message)
	keep []int // indexes of the values to keep, ascending
}

// project keeps the values at s.keep, in place; nil stays nil.
func (s relShape) project(tuple []event.Value) ([]event.Value, error) {
	if tuple == nil {
		return nil, nil
	}
	if len(tuple) != s.n {
		return nil, fmt.Errorf("tuple has %d columns, RELATION said %d", len(tuple), s.n)
	}
	for j, i := range s.keep {
		tuple[j] = tuple[i]
	}
	return tuple[:len(s.keep)], nil
}

// pgTimeToUnixMillis converts microseconds since 2000-01-01 to Unix ms.
func pgTimeToUnixMillis(us int64) int64 { return us/1000 + 946684800000 }

// isSlotBusy reports whether err says another process holds the slot.
func isSlotBusy(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "55006" ||
		err != nil && strings.Contains(err.Error(), "is active for PID")
}

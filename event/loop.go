package event

import (
	"context"
	"errors"
)

// The capture loop's vocabulary: what crosses between the PostgreSQL source,
// the loop and the Kafka sink. The loop owns these types so that it can be
// driven by fakes as well as by the real stages.

// Row is one backfilled row: its values in text form, in the order of the
// columns asked for.
type Row []Value

// ChunkQuery describes one keyed backfill chunk (§4.2): the rows after
// After in key order, at most Limit of them.
type ChunkQuery struct {
	Schema, Table string
	// Columns are the columns to read, in output order.
	Columns []string
	// Key are the key columns, in key order.
	Key []string
	// CollateC orders the key columns with true here by COLLATE "C", so the
	// scan order equals the byte order of their encoding.
	CollateC []bool
	// After holds the previous chunk's last key values; nil for the first
	// chunk.
	After []any
	// Limit is the chunk size.
	Limit int
	// Filter is an extra SQL predicate (the binding's
	// additional_backfill_filter), or "".
	Filter string
	// Attributes, when not 0, is the table's attribute count when it was
	// discovered (pg_class.relnatts, which every ADD COLUMN raises): a read
	// that finds another count fails with ErrTableChanged, so a column
	// added during a backfill is seen even if no change to the table
	// brings it through the stream.
	Attributes int16
}

// PagesQuery describes one backfill chunk read by physical location
// (§4.6): the rows stored in pages (From, To].
type PagesQuery struct {
	Schema, Table string
	// Columns are the columns to read, in output order.
	Columns []string
	// From and To bound the pages read: ctid > (From,0) AND ctid <= (To,0).
	From, To uint32
	// Filter is an extra SQL predicate, or "".
	Filter string
	// Attributes is as in ChunkQuery.
	Attributes int16
}

// ItemKind says what a stream Item carries.
type ItemKind uint8

// The item kinds.
const (
	// ItemChange: a row change of a table in the publication.
	ItemChange ItemKind = iota + 1
	// ItemCommit: the end of a transaction; LSN is its end LSN (the cursor).
	ItemCommit
	// ItemIdle: no transaction is in flight and every commit before LSN (the
	// server's WAL position from a keepalive) has been delivered, so LSN is
	// a safe cursor once everything before it is durable.
	ItemIdle
)

// Item is one element of the replication stream, in commit order.
type Item struct {
	Kind   ItemKind
	Change Change
	LSN    uint64
}

// Stream is a running replication stream.
type Stream interface {
	// C delivers batches of items in commit order. It is closed when the
	// stream ends; Err then tells why.
	C() <-chan []Item
	// Err returns the error that ended the stream, once C is closed.
	Err() error
	// Waiting reports whether more items are ready beyond the batch C
	// offers (that one is not counted: a receive that does not block
	// takes it): the consumer takes them before it commits, so that what
	// arrived during a commit goes into the next one whole.
	Waiting() bool
	// Acknowledge reports lsn to the server as durable downstream: the
	// server may discard the WAL before it. It never moves backwards.
	Acknowledge(lsn uint64)
}

// ErrSlotBusy is matched (errors.Is) by the error of starting a stream
// whose replication slot another process holds.
var ErrSlotBusy = errors.New("replication slot is held by another process")

// ErrTableChanged is matched (errors.Is) by the error of a backfill read
// whose table no longer has the columns or the name it was asked for (DDL
// since discovery).
var ErrTableChanged = errors.New("the table changed since it was discovered")

// Checkpoint is what a commit makes durable together with its records: the
// capture state (Flow's format; opaque to the sink) and, while a PostgreSQL
// transaction too large for one Kafka transaction is relayed in parts, the
// position inside it (opaque to the sink; nil otherwise).
type Checkpoint struct {
	State  []byte
	Within []byte
	// Sweeps names the tables whose topic is still to be swept of keys the
	// table no longer has (after a re-backfill); opaque to the sink, nil
	// when none is.
	Sweeps []byte
	// Tables, when not nil, holds State's table states ("bindingStateV1")
	// by state key, each the JSON State holds: the sink stores them without
	// parsing State again.
	Tables map[string][]byte
}

// Topics reads back what the capture's topics already hold, for the sweep
// that follows a re-backfill: keys a topic has and its table no longer has
// get a tombstone.
type Topics interface {
	// Holds reports whether topic holds any record (false if it does not
	// exist).
	Holds(ctx context.Context, topic string) (bool, error)
	// ReadKeys reads topic from its start to its last stable offset at the
	// call, read_committed, and calls fn with each record's key (live is
	// false for a tombstone), in offset order within a partition. An error
	// from fn ends the read and is returned.
	ReadKeys(ctx context.Context, topic string, fn func(key []byte, live bool) error) error
}

// ErrReadTimeout is matched (errors.Is) by the error of a backfill read
// that the server cut at its statement_timeout.
var ErrReadTimeout = errors.New("the read exceeded statement_timeout")

// Record is one Kafka record to write.
type Record struct {
	Topic string
	Key   []byte
	// Value is nil for a tombstone.
	Value []byte
	// Op and LSN become the pg2kafka.op and pg2kafka.lsn headers when set.
	Op  []byte
	LSN []byte
}

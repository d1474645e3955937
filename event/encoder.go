package event

// Encoder turns a table's changes into record keys and values. Encoders
// only append to the caller's buffer, so one is safe for concurrent use:
// the capture loop indexes a backfill chunk's row keys on the chunk read's
// goroutine while it encodes the previous chunk. The encoders of each
// output format (schema/flow, schema/debezium, schema/avro) implement it,
// and schema/format builds the one a configuration asks for.
type Encoder interface {
	// AppendKey appends the Kafka key (nothing for a keyless table).
	AppendKey(dst []byte, c *Change) []byte
	// AppendDocument appends the Kafka value.
	AppendDocument(dst []byte, c *Change) []byte
	// AppendRowKey appends the row key of §2.1 (FoundationDB tuple).
	AppendRowKey(dst []byte, c *Change) ([]byte, error)
}

// NewEncoder builds the encoder of a table shape; key indexes its key
// columns in key order. It is called once per shape (at a backfill's start
// and on each RELATION message), before anything of that shape is written,
// so an error (a schema registry refusing a new version, say) stops the
// capture with nothing of the change written.
type NewEncoder func(t *Table, key []int) (Encoder, error)

// DeletionEncoder is implemented by encoders that can write the delete
// document of a row known only by its Kafka key (schema/flow): the sweep
// writes one before the tombstone of a key its topic holds and its table
// no longer has. AppendDeletion reports false when key is not one the
// encoder writes.
type DeletionEncoder interface {
	AppendDeletion(dst []byte, key []byte, c *Change) ([]byte, bool)
}

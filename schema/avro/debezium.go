package avro

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/hamba/avro/v2"

	"github.com/pg2kafka/pg2kafka/event"
	"github.com/pg2kafka/pg2kafka/schema/debezium"
)

// This file is the Debezium envelope in Avro (kafka.format avro with
// kafka.envelope debezium, docs/avro.md and docs/debezium.md): the
// envelope of debezium.Encoder shaped as Debezium's Avro converter shapes
// it, with the row record, the key record, the value encoders and the
// registration of the Flow envelope's Avro format (avro.go).
//
// The value schema, in namespace "<namespace>.<schema>.<table>":
//
//	record Envelope {
//	  before:      ["null", record Value { every column ["null", T] }]
//	  after:       ["null", Value]
//	  source:      record Source {
//	                 version string, connector string, name string,
//	                 ts_ms long, snapshot ["null","string"], db string,
//	                 sequence ["null","string"], schema string, table string,
//	                 txId ["null","long"], lsn ["null","long"], xmin ["null","long"] }
//	  op:          string
//	  ts_ms:       ["null", "long"]
//	  transaction: ["null", record Transaction {
//	                 id string, total_order long, data_collection_order long }]
//	}
//
// transaction is null unless the change carries its place in its
// transaction (kafka.transaction_metadata, Debezium's
// provide.transaction.metadata). The key schema is avro.go's Key
// record.

// debeziumValueSchema builds the Envelope schema of a plan.
func debeziumValueSchema(p *layout) (string, error) {
	nullable := func(name string, typ any) fieldJSON {
		return fieldJSON{Name: name, Type: []any{"null", typ}, Default: nullDefault}
	}
	str := func(name string) fieldJSON { return fieldJSON{Name: name, Type: "string"} }
	source := recordJSON{Type: "record", Name: "Source", Fields: []fieldJSON{
		str("version"),
		str("connector"),
		str("name"),
		{Name: "ts_ms", Type: "long"},
		nullable("snapshot", "string"),
		str("db"),
		nullable("sequence", "string"),
		str("schema"),
		str("table"),
		nullable("txId", "long"),
		nullable("lsn", "long"),
		nullable("xmin", "long"),
	}}
	tx := recordJSON{Type: "record", Name: "Transaction", Fields: []fieldJSON{
		str("id"),
		{Name: "total_order", Type: "long"},
		{Name: "data_collection_order", Type: "long"},
	}}
	env := recordJSON{Type: "record", Name: "Envelope", Namespace: p.ns, Fields: []fieldJSON{
		nullable("before", recordJSON{Type: "record", Name: "Value", Fields: p.row}),
		nullable("after", "Value"),
		{Name: "source", Type: source},
		{Name: "op", Type: "string"},
		nullable("ts_ms", "long"),
		nullable("transaction", tx),
	}}
	b, err := json.Marshal(env)
	if err != nil {
		return "", err
	}
	if _, err := avro.ParseWithCache(string(b), "", &avro.SchemaCache{}); err != nil {
		return "", fmt.Errorf("avro debezium schema of %s.%s: %w", p.table.Schema, p.table.Name, err)
	}
	return string(b), nil
}

// DebeziumSchemas returns the Avro schemas of a table shape under the
// Debezium envelope: the key schema, as Schemas', and the value schema,
// the record "Envelope" whose before and after are the row record "Value"
// (every column, in attribute order, without _meta). Of opts, only
// Decimal applies.
func DebeziumSchemas(t *event.Table, key []int, namespace string, opts ...Option) (keySchema, valueSchema string, err error) {
	o := newOptions(opts)
	o.namespace = namespace
	p, err := newLayout(t, key, &o)
	if err != nil {
		return "", "", err
	}
	v, err := debeziumValueSchema(p)
	if err != nil {
		return "", "", err
	}
	return p.keySchema, v, nil
}

// DebeziumEncoder writes a table shape's changes as Debezium change
// events in Avro binary, in the Confluent wire format, with the schemas of
// DebeziumSchemas registered under the IDs it was built with. The
// envelope's contents are debezium.Encoder's (op r/c/u/d/t, before and
// after, source), the column values avro.go's. An unchanged TOASTed value
// is Debezium's placeholder debezium.UnavailableValue in a string column
// (its bytes in a bytes column) and null in any other. It implements
// event.Encoder.
type DebeziumEncoder struct {
	// row writes the key, the row key and the rows: they are the Flow
	// envelope's Avro encoder's.
	row      *Encoder
	schema   string
	valueID  int
	valueHdr [5]byte
	clock    debezium.Clock

	srcHead []byte // version, connector, name (encoded)
	srcDB   []byte // db (encoded)
	srcTab  []byte // schema, table (encoded)
}

func newDebeziumEncoder(p *layout, valueSchema string, keyID, valueID int, opts debezium.Options) *DebeziumEncoder {
	e := &DebeziumEncoder{row: newEncoder(p, keyID, 0, ""), schema: valueSchema, valueID: valueID,
		clock: opts.Clock()}
	binary.BigEndian.PutUint32(e.valueHdr[1:], uint32(valueID))
	e.srcHead = appendString(nil, []byte(opts.Version))
	e.srcHead = appendString(e.srcHead, []byte("postgresql"))
	e.srcHead = appendString(e.srcHead, []byte(opts.Name))
	e.srcDB = appendString(nil, []byte(opts.Database))
	e.srcTab = appendString(nil, []byte(p.table.Schema))
	e.srcTab = appendString(e.srcTab, []byte(p.table.Name))
	return e
}

// Table returns the table the encoder was built for.
func (e *DebeziumEncoder) Table() *event.Table { return e.row.Table() }

// KeySchema returns the key schema and its registry ID ("" and 0 for a
// keyless table).
func (e *DebeziumEncoder) KeySchema() (schema string, id int) { return e.row.KeySchema() }

// ValueSchema returns the Envelope schema and its registry ID.
func (e *DebeziumEncoder) ValueSchema() (schema string, id int) { return e.schema, e.valueID }

// AppendKey appends the Kafka key, as Encoder.AppendKey.
func (e *DebeziumEncoder) AppendKey(dst []byte, c *event.Change) []byte {
	return e.row.AppendKey(dst, c)
}

// AppendRowKey appends the change's row key (§2.1), as
// Encoder.AppendRowKey.
func (e *DebeziumEncoder) AppendRowKey(dst []byte, c *event.Change) ([]byte, error) {
	return e.row.AppendRowKey(dst, c)
}

// AppendDocument appends the change's Debezium envelope (the Kafka value).
func (e *DebeziumEncoder) AppendDocument(dst []byte, c *event.Change) []byte {
	op, before, after := debezium.Parts(c)
	dst = append(dst, e.valueHdr[:]...)
	dst = e.appendRow(dst, before)
	dst = e.appendRow(dst, after)

	// source
	dst = append(dst, e.srcHead...)
	dst = appendLong(dst, e.clock.SourceMillis(c))
	if c.Snapshot {
		dst = appendString(append(dst, 2), []byte("true"))
	} else {
		dst = appendString(append(dst, 2), []byte("false"))
	}
	dst = append(dst, e.srcDB...)
	if c.Snapshot {
		// A backfilled row has no WAL position (its Loc counts rows).
		dst = append(dst, 0)
	} else {
		var seq [64]byte
		s := append(seq[:0], '[')
		if c.Loc[0] > 0 {
			s = append(strconv.AppendInt(append(s, '"'), c.Loc[0], 10), '"')
		} else {
			s = append(s, "null"...)
		}
		s = append(strconv.AppendInt(append(s, `,"`...), c.Loc[1], 10), `"]`...)
		dst = appendString(append(dst, 2), s)
	}
	dst = append(dst, e.srcTab...)
	if c.Snapshot {
		dst = append(dst, 0, 0) // txId, lsn
	} else {
		dst = appendLong(append(dst, 2), int64(c.XID))
		dst = appendLong(append(dst, 2), c.Loc[1])
	}
	dst = append(dst, 0) // xmin

	dst = appendString(dst, []byte{op})
	dst = appendLong(append(dst, 2), e.clock.NowMillis())
	return appendDebeziumTxn(dst, c.Txn)
}

// appendRow writes a ["null", Value] union: null for a nil row, else every
// column as Encoder writes it, but for unchanged TOASTed values in
// string and bytes columns, which are Debezium's placeholder.
func (e *DebeziumEncoder) appendRow(dst []byte, row []event.Value) []byte {
	if row == nil {
		return append(dst, 0)
	}
	dst = append(dst, 2)
	cols := e.row.plan.cols
	for i := range cols {
		var v event.Value
		if i < len(row) {
			v = row[i]
		}
		if v.Marker == event.MarkerUnchanged && (cols[i].kind == typeString || cols[i].kind == typeBytes) {
			dst = appendString(append(dst, 2), unavailable)
			continue
		}
		dst = appendField(dst, &cols[i], v)
	}
	return dst
}

var unavailable = []byte(debezium.UnavailableValue)

// NewDebeziumEncoder is NewEncoder for the Debezium envelope: it returns a
// event.NewEncoder-shaped function building, for a table shape, the
// DebeziumEncoder of the topic topicOf names for it, registering the
// shape's schemas first (Registry.DebeziumEncoder), each call bounded
// by the Timeout. Wrap it to return an event.Encoder (schema/format does).
func (r *Registry) NewDebeziumEncoder(topicOf func(*event.Table) string, opts debezium.Options) func(t *event.Table, key []int) (*DebeziumEncoder, error) {
	return func(t *event.Table, key []int) (*DebeziumEncoder, error) {
		ctx, cancel := context.WithTimeout(context.Background(), r.opts.timeout)
		defer cancel()
		return r.DebeziumEncoder(ctx, topicOf(t), t, key, opts)
	}
}

// DebeziumEncoder registers the Debezium-envelope schemas of a table shape
// for topic (the key schema only for a keyed table), as Encoder does, and
// returns its encoder. SourceTag does not apply (Debezium's source has
// no tag).
func (r *Registry) DebeziumEncoder(ctx context.Context, topic string, t *event.Table, key []int, opts debezium.Options) (*DebeziumEncoder, error) {
	p, err := newLayout(t, key, &r.opts)
	if err != nil {
		return nil, err
	}
	valueSchema, err := debeziumValueSchema(p)
	if err != nil {
		return nil, err
	}
	keyID, valueID, err := r.registerTopic(ctx, topic, p, valueSchema)
	if err != nil {
		return nil, err
	}
	return newDebeziumEncoder(p, valueSchema, keyID, valueID, opts), nil
}

// appendDebeziumTxn appends the ["null", Transaction] union of a Debezium
// envelope: null, or the change's place in its transaction
// (provide.transaction.metadata).
func appendDebeziumTxn(dst []byte, t *event.TxnOrder) []byte {
	if t == nil {
		return append(dst, 0)
	}
	dst = appendString(append(dst, 2), []byte(t.ID))
	dst = appendLong(dst, t.TotalOrder)
	return appendLong(dst, t.CollectionOrder)
}

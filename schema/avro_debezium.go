package schema

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/hamba/avro/v2"

	"github.com/pg2kafka/pg2kafka/event"
)

// This file is the Debezium envelope in Avro (kafka.format avro with
// kafka.envelope debezium, docs/avro.md and docs/debezium.md): the
// envelope of DebeziumEncoder shaped as Debezium's Avro converter shapes
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

// avroDebeziumValueSchema builds the Envelope schema of a plan.
func avroDebeziumValueSchema(p *avroPlan) (string, error) {
	nullable := func(name string, typ any) avroFieldJSON {
		return avroFieldJSON{Name: name, Type: []any{"null", typ}, Default: avroNullDefault}
	}
	str := func(name string) avroFieldJSON { return avroFieldJSON{Name: name, Type: "string"} }
	source := avroRecordJSON{Type: "record", Name: "Source", Fields: []avroFieldJSON{
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
	tx := avroRecordJSON{Type: "record", Name: "Transaction", Fields: []avroFieldJSON{
		str("id"),
		{Name: "total_order", Type: "long"},
		{Name: "data_collection_order", Type: "long"},
	}}
	env := avroRecordJSON{Type: "record", Name: "Envelope", Namespace: p.ns, Fields: []avroFieldJSON{
		nullable("before", avroRecordJSON{Type: "record", Name: "Value", Fields: p.row}),
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

// AvroDebeziumSchemas returns the Avro schemas of a table shape under the
// Debezium envelope: the key schema, as AvroSchemas', and the value schema,
// the record "Envelope" whose before and after are the row record "Value"
// (every column, in attribute order, without _meta). Of opts, only
// AvroDecimal applies.
func AvroDebeziumSchemas(t *event.Table, key []int, namespace string, opts ...AvroOption) (keySchema, valueSchema string, err error) {
	o := avroOpts(opts)
	o.namespace = namespace
	p, err := newAvroPlan(t, key, &o)
	if err != nil {
		return "", "", err
	}
	v, err := avroDebeziumValueSchema(p)
	if err != nil {
		return "", "", err
	}
	return p.keySchema, v, nil
}

// AvroDebeziumEncoder writes a table shape's changes as Debezium change
// events in Avro binary, in the Confluent wire format, with the schemas of
// AvroDebeziumSchemas registered under the IDs it was built with. The
// envelope's contents are DebeziumEncoder's (op r/c/u/d/t, before and
// after, source), the column values avro.go's. An unchanged TOASTed value
// is Debezium's placeholder DebeziumUnavailableValue in a string column
// (its bytes in a bytes column) and null in any other. It implements
// capture.Encoder.
type AvroDebeziumEncoder struct {
	// row writes the key, the row key and the rows: they are the Flow
	// envelope's Avro encoder's.
	row      *AvroEncoder
	schema   string
	valueID  int
	valueHdr [5]byte
	now      func() time.Time
	read     func() time.Time

	srcHead []byte // version, connector, name (encoded)
	srcDB   []byte // db (encoded)
	srcTab  []byte // schema, table (encoded)
}

func newAvroDebeziumEncoder(p *avroPlan, valueSchema string, keyID, valueID int, opts DebeziumOptions) *AvroDebeziumEncoder {
	e := &AvroDebeziumEncoder{row: newAvroEncoder(p, keyID, 0, ""), schema: valueSchema, valueID: valueID,
		now: opts.Now, read: opts.ReadTime}
	if e.now == nil {
		e.now = time.Now
	}
	binary.BigEndian.PutUint32(e.valueHdr[1:], uint32(valueID))
	e.srcHead = avroAppendString(nil, []byte(opts.Version))
	e.srcHead = avroAppendString(e.srcHead, []byte("postgresql"))
	e.srcHead = avroAppendString(e.srcHead, []byte(opts.Name))
	e.srcDB = avroAppendString(nil, []byte(opts.Database))
	e.srcTab = avroAppendString(nil, []byte(p.table.Schema))
	e.srcTab = avroAppendString(e.srcTab, []byte(p.table.Name))
	return e
}

// Table returns the table the encoder was built for.
func (e *AvroDebeziumEncoder) Table() *event.Table { return e.row.Table() }

// KeySchema returns the key schema and its registry ID ("" and 0 for a
// keyless table).
func (e *AvroDebeziumEncoder) KeySchema() (schema string, id int) { return e.row.KeySchema() }

// ValueSchema returns the Envelope schema and its registry ID.
func (e *AvroDebeziumEncoder) ValueSchema() (schema string, id int) { return e.schema, e.valueID }

// AppendKey appends the Kafka key, as AvroEncoder.AppendKey.
func (e *AvroDebeziumEncoder) AppendKey(dst []byte, c *event.Change) []byte {
	return e.row.AppendKey(dst, c)
}

// AppendRowKey appends the change's row key (§2.1), as
// AvroEncoder.AppendRowKey.
func (e *AvroDebeziumEncoder) AppendRowKey(dst []byte, c *event.Change) ([]byte, error) {
	return e.row.AppendRowKey(dst, c)
}

// AppendDocument appends the change's Debezium envelope (the Kafka value).
func (e *AvroDebeziumEncoder) AppendDocument(dst []byte, c *event.Change) []byte {
	op, before, after := debeziumParts(c)
	dst = append(dst, e.valueHdr[:]...)
	dst = e.appendRow(dst, before)
	dst = e.appendRow(dst, after)

	// source
	dst = append(dst, e.srcHead...)
	if c.Snapshot {
		var ts int64
		if e.read != nil {
			ts = e.read().UnixMilli()
		}
		dst = avroAppendLong(dst, ts)
		dst = avroAppendString(append(dst, 2), []byte("true"))
	} else {
		dst = avroAppendLong(dst, c.TSMillis)
		dst = avroAppendString(append(dst, 2), []byte("false"))
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
		dst = avroAppendString(append(dst, 2), s)
	}
	dst = append(dst, e.srcTab...)
	if c.Snapshot {
		dst = append(dst, 0, 0) // txId, lsn
	} else {
		dst = avroAppendLong(append(dst, 2), int64(c.XID))
		dst = avroAppendLong(append(dst, 2), c.Loc[1])
	}
	dst = append(dst, 0) // xmin

	dst = avroAppendString(dst, []byte{op})
	dst = avroAppendLong(append(dst, 2), e.now().UnixMilli())
	return avroAppendDebeziumTxn(dst, c.Txn)
}

// appendRow writes a ["null", Value] union: null for a nil row, else every
// column as AvroEncoder writes it, but for unchanged TOASTed values in
// string and bytes columns, which are Debezium's placeholder.
func (e *AvroDebeziumEncoder) appendRow(dst []byte, row []event.Value) []byte {
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
		if v.Marker == event.MarkerUnchanged && (cols[i].kind == avroString || cols[i].kind == avroBytes) {
			dst = avroAppendString(append(dst, 2), avroDebeziumPlaceholder)
			continue
		}
		dst = avroAppendField(dst, &cols[i], v)
	}
	return dst
}

var avroDebeziumPlaceholder = []byte(DebeziumUnavailableValue)

// NewDebeziumEncoder is NewEncoder for the Debezium envelope: it returns a
// capture.NewEncoder-shaped function building, for a table shape, the
// AvroDebeziumEncoder of the topic topicOf names for it, registering the
// shape's schemas first (AvroRegistry.DebeziumEncoder), each call bounded
// by the AvroTimeout. Wrap it to return a capture.Encoder.
func (r *AvroRegistry) NewDebeziumEncoder(topicOf func(*event.Table) string, opts DebeziumOptions) func(t *event.Table, key []int) (*AvroDebeziumEncoder, error) {
	return func(t *event.Table, key []int) (*AvroDebeziumEncoder, error) {
		ctx, cancel := context.WithTimeout(context.Background(), r.opts.timeout)
		defer cancel()
		return r.DebeziumEncoder(ctx, topicOf(t), t, key, opts)
	}
}

// DebeziumEncoder registers the Debezium-envelope schemas of a table shape
// for topic (the key schema only for a keyed table), as Encoder does, and
// returns its encoder. AvroSourceTag does not apply (Debezium's source has
// no tag).
func (r *AvroRegistry) DebeziumEncoder(ctx context.Context, topic string, t *event.Table, key []int, opts DebeziumOptions) (*AvroDebeziumEncoder, error) {
	p, err := newAvroPlan(t, key, &r.opts)
	if err != nil {
		return nil, err
	}
	valueSchema, err := avroDebeziumValueSchema(p)
	if err != nil {
		return nil, err
	}
	keyID, valueID, err := r.registerTopic(ctx, topic, p, valueSchema)
	if err != nil {
		return nil, err
	}
	return newAvroDebeziumEncoder(p, valueSchema, keyID, valueID, opts), nil
}

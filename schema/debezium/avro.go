package debezium

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	hamba "github.com/hamba/avro/v2"

	"github.com/pg2kafka/pg2kafka/event"
	"github.com/pg2kafka/pg2kafka/schema/avro"
	"github.com/pg2kafka/pg2kafka/schema/rowkey"
)

// This file is the Debezium envelope in Avro (kafka.format avro with
// kafka.envelope debezium, docs/avro.md and docs/debezium.md): the
// envelope of Encoder shaped as Debezium's Avro converter shapes it, on
// schema/avro's encoding plan (its Key record, its column fields and
// value encoders) and registry.
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
// provide.transaction.metadata). The key schema is the plan's Key
// record.

// avroRecord and avroField are the JSON of an Avro record schema, in the
// order and form of schema/avro's.
type avroRecord struct {
	Type      string `json:"type"`
	Name      string `json:"name"`
	Namespace string `json:"namespace,omitempty"`
	Fields    any    `json:"fields"`
}

type avroField struct {
	Name    string          `json:"name"`
	Type    any             `json:"type"`
	Default json.RawMessage `json:"default,omitempty"`
}

// avroValueSchema builds the Envelope schema of a plan.
func avroValueSchema(p *avro.Plan) (string, error) {
	nullable := func(name string, typ any) avroField {
		return avroField{Name: name, Type: []any{"null", typ}, Default: json.RawMessage("null")}
	}
	str := func(name string) avroField { return avroField{Name: name, Type: "string"} }
	source := avroRecord{Type: "record", Name: "Source", Fields: []avroField{
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
	tx := avroRecord{Type: "record", Name: "Transaction", Fields: []avroField{
		str("id"),
		{Name: "total_order", Type: "long"},
		{Name: "data_collection_order", Type: "long"},
	}}
	fields, err := p.ColumnFields()
	if err != nil {
		return "", fmt.Errorf("avro debezium schema of %s.%s: %w", p.Table().Schema, p.Table().Name, err)
	}
	env := avroRecord{Type: "record", Name: "Envelope", Namespace: p.Namespace(), Fields: []avroField{
		nullable("before", avroRecord{Type: "record", Name: "Value", Fields: fields}),
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
	if _, err := hamba.ParseWithCache(string(b), "", &hamba.SchemaCache{}); err != nil {
		t := p.Table()
		return "", fmt.Errorf("avro debezium schema of %s.%s: %w", t.Schema, t.Name, err)
	}
	return string(b), nil
}

// AvroSchemas returns the Avro schemas of a table shape under the
// Debezium envelope: the key schema, as avro.Schemas', and the value
// schema, the record "Envelope" whose before and after are the row record
// "Value" (every column, in attribute order, without _meta). Of opts,
// only avro.Decimal applies.
func AvroSchemas(t *event.Table, key []int, namespace string, opts ...avro.Option) (keySchema, valueSchema string, err error) {
	p, err := avro.NewPlan(t, key, namespace, opts...)
	if err != nil {
		return "", "", err
	}
	v, err := avroValueSchema(p)
	if err != nil {
		return "", "", err
	}
	return p.KeySchema(), v, nil
}

// AvroEncoder writes a table shape's changes as Debezium change events in
// Avro binary, in the Confluent wire format, with the schemas of
// AvroSchemas registered under the IDs it was built with. The envelope's
// contents are Encoder's (op r/c/u/d/t, before and after, source), the
// column values schema/avro's. An unchanged TOASTed value is the
// placeholder UnavailableValue in a string column (its bytes in a bytes
// column) and null in any other. It implements event.Encoder.
type AvroEncoder struct {
	plan              *avro.Plan
	keySchema, schema string
	keyID, valueID    int
	keyHdr, valueHdr  []byte
	clock             clock

	srcHead []byte // version, connector, name (encoded)
	srcDB   []byte // db (encoded)
	srcTab  []byte // schema, table (encoded)
}

func newAvroEncoder(p *avro.Plan, valueSchema string, keyID, valueID int, opts Options) *AvroEncoder {
	e := &AvroEncoder{plan: p, keySchema: p.KeySchema(), schema: valueSchema, keyID: keyID, valueID: valueID,
		keyHdr: avro.AppendHeader(nil, keyID), valueHdr: avro.AppendHeader(nil, valueID), clock: opts.clock()}
	t := p.Table()
	e.srcHead = avro.AppendString(nil, []byte(opts.Version))
	e.srcHead = avro.AppendString(e.srcHead, []byte("postgresql"))
	e.srcHead = avro.AppendString(e.srcHead, []byte(opts.Name))
	e.srcDB = avro.AppendString(nil, []byte(opts.Database))
	e.srcTab = avro.AppendString(nil, []byte(t.Schema))
	e.srcTab = avro.AppendString(e.srcTab, []byte(t.Name))
	return e
}

// Table returns the table the encoder was built for.
func (e *AvroEncoder) Table() *event.Table { return e.plan.Table() }

// KeySchema returns the key schema and its registry ID ("" and 0 for a
// keyless table).
func (e *AvroEncoder) KeySchema() (schema string, id int) { return e.keySchema, e.keyID }

// ValueSchema returns the Envelope schema and its registry ID.
func (e *AvroEncoder) ValueSchema() (schema string, id int) { return e.schema, e.valueID }

// AppendKey appends the Kafka key, as avro.Encoder.AppendKey: the key
// columns as the Key record; nothing for a keyless table.
func (e *AvroEncoder) AppendKey(dst []byte, c *event.Change) []byte {
	if len(e.plan.Key()) == 0 {
		return dst
	}
	return e.plan.AppendKey(append(dst, e.keyHdr...), c)
}

// AppendRowKey appends the change's row key (§2.1), as
// avro.Encoder.AppendRowKey.
func (e *AvroEncoder) AppendRowKey(dst []byte, c *event.Change) ([]byte, error) {
	return rowkey.AppendChange(dst, e.plan.Table(), e.plan.Key(), c)
}

// AppendDocument appends the change's Debezium envelope (the Kafka value).
func (e *AvroEncoder) AppendDocument(dst []byte, c *event.Change) []byte {
	op, before, after := parts(c)
	dst = append(dst, e.valueHdr...)
	dst = e.appendRow(dst, before)
	dst = e.appendRow(dst, after)

	// source
	dst = append(dst, e.srcHead...)
	dst = avro.AppendLong(dst, e.clock.sourceMillis(c))
	if c.Snapshot {
		dst = avro.AppendString(append(dst, 2), []byte("true"))
	} else {
		dst = avro.AppendString(append(dst, 2), []byte("false"))
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
		dst = avro.AppendString(append(dst, 2), s)
	}
	dst = append(dst, e.srcTab...)
	if c.Snapshot {
		dst = append(dst, 0, 0) // txId, lsn
	} else {
		dst = avro.AppendLong(append(dst, 2), int64(c.XID))
		dst = avro.AppendLong(append(dst, 2), c.Loc[1])
	}
	dst = append(dst, 0) // xmin

	dst = avro.AppendString(dst, []byte{op})
	dst = avro.AppendLong(append(dst, 2), e.clock.nowMillis())
	return appendAvroTxn(dst, c.Txn)
}

// appendRow writes a ["null", Value] union: null for a nil row, else every
// column as the plan writes it, but for unchanged TOASTed values in
// string and bytes columns, which are Debezium's placeholder.
func (e *AvroEncoder) appendRow(dst []byte, row []event.Value) []byte {
	if row == nil {
		return append(dst, 0)
	}
	dst = append(dst, 2)
	for i := range e.plan.Table().Columns {
		var v event.Value
		if i < len(row) {
			v = row[i]
		}
		if v.Marker == event.MarkerUnchanged && e.plan.StringOrBytes(i) {
			dst = avro.AppendString(append(dst, 2), unavailable)
			continue
		}
		dst = e.plan.AppendColumn(dst, i, v)
	}
	return dst
}

var unavailable = []byte(UnavailableValue)

// NewAvroEncoder returns an event.NewEncoder-shaped function building, for
// a table shape, the AvroEncoder of the topic topicOf names for it, its
// schemas registered in reg first (RegisterAvroEncoder), each call bounded
// by reg's avro.Timeout. Wrap it to return an event.Encoder (schema/format
// does).
func NewAvroEncoder(reg *avro.Registry, topicOf func(*event.Table) string, opts Options) func(t *event.Table, key []int) (*AvroEncoder, error) {
	return func(t *event.Table, key []int) (*AvroEncoder, error) {
		ctx, cancel := context.WithTimeout(context.Background(), reg.RequestTimeout())
		defer cancel()
		return RegisterAvroEncoder(ctx, reg, topicOf(t), t, key, opts)
	}
}

// RegisterAvroEncoder registers the Debezium-envelope schemas of a table
// shape in reg for topic (the key schema only for a keyed table), with
// reg's options, as avro.Registry.Encoder does, and returns its encoder.
// avro.SourceTag does not apply (Debezium's source has no tag).
func RegisterAvroEncoder(ctx context.Context, reg *avro.Registry, topic string, t *event.Table, key []int, opts Options) (*AvroEncoder, error) {
	p, err := reg.Plan(t, key)
	if err != nil {
		return nil, err
	}
	valueSchema, err := avroValueSchema(p)
	if err != nil {
		return nil, err
	}
	keyID, valueID, err := reg.Register(ctx, topic, p, valueSchema)
	if err != nil {
		return nil, err
	}
	return newAvroEncoder(p, valueSchema, keyID, valueID, opts), nil
}

// appendAvroTxn appends the ["null", Transaction] union of the envelope:
// null, or the change's place in its transaction
// (provide.transaction.metadata).
func appendAvroTxn(dst []byte, t *event.TxnOrder) []byte {
	if t == nil {
		return append(dst, 0)
	}
	dst = avro.AppendString(append(dst, 2), []byte(t.ID))
	dst = avro.AppendLong(dst, t.TotalOrder)
	return avro.AppendLong(dst, t.CollectionOrder)
}

// Package event holds the small types in which the capture stages meet: a
// table's shape, a column's type, and one captured change. It has no logic of
// its own beyond describing them, so every stage can import it without
// importing another stage.
package event

// Kind says how a column's PostgreSQL text form becomes a JSON value and a
// row-key element. Every column type is resolved to a Kind once, when its
// table is discovered or its RELATION message arrives; the hot path switches
// on the Kind and never looks a type up by name.
type Kind uint8

// The kinds. KindText is the catch-all: the value is PostgreSQL's text form,
// emitted as a JSON string.
const (
	KindText        Kind = iota // text, varchar, bpchar, name, citext, xml, jsonpath, money, inet, ... and any unknown type
	KindBool                    // boolean
	KindInt                     // int2, int4, int8, oid
	KindFloat4                  // real
	KindFloat8                  // double precision
	KindNumeric                 // numeric / decimal
	KindBytea                   // bytea
	KindJSON                    // json
	KindJSONB                   // jsonb
	KindDate                    // date
	KindTime                    // time without time zone
	KindTimeTZ                  // time with time zone
	KindTimestamp               // timestamp without time zone
	KindTimestampTZ             // timestamp with time zone
	KindInterval                // interval
	KindUUID                    // uuid
	KindEnum                    // enum labels (text, but ordered by declaration in PostgreSQL)
	KindRange                   // built-in and user range types
	KindArray                   // arrays; Type.Elem describes the element
	KindComposite               // composite (row) types, emitted as their text form
)

// Type is a column's type with domains resolved to their base type.
type Type struct {
	// OID is the column's declared type OID (a domain's own OID, if any).
	OID uint32
	// Name is the base type's pg_type.typname ("int4", "varchar", "_text", ...).
	Name string
	// Kind is how values of the type are converted.
	Kind Kind
	// Elem is the element type of an array (Kind == KindArray), else nil.
	Elem *Type
	// Typmod is the column's type modifier (pg_attribute.atttypmod: the
	// length of varchar(n), the precision and scale of numeric(p,s)); -1
	// when there is none.
	Typmod int32
	// Collation is the key column's collation name when it is not the
	// database default ("C", "POSIX", ...), else "". Only set by discovery,
	// which reports "C" or "POSIX" only for collations that order by bytes,
	// and appends " (<server> to <client encoding>)" when the session's
	// text is converted to an encoding of another byte order
	// ("C (WIN1252 to UTF8)").
	Collation string
}

// Column is one column of a captured table.
type Column struct {
	Name     string
	Type     Type
	Nullable bool
	// Generated is true for stored generated columns, which replication does
	// not carry and backfills therefore leave out.
	Generated bool
	// Description is the column's comment, if any.
	Description string
}

// Table describes one captured table.
type Table struct {
	// OID is the relation's OID (pg_class.oid), which survives a rename;
	// 0 when unknown.
	OID    uint32
	Schema string
	Name   string
	// Columns in attribute order.
	Columns []Column
	// Key holds indexes into Columns of the row key's columns, in key order.
	// It is empty for keyless tables.
	Key []int
}

// Op is a change's operation, as written to _meta.op.
type Op byte

// The operations.
const (
	OpCreate Op = 'c'
	OpUpdate Op = 'u'
	OpDelete Op = 'd'
	// OpTruncate is a TRUNCATE of the table; the change has no values.
	OpTruncate Op = 't'
)

// Marker tells what a tuple column holds, as in pgoutput.
type Marker byte

// The markers.
const (
	// MarkerText: Data holds the value's text form.
	MarkerText Marker = 't'
	// MarkerNull: SQL NULL.
	MarkerNull Marker = 'n'
	// MarkerUnchanged: an unchanged TOASTed value the server did not send.
	MarkerUnchanged Marker = 'u'
	// MarkerAbsent: the column is not present (not part of a key-only old tuple).
	MarkerAbsent Marker = 0
)

// Value is one column value of a row in text form.
type Value struct {
	Marker Marker
	Data   []byte
}

// Change is one row change (or backfilled row), with values in the table's
// column order.
type Change struct {
	Op    Op
	Table *Table
	// New holds the row after the change (inserts, updates, backfill rows).
	// For deletes it holds the old tuple as the server sent it.
	New []Value
	// Old holds the old tuple of an update when the server sent one
	// (REPLICA IDENTITY FULL, or a key change), else nil.
	Old []Value
	// Snapshot is true for backfill rows.
	Snapshot bool
	// Loc is _meta.source.loc: [prev commit end LSN, change LSN, commit LSN]
	// for replication events, [-1, n, 0] for the n-th backfilled row.
	Loc [3]int64
	// TSMillis is the commit time in Unix milliseconds (replication only).
	TSMillis int64
	// XID is the transaction ID (replication only).
	XID uint32
	// Txn places the change in its PostgreSQL transaction (Debezium's
	// transaction block, written with kafka.transaction_metadata); nil
	// when transaction metadata is off, and for backfilled rows.
	Txn *TxnOrder
}

// TxnOrder is a change's place in its PostgreSQL transaction, as
// Debezium's transaction block gives it.
type TxnOrder struct {
	// ID identifies the transaction: "<xid>:<commit LSN>" (decimal).
	ID string
	// TotalOrder is the change's position among the transaction's records,
	// from 1; CollectionOrder its position among those of its table.
	TotalOrder, CollectionOrder int64
}

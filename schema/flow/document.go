package flow

import (
	"sort"
	"strconv"

	"github.com/pg2kafka/pg2kafka/event"
	"github.com/pg2kafka/pg2kafka/schema/rowkey"
)

// Encoder writes a table's changes as Flow documents (§3.1–3.3): the
// row's columns, and _meta, with top-level properties in ascending byte
// order of their names. It is built once per table shape; encoding a change
// only appends to the caller's buffer.
type Encoder struct {
	table *event.Table
	key   []int
	// order lists column indexes in output order; metaPos is where _meta
	// goes among them.
	order   []int
	metaPos int
	names   [][]byte // `"name":` per column, its document name
	keyName [][]byte // `"name":` per key column, its column name
	prefix  []byte   // `"schema":"…"` for _meta.source
	table_  []byte   // `"table":"…"`
	tag     []byte   // `,"tag":"…"` or nil
	nested  bool     // arrays keep their dimensions
}

// Option tunes a Encoder.
type Option func(*Encoder)

// MultidimensionalArrays writes multi-dimensional arrays as nested JSON arrays
// (Flow's multidimensional_arrays feature flag) instead of flattening them.
func MultidimensionalArrays() Option { return func(e *Encoder) { e.nested = true } }

// NewEncoder prepares the encoding of a table's changes. key holds the
// indexes of the key columns in t.Columns, in key order. tag, when not
// empty, is written as _meta.source.tag.
func NewEncoder(t *event.Table, key []int, tag string, opts ...Option) *Encoder {
	e := &Encoder{table: t, key: key}
	for _, o := range opts {
		o(e)
	}
	e.order = make([]int, len(t.Columns))
	for i := range e.order {
		e.order[i] = i
	}
	names := DocumentNames(t.Columns)
	sort.SliceStable(e.order, func(a, b int) bool { return names[e.order[a]] < names[e.order[b]] })
	e.metaPos = sort.Search(len(e.order), func(i int) bool { return names[e.order[i]] >= "_meta" })
	e.names = make([][]byte, len(t.Columns))
	for i, name := range names {
		n := AppendString(nil, []byte(name))
		e.names[i] = append(n, ':')
	}
	for _, k := range key {
		n := AppendString(nil, []byte(t.Columns[k].Name))
		e.keyName = append(e.keyName, append(n, ':'))
	}
	e.prefix = append(AppendString([]byte(`"schema":`), []byte(t.Schema)), ',')
	e.table_ = append(AppendString([]byte(`"table":`), []byte(t.Name)), ',')
	if tag != "" {
		e.tag = AppendString([]byte(`,"tag":`), []byte(tag))
	}
	return e
}

// DocumentNames returns each column's property name in Flow documents
// (_meta.before included) and in the discovered JSON schema and collection
// key: the column's name, except
// that a column named `_meta` would collide with the metadata and is named
// `_meta_2` instead (or `_meta_3`, ... when another column already has that
// name). Flow has no rule for it; this is schema/avro's (its field names), so a
// `_meta` column has the same name in every format.
func DocumentNames(cols []event.Column) []string {
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.Name
		if c.Name != "_meta" {
			continue
		}
		for k := 2; ; k++ {
			cand := "_meta_" + strconv.Itoa(k)
			taken := false
			for _, o := range cols {
				taken = taken || o.Name == cand
			}
			if !taken {
				names[i] = cand
				break
			}
		}
	}
	return names
}

// Table returns the table the encoder was built for.
func (e *Encoder) Table() *event.Table { return e.table }

// AppendKey appends the Kafka key: a JSON object of the key columns in key
// order, by column name (a `_meta` column keeps its name: the key holds no
// metadata), e.g. {"id":5001}. A change to a keyless table has no key (nil).
func (e *Encoder) AppendKey(dst []byte, c *event.Change) []byte {
	if len(e.key) == 0 {
		return dst
	}
	dst = append(dst, '{')
	for i, k := range e.key {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, e.keyName[i]...)
		v := c.New[k]
		if v.Marker == event.MarkerText {
			dst = AppendJSONKey(dst, &e.table.Columns[k].Type, v.Data)
		} else {
			dst = append(dst, "null"...)
		}
	}
	return append(dst, '}')
}

// AppendRowKey appends the change's row key (§2.1), the tuple encoding of
// its key columns: the new values for inserts and updates, the old for
// deletes (both in c.New).
func (e *Encoder) AppendRowKey(dst []byte, c *event.Change) ([]byte, error) {
	return rowkey.AppendChange(dst, e.table, e.key, c)
}

// AppendDocument appends the change's Flow document.
func (e *Encoder) AppendDocument(dst []byte, c *event.Change) []byte {
	return e.appendDocument(dst, c, 0)
}

// AppendDocumentLimited appends the change's document with every value over
// limit bytes cut or replaced as Flow does for oversized values (§3.5; see
// AppendJSONLimited), so that an oversized row still fits a record.
func (e *Encoder) AppendDocumentLimited(dst []byte, c *event.Change, limit int) []byte {
	return e.appendDocument(dst, c, limit)
}

func (e *Encoder) appendDocument(dst []byte, c *event.Change, limit int) []byte {
	dst = append(dst, '{')
	first := true
	for i, col := range e.order {
		if i == e.metaPos {
			dst = e.appendMeta(dst, c, first, limit)
			first = false
		}
		dst, first = e.appendColumn(dst, col, c.New[col], first, limit)
	}
	if e.metaPos == len(e.order) {
		dst = e.appendMeta(dst, c, first, limit)
	}
	return append(dst, '}')
}

func (e *Encoder) appendColumn(dst []byte, col int, v event.Value, first bool, limit int) ([]byte, bool) {
	switch v.Marker {
	case event.MarkerText:
		if !first {
			dst = append(dst, ',')
		}
		dst = append(dst, e.names[col]...)
		t := &e.table.Columns[col].Type
		switch {
		case e.nested && t.Kind == event.KindArray:
			return AppendJSONNested(dst, t, v.Data), false
		case limit > 0:
			return AppendJSONLimited(dst, t, v.Data, limit), false
		}
		return AppendJSON(dst, t, v.Data), false
	case event.MarkerNull:
		if !first {
			dst = append(dst, ',')
		}
		dst = append(dst, e.names[col]...)
		return append(dst, "null"...), false
	}
	// Absent (not in a key-only old tuple) or unchanged TOAST: omitted.
	return dst, first
}

func (e *Encoder) appendMeta(dst []byte, c *event.Change, first bool, limit int) []byte {
	if !first {
		dst = append(dst, ',')
	}
	dst = append(dst, `"_meta":{"op":"`...)
	dst = append(dst, byte(c.Op))
	dst = append(dst, `","source":{`...)
	if !c.Snapshot {
		dst = append(dst, `"ts_ms":`...)
		dst = strconv.AppendInt(dst, c.TSMillis, 10)
		dst = append(dst, ',')
	}
	dst = append(dst, e.prefix...)
	if c.Snapshot {
		dst = append(dst, `"snapshot":true,`...)
	}
	dst = append(dst, e.table_...)
	dst = append(dst, `"loc":[`...)
	dst = strconv.AppendInt(dst, c.Loc[0], 10)
	dst = append(dst, ',')
	dst = strconv.AppendInt(dst, c.Loc[1], 10)
	dst = append(dst, ',')
	dst = strconv.AppendInt(dst, c.Loc[2], 10)
	dst = append(dst, ']')
	if !c.Snapshot {
		dst = append(dst, `,"txid":`...)
		dst = strconv.AppendUint(dst, uint64(c.XID), 10)
	}
	dst = append(dst, e.tag...)
	dst = append(dst, '}')
	if c.Op == event.OpUpdate && c.Old != nil {
		dst = append(dst, `,"before":{`...)
		f := true
		for _, col := range e.order {
			dst, f = e.appendColumn(dst, col, c.Old[col], f, limit)
		}
		dst = append(dst, '}')
	}
	return append(dst, '}')
}

package checkpoint

import (
	"bytes"
	"fmt"
	"slices"
)

// Encoder marshals successive versions of one State as Marshal does, but
// re-encodes only the table states that changed since the last call: with
// thousands of tables, a commit that moves one table's backfill no longer
// encodes all of them. It is not safe for concurrent use.
type Encoder struct {
	tables map[string]*encodedTable
	keys   []string // sorted state keys of tables
}

type encodedTable struct {
	ts  TableState // a copy of what json encodes
	key []byte     // the state key as a JSON string
	doc []byte     // the table state's JSON
}

// Marshal returns s as Marshal encodes it, and each table state's JSON by
// state key (sub-slices of doc, which later calls never overwrite).
func (e *Encoder) Marshal(s *State) (doc []byte, tables map[string][]byte, err error) {
	if e.tables == nil {
		e.tables = map[string]*encodedTable{}
	}
	cursor, err := canonicalCursor(s.Cursor)
	if err != nil {
		return nil, nil, fmt.Errorf("marshal state checkpoint: %w", err)
	}
	keysChanged := false
	live := 0
	for k, ts := range s.Bindings {
		if ts == nil {
			continue
		}
		live++
		et := e.tables[k]
		if et != nil && et.ts.equal(ts) {
			continue
		}
		n, err := ts.normalized()
		if err != nil {
			return nil, nil, fmt.Errorf("marshal state checkpoint: binding %q: %w", k, err)
		}
		out, err := encodeJSON(n)
		if err != nil {
			return nil, nil, fmt.Errorf("marshal state checkpoint: binding %q: %w", k, err)
		}
		if et == nil {
			key, err := encodeJSON(k)
			if err != nil {
				return nil, nil, fmt.Errorf("marshal state checkpoint: binding %q: %w", k, err)
			}
			et = &encodedTable{key: key}
			e.tables[k] = et
			keysChanged = true
		}
		et.ts, et.doc = *ts.Clone(), out
	}
	if live != len(e.tables) {
		for k := range e.tables {
			if ts := s.Bindings[k]; ts == nil {
				delete(e.tables, k)
			}
		}
		keysChanged = true
	}
	if keysChanged {
		e.keys = e.keys[:0]
		for k := range e.tables {
			e.keys = append(e.keys, k)
		}
		slices.Sort(e.keys)
	}
	size := len(cursor) + 40
	for _, et := range e.tables {
		size += len(et.key) + len(et.doc) + 2
	}
	var b bytes.Buffer
	b.Grow(size)
	b.WriteByte('{')
	if cursor != "" {
		c, _ := encodeJSON(cursor)
		b.WriteString(`"cursor":`)
		b.Write(c)
	}
	type span struct{ from, to int }
	spans := make(map[string]span, len(e.keys))
	if len(e.keys) > 0 {
		if cursor != "" {
			b.WriteByte(',')
		}
		b.WriteString(`"bindingStateV1":{`)
		for i, k := range e.keys {
			if i > 0 {
				b.WriteByte(',')
			}
			et := e.tables[k]
			b.Write(et.key)
			b.WriteByte(':')
			spans[k] = span{b.Len(), b.Len() + len(et.doc)}
			b.Write(et.doc)
		}
		b.WriteByte('}')
	}
	b.WriteByte('}')
	doc = b.Bytes()
	tables = make(map[string][]byte, len(spans))
	for k, sp := range spans {
		tables[k] = doc[sp.from:sp.to:sp.to]
	}
	return doc, tables, nil
}

// equal reports whether t encodes as o does (both before normalisation).
func (t *TableState) equal(o *TableState) bool {
	return t.Mode == o.Mode && t.Backfilled == o.Backfilled && slices.Equal(t.KeyColumns, o.KeyColumns) &&
		bytes.Equal(t.Scanned, o.Scanned) && bytes.Equal(t.Metadata, o.Metadata) &&
		(t.KeyColumns == nil) == (o.KeyColumns == nil) && (t.Scanned == nil) == (o.Scanned == nil)
}

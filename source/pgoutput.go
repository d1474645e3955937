package source

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/pg2kafka/pg2kafka/event"
	"github.com/pg2kafka/pg2kafka/internal/slab"
)

// pgoutput protocol version 1 messages, parsed without copying: every []byte
// a parse returns points into the message it was given.

var errShort = errors.New("message too short")

type pgoReader struct {
	b   []byte
	err error
}

func (r *pgoReader) u8() byte {
	if len(r.b) < 1 {
		r.err = errShort
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}

func (r *pgoReader) u16() uint16 {
	if len(r.b) < 2 {
		r.err = errShort
		return 0
	}
	v := binary.BigEndian.Uint16(r.b)
	r.b = r.b[2:]
	return v
}

func (r *pgoReader) u32() uint32 {
	if len(r.b) < 4 {
		r.err = errShort
		return 0
	}
	v := binary.BigEndian.Uint32(r.b)
	r.b = r.b[4:]
	return v
}

func (r *pgoReader) u64() uint64 {
	if len(r.b) < 8 {
		r.err = errShort
		return 0
	}
	v := binary.BigEndian.Uint64(r.b)
	r.b = r.b[8:]
	return v
}

func (r *pgoReader) cstring() string {
	for i, c := range r.b {
		if c == 0 {
			s := string(r.b[:i])
			r.b = r.b[i+1:]
			return s
		}
	}
	r.err = errShort
	return ""
}

// tuple reads TupleData into a slice carved from values (nil: allocated).
// When keyOnly is set (a 'K' old tuple) 'n' means "not part of the key",
// so the column is absent.
func (r *pgoReader) tuple(values *slab.Slab[event.Value], keyOnly bool) []event.Value {
	n := int(r.u16())
	if r.err == nil && n > len(r.b) { // each value takes a byte at least
		r.err = errShort
	}
	if r.err != nil || n == 0 {
		return nil // a table of no columns: nil, as an absent tuple's
	}
	dst := values.Make(n)[:0]
	for i := 0; i < n && r.err == nil; i++ {
		kind := r.u8()
		switch kind {
		case 'n':
			if keyOnly {
				dst = append(dst, event.Value{Marker: event.MarkerAbsent})
			} else {
				dst = append(dst, event.Value{Marker: event.MarkerNull})
			}
		case 'u':
			dst = append(dst, event.Value{Marker: event.MarkerUnchanged})
		case 't':
			l := int(r.u32())
			if r.err != nil || l < 0 || l > len(r.b) {
				r.err = errShort
				return dst
			}
			dst = append(dst, event.Value{Marker: event.MarkerText, Data: r.b[:l:l]})
			r.b = r.b[l:]
		default:
			r.err = fmt.Errorf("unexpected tuple column kind %q (binary values are never requested)", kind)
		}
	}
	return dst
}

type pgoBegin struct {
	finalLSN   uint64
	commitTime int64 // microseconds since 2000-01-01
	xid        uint32
}

type pgoCommit struct {
	commitLSN uint64
	endLSN    uint64
}

type pgoRelationColumn struct {
	flags   byte
	name    string
	typeOID uint32
	typmod  int32
}

type pgoRelation struct {
	oid       uint32
	namespace string
	name      string
	replIdent byte
	columns   []pgoRelationColumn
}

func parseBegin(b []byte) (pgoBegin, error) {
	r := pgoReader{b: b}
	m := pgoBegin{finalLSN: r.u64(), commitTime: int64(r.u64()), xid: r.u32()}
	return m, r.err
}

func parseCommit(b []byte) (pgoCommit, error) {
	r := pgoReader{b: b}
	r.u8() // flags
	m := pgoCommit{commitLSN: r.u64(), endLSN: r.u64()}
	r.u64() // commit time (BEGIN's is used)
	return m, r.err
}

func parseRelation(b []byte) (pgoRelation, error) {
	r := pgoReader{b: b}
	m := pgoRelation{oid: r.u32(), namespace: r.cstring(), name: r.cstring(), replIdent: r.u8()}
	n := int(r.u16())
	for i := 0; i < n && r.err == nil; i++ {
		m.columns = append(m.columns, pgoRelationColumn{flags: r.u8(), name: r.cstring(), typeOID: r.u32(), typmod: int32(r.u32())})
	}
	return m, r.err
}

// parseChange parses an INSERT, UPDATE or DELETE body (after the type byte)
// into the relation OID and the new and old tuples, whose values are carved
// from values (nil: allocated).
func parseChange(typ byte, b []byte, values *slab.Slab[event.Value]) (rel uint32, newT, oldT []event.Value, err error) {
	r := pgoReader{b: b}
	rel = r.u32()
	switch typ {
	case 'I':
		if c := r.u8(); c != 'N' && r.err == nil {
			return 0, nil, nil, fmt.Errorf("INSERT: expected new tuple, got %q", c)
		}
		newT = r.tuple(values, false)
	case 'U':
		c := r.u8()
		if c == 'K' || c == 'O' {
			oldT = r.tuple(values, c == 'K')
			c = r.u8()
		}
		if c != 'N' && r.err == nil {
			return 0, nil, nil, fmt.Errorf("UPDATE: expected new tuple, got %q", c)
		}
		newT = r.tuple(values, false)
	case 'D':
		c := r.u8()
		if c != 'K' && c != 'O' && r.err == nil {
			return 0, nil, nil, fmt.Errorf("DELETE: expected old tuple, got %q", c)
		}
		// The deleted row's values travel as the change's New values.
		newT = r.tuple(values, c == 'K')
	}
	return rel, newT, oldT, r.err
}

func parseTruncate(b []byte) ([]uint32, error) {
	r := pgoReader{b: b}
	n := int(r.u32())
	r.u8() // options
	rels := make([]uint32, 0, n)
	for i := 0; i < n && r.err == nil; i++ {
		rels = append(rels, r.u32())
	}
	return rels, r.err
}

package kafka

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/pg2kafka/pg2kafka/event"
)

// The checkpoint's layout in the compacted checkpoint topic.
//
// A checkpoint is Flow's reduced state document (event.Checkpoint.State),
// but it is not stored as one record: with thousands of tables that record
// passes the broker's message size, and rewriting it with every backfill
// chunk writes the whole state thousands of times. It is stored as
//
//   - one base record keyed by the capture name, whose value is the state
//     without its table states ({"cursor":...}), carrying the headers
//     pg2kafka.within and pg2kafka.sweeps as before, and pg2kafka.parts: how
//     many table states the checkpoint has;
//   - one part record per table state, keyed by the capture name, a NUL
//     byte and the state key, whose value is the table state's JSON.
//
// Each commit writes the base record and the parts that changed since the
// last commit, and tombstones the parts of table states that are gone, all
// in the transaction of the records they cover (at-least-once: after them,
// parts before the base). Compaction keeps the last record of every key,
// which is exactly the last committed value of every part; a tombstone
// stands for a part that is gone, as its absence does once compaction drops
// it. Reading takes the last committed record of each key: the base's
// cursor and headers, with every part. A read never sees half a commit
// (read_committed), and the count in pg2kafka.parts checks that no part is
// missing.
//
// A base record without pg2kafka.parts is a whole state document, as
// versions before this layout wrote it (and as a document that cannot be
// split is still written): it replaces every part before it. The first
// commit after such a record writes every part.

// HeaderParts carries, on a checkpoint's base record, the number of table
// states stored as part records beside it.
const HeaderParts = "pg2kafka.parts"

// partSep separates the capture name from a state key in a part's key: a
// capture name has no NUL byte, so the keys of two captures never collide.
const partSep = 0

// partKey is the Kafka key of the part of stateKey.
func partKey(capture, stateKey string) []byte {
	k := make([]byte, 0, len(capture)+1+len(stateKey))
	k = append(k, capture...)
	k = append(k, partSep)
	return append(k, stateKey...)
}

// splitState splits a reduced state document into its base document and
// its table states by state key; ok is false when the document is not of
// that form (it is then written whole).
func splitState(doc []byte) (base []byte, parts map[string][]byte, ok bool) {
	var w struct {
		Cursor   *string                    `json:"cursor"`
		Bindings map[string]json.RawMessage `json:"bindingStateV1"`
	}
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&w); err != nil || dec.More() {
		return nil, nil, false
	}
	parts = make(map[string][]byte, len(w.Bindings))
	for k, v := range w.Bindings {
		if len(v) == 0 || string(v) == "null" {
			continue
		}
		parts[k] = v
	}
	if w.Cursor == nil {
		return []byte("{}"), parts, true
	}
	base, err := encodeDoc(*w.Cursor, nil)
	if err != nil {
		return nil, nil, false
	}
	return base, parts, true
}

// baseOf is the base document of a reduced state document (its cursor),
// read from its first members only.
func baseOf(doc []byte) ([]byte, bool) {
	dec := json.NewDecoder(bytes.NewReader(doc))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, false
	}
	name, err := dec.Token()
	if err != nil {
		return nil, false
	}
	switch name {
	case json.Delim('}'), "bindingStateV1":
		return []byte("{}"), true
	case "cursor":
		var cursor string
		if err := dec.Decode(&cursor); err != nil {
			return nil, false
		}
		base, err := encodeDoc(cursor, nil)
		return base, err == nil
	}
	return nil, false
}

// encodeDoc writes a state document as checkpoint.State.Marshal does:
// compact, keys sorted, no HTML escaping.
func encodeDoc(cursor string, parts map[string][]byte) ([]byte, error) {
	var w struct {
		Cursor   string                     `json:"cursor,omitempty"`
		Bindings map[string]json.RawMessage `json:"bindingStateV1,omitempty"`
	}
	w.Cursor = cursor
	if len(parts) > 0 {
		w.Bindings = make(map[string]json.RawMessage, len(parts))
		for k, v := range parts {
			w.Bindings[k] = v
		}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(&w); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// CheckpointRecords returns the records that store cp in the checkpoint
// topic given the parts the topic holds (known, by state key, as returned
// with the last read or write), and the parts the topic holds once they
// are committed. Parts come first and the base record last. The records
// must be committed together (one transaction) or, without transactions,
// in this order.
func CheckpointRecords(topic, capture string, known map[string][]byte, cp event.Checkpoint) (recs []*kgo.Record, next map[string][]byte) {
	var base []byte
	var parts map[string][]byte
	var ok bool
	if cp.Tables != nil {
		base, ok = baseOf(cp.State)
		parts = cp.Tables
	}
	if !ok {
		base, parts, ok = splitState(cp.State)
	}
	var headers []kgo.RecordHeader
	if cp.Within != nil {
		headers = append(headers, kgo.RecordHeader{Key: HeaderWithin, Value: cp.Within})
	}
	if cp.Sweeps != nil {
		headers = append(headers, kgo.RecordHeader{Key: HeaderSweeps, Value: cp.Sweeps})
	}
	if !ok {
		// Not a state document this layout splits: written whole, it
		// replaces every part on reading; the parts are tombstoned too.
		parts, base = nil, cp.State
	} else {
		headers = append(headers, kgo.RecordHeader{Key: HeaderParts, Value: strconv.AppendInt(nil, int64(len(parts)), 10)})
	}
	changed := make([]string, 0)
	for k, v := range parts {
		if old, had := known[k]; !had || !bytes.Equal(old, v) {
			changed = append(changed, k)
		}
	}
	for k := range known {
		if _, still := parts[k]; !still {
			changed = append(changed, k)
		}
	}
	slices.Sort(changed) // a deterministic order, for tests and reading logs
	recs = make([]*kgo.Record, 0, len(changed)+1)
	for _, k := range changed {
		// A nil value (a part gone) is a tombstone.
		recs = append(recs, &kgo.Record{Topic: topic, Key: partKey(capture, k), Value: parts[k]})
	}
	recs = append(recs, &kgo.Record{Topic: topic, Key: []byte(capture), Value: base, Headers: headers})
	if parts == nil {
		parts = map[string][]byte{}
	}
	return recs, parts
}

// CheckpointReader reassembles a capture's checkpoint from the committed
// records of the checkpoint topic, given in offset order.
type CheckpointReader struct {
	capture string
	prefix  []byte
	base    *kgo.Record
	parts   map[string][]byte
}

// NewCheckpointReader reads the checkpoint of capture.
func NewCheckpointReader(capture string) *CheckpointReader {
	return &CheckpointReader{capture: capture, prefix: partKey(capture, ""), parts: map[string][]byte{}}
}

// Add takes the next committed record of the topic.
func (r *CheckpointReader) Add(rec *kgo.Record) {
	switch {
	case string(rec.Key) == r.capture:
		if rec.Value == nil {
			r.base = nil // a tombstone of the checkpoint
			clear(r.parts)
			return
		}
		r.base = rec
		if _, split := header(rec, HeaderParts); !split {
			// A whole state (the layout before parts): it replaces them.
			clear(r.parts)
		}
	case bytes.HasPrefix(rec.Key, r.prefix):
		k := string(rec.Key[len(r.prefix):])
		if rec.Value == nil {
			delete(r.parts, k)
		} else {
			r.parts[k] = rec.Value
		}
	}
}

// Checkpoint returns the checkpoint read (State nil if there is none), the
// Kafka timestamp of its base record, and the parts the topic holds (for
// CheckpointRecords).
func (r *CheckpointReader) Checkpoint() (event.Checkpoint, time.Time, map[string][]byte, error) {
	parts := make(map[string][]byte, len(r.parts))
	for k, v := range r.parts {
		parts[k] = v
	}
	if r.base == nil {
		return event.Checkpoint{}, time.Time{}, parts, nil
	}
	var cp event.Checkpoint
	cp.Within, _ = header(r.base, HeaderWithin)
	cp.Sweeps, _ = header(r.base, HeaderSweeps)
	count, split := header(r.base, HeaderParts)
	if !split {
		cp.State = r.base.Value
		return cp, r.base.Timestamp, parts, nil
	}
	n, err := strconv.Atoi(string(count))
	if err != nil || n != len(parts) {
		return event.Checkpoint{}, time.Time{}, nil, fmt.Errorf("the checkpoint of capture %q has %d table state records where its base record (header %s %q) says %d: the checkpoint topic lost records (was its cleanup.policy changed from compact, or records deleted?); restore it with pg2kafka state import, or start over with pg2kafka state reset --yes",
			r.capture, len(parts), HeaderParts, count, n)
	}
	var base struct {
		Cursor string `json:"cursor"`
	}
	if err := json.Unmarshal(r.base.Value, &base); err != nil {
		return event.Checkpoint{}, time.Time{}, nil, fmt.Errorf("the checkpoint of capture %q: base record %q: %w (rewrite it with pg2kafka state import, or pg2kafka state reset --yes)", r.capture, r.base.Value, err)
	}
	doc, err := encodeDoc(base.Cursor, parts)
	if err != nil {
		return event.Checkpoint{}, time.Time{}, nil, fmt.Errorf("the checkpoint of capture %q: %w (rewrite it with pg2kafka state import, or pg2kafka state reset --yes)", r.capture, err)
	}
	cp.State = doc
	return cp, r.base.Timestamp, parts, nil
}

// header returns the value of a record's header, and whether it has it.
func header(r *kgo.Record, key string) ([]byte, bool) {
	for _, h := range r.Headers {
		if h.Key == key {
			return h.Value, true
		}
	}
	return nil, false
}

// Package checkpoint models pg2kafka's persisted capture state in the exact
// format of Estuary Flow's PostgreSQL capture (source-postgres), so that a
// state can move between the two.
//
// The persisted state is one JSON object with at most two fields: "cursor",
// the replication resume LSN, and "bindingStateV1", a map from state key (see
// StateKey) to per-table state. Flow's connector emits checkpoints as RFC 7396
// merge patches and the runtime stores their reduction; State is always that
// reduced form, which never contains a JSON null. Apply reduces a patch onto a
// State, and Patch and Diff produce Flow-style patches.
//
// The package performs no I/O.
package checkpoint

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
)

// Mode is a table state's mode. The values are the exact strings Flow uses.
type Mode string

// The table modes.
const (
	// ModePending marks a binding that is new (or came back) and has not
	// been activated yet; it gets a real mode after the startup catch-up.
	ModePending Mode = "Pending"
	// ModeBackfill is a keyed, precise backfill in progress: replication
	// events whose row key is greater than Scanned are dropped.
	ModeBackfill Mode = "Backfill"
	// ModeUnfilteredBackfill is a keyed backfill in progress without
	// replication filtering.
	ModeUnfilteredBackfill Mode = "UnfilteredBackfill"
	// ModeKeylessBackfill is a backfill by physical row location (ctid page
	// ranges); Scanned holds "(page,offset)" text (see FormatTID).
	ModeKeylessBackfill Mode = "KeylessBackfill"
	// ModeActive means the backfill finished or was skipped; only
	// replication events are emitted.
	ModeActive Mode = "Active"
	// ModeIgnore marks a state entry whose binding was removed from the
	// capture. Such entries are kept forever.
	ModeIgnore Mode = "Ignore"
	// ModeMissing marks a table that disappeared during replication.
	ModeMissing Mode = "Missing"
)

// ValidMode reports whether m is one of the mode constants.
func ValidMode(m Mode) bool {
	switch m {
	case ModePending, ModeBackfill, ModeUnfilteredBackfill, ModeKeylessBackfill,
		ModeActive, ModeIgnore, ModeMissing:
		return true
	}
	return false
}

// IsBackfillMode reports whether m is one of the three backfilling modes
// (Backfill, UnfilteredBackfill, KeylessBackfill), the only modes in which
// Scanned may be set.
func IsBackfillMode(m Mode) bool {
	return m == ModeBackfill || m == ModeUnfilteredBackfill || m == ModeKeylessBackfill
}

// State is the reduced capture state.
type State struct {
	// Cursor is the replication resume position in canonical LSN text form
	// (see LSN.String); empty means absent, i.e. "start from the current
	// end of the WAL".
	Cursor string `json:"cursor,omitempty"`

	// Bindings maps state keys (see StateKey) to table states. A nil
	// *TableState value is treated as absent everywhere.
	Bindings map[string]*TableState `json:"bindingStateV1,omitempty"`
}

// TableState is the state of one binding (one state key).
type TableState struct {
	// Mode is one of the mode constants.
	Mode Mode `json:"mode"`

	// KeyColumns are the backfill key's column names in database spelling;
	// nil (or empty, which is treated the same) for keyless tables.
	KeyColumns []string `json:"key_columns,omitempty"`

	// Scanned is the backfill cursor: the row key of the last row of the
	// last completed chunk for keyed backfills, or "(page,0)" text for
	// keyless ones. Nil (or empty, which is treated the same) when no chunk
	// has completed or the backfill is over. It is serialized as standard
	// base64 with padding.
	Scanned []byte `json:"scanned,omitempty"`

	// Metadata is connector-specific JSON; source-postgres never sets it.
	// Empty or JSON null means absent. Object members whose value is null
	// are removed when a state is parsed or marshalled, as Flow's merge
	// patch reduction would.
	Metadata json.RawMessage `json:"metadata,omitempty"`

	// Backfilled counts the rows emitted by backfill for this state key.
	// It is always present in the serialized form (0 when unset).
	Backfilled int64 `json:"backfilled"`
}

// Clone returns a deep copy of t, or nil if t is nil.
func (t *TableState) Clone() *TableState {
	if t == nil {
		return nil
	}
	c := *t
	c.KeyColumns = slices.Clone(t.KeyColumns)
	c.Scanned = bytes.Clone(t.Scanned)
	c.Metadata = bytes.Clone(t.Metadata)
	return &c
}

// Clone returns a deep copy of s, or nil if s is nil.
func (s *State) Clone() *State {
	if s == nil {
		return nil
	}
	c := &State{Cursor: s.Cursor}
	if s.Bindings != nil {
		c.Bindings = make(map[string]*TableState, len(s.Bindings))
		for k, v := range s.Bindings {
			c.Bindings[k] = v.Clone()
		}
	}
	return c
}

// wireState and wireTable are the decoding forms, which distinguish absent
// and null fields from zero values.
type wireState struct {
	Cursor   *string               `json:"cursor"`
	Bindings map[string]*wireTable `json:"bindingStateV1"`
}

type wireTable struct {
	Mode       *string         `json:"mode"`
	KeyColumns []*string       `json:"key_columns"`
	Scanned    []byte          `json:"scanned"`
	Metadata   json.RawMessage `json:"metadata"`
	Backfilled *int64          `json:"backfilled"`
}

// Parse decodes a reduced state.
//
// Decoding is strict, like Flow's: unknown fields at the top level or inside
// a table state are an error, as are a non-string cursor, a cursor that is
// not an LSN, an unknown or missing mode, a non-integer backfilled and
// trailing data. A JSON null anywhere (including a whole table state) is
// accepted and means absent. Empty input, "null" and "{}" give an empty
// state. The cursor is normalised to its canonical form, empty key_columns
// and scanned to nil, and null object members inside metadata are removed.
//
// Parse checks structure only; see Validate for the semantic rules.
func Parse(data []byte) (*State, error) {
	st := &State{}
	if len(bytes.TrimSpace(data)) == 0 {
		return st, nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var w *wireState
	if err := dec.Decode(&w); err != nil {
		return nil, fmt.Errorf("unable to parse state checkpoint: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("unable to parse state checkpoint: trailing data after the state object")
	}
	if w == nil {
		return st, nil
	}
	if w.Cursor != nil {
		c, err := canonicalCursor(*w.Cursor)
		if err != nil {
			return nil, fmt.Errorf("unable to parse state checkpoint: %w", err)
		}
		st.Cursor = c
	}
	for key, wt := range w.Bindings {
		if wt == nil {
			continue
		}
		ts, err := wt.tableState()
		if err != nil {
			return nil, fmt.Errorf("unable to parse state checkpoint: binding %q: %w", key, err)
		}
		if st.Bindings == nil {
			st.Bindings = make(map[string]*TableState, len(w.Bindings))
		}
		st.Bindings[key] = ts
	}
	return st, nil
}

func (w *wireTable) tableState() (*TableState, error) {
	if w.Mode == nil {
		return nil, errors.New("missing mode")
	}
	if !ValidMode(Mode(*w.Mode)) {
		return nil, fmt.Errorf("unknown mode %q", *w.Mode)
	}
	ts := &TableState{Mode: Mode(*w.Mode)}
	for i, c := range w.KeyColumns {
		if c == nil {
			return nil, fmt.Errorf("key_columns[%d] is null", i)
		}
		ts.KeyColumns = append(ts.KeyColumns, *c)
	}
	if len(w.Scanned) > 0 {
		ts.Scanned = w.Scanned
	}
	md, err := normalizeMetadata(w.Metadata)
	if err != nil {
		return nil, err
	}
	ts.Metadata = md
	if w.Backfilled != nil {
		ts.Backfilled = *w.Backfilled
	}
	return ts, nil
}

// normalizeMetadata returns nil for empty or null metadata and otherwise the
// compact JSON value with null object members removed (what an RFC 7396
// reduction stores).
func normalizeMetadata(md json.RawMessage) (json.RawMessage, error) {
	md = bytes.TrimSpace(md)
	if len(md) == 0 || string(md) == "null" {
		return nil, nil
	}
	v, err := decodeJSON(md)
	if err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
	}
	v = mergePatch(nil, v)
	if v == nil {
		return nil, nil
	}
	out, err := encodeJSON(v)
	if err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
	}
	return out, nil
}

// normalized returns the marshalled form of s's content: canonical cursor,
// no nil entries, empty slices dropped, metadata normalised. It fails on an
// unknown mode or an invalid cursor, so that Marshal output always parses.
func (s *State) normalized() (*State, error) {
	out := &State{}
	if s == nil {
		return out, nil
	}
	c, err := canonicalCursor(s.Cursor)
	if err != nil {
		return nil, err
	}
	out.Cursor = c
	for key, ts := range s.Bindings {
		if ts == nil {
			continue
		}
		n, err := ts.normalized()
		if err != nil {
			return nil, fmt.Errorf("binding %q: %w", key, err)
		}
		if out.Bindings == nil {
			out.Bindings = make(map[string]*TableState, len(s.Bindings))
		}
		out.Bindings[key] = n
	}
	return out, nil
}

func (t *TableState) normalized() (*TableState, error) {
	if !ValidMode(t.Mode) {
		return nil, fmt.Errorf("unknown mode %q", t.Mode)
	}
	n := &TableState{Mode: t.Mode, Backfilled: t.Backfilled}
	if len(t.KeyColumns) > 0 {
		n.KeyColumns = t.KeyColumns
	}
	if len(t.Scanned) > 0 {
		n.Scanned = t.Scanned
	}
	md, err := normalizeMetadata(t.Metadata)
	if err != nil {
		return nil, err
	}
	n.Metadata = md
	return n, nil
}

// Marshal encodes s as a reduced state: compact JSON with sorted map keys,
// no null values and no fields beyond those of State and TableState
// ("backfilled" is always present in a table state). A nil State encodes as
// "{}". It fails (and never produces output that Parse would reject) if the
// cursor is not an LSN or a mode is unknown; it does not apply Validate.
func (s *State) Marshal() ([]byte, error) {
	n, err := s.normalized()
	if err != nil {
		return nil, fmt.Errorf("marshal state checkpoint: %w", err)
	}
	out, err := encodeJSON(n)
	if err != nil {
		return nil, fmt.Errorf("marshal state checkpoint: %w", err)
	}
	return out, nil
}

// encodeJSON marshals v compactly without HTML escaping.
func encodeJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// decodeJSON decodes exactly one JSON value, keeping numbers exact.
func decodeJSON(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("trailing data after JSON value")
	}
	return v, nil
}

// Keys returns the state keys of s's non-nil table states, sorted.
func (s *State) Keys() []string {
	if s == nil {
		return nil
	}
	keys := make([]string, 0, len(s.Bindings))
	for k, v := range s.Bindings {
		if v != nil {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

// CursorLSN returns the cursor as an LSN; ok is false if the cursor is
// absent. An unparsable cursor is an error.
func (s *State) CursorLSN() (lsn LSN, ok bool, err error) {
	if s == nil || s.Cursor == "" {
		return 0, false, nil
	}
	l, err := ParseLSN(s.Cursor)
	if err != nil {
		return 0, false, fmt.Errorf("cursor: %w", err)
	}
	return l, true, nil
}

// SetCursor sets the cursor to the canonical form of l.
func (s *State) SetCursor(l LSN) {
	s.Cursor = l.String()
}

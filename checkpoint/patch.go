package checkpoint

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
)

// Apply reduces an RFC 7396 JSON merge patch (one Flow checkpoint) onto s,
// as the Flow runtime does: members of the patch replace those of the
// state, objects are merged recursively, and a null deletes the member (so
// "scanned":null removes the backfill cursor and "cursor":null the cursor).
//
// The patch must be a JSON object. The reduced result is decoded as strictly
// as Parse decodes a state, so a patch that introduces an unknown field, a
// non-string cursor or an unknown mode is an error. On error s is left
// unchanged.
func (s *State) Apply(patch []byte) error {
	if s == nil {
		return errors.New("apply checkpoint patch: nil state")
	}
	p, err := decodeJSON(patch)
	if err != nil {
		return fmt.Errorf("apply checkpoint patch: %w", err)
	}
	if _, ok := p.(map[string]any); !ok {
		return fmt.Errorf("apply checkpoint patch: patch is %s, not an object", jsonKind(p))
	}
	cur, err := s.Marshal()
	if err != nil {
		return fmt.Errorf("apply checkpoint patch: current state: %w", err)
	}
	target, err := decodeJSON(cur)
	if err != nil {
		return fmt.Errorf("apply checkpoint patch: current state: %w", err)
	}
	reduced, err := encodeJSON(mergePatch(target, p))
	if err != nil {
		return fmt.Errorf("apply checkpoint patch: %w", err)
	}
	next, err := Parse(reduced)
	if err != nil {
		return fmt.Errorf("apply checkpoint patch: %w", err)
	}
	*s = *next
	return nil
}

// mergePatch implements RFC 7396 MergePatch(target, patch). Values are as
// decoded by encoding/json into any. Target maps may be modified.
func mergePatch(target, patch any) any {
	p, ok := patch.(map[string]any)
	if !ok {
		return patch
	}
	t, ok := target.(map[string]any)
	if !ok {
		t = make(map[string]any, len(p))
	}
	for k, v := range p {
		if v == nil {
			delete(t, k)
			continue
		}
		t[k] = mergePatch(t[k], v)
	}
	return t
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case json.Number, float64:
		return "a number"
	case string:
		return "a string"
	case []any:
		return "an array"
	default:
		return "an object"
	}
}

// patchTable is a table state as Flow's connector serializes it in a
// checkpoint patch: key_columns and scanned are always present (null when
// unset) so that they are deleted from the reduced state.
type patchTable struct {
	Mode       Mode            `json:"mode"`
	KeyColumns []string        `json:"key_columns"`
	Scanned    []byte          `json:"scanned"`
	Metadata   json.RawMessage `json:"metadata,omitempty"`
	Backfilled int64           `json:"backfilled"`
}

type patchState struct {
	Cursor   *string                `json:"cursor"`
	Bindings map[string]*patchTable `json:"bindingStateV1,omitempty"`
}

var jsonNull = json.RawMessage("null")

func newPatchTable(t *TableState, clearMetadata bool) *patchTable {
	pt := &patchTable{Mode: t.Mode, KeyColumns: t.KeyColumns, Scanned: t.Scanned, Metadata: t.Metadata, Backfilled: t.Backfilled}
	if pt.Metadata == nil && (clearMetadata || t.Mode == ModeIgnore || t.Mode == ModeMissing) {
		pt.Metadata = jsonNull
	}
	return pt
}

// Patch returns a Flow-style checkpoint merge patch carrying s's cursor
// (null when absent) and, in full, the table states of the given state keys:
// "mode", "key_columns" and "scanned" (null when unset), "backfilled", and
// "metadata" when set, or as null for Ignore and Missing entries. A key with
// no table state in s is written as null, deleting it. Applying the patch to
// any state whose other entries already equal s's gives s.
func (s *State) Patch(keys ...string) ([]byte, error) {
	n, err := s.normalized()
	if err != nil {
		return nil, fmt.Errorf("build checkpoint patch: %w", err)
	}
	return buildPatch(n, keys, nil)
}

// Diff returns a Flow-style checkpoint merge patch that turns prev into
// next: it always carries next's cursor (null when absent) and carries every
// table state that differs, in the form Patch uses (with "metadata":null
// also when prev had metadata and next has none), or null for entries next
// no longer has. A nil State is treated as empty.
func Diff(prev, next *State) ([]byte, error) {
	p, err := prev.normalized()
	if err != nil {
		return nil, fmt.Errorf("diff checkpoint: previous state: %w", err)
	}
	n, err := next.normalized()
	if err != nil {
		return nil, fmt.Errorf("diff checkpoint: next state: %w", err)
	}
	var keys []string
	for k, nt := range n.Bindings {
		if !tableEqual(p.Bindings[k], nt) {
			keys = append(keys, k)
		}
	}
	for k := range p.Bindings {
		if _, ok := n.Bindings[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return buildPatch(n, keys, p)
}

func buildPatch(n *State, keys []string, prev *State) ([]byte, error) {
	ps := patchState{}
	if n.Cursor != "" {
		ps.Cursor = &n.Cursor
	}
	for _, k := range keys {
		if ps.Bindings == nil {
			ps.Bindings = make(map[string]*patchTable, len(keys))
		}
		t := n.Bindings[k]
		if t == nil {
			ps.Bindings[k] = nil // encoded as null: delete the entry
			continue
		}
		hadMetadata := prev != nil && prev.Bindings[k] != nil && prev.Bindings[k].Metadata != nil
		ps.Bindings[k] = newPatchTable(t, hadMetadata)
	}
	out, err := encodeJSON(ps)
	if err != nil {
		return nil, fmt.Errorf("build checkpoint patch: %w", err)
	}
	return out, nil
}

// tableEqual compares two normalised table states.
func tableEqual(a, b *TableState) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Mode == b.Mode && a.Backfilled == b.Backfilled &&
		slices.Equal(a.KeyColumns, b.KeyColumns) &&
		bytes.Equal(a.Scanned, b.Scanned) &&
		bytes.Equal(a.Metadata, b.Metadata)
}

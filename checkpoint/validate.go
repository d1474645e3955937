package checkpoint

import (
	"errors"
	"fmt"
	"slices"
)

// Validate checks s against the rules a state written by Flow's
// source-postgres or by pg2kafka always satisfies, and returns all
// violations joined (nil if there are none; a nil State is valid):
//
//   - The cursor is empty or an LSN (any accepted spelling; Marshal writes
//     the canonical one).
//   - Every state key is non-empty, parses with ParseStateKey and is
//     canonical: StateKey of its parsed path and counter gives it back
//     (uppercase hex, only the characters that must be escaped escaped).
//   - Every mode is one of the mode constants; backfilled is never negative;
//     metadata, if set, is valid JSON.
//   - Key columns, if set, are non-empty and distinct names.
//   - Scanned is set only in Backfill, UnfilteredBackfill and
//     KeylessBackfill modes.
//   - Backfill and UnfilteredBackfill have key columns.
//   - KeylessBackfill has no key columns, and its scanned, if set, is a
//     tid "(page,offset)" (see ParseTID).
//   - Pending and Ignore entries are fresh: no key columns, scanned or
//     metadata, and backfilled 0 (this is what resetting an entry leaves).
//   - Active and Missing entries need nothing beyond a mode (Flow accepts
//     Active entries without backfilled or key columns).
//
// Nil table states are ignored (they mean absent).
func (s *State) Validate() error {
	if s == nil {
		return nil
	}
	var errs []error
	if s.Cursor != "" {
		if _, err := ParseLSN(s.Cursor); err != nil {
			errs = append(errs, fmt.Errorf("cursor: %w", err))
		}
	}
	for _, key := range s.Keys() {
		if err := validateKey(key); err != nil {
			errs = append(errs, err)
		}
		if err := s.Bindings[key].validate(); err != nil {
			errs = append(errs, fmt.Errorf("binding %q: %w", key, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("invalid state checkpoint: %w", err)
	}
	return nil
}

func validateKey(key string) error {
	path, counter, err := ParseStateKey(key)
	if err != nil {
		return err
	}
	if canon := StateKey(path, counter); canon != key {
		return fmt.Errorf("state key %q is not canonical (want %q)", key, canon)
	}
	return nil
}

// validate checks one table state; see State.Validate.
func (t *TableState) validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf(format, args...))
	}
	if !ValidMode(t.Mode) {
		bad("unknown mode %q", t.Mode)
	}
	if t.Backfilled < 0 {
		bad("negative backfilled %d", t.Backfilled)
	}
	md, err := normalizeMetadata(t.Metadata)
	if err != nil {
		errs = append(errs, err)
	}
	for i, c := range t.KeyColumns {
		if c == "" {
			bad("key_columns[%d] is empty", i)
		} else if slices.Index(t.KeyColumns, c) < i {
			bad("key_columns[%d] %q is a duplicate", i, c)
		}
	}
	if len(t.Scanned) > 0 && !IsBackfillMode(t.Mode) {
		bad("scanned is set in mode %s", t.Mode)
	}
	switch t.Mode {
	case ModeBackfill, ModeUnfilteredBackfill:
		if len(t.KeyColumns) == 0 {
			bad("mode %s without key_columns", t.Mode)
		}
	case ModeKeylessBackfill:
		if len(t.KeyColumns) > 0 {
			bad("mode %s with key_columns", t.Mode)
		}
		if _, _, err := ParseTID(t.Scanned); err != nil {
			bad("scanned: %w", err)
		}
	case ModePending, ModeIgnore:
		if len(t.KeyColumns) > 0 {
			bad("mode %s with key_columns", t.Mode)
		}
		if md != nil {
			bad("mode %s with metadata", t.Mode)
		}
		if t.Backfilled != 0 {
			bad("mode %s with backfilled %d", t.Mode, t.Backfilled)
		}
	}
	return errors.Join(errs...)
}

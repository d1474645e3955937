package checkpoint

// Binding is one configured binding of the capture, as far as the state is
// concerned.
type Binding struct {
	// StateKey is the binding's state key (see StateKey and NewBinding).
	StateKey string
}

// NewBinding returns the Binding for a resource path ([schema, table]) and
// backfill counter.
func NewBinding(resourcePath []string, backfillCounter int) Binding {
	return Binding{StateKey: StateKey(resourcePath, backfillCounter)}
}

// Reconcile applies Flow's startup reconciliation (performed at every start,
// before replication begins) to st and reports whether st changed:
//
//  1. Every configured binding whose state key has no table state, or whose
//     table state has mode Ignore, gets a fresh {mode: Pending}: key
//     columns, scanned, metadata and backfilled are all reset. Such a
//     binding counts as new. Bindings listed twice count once.
//  2. Every table state whose key is not a configured binding and whose mode
//     is not already Ignore is replaced by {mode: Ignore}: key columns,
//     scanned and metadata are cleared and backfilled becomes 0. Existing
//     Ignore entries are left exactly as they are, and entries are never
//     deleted (nil table states, which mean absent, are dropped).
//  3. If every configured binding is new, or there are no bindings, the
//     cursor is cleared, so that replication starts from the current end of
//     the WAL (the recovery path for a lost replication slot).
//
// Configured bindings that already have a non-Ignore table state are left
// untouched, whatever their mode. The caller should emit a checkpoint with
// the result (Diff against a Clone taken beforehand gives Flow's patch).
// A nil st is left alone and reports false.
func Reconcile(st *State, bindings []Binding) (changed bool) {
	if st == nil {
		return false
	}
	if st.Bindings == nil {
		st.Bindings = make(map[string]*TableState, len(bindings))
	}
	configured := make(map[string]bool, len(bindings))
	allNew := true
	for _, b := range bindings {
		if configured[b.StateKey] {
			continue
		}
		configured[b.StateKey] = true
		ts := st.Bindings[b.StateKey]
		if ts != nil && ts.Mode != ModeIgnore {
			allNew = false
			continue
		}
		st.Bindings[b.StateKey] = &TableState{Mode: ModePending}
		changed = true
	}
	for key, ts := range st.Bindings {
		if configured[key] {
			continue
		}
		if ts == nil {
			delete(st.Bindings, key)
			continue
		}
		if ts.Mode == ModeIgnore {
			continue
		}
		st.Bindings[key] = &TableState{Mode: ModeIgnore}
		changed = true
	}
	if allNew && st.Cursor != "" {
		st.Cursor = ""
		changed = true
	}
	return changed
}

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/rs/zerolog"
	"golang.org/x/term"

	"github.com/pg2kafka/pg2kafka/checkpoint"
	"github.com/pg2kafka/pg2kafka/config"
	"github.com/pg2kafka/pg2kafka/event"
	"github.com/pg2kafka/pg2kafka/schema/rowkey"
	"github.com/pg2kafka/pg2kafka/sink/kafka"
	"github.com/pg2kafka/pg2kafka/source"
)

// openSink connects a sink for the state tools. transactional sinks use the
// capture's own transactional ID (fencing any predecessor): only for tools
// that write, and only once no capture runs.
func openSink(ctx context.Context, cfg *config.Config, log zerolog.Logger, transactional bool) (*kafka.Sink, func(), error) {
	seeds, stopBroker, err := brokers(cfg, log)
	if err != nil {
		return nil, nil, err
	}
	opts, err := sinkOptions(cfg, transactional, log)
	if err != nil {
		stopBroker()
		return nil, nil, err
	}
	sink, err := kafka.New(seeds, opts...)
	if err != nil {
		stopBroker()
		return nil, nil, err
	}
	return sink, func() { sink.Close(); stopBroker() }, nil
}

// readCheckpoint reads the capture's checkpoint without creating the topic
// or fencing anyone; raw is nil when there is none.
func readCheckpoint(ctx context.Context, cfg *config.Config, sink *kafka.Sink) (raw []byte, st *checkpoint.State, err error) {
	exists, err := sink.CheckpointTopicExists(ctx)
	if err != nil {
		return nil, nil, err
	}
	if exists {
		cp, err := sink.ReadCheckpoint(ctx)
		if err != nil {
			return nil, nil, err
		}
		raw = cp.State
	}
	st, err = checkpoint.Parse(raw)
	if err != nil {
		return nil, nil, fmt.Errorf("the checkpoint of capture %q in %s: %w (replace it with pg2kafka state import, or pg2kafka state reset --yes)", cfg.CaptureName(), cfg.CheckpointTopic(), err)
	}
	return raw, st, nil
}

// shownTable is one table state as `state show` prints it.
type shownTable struct {
	Table           string          `json:"table"`
	BackfillCounter int             `json:"backfillCounter"`
	Mode            checkpoint.Mode `json:"mode"`
	KeyColumns      []string        `json:"key_columns,omitempty"`
	Scanned         []byte          `json:"scanned,omitempty"`
	ScannedDecoded  any             `json:"scannedDecoded,omitempty"`
	Metadata        json.RawMessage `json:"metadata,omitempty"`
	Backfilled      int64           `json:"backfilled"`
	Note            string          `json:"note,omitempty"`
}

// runStateShow prints the capture's checkpoint with each state key's table
// and backfill counter and each scanned cursor decoded.
func runStateShow(ctx context.Context, cfg *config.Config, log zerolog.Logger) error {
	sink, closeSink, err := openSink(ctx, cfg, log, false)
	if err != nil {
		return err
	}
	defer closeSink()
	raw, st, err := readCheckpoint(ctx, cfg, sink)
	if err != nil {
		return err
	}
	out := map[string]any{"capture": cfg.CaptureName(), "checkpointTopic": cfg.CheckpointTopic(), "exists": raw != nil}
	if st.Cursor != "" {
		out["cursor"] = st.Cursor
	}
	tables := map[string]*shownTable{}
	for key, ts := range st.Bindings {
		tables[key] = showTable(key, ts)
	}
	out["bindings"] = tables
	enc := json.NewEncoder(os.Stdout)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

func showTable(key string, ts *checkpoint.TableState) *shownTable {
	s := &shownTable{Mode: ts.Mode, KeyColumns: ts.KeyColumns, Scanned: ts.Scanned, Metadata: ts.Metadata, Backfilled: ts.Backfilled}
	if path, counter, err := checkpoint.ParseStateKey(key); err == nil {
		s.Table, s.BackfillCounter = strings.Join(path, "."), counter
	}
	if len(ts.Scanned) > 0 {
		if ts.Mode == checkpoint.ModeKeylessBackfill {
			if page, off, err := checkpoint.ParseTID(ts.Scanned); err == nil {
				s.ScannedDecoded = map[string]uint32{"page": page, "offset": off}
			} else {
				s.ScannedDecoded = "undecodable: " + err.Error()
			}
		} else if vals, err := rowkey.DecodeTuple(ts.Scanned); err == nil {
			s.ScannedDecoded = vals // byte strings print as base64
		} else {
			s.ScannedDecoded = "undecodable: " + err.Error()
		}
	}
	switch ts.Mode {
	case checkpoint.ModePending:
		s.Note = "backfills from the start at the next run"
	case checkpoint.ModeBackfill, checkpoint.ModeUnfilteredBackfill, checkpoint.ModeKeylessBackfill:
		s.Note = "backfill in progress; resumes after scannedDecoded"
	case checkpoint.ModeIgnore:
		s.Note = "not a binding any more"
	}
	return s
}

// runStateExport prints the capture's reduced state exactly as stored: the
// JSON a Flow source-postgres capture accepts as its state.
func runStateExport(ctx context.Context, cfg *config.Config, log zerolog.Logger) error {
	sink, closeSink, err := openSink(ctx, cfg, log, false)
	if err != nil {
		return err
	}
	defer closeSink()
	raw, _, err := readCheckpoint(ctx, cfg, sink)
	if err != nil {
		return err
	}
	if raw == nil {
		raw = []byte("{}")
		fmt.Fprintf(os.Stderr, "pg2kafka state export: capture %q has no checkpoint in %s yet\n", cfg.CaptureName(), cfg.CheckpointTopic())
	}
	_, err = fmt.Printf("%s\n", raw)
	return err
}

// guardIdle connects to PostgreSQL and refuses when a process streams the
// capture's slot: the state may only be replaced while no capture runs.
func guardIdle(ctx context.Context, cfg *config.Config) (*source.Database, source.SlotInfo, error) {
	db, err := source.Connect(ctx, sourceConfig(cfg))
	if err != nil {
		return nil, source.SlotInfo{}, fmt.Errorf("connecting to PostgreSQL to make sure no capture runs: %w", err)
	}
	info, err := db.Slot(ctx)
	if err != nil {
		db.Close()
		return nil, info, err
	}
	if info.Active {
		db.Close()
		return nil, info, fmt.Errorf("replication slot %q is in use: a capture is running (stop it first: its state would be overwritten, and writing the checkpoint fences its Kafka producer)", cfg.Source.Advanced.SlotName)
	}
	return db, info, nil
}

// confirm asks the user to type "yes", unless yes is set.
func confirm(yes bool, prompt string) error {
	if yes {
		return nil
	}
	if !term.IsTerminal(int(os.Stdin.Fd())) {
		return errors.New("refusing without --yes: stdin is not a terminal to confirm on")
	}
	fmt.Fprintf(os.Stderr, "%s\nType yes to continue: ", prompt)
	line, err := bufio.NewReader(os.Stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("reading the confirmation: %w", err)
	}
	if strings.TrimSpace(line) != "yes" {
		return errors.New("cancelled: nothing was changed")
	}
	return nil
}

// configuredKeys returns the state keys of the capture's bindings, or nil
// when they cannot be resolved.
func configuredKeys(ctx context.Context, cfg *config.Config, db *source.Database) map[string]string {
	tables, err := db.Discover(ctx)
	if err != nil {
		return nil
	}
	binds, err := bindings(cfg, db, tables)
	if err != nil {
		return nil
	}
	out := map[string]string{}
	for _, b := range binds {
		out[b.StateKey] = b.Schema + "." + b.Table
	}
	return out
}

// writeState replaces the capture's checkpoint with st.
func writeState(ctx context.Context, cfg *config.Config, log zerolog.Logger, st *checkpoint.State) error {
	data, err := st.Marshal()
	if err != nil {
		return err
	}
	sink, closeSink, err := openSink(ctx, cfg, log, true)
	if err != nil {
		return err
	}
	defer closeSink()
	if err := sink.Init(ctx, nil); err != nil {
		return err
	}
	// A position inside a split transaction (pg2kafka.within) and the
	// unfinished sweeps belong to the replaced state's cursor: they are
	// kept when the new state resumes at that same cursor (an export
	// imported back), so that the next run still skips the part committed;
	// otherwise dropped.
	cp := event.Checkpoint{State: data}
	if st.Cursor != "" {
		old, err := sink.ReadCheckpoint(ctx)
		if err != nil {
			return err
		}
		if prev, err := checkpoint.Parse(old.State); err == nil && old.State != nil && prev.Cursor == st.Cursor {
			cp.Within, cp.Sweeps = old.Within, old.Sweeps
		}
	}
	return sink.WriteCheckpoint(ctx, cp)
}

// runStateImport validates a Flow state file and writes it as the
// capture's checkpoint, refusing while a capture runs and, unless --force,
// when the slot cannot resume from the state's cursor.
func runStateImport(ctx context.Context, cfg *config.Config, log zerolog.Logger, tf toolFlags) error {
	file := tf.args[0]
	var data []byte
	var err error
	if file == "-" {
		data, err = io.ReadAll(os.Stdin)
	} else {
		data, err = os.ReadFile(file)
	}
	if err != nil {
		return fmt.Errorf("state import: reading %s: %w", file, err)
	}
	st, err := checkpoint.Parse(data)
	if err == nil {
		err = st.Validate()
	}
	if err != nil {
		return fmt.Errorf("state import: %s is not a valid Flow source-postgres state: %w", file, err)
	}
	db, slot, err := guardIdle(ctx, cfg)
	if err != nil {
		return fmt.Errorf("state import: %w", err)
	}
	defer db.Close()
	slotName := cfg.Source.Advanced.SlotName
	if st.Cursor != "" && !tf.force {
		cursor, _ := checkpoint.ParseLSN(st.Cursor)
		switch {
		case !slot.Exists:
			return fmt.Errorf("state import: the state resumes at %s in replication slot %q, which does not exist in this database: set source.advanced.slotName to the slot the state was written for (Flow's default is flow_slot), or drop the cursor to re-backfill (--force imports anyway; the run then fails until the slot exists)", st.Cursor, slotName)
		case slot.Database != db.Name:
			return fmt.Errorf("state import: replication slot %q belongs to database %q, not %q (--force imports anyway)", slotName, slot.Database, db.Name)
		case slot.ConfirmedFlushLSN > uint64(cursor):
			return fmt.Errorf("state import: replication slot %q has confirmed %s, past the state's cursor %s: the changes in between are gone from the slot and a run would miss them; import a newer state, or reset and re-backfill (--force imports anyway)",
				slotName, checkpoint.LSN(slot.ConfirmedFlushLSN), st.Cursor)
		}
	}
	summary := []string{fmt.Sprintf("capture %q: replace the checkpoint in %s by %s (cursor %s, %d table state(s))", cfg.CaptureName(), cfg.CheckpointTopic(), file, orDash(st.Cursor), len(st.Bindings))}
	if keys := configuredKeys(ctx, cfg, db); keys != nil {
		for _, k := range slices.Sorted(maps.Keys(keys)) {
			if ts := st.Bindings[k]; ts == nil || ts.Mode == checkpoint.ModeIgnore {
				summary = append(summary, fmt.Sprintf("  %s (state key %s) is not in the state: the next run backfills it", keys[k], k))
			}
		}
		for _, k := range st.Keys() {
			if _, ok := keys[k]; !ok && st.Bindings[k].Mode != checkpoint.ModeIgnore {
				summary = append(summary, fmt.Sprintf("  state key %s is not a configured binding: the next run marks it Ignore (check backfill_counter and the bindings)", k))
			}
		}
	}
	fmt.Println(strings.Join(summary, "\n"))
	if err := confirm(tf.yes, "Replace the checkpoint?"); err != nil {
		return err
	}
	if err := writeState(ctx, cfg, log, st); err != nil {
		return fmt.Errorf("state import: %w", err)
	}
	fmt.Printf("imported: the next run resumes at %s\n", orDash(st.Cursor))
	return nil
}

// runStateReset makes tables backfill again. With --table it sets each
// table's state back to Pending under its current state key, which is the
// state Flow gives a new binding (§1.6): the next run backfills it from the
// start while every other table and the cursor are kept. Without --table it
// writes an empty state and drops the slot: the next run creates a new
// slot and backfills everything, Flow's recovery from a lost slot.
func runStateReset(ctx context.Context, cfg *config.Config, log zerolog.Logger, tf toolFlags) error {
	if len(tf.tables) > 0 {
		return resetTables(ctx, cfg, log, tf)
	}
	slotName := cfg.Source.Advanced.SlotName
	if err := confirm(tf.yes, fmt.Sprintf("This drops replication slot %q and empties the checkpoint of capture %q: the next run re-backfills every table.", slotName, cfg.CaptureName())); err != nil {
		return err
	}
	db, _, err := guardIdle(ctx, cfg)
	if err != nil {
		return fmt.Errorf("state reset: %w", err)
	}
	defer db.Close()
	// The state first: should the drop fail, the next run still starts
	// afresh (it recreates the slot).
	if err := writeState(ctx, cfg, log, &checkpoint.State{}); err != nil {
		return fmt.Errorf("state reset: %w", err)
	}
	dropped, err := db.DropSlot(ctx)
	if err != nil {
		return fmt.Errorf("state reset: the checkpoint is empty, but %w", err)
	}
	if dropped {
		fmt.Printf("dropped replication slot %q\n", slotName)
	}
	fmt.Printf("reset capture %q: the next run creates the slot and backfills every table\n", cfg.CaptureName())
	return nil
}

func resetTables(ctx context.Context, cfg *config.Config, log zerolog.Logger, tf toolFlags) error {
	type target struct{ table, key string }
	var targets []target
	for _, name := range tf.tables {
		schemaName, table, ok := strings.Cut(name, ".")
		if !ok || schemaName == "" || table == "" {
			return fmt.Errorf("state reset: --table %q must be schema.table", name)
		}
		b := cfg.Binding(schemaName, table)
		if b == nil && len(cfg.Bindings) > 0 {
			return fmt.Errorf("state reset: %s is not one of the configured bindings (names are case-sensitive)", name)
		}
		counter := 0
		if b != nil {
			counter = b.BackfillCounter
		}
		targets = append(targets, target{name, checkpoint.StateKey([]string{schemaName, table}, counter)})
	}
	if err := confirm(tf.yes, fmt.Sprintf("This makes capture %q backfill %s again.", cfg.CaptureName(), strings.Join(tf.tables, ", "))); err != nil {
		return err
	}
	db, _, err := guardIdle(ctx, cfg)
	if err != nil {
		return fmt.Errorf("state reset: %w", err)
	}
	defer db.Close()
	sink, closeSink, err := openSink(ctx, cfg, log, true)
	if err != nil {
		return err
	}
	defer closeSink()
	// Init fences a crashed capture's open transaction first, so the state
	// read is the last one committed.
	if err := sink.Init(ctx, nil); err != nil {
		return err
	}
	cp, err := sink.ReadCheckpoint(ctx)
	if err != nil {
		return err
	}
	st, err := checkpoint.Parse(cp.State)
	if err != nil {
		return fmt.Errorf("state reset: the checkpoint of capture %q: %w (reset everything with pg2kafka state reset --yes)", cfg.CaptureName(), err)
	}
	if st.Bindings == nil {
		st.Bindings = map[string]*checkpoint.TableState{}
	}
	for _, t := range targets {
		old := st.Bindings[t.key]
		if old == nil {
			fmt.Printf("%s (state key %s): no state yet; the next run backfills it anyway\n", t.table, t.key)
		} else {
			fmt.Printf("%s (state key %s): %s, %d row(s) backfilled -> Pending: the next run backfills it again from the start\n", t.table, t.key, old.Mode, old.Backfilled)
		}
		st.Bindings[t.key] = &checkpoint.TableState{Mode: checkpoint.ModePending}
	}
	data, err := st.Marshal()
	if err != nil {
		return err
	}
	// The cursor stays, and with it the position inside a split
	// transaction (a restart skips exactly the part committed) and the
	// other tables' unfinished sweeps: a reset table's entry is ignored
	// while it is pending, and its backfill decides on a sweep anew.
	if err := sink.WriteCheckpoint(ctx, event.Checkpoint{State: data, Within: cp.Within, Sweeps: cp.Sweeps}); err != nil {
		return fmt.Errorf("state reset: %w", err)
	}
	fmt.Println("The cursor and the other tables are unchanged. (In Flow the same is done by bumping the binding's backfill counter; pg2kafka's equivalent is bindings[].backfill_counter, which also works.)")
	return nil
}

package source

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pg2kafka/pg2kafka/event"
	"github.com/pg2kafka/pg2kafka/internal/slab"
)

// ErrSlotMissing says the slot named by the configuration does not exist
// while the checkpoint holds a cursor into it.
var ErrSlotMissing = errors.New("replication slot does not exist")

// slotInvalidated reports whether err is the server refusing a slot it
// invalidated (WAL past max_slot_wal_keep_size removed, idle timeout,
// conflict on a standby).
func slotInvalidated(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "55000" &&
		(strings.Contains(pgErr.Message, "invalidated") || strings.Contains(pgErr.Detail, "invalidated"))
}

// slotLost is the error of an invalidated slot: it names the last position
// known durable (changes after it, up to the invalidation, are lost) and
// the fix.
func slotLost(slot string, durable uint64, err error) error {
	return fmt.Errorf("%w: slot %q was invalidated by the server, so changes after %s (the last position known durable in Kafka) may be lost; with pg2kafka stopped, run `pg2kafka state reset --yes` to re-backfill everything with a new slot, and raise max_slot_wal_keep_size (or idle_replication_slot_timeout) against a repeat: %v",
		ErrSlotMissing, slot, pglogrepl.LSN(durable), err)
}

func (db *Database) connectReplication(ctx context.Context) (*pgconn.PgConn, error) {
	pc, err := pgconn.ParseConfig(db.cfg.ConnString)
	if err != nil {
		return nil, fmt.Errorf("parsing the PostgreSQL connection settings: %w", err)
	}
	for k, v := range sessionParams {
		pc.RuntimeParams[k] = v
	}
	pc.RuntimeParams["replication"] = "database"
	if pc.ConnectTimeout == 0 {
		pc.ConnectTimeout = 30 * time.Second
	}
	conn, err := pgconn.ConnectConfig(ctx, pc)
	if err != nil {
		return nil, connectError(pc.User, pc.Database, pc.Host, pc.Port, err)
	}
	return conn, nil
}

// CreateSlot (re)creates the capture's pgoutput slot, as Flow does for a
// capture with no cursor (§5.1): drop it if present, then create it. It
// returns the slot's consistent point, where its stream starts.
func (db *Database) CreateSlot(ctx context.Context) (uint64, error) {
	conn, err := db.connectReplication(ctx)
	if err != nil {
		return 0, err
	}
	defer conn.Close(context.Background())
	_ = pglogrepl.DropReplicationSlot(ctx, conn, db.cfg.Slot, pglogrepl.DropReplicationSlotOptions{Wait: false})
	res, err := pglogrepl.CreateReplicationSlot(ctx, conn, db.cfg.Slot, "pgoutput",
		pglogrepl.CreateReplicationSlotOptions{SnapshotAction: "NOEXPORT_SNAPSHOT", Mode: pglogrepl.LogicalReplication})
	if err != nil {
		if isSlotBusy(err) {
			return 0, fmt.Errorf("creating replication slot %q: another process is using it (stop the other capture, or set source.advanced.slotName to a slot of this capture's own): %w", db.cfg.Slot, err)
		}
		return 0, fmt.Errorf("creating replication slot %q (the user needs the REPLICATION attribute, and max_replication_slots must leave a slot free): %w", db.cfg.Slot, err)
	}
	lsn, err := pglogrepl.ParseLSN(res.ConsistentPoint)
	if err != nil {
		return 0, fmt.Errorf("parsing slot %q consistent point %q: %w", db.cfg.Slot, res.ConsistentPoint, err)
	}
	return uint64(lsn), nil
}

// kindError is an error with its cause that also matches one of the
// loop's sentinel errors (event.ErrSlotBusy, event.ErrTableChanged,
// event.ErrReadTimeout), so the loop can tell what happened without
// knowing PostgreSQL's error codes.
type kindError struct{ err, kind error }

func (e *kindError) Error() string        { return e.err.Error() }
func (e *kindError) Unwrap() error        { return e.err }
func (e *kindError) Is(target error) bool { return target == e.kind }

// StartReplication opens the replication stream of the slot at startLSN,
// acknowledging startLSN until told otherwise. The stream ends when ctx is
// cancelled or on error.
func (db *Database) StartReplication(ctx context.Context, startLSN uint64) (event.Stream, error) {
	conn, err := db.connectReplication(ctx)
	if err != nil {
		return nil, err
	}
	err = pglogrepl.StartReplication(ctx, conn, db.cfg.Slot, pglogrepl.LSN(startLSN), pglogrepl.StartReplicationOptions{
		Mode: pglogrepl.LogicalReplication,
		PluginArgs: []string{
			`"proto_version" '1'`,
			`"publication_names" '` + db.cfg.Publication + `'`,
		},
	})
	if err != nil {
		_ = conn.Close(context.Background())
		var pgErr *pgconn.PgError
		switch {
		case isSlotBusy(err):
			return nil, &kindError{kind: event.ErrSlotBusy, err: fmt.Errorf("another capture holds replication slot %q (stop the other process streaming it, see active_pid in pg_replication_slots, or give this capture a slot of its own with source.advanced.slotName): %w", db.cfg.Slot, err)}
		case errors.As(err, &pgErr) && pgErr.Code == "42704":
			return nil, fmt.Errorf("%w: slot %q is gone but the checkpoint resumes at %s; it was dropped or invalidated, so changes may have been missed: with pg2kafka stopped, run `pg2kafka state reset --yes` to re-backfill everything with a new slot: %v",
				ErrSlotMissing, db.cfg.Slot, pglogrepl.LSN(startLSN), err)
		case slotInvalidated(err):
			return nil, slotLost(db.cfg.Slot, startLSN, err)
		}
		return nil, fmt.Errorf("starting replication from slot %q at %s: %w", db.cfg.Slot, pglogrepl.LSN(startLSN), err)
	}
	cfg := db.cfg
	types := newTypeCache(func(ctx context.Context) (*pgx.Conn, error) { return connectQuery(ctx, cfg) })
	if m := serverMajor(conn.ParameterStatus("server_version")); m > 0 && m < 18 {
		types.noGenerated = true // generated columns are published from 18 on
	}
	s := &Stream{
		conn:   conn,
		slot:   db.cfg.Slot,
		types:  types,
		out:    make(chan []event.Item),
		ready:  make(chan struct{}, 1),
		taken:  make(chan struct{}, 1),
		done:   make(chan struct{}),
		rels:   map[uint32]*event.Table{},
		data:   slab.New[byte](64 << 10),
		values: slab.New[event.Value](4096),
		// Changes before the first commit seen carry the start as loc[0].
		prevEnd:  startLSN,
		lastSent: startLSN,
	}
	s.ack.Store(startLSN)
	go func() {
		defer s.types.close()
		s.run(ctx)
	}()
	return s, nil
}

// serverMajor returns the major version of a server_version such as
// "17.10" or "18beta1 (Debian ...)"; 0 when it cannot tell.
func serverMajor(version string) int {
	n := 0
	for _, r := range version {
		if r < '0' || r > '9' {
			break
		}
		n = n*10 + int(r-'0')
	}
	return n
}

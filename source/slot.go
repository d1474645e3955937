package source

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
)

// slotQuery is the source's one query of the capture's slot: in one round
// trip, the server's WAL insert and write positions (the replay position on
// a standby) and what pg_replication_slots says of the slot. The LEFT JOIN
// yields one row even when the slot is missing. Columns that not every
// supported version has are read through to_jsonb(s), NULL where missing:
// wal_status (PostgreSQL 13+), conflicting (16+, a logical slot on a
// standby invalidated by recovery) and invalidation_reason (17+, set
// whatever invalidated the slot).
const slotQuery = `SELECT
	(CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_insert_lsn() END)::text,
	(CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END)::text,
	s.slot_name IS NOT NULL, s.database, coalesce(s.active, false),
	s.restart_lsn::text, s.confirmed_flush_lsn::text, to_jsonb(s) ->> 'wal_status',
	coalesce((to_jsonb(s) ->> 'conflicting')::boolean, false) OR to_jsonb(s) ->> 'invalidation_reason' IS NOT NULL
FROM (SELECT 1) AS one LEFT JOIN pg_replication_slots s ON s.slot_name = $1`

// SlotReading is one reading of slotQuery: the server's WAL positions and
// the capture's slot, taken at one moment.
type SlotReading struct {
	// At is when the reading was taken.
	At time.Time
	// WALInsert and WALWrite are the server's WAL insert and write
	// positions (on a standby both are its replay position; 0 if unknown).
	WALInsert, WALWrite uint64
	// Slot is the capture's slot.
	Slot SlotInfo
}

// readSlot runs slotQuery on conn for the slot named slot.
func readSlot(ctx context.Context, conn *pgx.Conn, slot string) (SlotReading, error) {
	var r SlotReading
	var insert, write, database, restart, confirmed, walStatus *string
	err := conn.QueryRow(ctx, slotQuery, slot).Scan(&insert, &write, &r.Slot.Exists, &database, &r.Slot.Active,
		&restart, &confirmed, &walStatus, &r.Slot.Invalidated)
	if err != nil {
		return r, fmt.Errorf("reading the WAL position and replication slot %q: %w", slot, err)
	}
	r.At = time.Now()
	if database != nil {
		r.Slot.Database = *database
	}
	if walStatus != nil {
		r.Slot.WALStatus = *walStatus
	}
	for _, f := range []struct {
		text *string
		dst  *uint64
	}{{insert, &r.WALInsert}, {write, &r.WALWrite}, {restart, &r.Slot.RestartLSN}, {confirmed, &r.Slot.ConfirmedFlushLSN}} {
		if f.text == nil {
			continue
		}
		l, err := pglogrepl.ParseLSN(*f.text)
		if err != nil {
			return r, fmt.Errorf("reading replication slot %q: parsing LSN %q: %w", slot, *f.text, err)
		}
		*f.dst = uint64(l)
	}
	return r, nil
}

// watchTimeout bounds one reading of WatchSlot, its connection included.
const watchTimeout = 10 * time.Second

// WatchSlot reads the capture's slot (slotQuery) at once and then every
// interval until ctx ends, on a connection of its own (application_name
// pg2kafka-metrics, never the capture's), and hands each reading, or the
// error of a failed one, to report. After a failure it reconnects at the
// next reading. report is called from WatchSlot's goroutine; WatchSlot
// returns when ctx ends.
func WatchSlot(ctx context.Context, cfg Config, interval time.Duration, report func(SlotReading, error)) {
	var conn *pgx.Conn
	closeConn := func() {
		if conn != nil {
			cctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			_ = conn.Close(cctx)
			conn = nil
		}
	}
	defer closeConn()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		rctx, cancel := context.WithTimeout(ctx, watchTimeout)
		var r SlotReading
		var err error
		if conn == nil {
			conn, err = connectWatch(rctx, cfg.ConnString)
		}
		if err == nil {
			r, err = readSlot(rctx, conn, cfg.Slot)
		}
		cancel()
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			closeConn()
		}
		report(r, err)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// connectWatch opens WatchSlot's connection: identified as
// pg2kafka-metrics, with a statement timeout so a stuck server cannot pin
// it.
func connectWatch(ctx context.Context, connString string) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(connString)
	if err != nil {
		// pgx redacts the password from its parse errors.
		return nil, fmt.Errorf("parsing the PostgreSQL connection settings: %w", err)
	}
	cfg.RuntimeParams["application_name"] = "pg2kafka-metrics"
	cfg.RuntimeParams["statement_timeout"] = "5000"
	if cfg.ConnectTimeout == 0 || cfg.ConnectTimeout > watchTimeout {
		cfg.ConnectTimeout = watchTimeout
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connecting to PostgreSQL at %s:%d as %q: %w", cfg.Host, cfg.Port, cfg.User, err)
	}
	return conn, nil
}

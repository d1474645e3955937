// Package source speaks PostgreSQL for pg2kafka: prerequisite checks,
// discovery of the captured tables, the replication slot and its pgoutput
// stream, watermark writes and backfill reads. Every value leaves it in
// PostgreSQL's text form; it knows nothing of documents or Kafka.
package source

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Config says which database to capture and how.
type Config struct {
	// ConnString is a libpq URL or keyword/value string for the database.
	ConnString string
	// Slot and Publication name the replication slot and publication.
	Slot        string
	Publication string
	// WatermarksTable is the schema-qualified watermarks table.
	WatermarksTable string
	// ReadOnly disables every write (no watermarks table).
	ReadOnly bool
	// StatementTimeout bounds every query; 0 means none.
	StatementTimeout time.Duration
}

// sessionParams make every connection's text output the same, whatever the
// server's defaults: the JSON of a value must not depend on which path read it.
var sessionParams = map[string]string{
	"TimeZone":           "UTC",
	"DateStyle":          "ISO, MDY",
	"IntervalStyle":      "postgres",
	"extra_float_digits": "3",
	// Not lc_monetary: money is stored in units of the locale's fraction
	// digits, so another locale's output would rescale it (¥1234 under C
	// reads "$12.34").
	"application_name": "pg2kafka",
}

// Database is a connection to the captured database for everything but the
// replication stream. It is not safe for concurrent use.
type Database struct {
	cfg  Config
	conn *pgx.Conn
	// User is the role the capture connects as.
	User string
	// Name is the database's name.
	Name string
}

// Connect opens the query connection.
func Connect(ctx context.Context, cfg Config) (*Database, error) {
	conn, err := connectQuery(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return &Database{cfg: cfg, conn: conn, User: conn.Config().User, Name: conn.Config().Database}, nil
}

func connectQuery(ctx context.Context, cfg Config) (*pgx.Conn, error) {
	pc, err := pgx.ParseConfig(cfg.ConnString)
	if err != nil {
		return nil, fmt.Errorf("parsing the PostgreSQL connection settings: %w", err)
	}
	for k, v := range sessionParams {
		pc.RuntimeParams[k] = v
	}
	pc.RuntimeParams["max_parallel_workers_per_gather"] = "0"
	if pc.ConnectTimeout == 0 {
		pc.ConnectTimeout = 30 * time.Second
	}
	conn, err := pgx.ConnectConfig(ctx, pc)
	if err != nil {
		return nil, connectError(pc.User, pc.Database, pc.Host, pc.Port, err)
	}
	if cfg.StatementTimeout > 0 {
		// The configured timeout applies unless the role's (or database's)
		// own is lower: an administrator's limit is kept.
		ms := cfg.StatementTimeout.Milliseconds()
		q := fmt.Sprintf(`SELECT set_config('statement_timeout', CASE WHEN current_setting('statement_timeout') <> '0' AND current_setting('statement_timeout')::interval < interval '%d milliseconds' THEN current_setting('statement_timeout') ELSE '%d' END, false)`, ms, ms)
		if _, err := conn.Exec(ctx, q); err != nil {
			conn.Close(ctx)
			return nil, fmt.Errorf("setting statement_timeout: %w", err)
		}
	}
	return conn, nil
}

// connectError rewords the usual connection failures into their fix (§8.3).
func connectError(user, database, host string, port uint16, err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "28P01", "28000":
			// PostgreSQL answers a role that does not exist as it answers a
			// wrong password (28P01), or with 28000 under trust or peer
			// authentication; pg_hba.conf refusals are 28000 too.
			if strings.Contains(pgErr.Message, "pg_hba.conf") {
				return fmt.Errorf("connecting to PostgreSQL at %s:%d as %q: the server's pg_hba.conf has no entry for this host, user and database (add one, e.g. `host %s %s 0.0.0.0/0 scram-sha-256`, and reload the server): %w", host, port, user, database, user, err)
			}
			return fmt.Errorf("connecting to PostgreSQL at %s:%d as %q: authentication failed: the role does not exist or its password is wrong (PostgreSQL does not say which). Check source.user and source.password; to create the role with the privileges it needs, run `pg2kafka setup` (it prints the SQL; --apply --admin-url URL runs it): %w", host, port, user, err)
		case "3D000":
			return fmt.Errorf("connecting to PostgreSQL at %s:%d: database %q does not exist (check source.database): %w", host, port, database, err)
		case "42501":
			return fmt.Errorf("connecting to PostgreSQL: user %q does not have CONNECT privilege to database %q (GRANT CONNECT ON DATABASE %q TO %q): %w", user, database, database, user, err)
		}
	}
	var certErr *tls.CertificateVerificationError
	if errors.As(err, &certErr) {
		return fmt.Errorf("connecting to PostgreSQL at %s:%d: the server's TLS certificate failed verification (check that source.advanced.sslrootcert names the CA that signed it and, with sslmode verify-full, that it is issued for the host in source.address): %w", host, port, err)
	}
	if strings.Contains(err.Error(), "server refused TLS connection") {
		return fmt.Errorf("connecting to PostgreSQL at %s:%d: the server does not accept TLS connections (turn ssl on in the server, or set source.advanced.sslmode to prefer or disable): %w", host, port, err)
	}
	return fmt.Errorf("connecting to PostgreSQL at %s:%d (check source.address and that the server accepts connections): %w", host, port, err)
}

// Close closes the connection.
func (db *Database) Close() {
	if db.conn != nil {
		_ = db.conn.Close(context.Background())
	}
}

// Conn exposes the underlying connection for queries that belong to this
// package's callers' tests and tools.
func (db *Database) Conn() *pgx.Conn { return db.conn }

// CurrentLSN returns the fence of §4.3: a WAL position at or after the
// commit record of every transaction visible to a snapshot taken before the
// call. That is the WAL insert position, not the flush position Flow uses:
// with synchronous_commit off a transaction is visible before its commit
// record is flushed, and a flush-position fence could end a backfill window
// before a change its chunk already saw. On a standby it is the replay
// position.
func (db *Database) CurrentLSN(ctx context.Context) (uint64, error) {
	var lsn string
	err := db.conn.QueryRow(ctx, `SELECT (CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_insert_lsn() END)::text`).Scan(&lsn)
	if err != nil {
		return 0, fmt.Errorf("reading the server's WAL position: %w", err)
	}
	l, err := pglogrepl.ParseLSN(lsn)
	if err != nil {
		return 0, fmt.Errorf("parsing the server's WAL position %q: %w", lsn, err)
	}
	return uint64(l), nil
}

// WriteWatermark upserts a fresh watermark, which guarantees a commit after
// the current WAL position (§4.3). The transaction commits synchronously
// whatever the server's synchronous_commit: logical decoding only sends
// flushed WAL, so an asynchronous commit would leave the fence waiting for
// the WAL writer. In read-only mode it writes nothing: the fence is then
// reached through the server's keepalive positions (or other writes).
func (db *Database) WriteWatermark(ctx context.Context, watermark string) error {
	if db.cfg.ReadOnly {
		return nil
	}
	err := pgx.BeginFunc(ctx, db.conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SET LOCAL synchronous_commit = on`); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO `+quoteQualified(db.cfg.WatermarksTable)+` (slot, watermark) VALUES ($1, $2) ON CONFLICT (slot) DO UPDATE SET watermark = $2`, db.cfg.Slot, watermark)
		return err
	})
	if err != nil {
		return fmt.Errorf("writing a watermark to %s: %w", db.cfg.WatermarksTable, err)
	}
	return nil
}

// SlotInfo is what pg_replication_slots says of the capture's slot.
type SlotInfo struct {
	// Exists is false when there is no slot of that name.
	Exists bool
	// Database is the slot's database.
	Database string
	// Active is set while a process streams the slot.
	Active bool
	// ConfirmedFlushLSN is what the capture last confirmed to the slot.
	ConfirmedFlushLSN uint64
	// RestartLSN is the oldest WAL the slot holds (0: none, invalidated).
	RestartLSN uint64
	// WALStatus is the slot's wal_status (PostgreSQL 13+; "" before).
	WALStatus string
	// Invalidated is set when PostgreSQL invalidated the slot (conflicting
	// on 16, an invalidation_reason on 17+).
	Invalidated bool
}

// HasRows reports whether the relation with this OID holds any row.
func (db *Database) HasRows(ctx context.Context, oid uint32) (bool, error) {
	var name string
	if err := db.conn.QueryRow(ctx, `SELECT $1::oid::regclass::text`, oid).Scan(&name); err != nil {
		return false, fmt.Errorf("naming relation %d: %w", oid, err)
	}
	var has bool
	if err := db.conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM `+name+`)`).Scan(&has); err != nil {
		return false, fmt.Errorf("reading %s: %w", name, err)
	}
	return has, nil
}

// SlotHolder returns the PID of the process streaming the capture's slot,
// or 0 when the slot is free (or does not exist).
func (db *Database) SlotHolder(ctx context.Context) (int32, error) {
	var pid int32
	err := db.conn.QueryRow(ctx, `SELECT coalesce(max(active_pid), 0) FROM pg_replication_slots WHERE slot_name = $1`, db.cfg.Slot).Scan(&pid)
	if err != nil {
		return 0, fmt.Errorf("reading the holder of replication slot %q: %w", db.cfg.Slot, err)
	}
	return pid, nil
}

// Slot reads the capture's slot from pg_replication_slots, with the
// source's one query of the slot (slotQuery).
func (db *Database) Slot(ctx context.Context) (SlotInfo, error) {
	r, err := readSlot(ctx, db.conn, db.cfg.Slot)
	return r.Slot, err
}

// quoteIdent quotes a name as a PostgreSQL identifier.
func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// quoteQualified quotes "schema.table" (split at the first dot).
func quoteQualified(s string) string {
	schema, table, ok := strings.Cut(s, ".")
	if !ok {
		return quoteIdent(s)
	}
	return quoteIdent(schema) + "." + quoteIdent(table)
}

// QuoteTable quotes a schema and table name for SQL.
func QuoteTable(schema, table string) string { return quoteIdent(schema) + "." + quoteIdent(table) }

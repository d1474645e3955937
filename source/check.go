package source

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// PrerequisiteError lists every prerequisite the database fails (§8.1),
// each with the fix.
type PrerequisiteError struct {
	Problems []string
}

func (e *PrerequisiteError) Error() string {
	var b strings.Builder
	b.WriteString("the capture cannot run due to the following error(s):")
	for i, p := range e.Problems {
		if i == 20 {
			fmt.Fprintf(&b, "\n - additional %d errors omitted", len(e.Problems)-20)
			break
		}
		b.WriteString("\n - ")
		b.WriteString(p)
	}
	return b.String()
}

// TableRef names a table.
type TableRef struct{ Schema, Name string }

func (t TableRef) String() string { return t.Schema + "." + t.Name }

// Check verifies the prerequisites of a capture of tables (§8.1, §8.2). It
// creates the watermarks table and adds the watermarks table and the given
// tables to the publication where it is permitted to; everything it cannot
// fix is returned together in a *PrerequisiteError.
func (db *Database) Check(ctx context.Context, tables []TableRef) error {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	var version string
	if err := db.conn.QueryRow(ctx, `SHOW server_version_num`).Scan(&version); err != nil {
		return fmt.Errorf("reading the server version: %w", err)
	}
	if v, err := strconv.Atoi(version); err == nil && v < 100000 {
		add("minimum supported Postgres version is 10.0: attempted to capture from database version %d.%d", v/10000, v%10000/100)
		return &PrerequisiteError{Problems: problems}
	}

	var walLevel string
	if err := db.conn.QueryRow(ctx, `SHOW wal_level`).Scan(&walLevel); err != nil {
		return fmt.Errorf("reading wal_level: %w", err)
	}
	if walLevel != "logical" {
		add(`logical replication isn't enabled: current wal_level = %q; fix: ALTER SYSTEM SET wal_level = logical; then restart PostgreSQL (on RDS/Aurora set rds.logical_replication = 1 in the parameter group, on Azure set azure.replication_support = logical)`, walLevel)
	}

	var canReplicate bool
	err := db.conn.QueryRow(ctx, `SELECT r.rolreplication OR r.rolsuper OR EXISTS (
  SELECT 1 FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid WHERE m.member = r.oid AND g.rolname = 'rds_replication')
FROM pg_roles r WHERE r.rolname = current_user`).Scan(&canReplicate)
	if err != nil {
		return fmt.Errorf("reading the role's attributes: %w", err)
	}
	if !canReplicate {
		add(`user %q must have the REPLICATION role (or 'rds_replication' on RDS); fix: ALTER ROLE %s WITH REPLICATION;`, db.User, quoteIdent(db.User))
	}

	slot, err := db.Slot(ctx)
	if err != nil {
		return err
	}
	if slot.Exists && slot.Database != db.Name {
		add(`replication slot %q exists in database %q, but the configured database is %q: consider using a different slot name (source.advanced.slotName) or removing the existing slot`, db.cfg.Slot, slot.Database, db.Name)
	}

	var pubExists bool
	if err := db.conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = $1)`, db.cfg.Publication).Scan(&pubExists); err != nil {
		return fmt.Errorf("reading publications: %w", err)
	}
	if !pubExists {
		add(`publication %q does not exist; fix: CREATE PUBLICATION %s; ALTER PUBLICATION %s SET (publish_via_partition_root = true);`, db.cfg.Publication, quoteIdent(db.cfg.Publication), quoteIdent(db.cfg.Publication))
	}

	if !db.cfg.ReadOnly {
		if err := db.ensureWatermarks(ctx); err != nil {
			add("%v", err)
		} else if pubExists {
			if err := db.ensurePublished(ctx, splitRef(db.cfg.WatermarksTable)); err != nil {
				add("%v", err)
			}
		}
	}

	for _, t := range tables {
		if _, err := db.conn.Exec(ctx, `SELECT * FROM `+QuoteTable(t.Schema, t.Name)+` LIMIT 0`); err != nil {
			add(`user %q cannot read from table %q; fix: GRANT SELECT ON %s TO %s; (%v)`, db.User, strings.ToLower(t.String()), QuoteTable(t.Schema, t.Name), quoteIdent(db.User), pgMessage(err))
			continue
		}
		if pubExists {
			if err := db.ensurePublished(ctx, t); err != nil {
				add("%v", err)
			}
		}
	}
	if len(problems) > 0 {
		return &PrerequisiteError{Problems: problems}
	}
	return nil
}

func splitRef(s string) TableRef {
	schema, table, _ := strings.Cut(s, ".")
	return TableRef{Schema: schema, Name: table}
}

func (db *Database) ensureWatermarks(ctx context.Context) error {
	wm := splitRef(db.cfg.WatermarksTable)
	if err := db.WriteWatermark(ctx, "check"); err == nil {
		return nil
	}
	_, err := db.conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS `+QuoteTable(wm.Schema, wm.Name)+` (slot TEXT PRIMARY KEY, watermark TEXT)`)
	if err == nil {
		err = db.WriteWatermark(ctx, "check")
	}
	if err != nil {
		return fmt.Errorf(`user %q cannot write to the watermarks table %q; fix: CREATE TABLE IF NOT EXISTS %s (slot TEXT PRIMARY KEY, watermark TEXT); GRANT ALL PRIVILEGES ON TABLE %s TO %s; (%v)`,
			db.User, db.cfg.WatermarksTable, QuoteTable(wm.Schema, wm.Name), QuoteTable(wm.Schema, wm.Name), quoteIdent(db.User), pgMessage(err))
	}
	return nil
}

// ensurePublished adds t to the publication if it is not in it (§5.2).
func (db *Database) ensurePublished(ctx context.Context, t TableRef) error {
	var published bool
	err := db.conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_publication_tables WHERE pubname = $1 AND schemaname = $2 AND tablename = $3)`,
		db.cfg.Publication, t.Schema, t.Name).Scan(&published)
	if err != nil {
		return fmt.Errorf("reading publication %q: %w", db.cfg.Publication, err)
	}
	if published {
		return nil
	}
	_, err = db.conn.Exec(ctx, `ALTER PUBLICATION `+quoteIdent(db.cfg.Publication)+` ADD TABLE `+QuoteTable(t.Schema, t.Name))
	if err != nil {
		return fmt.Errorf(`table %q is not in publication %s and couldn't be added automatically; fix: ALTER PUBLICATION %s ADD TABLE %s; (%v)`,
			t.String(), db.cfg.Publication, quoteIdent(db.cfg.Publication), QuoteTable(t.Schema, t.Name), pgMessage(err))
	}
	return nil
}

func pgMessage(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Message
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return "no rows"
	}
	return err.Error()
}

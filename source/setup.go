package source

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

// SetupOptions describes the least-privilege setup of a capture: who
// captures what, and what is known of the server.
type SetupOptions struct {
	// Role is the capture's login role (source.user).
	Role string
	// Password is the role's password when it is created; empty writes a
	// placeholder to be replaced.
	Password string
	// NoPassword creates the role without a password (when Password is
	// empty and no placeholder is wanted).
	NoPassword bool
	// Database is the captured database (for GRANT CONNECT).
	Database string
	// Publication and WatermarksTable are the configured names.
	Publication     string
	WatermarksTable string
	// ReadOnly leaves out the watermarks table (read_only_capture).
	ReadOnly bool
	// Tables are the tables to capture; empty when they are not known.
	Tables []TableRef
	// Version is server_version_num (e.g. 150004); 0 when unknown.
	Version int
	// RDS says the server is Amazon RDS or Aurora (rds_replication exists),
	// where the REPLICATION attribute is granted as the rds_replication role.
	RDS bool
	// PerTableGrants grants SELECT on each table even where
	// pg_read_all_data exists (PostgreSQL 14 and later).
	PerTableGrants bool
	// WALLevel is the server's wal_level, if known.
	WALLevel string
}

// SetupStatement is one step of the setup: a comment saying what it is for
// and its SQL, which is idempotent (safe to run again).
type SetupStatement struct {
	Comment string
	SQL     string
}

// PasswordPlaceholder stands for the password in printed setup SQL.
const PasswordPlaceholder = "CHANGE-ME"

// dollarTag quotes the bodies of DO blocks.
const dollarTag = "$pg2kafka$"

// SetupSQL returns the statements that make a database capturable by
// o.Role with the least privileges (the setup of Flow's source-postgres
// documentation, made idempotent): the role with LOGIN and REPLICATION
// (rds_replication on RDS), CONNECT, read access (pg_read_all_data on
// PostgreSQL 14 and later, else SELECT on each table and USAGE on its
// schema), the watermarks table and its grant, and the publication with
// publish_via_partition_root and every table added.
func SetupSQL(o SetupOptions) ([]SetupStatement, error) {
	if o.Role == "" {
		return nil, errors.New("setup: source.user names no role")
	}
	if strings.Contains(o.Password, dollarTag) {
		return nil, fmt.Errorf("setup: the password may not contain %q", dollarTag)
	}
	role := quoteIdent(o.Role)
	pub := quoteIdent(o.Publication)
	var out []SetupStatement
	add := func(comment, sql string) { out = append(out, SetupStatement{Comment: comment, SQL: sql}) }

	password := " PASSWORD " + quoteLiteral(PasswordPlaceholder)
	switch {
	case o.Password != "":
		password = " PASSWORD " + quoteLiteral(o.Password)
	case o.NoPassword:
		password = ""
	}
	add("The capture's login role (an existing role keeps its password).",
		"DO "+dollarTag+"\nBEGIN\n  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = "+quoteLiteral(o.Role)+") THEN\n    CREATE ROLE "+role+" WITH LOGIN"+password+";\n  END IF;\nEND\n"+dollarTag+";")
	if o.RDS {
		add("Logical replication (RDS/Aurora grant it as the rds_replication role).", "GRANT rds_replication TO "+role+";")
	} else {
		add("Logical replication (on RDS/Aurora use: GRANT rds_replication TO "+role+").", "ALTER ROLE "+role+" WITH LOGIN REPLICATION;")
	}
	if o.Database != "" {
		add("Connecting to the database.", "GRANT CONNECT ON DATABASE "+quoteIdent(o.Database)+" TO "+role+";")
	}

	schemas := map[string]bool{}
	for _, t := range o.Tables {
		schemas[t.Schema] = true
	}
	switch {
	case o.Version >= 140000 && !o.PerTableGrants:
		add("Reading every table (PostgreSQL 14+; for tighter grants use SELECT per table, see --per-table-grants).", "GRANT pg_read_all_data TO "+role+";")
	case len(o.Tables) > 0:
		if o.Version == 0 && !o.PerTableGrants {
			add("Server version unknown: on PostgreSQL 14+ `GRANT pg_read_all_data TO "+o.Role+";` replaces the grants below.", "")
		}
		for _, s := range sortedKeys(schemas) {
			add("Looking up tables in schema "+s+".", "GRANT USAGE ON SCHEMA "+quoteIdent(s)+" TO "+role+";")
		}
		for _, t := range o.Tables {
			add("Reading "+t.String()+" (backfills).", "GRANT SELECT ON "+QuoteTable(t.Schema, t.Name)+" TO "+role+";")
		}
	default:
		add("Reading the tables of schema public (repeat for every captured schema).",
			"GRANT USAGE ON SCHEMA public TO "+role+";\nGRANT SELECT ON ALL TABLES IN SCHEMA public TO "+role+";\nALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO "+role+";")
	}

	var published []TableRef
	if !o.ReadOnly {
		wm := splitRef(o.WatermarksTable)
		wmq := QuoteTable(wm.Schema, wm.Name)
		add("The watermarks table, written during backfills.", "CREATE TABLE IF NOT EXISTS "+wmq+" (slot TEXT PRIMARY KEY, watermark TEXT);")
		if wm.Schema != "public" {
			add("", "GRANT USAGE ON SCHEMA "+quoteIdent(wm.Schema)+" TO "+role+";")
		}
		add("", "GRANT ALL PRIVILEGES ON TABLE "+wmq+" TO "+role+";")
		published = append(published, wm)
	}
	published = append(published, o.Tables...)

	add("The publication.",
		"DO "+dollarTag+"\nBEGIN\n  IF NOT EXISTS (SELECT FROM pg_publication WHERE pubname = "+quoteLiteral(o.Publication)+") THEN\n    CREATE PUBLICATION "+pub+";\n  END IF;\nEND\n"+dollarTag+";")
	if o.Version == 0 || o.Version >= 130000 {
		add("Changes of partitioned tables under the root's name (PostgreSQL 13+).", "ALTER PUBLICATION "+pub+" SET (publish_via_partition_root = true);")
	}
	for _, t := range published {
		add("Publishing "+t.String()+".",
			"DO "+dollarTag+"\nBEGIN\n  IF NOT EXISTS (SELECT FROM pg_publication p WHERE p.pubname = "+quoteLiteral(o.Publication)+" AND (p.puballtables OR EXISTS (\n      SELECT FROM pg_publication_rel r WHERE r.prpubid = p.oid AND r.prrelid = "+quoteLiteral(QuoteTable(t.Schema, t.Name))+"::regclass))) THEN\n    ALTER PUBLICATION "+pub+" ADD TABLE "+QuoteTable(t.Schema, t.Name)+";\n  END IF;\nEND\n"+dollarTag+";")
	}
	if len(o.Tables) == 0 {
		add("No tables are known: add each captured table with ALTER PUBLICATION "+o.Publication+" ADD TABLE <schema>.<table>;", "")
	}
	if o.WALLevel != "" && o.WALLevel != "logical" {
		add("wal_level is "+strconv.Quote(o.WALLevel)+": run `ALTER SYSTEM SET wal_level = logical;` and restart PostgreSQL (RDS/Aurora: rds.logical_replication = 1 in the parameter group; Azure: azure.replication_support = logical). setup --apply does not do this.", "")
	}
	return out, nil
}

// FormatSetupSQL renders statements as a SQL script.
func FormatSetupSQL(stmts []SetupStatement) string {
	var b strings.Builder
	for _, s := range stmts {
		if s.Comment != "" {
			b.WriteString("-- " + strings.ReplaceAll(s.Comment, "\n", "\n-- ") + "\n")
		}
		if s.SQL != "" {
			b.WriteString(s.SQL + "\n")
		}
		if s.Comment != "" || s.SQL != "" {
			b.WriteString("\n")
		}
	}
	return b.String()
}

// ServerFacts returns what setup needs to know of the server:
// server_version_num, whether it is RDS/Aurora (a role rds_replication
// exists) and wal_level.
func (db *Database) ServerFacts(ctx context.Context) (version int, rds bool, walLevel string, err error) {
	var v string
	err = db.conn.QueryRow(ctx, `SELECT current_setting('server_version_num'), EXISTS (SELECT FROM pg_roles WHERE rolname = 'rds_replication'), current_setting('wal_level')`).
		Scan(&v, &rds, &walLevel)
	if err != nil {
		return 0, false, "", fmt.Errorf("reading the server version: %w", err)
	}
	version, _ = strconv.Atoi(v)
	return version, rds, walLevel, nil
}

// ApplySetup runs the statements in order, each in its own transaction,
// and stops at the first failure. done is called after each statement.
func (db *Database) ApplySetup(ctx context.Context, stmts []SetupStatement, done func(SetupStatement)) error {
	for _, s := range stmts {
		if s.SQL == "" {
			continue
		}
		if _, err := db.conn.Exec(ctx, s.SQL, pgx.QueryExecModeSimpleProtocol); err != nil {
			return fmt.Errorf("setup: %s failed: %s (the connecting user needs to be a superuser, or own the tables and be able to create roles and publications)\n%s", firstLine(s.Comment), pgMessage(err), s.SQL)
		}
		if done != nil {
			done(s)
		}
	}
	return nil
}

func firstLine(s string) string {
	if s == "" {
		return "a statement"
	}
	l, _, _ := strings.Cut(s, "\n")
	return strings.TrimSuffix(l, ".")
}

// quoteLiteral quotes s as a SQL string literal.
func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// DropSlot drops the capture's replication slot if it exists in this
// database, and reports whether it did. It fails while a process streams
// from the slot.
func (db *Database) DropSlot(ctx context.Context) (bool, error) {
	var dropped bool
	err := db.conn.QueryRow(ctx, `SELECT count(pg_drop_replication_slot(slot_name)) > 0 FROM pg_replication_slots WHERE slot_name = $1 AND database = current_database()`, db.cfg.Slot).Scan(&dropped)
	if err != nil {
		return false, fmt.Errorf("dropping replication slot %q (stop the capture streaming it first; the user needs REPLICATION): %s", db.cfg.Slot, pgMessage(err))
	}
	return dropped, nil
}

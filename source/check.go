package source

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// PrerequisiteError lists every prerequisite the database fails (§8.1),
// each with the fix.
type PrerequisiteError struct {
	Problems []string
}

// Error lists the problems, at most 20, one per line.
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
type TableRef struct {
	Schema, Name string
	// Key holds the binding's key columns, in key order; nil for a keyless
	// binding. Check verifies that the replica identity carries them.
	Key []string
}

// String returns "schema.table".
func (t TableRef) String() string { return t.Schema + "." + t.Name }

// Status is the outcome of one prerequisite check.
type Status int

// The statuses. Only StatusFail stops a capture; a warning names a risk.
const (
	StatusOK Status = iota
	StatusWarn
	StatusFail
)

// String returns "ok", "WARN" or "FAIL", as check prints it.
func (s Status) String() string {
	switch s {
	case StatusOK:
		return "ok"
	case StatusWarn:
		return "WARN"
	default:
		return "FAIL"
	}
}

// Finding is the outcome of one prerequisite check: what was checked, what
// was found and, unless it is fine, how to fix it.
type Finding struct {
	// Check names what was checked ("wal_level", "table public.orders").
	Check string
	// Status is the outcome.
	Status Status
	// Detail says what was found (the problem, for a failure).
	Detail string
	// Fix is the SQL or setting that fixes a failure or warning.
	Fix string
}

// Problem is the finding as one line: the detail and the fix.
func (f Finding) Problem() string {
	if f.Fix == "" {
		return f.Detail
	}
	return f.Detail + "; fix: " + f.Fix
}

// Check verifies the prerequisites of a capture of tables (§8.1, §8.2). It
// creates the watermarks table and adds the watermarks table and the given
// tables to the publication where it is permitted to; everything it cannot
// fix is returned together in a *PrerequisiteError. Warnings (see Diagnose)
// do not fail it.
func (db *Database) Check(ctx context.Context, tables []TableRef) error {
	findings, err := db.Diagnose(ctx, tables)
	// Cancelled (a SIGTERM during the start): the queries cut short fail
	// ("conn closed") and read as failed checks ("cannot read from table
	// ...; fix: GRANT SELECT"), which they are not; report the
	// cancellation, which the caller takes for a clean stop.
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	if err != nil {
		return err
	}
	var problems []string
	for _, f := range findings {
		if f.Status == StatusFail {
			problems = append(problems, f.Problem())
		}
	}
	if len(problems) > 0 {
		return &PrerequisiteError{Problems: problems}
	}
	return nil
}

// Diagnose runs every prerequisite check of Check and returns one Finding
// per check, failures and warnings included, instead of stopping at the
// first: the server version, wal_level, the REPLICATION attribute, the
// replication slot (in another database, held by another process, its
// wal_status), max_slot_wal_keep_size, the publication (and
// publish_via_partition_root when a table is a partitioned root), the
// watermarks table and, for each table, read permission and publication
// membership. Like Check it creates the watermarks table and adds tables to
// the publication where permitted, as a capture would at start. The error
// is for failures to query the server at all.
func (db *Database) Diagnose(ctx context.Context, tables []TableRef) ([]Finding, error) {
	var out []Finding
	ok := func(check, format string, args ...any) {
		out = append(out, Finding{Check: check, Status: StatusOK, Detail: fmt.Sprintf(format, args...)})
	}
	bad := func(status Status, check, fix, format string, args ...any) {
		out = append(out, Finding{Check: check, Status: status, Detail: fmt.Sprintf(format, args...), Fix: fix})
	}

	var version string
	if err := db.conn.QueryRow(ctx, `SHOW server_version_num`).Scan(&version); err != nil {
		return nil, fmt.Errorf("reading the server version: %w", err)
	}
	v, err := strconv.Atoi(version)
	if err != nil {
		v = 0
		bad(StatusWarn, "server version", "", "cannot parse server_version_num %q; assuming a supported version", version)
	} else if v < 120000 {
		// Discovery and the stream read pg_attribute.attgenerated (12+);
		// 12 to 18 are what the test matrix covers (make test-pg-matrix).
		minor := v % 10000 / 100 // 9.6.24 is 90624
		if v >= 100000 {
			minor = v % 10000 // 11.22 is 110022
		}
		bad(StatusFail, "server version", "upgrade PostgreSQL to 12 or later",
			"minimum supported Postgres version is 12.0: attempted to capture from database version %d.%d", v/10000, minor)
		return out, nil
	} else {
		ok("server version", "PostgreSQL %d.%d", v/10000, v%10000)
	}

	var walLevel string
	if err := db.conn.QueryRow(ctx, `SHOW wal_level`).Scan(&walLevel); err != nil {
		return nil, fmt.Errorf("reading wal_level: %w", err)
	}
	if walLevel != "logical" {
		bad(StatusFail, "wal_level", "ALTER SYSTEM SET wal_level = logical; then restart PostgreSQL (on RDS/Aurora set rds.logical_replication = 1 in the parameter group, on Azure set azure.replication_support = logical)",
			"logical replication isn't enabled: current wal_level = %q", walLevel)
	} else {
		ok("wal_level", "logical")
	}

	var canReplicate bool
	err = db.conn.QueryRow(ctx, `SELECT r.rolreplication OR r.rolsuper OR EXISTS (
  SELECT 1 FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid WHERE m.member = r.oid AND g.rolname = 'rds_replication')
FROM pg_roles r WHERE r.rolname = current_user`).Scan(&canReplicate)
	if err != nil {
		return nil, fmt.Errorf("reading the role's attributes: %w", err)
	}
	if !canReplicate {
		bad(StatusFail, "replication role", fmt.Sprintf("ALTER ROLE %s WITH REPLICATION; (on RDS/Aurora: GRANT rds_replication TO %s;)", quoteIdent(db.User), quoteIdent(db.User)),
			"user %q must have the REPLICATION role (or 'rds_replication' on RDS)", db.User)
	} else {
		ok("replication role", "user %q may replicate", db.User)
	}

	out = append(out, db.diagnoseSlot(ctx, v)...)

	var pubExists, viaRoot, allTables bool
	viaRootCol := "false"
	if v >= 130000 {
		viaRootCol = "pubviaroot"
	}
	err = db.conn.QueryRow(ctx, `SELECT `+viaRootCol+`, puballtables FROM pg_publication WHERE pubname = $1`, db.cfg.Publication).Scan(&viaRoot, &allTables)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
	case err != nil:
		return nil, fmt.Errorf("reading publications: %w", err)
	default:
		pubExists = true
	}
	pub := quoteIdent(db.cfg.Publication)
	if !pubExists {
		bad(StatusFail, "publication", fmt.Sprintf("CREATE PUBLICATION %s; ALTER PUBLICATION %s SET (publish_via_partition_root = true);", pub, pub),
			"publication %q does not exist", db.cfg.Publication)
	} else {
		ok("publication", "%q exists (publish_via_partition_root = %t, all tables = %t)", db.cfg.Publication, viaRoot, allTables)
	}

	if !db.cfg.ReadOnly {
		wm := splitRef(db.cfg.WatermarksTable)
		if err := db.ensureWatermarks(ctx); err != nil {
			detail, fix := splitFix(err)
			bad(StatusFail, "watermarks table", fix, "%s", detail)
		} else if !pubExists {
			ok("watermarks table", "%s is writable", db.cfg.WatermarksTable)
		} else if err := db.ensurePublished(ctx, wm); err != nil {
			detail, fix := splitFix(err)
			bad(StatusFail, "watermarks table", fix, "%s", detail)
		} else {
			ok("watermarks table", "%s is writable and published", db.cfg.WatermarksTable)
		}
	}

	// What each table needs is read for all of them at once (a constant
	// number of queries, whatever the number of tables); only a table that
	// looks unreadable is probed on its own, for PostgreSQL's own message.
	infos, err := db.tableInfos(ctx, tables)
	if err != nil {
		return nil, err
	}
	idents, identErr := db.identities(ctx, tables)
	added := map[int]bool{}
	if pubExists {
		added = db.publishAll(ctx, tables, infos)
	}
	for i, t := range tables {
		check := "table " + t.String()
		if !infos[i].readable {
			if _, err := db.conn.Exec(ctx, `SELECT * FROM `+QuoteTable(t.Schema, t.Name)+` LIMIT 0`); err != nil {
				bad(StatusFail, check, fmt.Sprintf("GRANT SELECT ON %s TO %s; (%v)", QuoteTable(t.Schema, t.Name), quoteIdent(db.User), pgMessage(err)),
					"user %q cannot read from table %q", db.User, strings.ToLower(t.String()))
				continue
			}
		}
		if identErr != nil {
			out = append(out, Finding{Check: "replica identity " + t.String(), Status: StatusFail, Detail: fmt.Sprintf("reading the replica identity of %s: %v", t, pgMessage(identErr))})
		} else {
			out = append(out, identityFindings(t, idents[i])...)
		}
		partitioned := infos[i].partitioned
		if !pubExists {
			ok(check, "readable")
			continue
		}
		if !infos[i].published && !added[i] {
			if err := db.ensurePublished(ctx, t); err != nil {
				detail, fix := splitFix(err)
				bad(StatusFail, check, fix, "%s", detail)
				continue
			}
		}
		if partitioned && !viaRoot {
			bad(StatusFail, check, fmt.Sprintf("ALTER PUBLICATION %s SET (publish_via_partition_root = true);", pub),
				"table %q is partitioned and publication %q does not publish via the partition root, so its changes would arrive under the partitions' names and be missed", t.String(), db.cfg.Publication)
			continue
		}
		ok(check, "readable and published")
	}
	return out, nil
}

// diagnoseIdentity checks that the replica identity of t (of each of its
// partitions, for a partitioned root) carries the binding's key columns:
// deletes and key-changing updates send only the identity's columns as the
// old row, so a key outside them would make their records and tombstones
// keyed null, and the deleted row would live forever in a compacted topic.
// That fails. A table with no usable identity at all (REPLICA IDENTITY
// NOTHING, or DEFAULT without a primary key, or USING INDEX on a dropped
// index) is named with a warning: PostgreSQL refuses UPDATE and DELETE on it
// once it is published, so nothing is lost, but its writers fail.
// identityRel is one relation of a table's tree (the table, or each leaf
// partition of a partitioned root) with its replica identity and the
// columns that identity sends.
type identityRel struct {
	schema, name, ident string
	cols                []string
}

// identities reads the replica identity of every table's tree in one
// query, by index into tables.
func (db *Database) identities(ctx context.Context, tables []TableRef) (map[int][]identityRel, error) {
	schemas, names := refColumns(tables)
	rows, err := db.conn.Query(ctx, `
WITH RECURSIVE tree(i, oid) AS (
  SELECT u.i, c.oid FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS u(s, t, i)
    JOIN pg_namespace n ON n.nspname = u.s JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = u.t
  UNION SELECT tree.i, inh.inhrelid FROM pg_inherits inh JOIN tree ON inh.inhparent = tree.oid)
SELECT tree.i, n.nspname, c.relname, c.relreplident::text,
       coalesce((SELECT array_agg(a.attname::text ORDER BY a.attnum) FROM pg_index i
                 JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
                 WHERE i.indrelid = c.oid AND ((c.relreplident = 'd' AND i.indisprimary) OR (c.relreplident = 'i' AND i.indisreplident))), '{}')
FROM tree JOIN pg_class c ON c.oid = tree.oid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind <> 'p'
ORDER BY 1, 2, 3`, schemas, names)
	if err != nil {
		return nil, err
	}
	out := map[int][]identityRel{}
	for rows.Next() {
		var i int64
		var r identityRel
		if err := rows.Scan(&i, &r.schema, &r.name, &r.ident, &r.cols); err != nil {
			rows.Close()
			return nil, err
		}
		out[int(i-1)] = append(out[int(i-1)], r)
	}
	return out, rows.Err()
}

// refColumns splits tables into their schemas and names, for unnest.
func refColumns(tables []TableRef) (schemas, names []string) {
	schemas, names = make([]string, len(tables)), make([]string, len(tables))
	for i, t := range tables {
		schemas[i], names[i] = t.Schema, t.Name
	}
	return schemas, names
}

// tableInfo is what the check needs of a table, read for every table at
// once (tableInfos).
type tableInfo struct {
	// readable: the user may SELECT every column (and use the schema);
	// false also when the table does not exist.
	readable    bool
	partitioned bool
	// published as ensurePublished tells it.
	published bool
}

// tableInfos reads whether each table is readable, partitioned and
// published, in one query.
func (db *Database) tableInfos(ctx context.Context, tables []TableRef) ([]tableInfo, error) {
	out := make([]tableInfo, len(tables))
	if len(tables) == 0 {
		return out, nil
	}
	schemas, names := refColumns(tables)
	rows, err := db.conn.Query(ctx, `
SELECT u.i,
       coalesce(has_schema_privilege(n.oid, 'USAGE') AND (has_table_privilege(c.oid, 'SELECT') OR NOT EXISTS (
         SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
           AND NOT has_column_privilege(c.oid, a.attnum, 'SELECT'))), false),
       coalesce(c.relkind = 'p', false),
       pt.tablename IS NOT NULL
         OR EXISTS (SELECT 1 FROM pg_publication p JOIN pg_publication_rel r ON r.prpubid = p.oid WHERE p.pubname = $3 AND r.prrelid = c.oid)
         OR EXISTS (SELECT 1 FROM pg_publication WHERE pubname = $3 AND puballtables)
FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS u(s, t, i)
LEFT JOIN pg_namespace n ON n.nspname = u.s
LEFT JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = u.t
LEFT JOIN (SELECT DISTINCT schemaname, tablename FROM pg_publication_tables WHERE pubname = $3) pt ON pt.schemaname = u.s AND pt.tablename = u.t`,
		schemas, names, db.cfg.Publication)
	if err != nil {
		return nil, fmt.Errorf("reading the captured tables: %w", err)
	}
	for rows.Next() {
		var i int64
		var ti tableInfo
		if err := rows.Scan(&i, &ti.readable, &ti.partitioned, &ti.published); err != nil {
			rows.Close()
			return nil, fmt.Errorf("reading the captured tables: %w", err)
		}
		out[i-1] = ti
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading the captured tables: %w", err)
	}
	return out, nil
}

// publishAll adds every readable table missing from the publication in one
// ALTER PUBLICATION, and reports which it added; on failure it adds none
// (ensurePublished then tries each, and names the one that fails).
func (db *Database) publishAll(ctx context.Context, tables []TableRef, infos []tableInfo) map[int]bool {
	var names []string
	added := map[int]bool{}
	for i, t := range tables {
		if infos[i].readable && !infos[i].published {
			names = append(names, QuoteTable(t.Schema, t.Name))
			added[i] = true
		}
	}
	if len(names) < 2 {
		return nil
	}
	if _, err := db.conn.Exec(ctx, `ALTER PUBLICATION `+quoteIdent(db.cfg.Publication)+` ADD TABLE `+strings.Join(names, ", ")); err != nil {
		return nil
	}
	return added
}

// identityFindings checks that the replica identity of t (of each of its
// partitions, for a partitioned root) carries the binding's key columns:
// deletes and key-changing updates send only the identity's columns as the
// old row, so a key outside them would make their records and tombstones
// keyed null, and the deleted row would live forever in a compacted topic.
// That fails. A table with no usable identity at all (REPLICA IDENTITY
// NOTHING, or DEFAULT without a primary key, or USING INDEX on a dropped
// index) is named with a warning: PostgreSQL refuses UPDATE and DELETE on it
// once it is published, so nothing is lost, but its writers fail.
func identityFindings(t TableRef, rels []identityRel) []Finding {
	check := "replica identity " + t.String()
	var out []Finding
	for _, r := range rels {
		ref := TableRef{Schema: r.schema, Name: r.name}
		table := QuoteTable(r.schema, r.name)
		fix := fmt.Sprintf("ALTER TABLE %s REPLICA IDENTITY DEFAULT; (with a primary key holding the key columns) or ALTER TABLE %s REPLICA IDENTITY FULL;", table, table)
		if ref.String() != t.String() {
			check = "replica identity " + t.String() + " (partition " + ref.String() + ")"
		}
		if r.ident == "f" {
			continue
		}
		if len(r.cols) == 0 {
			what := map[string]string{"n": "REPLICA IDENTITY NOTHING", "d": "REPLICA IDENTITY DEFAULT and no primary key", "i": "REPLICA IDENTITY USING INDEX on a missing index"}[r.ident]
			out = append(out, Finding{Check: check, Status: StatusWarn,
				Detail: fmt.Sprintf("table %q has no usable replica identity (%s): once it is published (publishing updates and deletes, as by default), PostgreSQL refuses its UPDATEs and DELETEs", ref.String(), what),
				Fix:    fmt.Sprintf("add a primary key, or ALTER TABLE %s REPLICA IDENTITY FULL;", table)})
			continue
		}
		var missing []string
		for _, k := range t.Key {
			found := false
			for _, c := range r.cols {
				found = found || c == k
			}
			if !found {
				missing = append(missing, k)
			}
		}
		if len(missing) > 0 {
			what := "its primary key"
			if r.ident == "i" {
				what = "the index of REPLICA IDENTITY USING INDEX"
			}
			out = append(out, Finding{Check: check, Status: StatusFail,
				Detail: fmt.Sprintf("table %q: the replica identity (%s: %s) does not hold key column(s) %s, so deletes would reach Kafka keyed null and deleted rows would never be compacted away",
					ref.String(), what, strings.Join(r.cols, ", "), strings.Join(missing, ", ")),
				Fix: fix})
		}
	}
	return out
}

// diagnoseSlot checks the replication slot and the WAL it may retain.
func (db *Database) diagnoseSlot(ctx context.Context, version int) []Finding {
	var out []Finding
	const check = "replication slot"
	// Columns that not every supported version has are read through
	// to_jsonb(s), NULL where missing: wal_status (13+), conflicting (16+),
	// invalidation_reason and inactive_since (17+).
	var database, restart, current, status, reason, inactiveSince *string
	var pid *int32
	var conflicting *bool
	err := db.conn.QueryRow(ctx, `SELECT database, active_pid, restart_lsn::text,
  (CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END)::text,
  to_jsonb(s) ->> 'wal_status', (to_jsonb(s) ->> 'conflicting')::boolean, to_jsonb(s) ->> 'invalidation_reason',
  to_char((to_jsonb(s) ->> 'inactive_since')::timestamptz AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
FROM pg_replication_slots s WHERE slot_name = $1`, db.cfg.Slot).Scan(&database, &pid, &restart, &current, &status, &conflicting, &reason, &inactiveSince)
	slot := db.cfg.Slot
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		out = append(out, Finding{Check: check, Status: StatusOK, Detail: fmt.Sprintf("%q does not exist yet; the first run creates it", slot)})
	case err != nil:
		out = append(out, Finding{Check: check, Status: StatusFail, Detail: fmt.Sprintf("reading replication slot %q: %v", slot, pgMessage(err)),
			Fix: "GRANT pg_read_all_stats or SELECT on pg_replication_slots to the capture's user"})
	case database != nil && *database != db.Name:
		out = append(out, Finding{Check: check, Status: StatusFail,
			Detail: fmt.Sprintf("replication slot %q exists in database %q, but the configured database is %q: consider using a different slot name (source.advanced.slotName) or removing the existing slot", slot, *database, db.Name),
			Fix:    fmt.Sprintf("set source.advanced.slotName, or SELECT pg_drop_replication_slot('%s'); in database %q", strings.ReplaceAll(slot, "'", "''"), *database)})
	default:
		lag := ""
		if restart != nil && current != nil {
			r, err1 := pglogrepl.ParseLSN(*restart)
			c, err2 := pglogrepl.ParseLSN(*current)
			if err1 == nil && err2 == nil && c >= r {
				lag = fmt.Sprintf(", retaining %s of WAL", bytesText(uint64(c-r)))
			}
		}
		ws := ""
		if status != nil {
			ws = *status
		}
		idle := ""
		if inactiveSince != nil && pid == nil {
			idle = ", inactive since " + *inactiveSince
		}
		switch {
		case reason != nil || (conflicting != nil && *conflicting):
			why := "conflicting = true"
			if reason != nil {
				why = "invalidation_reason = " + *reason
			}
			out = append(out, Finding{Check: check, Status: StatusFail,
				Detail: fmt.Sprintf("slot %q was invalidated (%s, wal_status = %s): it can no longer be streamed, so changes were missed", slot, why, orDash(ws)),
				Fix:    "re-backfill everything: pg2kafka state reset --yes (drops and recreates the slot); against the cause raise max_slot_wal_keep_size (wal_removed) or idle_replication_slot_timeout (idle_timeout)"})
		case ws == "lost":
			out = append(out, Finding{Check: check, Status: StatusFail,
				Detail: fmt.Sprintf("slot %q was invalidated (wal_status = lost): the WAL it needed was removed, so changes were missed", slot),
				Fix:    "re-backfill everything: pg2kafka state reset --yes (drops and recreates the slot), and raise max_slot_wal_keep_size"})
		case ws == "unreserved":
			out = append(out, Finding{Check: check, Status: StatusWarn,
				Detail: fmt.Sprintf("slot %q is about to be invalidated (wal_status = unreserved%s%s)", slot, lag, idle),
				Fix:    "start the capture now so it catches up, or raise max_slot_wal_keep_size"})
		case ws == "extended":
			out = append(out, Finding{Check: check, Status: StatusWarn,
				Detail: fmt.Sprintf("slot %q retains more WAL than max_wal_size (wal_status = extended%s%s)", slot, lag, idle),
				Fix:    "let the capture catch up; check for long-running transactions"})
		default:
			out = append(out, Finding{Check: check, Status: StatusOK, Detail: fmt.Sprintf("%q exists (wal_status = %s%s%s)", slot, orDash(ws), lag, idle)})
		}
		if pid != nil {
			out = append(out, Finding{Check: check + " in use", Status: StatusWarn,
				Detail: fmt.Sprintf("slot %q is held by process %d (another capture, or pg2kafka itself, is streaming it); a second capture waits for it", slot, *pid),
				Fix:    fmt.Sprintf("stop the other capture, or give this one a slot of its own with source.advanced.slotName (SELECT pg_terminate_backend(%d); ends the holder)", *pid)})
		}
	}

	if version >= 130000 {
		var keep string
		if err := db.conn.QueryRow(ctx, `SHOW max_slot_wal_keep_size`).Scan(&keep); err == nil {
			if keep == "-1" {
				out = append(out, Finding{Check: "max_slot_wal_keep_size", Status: StatusWarn,
					Detail: "unlimited (-1): a stopped or lagging capture makes PostgreSQL keep WAL until the disk fills",
					Fix:    "ALTER SYSTEM SET max_slot_wal_keep_size = '50GB'; SELECT pg_reload_conf(); (size it above the longest outage to ride out; past it the slot is lost and the capture must re-backfill)"})
			} else {
				out = append(out, Finding{Check: "max_slot_wal_keep_size", Status: StatusOK,
					Detail: fmt.Sprintf("%s: a capture lagging further than this loses its slot and must re-backfill", keep)})
			}
		}
	}
	return out
}

// splitFix splits an error worded "problem; fix: SQL" into its parts.
func splitFix(err error) (detail, fix string) {
	detail, fix, _ = strings.Cut(err.Error(), "; fix: ")
	return detail, fix
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func bytesText(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
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

// ensurePublished adds t to the publication if it is not in it (§5.2). A
// table counts as published when pg_publication_tables lists it, when it is
// itself a member (a partitioned root published by its partitions), or when
// the publication is FOR ALL TABLES.
func (db *Database) ensurePublished(ctx context.Context, t TableRef) error {
	var published bool
	err := db.conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_publication_tables WHERE pubname = $1 AND schemaname = $2 AND tablename = $3)
  OR EXISTS (SELECT 1 FROM pg_publication p JOIN pg_publication_rel r ON r.prpubid = p.oid JOIN pg_class c ON c.oid = r.prrelid
             JOIN pg_namespace n ON n.oid = c.relnamespace WHERE p.pubname = $1 AND n.nspname = $2 AND c.relname = $3)
  OR EXISTS (SELECT 1 FROM pg_publication WHERE pubname = $1 AND puballtables)`,
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

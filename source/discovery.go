package source

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/pg2kafka/pg2kafka/event"
)

// excludedSchemas are never discovered (§7.3).
var excludedSchemas = []string{"pg_catalog", "pg_internal", "information_schema", "catalog_history", "cron", "pglogical"}

// DiscoveredTable is a table discovery found, with what a binding needs.
type DiscoveredTable struct {
	event.Table
	// Published reports whether the table is in the publication.
	Published bool
	// RowFilter is the publication's row filter of the table (PostgreSQL
	// 15+), an SQL expression; "" when it has none.
	RowFilter string
	// FallbackKey is true when the key is a unique index, not the primary key.
	FallbackKey bool
	// Partitioned is true for a partitioned root.
	Partitioned bool
	// Partitions are a partitioned root's leaf partitions, by OID in
	// ascending order: a partition attached with rows brings rows the
	// replication stream never carried.
	Partitions []uint32
	// Description is the table's comment.
	Description string
	// Attributes is pg_class.relnatts: every ADD COLUMN raises it, so a
	// backfill compares it to tell a column added since discovery.
	Attributes int16
}

// Discover lists the capturable tables of the database (§7.3): permanent
// tables and partitioned roots outside the system schemas, with their
// columns, types and keys. Unpublished tables are included and marked. It
// runs a constant number of queries, whatever the number of tables (the
// publication's tables are read once, not once per table).
func (db *Database) Discover(ctx context.Context) ([]*DiscoveredTable, error) {
	rows, err := db.conn.Query(ctx, `
SELECT c.oid, n.nspname, c.relname, c.relkind = 'p', coalesce(obj_description(c.oid, 'pg_class'), ''), c.relnatts,
       pt.tablename IS NOT NULL,
       CASE WHEN c.relkind = 'p' THEN (SELECT array_agg(relid::oid ORDER BY relid) FROM pg_partition_tree(c.oid) WHERE isleaf) END
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN (SELECT DISTINCT schemaname, tablename FROM pg_publication_tables WHERE pubname = $1) pt
  ON pt.schemaname = n.nspname AND pt.tablename = c.relname
WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND c.relpersistence = 'p'
  AND n.nspname <> ALL($2) AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%'
ORDER BY n.nspname, c.relname`, db.cfg.Publication, excludedSchemas)
	if err != nil {
		return nil, fmt.Errorf("discovering tables: %w", err)
	}
	var tables []*DiscoveredTable
	byOID := map[uint32]*DiscoveredTable{}
	for rows.Next() {
		t := &DiscoveredTable{}
		if err := rows.Scan(&t.OID, &t.Schema, &t.Name, &t.Partitioned, &t.Description, &t.Attributes, &t.Published, &t.Partitions); err != nil {
			rows.Close()
			return nil, fmt.Errorf("discovering tables: %w", err)
		}
		tables = append(tables, t)
		byOID[t.OID] = t
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("discovering tables: %w", err)
	}
	if len(tables) == 0 {
		return nil, nil
	}
	oids := make([]uint32, 0, len(tables))
	for _, t := range tables {
		oids = append(oids, t.OID)
	}

	// Columns, with their types resolved like the stream resolves them. A
	// column's collation is reported as "C" or "POSIX" only when it orders
	// by bytes (schema.KeyOrderOf relies on it): the default collation only
	// when the database's lc_collate is C or POSIX under the libc provider
	// (an ICU or builtin default keeps an lc_collate that is not used to
	// order text, PostgreSQL 15+), and a collation named C or POSIX of
	// another provider is reported schema-qualified.
	types := newTypeCache(nil)
	types.conn = db.conn
	type colRow struct {
		rel      uint32
		num      int16
		typ      uint32
		typmod   int32
		col      event.Column
		collName string
	}
	var cols []colRow
	// A row key holds text as the session receives it (client_encoding).
	// COLLATE "C" orders the server's bytes; the two orders agree when the
	// text is not converted (same encodings, or a SQL_ASCII server) or the
	// conversion keeps the order (LATIN1's bytes are their code points, so
	// their UTF-8 sorts alike). Otherwise (WIN1252 to UTF8, ...) no
	// collation orders text as its row keys.
	var server, client string
	if err := db.conn.QueryRow(ctx, `SELECT current_setting('server_encoding'), current_setting('client_encoding')`).Scan(&server, &client); err != nil {
		return nil, fmt.Errorf("discovering columns: %w", err)
	}
	byteOrderEncoding := server == client || server == "SQL_ASCII" || (server == "LATIN1" && client == "UTF8")
	encoding := server + " to " + client
	rows, err = db.conn.Query(ctx, `
SELECT a.attrelid, a.attnum, a.attname, a.atttypid, a.atttypmod, NOT a.attnotnull, a.attgenerated <> '',
       coalesce(col_description(a.attrelid, a.attnum), ''),
       coalesce(CASE WHEN a.attcollation = 0 THEN '' WHEN co.collname = 'default' THEN
           (SELECT CASE WHEN datcollate IN ('C', 'POSIX') AND coalesce(to_jsonb(d)->>'datlocprovider', 'c') = 'c' THEN datcollate ELSE 'default' END
            FROM pg_database d WHERE datname = current_database())
         WHEN co.collname IN ('C', 'POSIX') AND co.collprovider <> 'c' THEN co.collnamespace::regnamespace::text || '.' || co.collname
         ELSE co.collname END, '')
FROM pg_attribute a LEFT JOIN pg_collation co ON co.oid = a.attcollation
WHERE a.attrelid = ANY($1) AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attrelid, a.attnum`, oids)
	if err != nil {
		return nil, fmt.Errorf("discovering columns: %w", err)
	}
	for rows.Next() {
		var r colRow
		if err := rows.Scan(&r.rel, &r.num, &r.col.Name, &r.typ, &r.typmod, &r.col.Nullable, &r.col.Generated, &r.col.Description, &r.collName); err != nil {
			rows.Close()
			return nil, fmt.Errorf("discovering columns: %w", err)
		}
		cols = append(cols, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("discovering columns: %w", err)
	}
	typeOIDs := make([]uint32, len(cols))
	for i, c := range cols {
		typeOIDs[i] = c.typ
	}
	if err := types.load(ctx, typeOIDs); err != nil {
		return nil, err
	}
	attIndex := map[uint32]map[int16]int{}
	for _, c := range cols {
		t := byOID[c.rel]
		c.col.Type = *types.resolve(c.typ)
		c.col.Type.Typmod = c.typmod
		if c.collName != "default" {
			c.col.Type.Collation = c.collName
		}
		if c.collName != "" && !byteOrderEncoding {
			// No collation orders by the bytes a row key holds.
			c.col.Type.Collation = c.collName + " (" + encoding + ")"
		}
		if attIndex[c.rel] == nil {
			attIndex[c.rel] = map[int16]int{}
		}
		attIndex[c.rel][c.num] = len(t.Columns)
		t.Columns = append(t.Columns, c.col)
	}

	// Keys: the primary key, else the alphabetically first unique,
	// non-expression index whose columns are all NOT NULL.
	rows, err = db.conn.Query(ctx, `
SELECT i.indrelid, i.indisprimary, i.indkey::int2[]
FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
WHERE i.indrelid = ANY($1) AND (i.indisprimary OR (i.indisunique AND i.indexprs IS NULL))
ORDER BY i.indrelid, NOT i.indisprimary, ic.relname`, oids)
	if err != nil {
		return nil, fmt.Errorf("discovering keys: %w", err)
	}
	for rows.Next() {
		var rel uint32
		var primary bool
		var attnums []int16
		if err := rows.Scan(&rel, &primary, &attnums); err != nil {
			rows.Close()
			return nil, fmt.Errorf("discovering keys: %w", err)
		}
		t := byOID[rel]
		if t.Key != nil {
			continue
		}
		key := make([]int, 0, len(attnums))
		usable := true
		for _, a := range attnums {
			i, ok := attIndex[rel][a]
			if !ok || (!primary && t.Columns[i].Nullable) {
				usable = false
				break
			}
			key = append(key, i)
		}
		if usable && len(key) > 0 {
			t.Key, t.FallbackKey = key, !primary
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("discovering keys: %w", err)
	}
	for _, t := range tables {
		for _, i := range t.Key {
			if t.Columns[i].Generated {
				t.Key = nil // a generated key column makes the table keyless (§7.3)
				break
			}
		}
	}
	if err := db.applyPublication(ctx, tables); err != nil {
		return nil, err
	}
	return tables, nil
}

// SortTables orders tables by schema then name.
func SortTables(ts []*DiscoveredTable) {
	sort.Slice(ts, func(i, j int) bool {
		if ts[i].Schema != ts[j].Schema {
			return ts[i].Schema < ts[j].Schema
		}
		return ts[i].Name < ts[j].Name
	})
}

// IsWatermarks reports whether schema.table is the watermarks table.
func (db *Database) IsWatermarks(schema, table string) bool {
	return strings.EqualFold(schema+"."+table, db.cfg.WatermarksTable)
}

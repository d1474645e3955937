package source

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pg2kafka/pg2kafka/event"
	"github.com/pg2kafka/pg2kafka/internal/slab"
)

// chunkSQL renders a chunk query.
func chunkSQL(q *event.ChunkQuery) string {
	var b strings.Builder
	b.WriteString("SELECT ")
	for i, c := range q.Columns {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(quoteIdent(c))
	}
	b.WriteString(" FROM ")
	b.WriteString(QuoteTable(q.Schema, q.Table))
	keys := make([]string, len(q.Key))
	for i, k := range q.Key {
		keys[i] = quoteIdent(k)
		if i < len(q.CollateC) && q.CollateC[i] {
			keys[i] += ` COLLATE "C"`
		}
	}
	var where []string
	if q.After != nil {
		params := make([]string, len(q.After))
		for i := range q.After {
			params[i] = fmt.Sprintf("$%d", i+1)
		}
		where = append(where, "("+strings.Join(keys, ", ")+") > ("+strings.Join(params, ", ")+")")
	}
	if q.Filter != "" {
		where = append(where, "("+q.Filter+")")
	}
	if len(where) > 0 {
		b.WriteString(" WHERE ")
		b.WriteString(strings.Join(where, " AND "))
	}
	b.WriteString(" ORDER BY ")
	b.WriteString(strings.Join(keys, ", "))
	fmt.Fprintf(&b, " LIMIT %d", q.Limit)
	return b.String()
}

// ReadChunk runs a keyed chunk query and returns its rows in text form.
func (db *Database) ReadChunk(ctx context.Context, q *event.ChunkQuery) ([]event.Row, error) {
	sql := chunkSQL(q)
	args := append([]any{pgx.QueryResultFormats{pgx.TextFormatCode}}, q.After...)
	doing := fmt.Sprintf("backfilling %s.%s", q.Schema, q.Table)
	rows, err := db.conn.Query(ctx, sql, args...)
	if err != nil {
		return nil, readError(doing, err)
	}
	out, err := collectRows(rows, q.Schema+"."+q.Table)
	if err != nil {
		return nil, err
	}
	return out, db.checkAttributes(ctx, doing, q.Schema, q.Table, q.Attributes)
}

// checkAttributes fails with ErrTableChanged when the table's attribute
// count is no longer want (0: no check). It runs after the chunk's query:
// ADD COLUMN takes an exclusive lock, so it committed either before that
// query (and is seen here) or after it (and the rows read do not have the
// column yet, which the next chunk's check sees). One catalog read per
// chunk, never per row.
func (db *Database) checkAttributes(ctx context.Context, doing, schema, table string, want int16) error {
	if want == 0 {
		return nil
	}
	var have int16
	if err := db.conn.QueryRow(ctx, `SELECT relnatts FROM pg_class WHERE oid = $1::regclass`, QuoteTable(schema, table)).Scan(&have); err != nil {
		return readError(doing, err)
	}
	if have != want {
		return &kindError{err: fmt.Errorf("%s: columns were added to the table since it was discovered", doing), kind: event.ErrTableChanged}
	}
	return nil
}

// TableSize returns a table's size in pages (including its partitions) and
// the planner's row estimate.
func (db *Database) TableSize(ctx context.Context, schema, table string) (pages uint32, rows float64, err error) {
	err = db.conn.QueryRow(ctx, `
SELECT coalesce(max(pg_relation_size(c.oid) / current_setting('block_size')::int), 0)::bigint,
       coalesce(sum(greatest(c.reltuples, 0)), 0)::float8
FROM pg_class c WHERE c.oid = $1::regclass OR c.oid IN (SELECT inhrelid FROM pg_inherits WHERE inhparent = $1::regclass)`,
		QuoteTable(schema, table)).Scan(&pages, &rows)
	if err != nil {
		return 0, 0, fmt.Errorf("reading the size of %s.%s: %w", schema, table, err)
	}
	return pages, rows, nil
}

// TableSizes is TableSize of many tables in one query (capture.TableSizer):
// pages and rows are in the order of schemas and tables.
func (db *Database) TableSizes(ctx context.Context, schemas, tables []string) (pages []uint32, rows []float64, err error) {
	pages, rows = make([]uint32, len(tables)), make([]float64, len(tables))
	names := make([]string, len(tables))
	for i := range tables {
		names[i] = QuoteTable(schemas[i], tables[i])
	}
	rs, err := db.conn.Query(ctx, `
WITH u AS (SELECT name::regclass::oid AS oid, i FROM unnest($1::text[]) WITH ORDINALITY AS u(name, i)),
rels AS (SELECT u.i, u.oid AS rel FROM u UNION ALL SELECT u.i, inh.inhrelid FROM u JOIN pg_inherits inh ON inh.inhparent = u.oid)
SELECT rels.i, coalesce(max(pg_relation_size(c.oid) / current_setting('block_size')::int), 0)::bigint,
       coalesce(sum(greatest(c.reltuples, 0)), 0)::float8
FROM rels JOIN pg_class c ON c.oid = rels.rel
GROUP BY rels.i`, names)
	if err != nil {
		return nil, nil, fmt.Errorf("reading the sizes of %d tables: %w", len(tables), err)
	}
	defer rs.Close()
	for rs.Next() {
		var i int64
		var p int64
		var r float64
		if err := rs.Scan(&i, &p, &r); err != nil {
			return nil, nil, fmt.Errorf("reading the sizes of %d tables: %w", len(tables), err)
		}
		pages[i-1], rows[i-1] = uint32(p), r
	}
	if err := rs.Err(); err != nil {
		return nil, nil, fmt.Errorf("reading the sizes of %d tables: %w", len(tables), err)
	}
	return pages, rows, nil
}

// ReadPages reads the rows stored in pages (q.From, q.To] of a table read by
// physical location (§4.6): WHERE ctid > '(From,0)' AND ctid <= '(To,0)',
// and q.Filter (an SQL predicate, the binding's backfill filter) unless it
// is "".
func (db *Database) ReadPages(ctx context.Context, q *event.PagesQuery) ([]event.Row, error) {
	cols := make([]string, len(q.Columns))
	for i, c := range q.Columns {
		cols[i] = quoteIdent(c)
	}
	sql := fmt.Sprintf(`SELECT %s FROM %s WHERE ctid > $1::tid AND ctid <= $2::tid`, strings.Join(cols, ", "), QuoteTable(q.Schema, q.Table))
	if q.Filter != "" {
		sql += " AND (" + q.Filter + ")"
	}
	doing := fmt.Sprintf("backfilling %s.%s pages %d..%d", q.Schema, q.Table, q.From, q.To)
	rows, err := db.conn.Query(ctx, sql, pgx.QueryResultFormats{pgx.TextFormatCode},
		fmt.Sprintf("(%d,0)", q.From), fmt.Sprintf("(%d,0)", q.To))
	if err != nil {
		return nil, readError(doing, err)
	}
	out, err := collectRows(rows, q.Schema+"."+q.Table)
	if err != nil {
		return nil, err
	}
	return out, db.checkAttributes(ctx, doing, q.Schema, q.Table, q.Attributes)
}

// readError wraps the error of a backfill read, telling a table changed by
// DDL (undefined column or table) from other failures.
func readError(doing string, err error) error {
	err = fmt.Errorf("%s: %w", doing, err)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && (pgErr.Code == "42703" || pgErr.Code == "42P01") {
		return &kindError{err: err, kind: event.ErrTableChanged}
	}
	if errors.As(err, &pgErr) && pgErr.Code == "57014" && strings.Contains(pgErr.Message, "statement timeout") {
		return &kindError{err: err, kind: event.ErrReadTimeout}
	}
	return err
}

// collectRows copies each row's text values out of the connection's
// buffer. The rows of a chunk live and die together (written, then
// dropped with the chunk), so their values and bytes are carved from
// shared blocks rather than allocated row by row.
func collectRows(rows pgx.Rows, name string) ([]event.Row, error) {
	defer rows.Close()
	var out []event.Row
	data, values := slab.New[byte](64<<10), slab.New[event.Value](4096)
	for rows.Next() {
		raw := rows.RawValues()
		row := event.Row(values.Make(len(raw)))
		for i, v := range raw {
			if v == nil {
				row[i] = event.Value{Marker: event.MarkerNull}
				continue
			}
			row[i] = event.Value{Marker: event.MarkerText, Data: data.Copy(v)}
		}
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		return nil, readError("backfilling "+name, err)
	}
	return out, nil
}

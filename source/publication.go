package source

import (
	"context"
	"fmt"
)

// applyPublication applies what the publication says of each published
// table beyond its membership. It leaves out the columns it does not
// publish: a column list (PostgreSQL 15+, `ALTER
// PUBLICATION ... ADD TABLE t (a, b)`) sends only the listed columns
// through replication, so backfills must not read the others either, or
// backfilled and replicated documents would differ. pg_publication_tables
// lists the published columns as attnames from PostgreSQL 15 on (read
// through to_jsonb: NULL before, and then every column is published). A
// key that loses a column is no key. And it sets RowFilter to the table's
// row filter (PostgreSQL 15+, `ADD TABLE t WHERE (...)`, rowfilter), which
// replication applies to every change and backfills must apply too.
func (db *Database) applyPublication(ctx context.Context, tables []*DiscoveredTable) error {
	rows, err := db.conn.Query(ctx, `SELECT schemaname, tablename, to_jsonb(p) -> 'attnames', to_jsonb(p) ->> 'rowfilter' FROM pg_publication_tables p WHERE pubname = $1`, db.cfg.Publication)
	if err != nil {
		return fmt.Errorf("discovering the published columns: %w", err)
	}
	type name struct{ schema, table string }
	published := map[name]map[string]bool{}
	filters := map[name]string{}
	for rows.Next() {
		var t name
		var names []string
		var filter *string
		if err := rows.Scan(&t.schema, &t.table, &names, &filter); err != nil {
			rows.Close()
			return fmt.Errorf("discovering the published columns: %w", err)
		}
		if filter != nil {
			filters[t] = *filter
		}
		if names == nil {
			continue
		}
		set := make(map[string]bool, len(names))
		for _, n := range names {
			set[n] = true
		}
		published[t] = set
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("discovering the published columns: %w", err)
	}
	for _, t := range tables {
		t.RowFilter = filters[name{t.Schema, t.Name}]
		set := published[name{t.Schema, t.Name}]
		if set == nil {
			continue
		}
		newIndex := make([]int, len(t.Columns))
		kept := t.Columns[:0:0]
		for i, c := range t.Columns {
			newIndex[i] = -1
			// Generated columns stay as they are: bindings leave them out
			// whether or not the publication sends them (PostgreSQL 18).
			if set[c.Name] || c.Generated {
				newIndex[i] = len(kept)
				kept = append(kept, c)
			}
		}
		if len(kept) == len(t.Columns) {
			continue
		}
		t.Columns = kept
		for j, i := range t.Key {
			if newIndex[i] < 0 {
				t.Key, t.FallbackKey = nil, false
				break
			}
			t.Key[j] = newIndex[i]
		}
	}
	return nil
}

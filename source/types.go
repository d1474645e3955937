package source

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/pg2kafka/pg2kafka/event"
	"github.com/pg2kafka/pg2kafka/schema"
)

// typeRow is what the catalog says of one type.
type typeRow struct {
	name     string
	typtype  byte
	category byte
	base     uint32 // typbasetype, for domains
	elem     uint32 // typelem, for arrays
}

// typeCache resolves type OIDs to event.Types (domains to their base type,
// arrays to their element), asking the catalog once per OID.
type typeCache struct {
	connect func(ctx context.Context) (*pgx.Conn, error)
	// noGenerated says the server never publishes generated columns
	// (before PostgreSQL 18), so RELATION messages need no lookup of them.
	noGenerated bool
	conn        *pgx.Conn
	rows        map[uint32]typeRow
	types       map[uint32]*event.Type
}

func newTypeCache(connect func(ctx context.Context) (*pgx.Conn, error)) *typeCache {
	return &typeCache{connect: connect, rows: map[uint32]typeRow{}, types: map[uint32]*event.Type{}}
}

func (c *typeCache) close() {
	if c.conn != nil {
		_ = c.conn.Close(context.Background())
		c.conn = nil
	}
}

// load fetches the catalog rows of oids and of every type they lead to.
func (c *typeCache) load(ctx context.Context, oids []uint32) error {
	for len(oids) > 0 {
		var want []uint32
		seen := map[uint32]bool{}
		for _, o := range oids {
			if _, ok := c.rows[o]; !ok && o != 0 && !seen[o] {
				seen[o] = true
				want = append(want, o)
			}
		}
		if len(want) == 0 {
			return nil
		}
		if c.conn == nil {
			conn, err := c.connect(ctx)
			if err != nil {
				return fmt.Errorf("connecting to look up column types: %w", err)
			}
			c.conn = conn
		}
		rows, err := c.conn.Query(ctx, `SELECT oid, typname, typtype, typcategory, typbasetype, typelem FROM pg_type WHERE oid = ANY($1)`, want)
		if err != nil {
			return fmt.Errorf("looking up column types %v: %w", want, err)
		}
		oids = oids[:0:0]
		for rows.Next() {
			var oid, base, elem uint32
			var name string
			var typtype, category string
			if err := rows.Scan(&oid, &name, &typtype, &category, &base, &elem); err != nil {
				rows.Close()
				return fmt.Errorf("reading column types: %w", err)
			}
			c.rows[oid] = typeRow{name: name, typtype: typtype[0], category: category[0], base: base, elem: elem}
			oids = append(oids, base, elem)
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("reading column types: %w", err)
		}
		for _, o := range want {
			if _, ok := c.rows[o]; !ok {
				c.rows[o] = typeRow{name: fmt.Sprintf("oid%d", o), typtype: 'b'}
			}
		}
	}
	return nil
}

// resolve returns the type of oid; load must have fetched it.
func (c *typeCache) resolve(oid uint32) *event.Type {
	if t, ok := c.types[oid]; ok {
		return t
	}
	r := c.rows[oid]
	base := r
	for depth := 0; base.typtype == 'd' && depth < 16; depth++ {
		base = c.rows[base.base]
	}
	t := &event.Type{OID: oid, Name: base.name}
	var elem *event.Type
	if base.category == 'A' && base.elem != 0 {
		c.types[oid] = t // guard against cycles
		elem = c.resolve(base.elem)
	}
	*t = schema.NewType(oid, base.name, base.typtype, base.category, elem)
	c.types[oid] = t
	return t
}

// table builds a table from a RELATION message. Stored generated columns
// are left out, as backfills leave them out (§4.2): PostgreSQL 18 publishes
// them when the publication says publish_generated_columns = stored (or
// names them in a column list). keep is nil when the tuples of the relation
// are the table's columns as they are, else the indexes of the tuple values
// to keep.
func (c *typeCache) table(ctx context.Context, r pgoRelation) (t *event.Table, keep []int, err error) {
	oids := make([]uint32, len(r.columns))
	for i, col := range r.columns {
		oids[i] = col.typeOID
	}
	if err := c.load(ctx, oids); err != nil {
		return nil, nil, fmt.Errorf("relation %s.%s: %w", r.namespace, r.name, err)
	}
	generated, err := c.generated(ctx, r)
	if err != nil {
		return nil, nil, err
	}
	t = &event.Table{OID: r.oid, Schema: r.namespace, Name: r.name, Columns: make([]event.Column, 0, len(r.columns))}
	if len(generated) > 0 {
		keep = make([]int, 0, len(r.columns))
	}
	for i, col := range r.columns {
		if generated[col.name] {
			continue
		}
		if keep != nil {
			keep = append(keep, i)
		}
		if col.flags&1 != 0 {
			t.Key = append(t.Key, len(t.Columns))
		}
		column := event.Column{Name: col.name, Type: *c.resolve(col.typeOID), Nullable: true}
		column.Type.Typmod = col.typmod
		t.Columns = append(t.Columns, column)
	}
	return t, keep, nil
}

// generated returns the names of the relation's stored generated columns
// among those the RELATION message lists; nil when it lists none (always
// before PostgreSQL 18, which never publishes them).
func (c *typeCache) generated(ctx context.Context, r pgoRelation) (map[string]bool, error) {
	if c.noGenerated {
		return nil, nil
	}
	if c.conn == nil {
		if c.connect == nil {
			return nil, nil
		}
		conn, err := c.connect(ctx)
		if err != nil {
			return nil, fmt.Errorf("connecting to look up the columns of %s.%s: %w", r.namespace, r.name, err)
		}
		c.conn = conn
	}
	rows, err := c.conn.Query(ctx, `SELECT attname FROM pg_attribute WHERE attrelid = $1 AND attnum > 0 AND NOT attisdropped AND attgenerated <> ''`, r.oid)
	if err != nil {
		return nil, fmt.Errorf("looking up the generated columns of %s.%s: %w", r.namespace, r.name, err)
	}
	defer rows.Close()
	var out map[string]bool
	listed := make(map[string]bool, len(r.columns))
	for _, col := range r.columns {
		listed[col.name] = true
	}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, fmt.Errorf("reading the generated columns of %s.%s: %w", r.namespace, r.name, err)
		}
		if listed[name] {
			if out == nil {
				out = map[string]bool{}
			}
			out[name] = true
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading the generated columns of %s.%s: %w", r.namespace, r.name, err)
	}
	return out, nil
}

package e2e

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/pg2kafka/pg2kafka/event"
	"github.com/pg2kafka/pg2kafka/schema"
	"github.com/pg2kafka/pg2kafka/schema/flow"
	pgsource "github.com/pg2kafka/pg2kafka/source"
)

// keyOrderCases are key columns of every type a precise backfill may meet,
// with values chosen to cross the encodings' edges: signs, byte-length
// boundaries of integers, fractions and exponents of numerics, bytes 0x00
// and 0xff, times around the epoch and the ends of years 1-9999, control
// characters, blanks and multi-byte characters in text.
var keyOrderCases = []struct {
	name, typ, values string
	// want is schema.KeyOrderOf's expected verdict for the discovered
	// column.
	want schema.KeyOrder
}{
	{"int2", "int2", `SELECT unnest('{-32768,-257,-256,-255,-1,0,1,255,256,257,32767}'::int2[]) UNION SELECT g FROM generate_series(-300, 300, 7) g`, schema.KeyOrderMatches},
	{"int4", "int4", `SELECT unnest('{-2147483648,-16777217,-16777216,-65536,-65535,-256,-1,0,1,255,256,65535,65536,16777216,2147483647}'::int4[]) UNION SELECT g * 9973 FROM generate_series(-200, 200) g`, schema.KeyOrderMatches},
	{"int8", "int8", `SELECT unnest('{-9223372036854775808,-4294967297,-4294967296,-4294967295,-1099511627776,-1,0,1,4294967295,4294967296,1099511627776,72057594037927936,9223372036854775807}'::int8[]) UNION SELECT g::int8 * 1000000007 FROM generate_series(-200, 200) g`, schema.KeyOrderMatches},
	{"oid", "oid", `SELECT unnest('{0,1,255,256,65535,65536,2147483647,2147483648,4294967295}'::oid[])`, schema.KeyOrderMatches},
	{"bool", "bool", `SELECT unnest('{true,false}'::bool[])`, schema.KeyOrderMatches},
	{"float4", "float4", `SELECT unnest('{-Infinity,-3.4e38,-1.5,-1,-1e-30,0,1e-30,1,1.5,3.4e38,Infinity,NaN}'::float4[]) UNION SELECT g / 7.0 FROM generate_series(-100, 100) g`, schema.KeyOrderMatches},
	{"float8", "float8", `SELECT unnest('{-Infinity,-1.7e308,-1.5,-1,-5e-324,0,5e-324,1,1.5,1.7e308,Infinity,NaN}'::float8[]) UNION SELECT g / 7.0 FROM generate_series(-100, 100) g`, schema.KeyOrderMatches},
	{"numeric", "numeric", `SELECT unnest('{-1e30,-12345678901234567890.123,-1000,-999.999,-100,-99.99,-10,-1.5,-1,-0.5,-0.05,-0.0001,0,0.0001,0.05,0.5,1,1.5,10,99.99,100,999.999,1000,12345678901234567890.123,1e30}'::numeric[]) UNION SELECT g / 13.0 FROM generate_series(-200, 200) g`, schema.KeyOrderMatches},
	{"uuid", "uuid", `SELECT md5(g::text)::uuid FROM generate_series(1, 300) g UNION SELECT unnest('{00000000-0000-0000-0000-000000000000,ffffffff-ffff-ffff-ffff-ffffffffffff}'::uuid[])`, schema.KeyOrderMatches},
	{"bytea", "bytea", `SELECT unnest(ARRAY['\x'::bytea, '\x00', '\x0000', '\x0001', '\x01', '\x7f', '\x80', '\xff', '\xff00', '\xffff']) UNION SELECT substr(decode(md5(g::text), 'hex'), 1, g % 5) FROM generate_series(1, 300) g`, schema.KeyOrderMatches},
	{"timestamp", "timestamp", `SELECT unnest('{0001-01-01 00:00:00,1969-12-31 23:59:59.999999,1970-01-01 00:00:00,1970-01-01 00:00:00.000001,2000-02-29 12:00:00.5,9999-12-31 23:59:59.999999}'::timestamp[]) UNION SELECT '2024-01-01'::timestamp + g * interval '7 hours 13 minutes 0.123 seconds' FROM generate_series(-200, 200) g`, schema.KeyOrderMatches},
	{"timestamptz", "timestamptz", `SELECT unnest('{0001-01-02 00:00:00+00,2024-11-03 01:30:00-07,2024-11-03 01:10:00-08,2024-11-03 08:20:00+00,1969-12-31 23:59:59.999999+00,9999-12-30 23:59:59.999999+00}'::timestamptz[]) UNION SELECT '2024-03-10 00:00:00-08'::timestamptz + g * interval '17 minutes' FROM generate_series(-200, 200) g`, schema.KeyOrderMatches},
	{"date", "date", `SELECT unnest('{0001-01-01,1969-12-31,1970-01-01,2000-02-29,9999-12-31}'::date[]) UNION SELECT '2000-01-01'::date + g * 37 FROM generate_series(-200, 200) g`, schema.KeyOrderMatches},
	{"macaddr", "macaddr", `SELECT unnest('{00:00:00:00:00:00,08:00:2B:01:02:03,0a:00:00:00:00:00,ff:ff:ff:ff:ff:ff}'::macaddr[]) UNION SELECT substr(md5(g::text), 1, 12)::macaddr FROM generate_series(1, 100) g`, schema.KeyOrderMatches},
	{"text_c", `text COLLATE "C"`, keyOrderTexts, schema.KeyOrderMatches},
	{"varchar_c", `varchar(10) COLLATE "C"`, keyOrderTexts, schema.KeyOrderMatches},
	{"name", `name`, keyOrderTexts, schema.KeyOrderMatches},
	// The database's C.UTF-8 default: not C, so only COLLATE "C" orders it.
	{"text_default", `text`, keyOrderTexts, schema.KeyOrderMatchesCollateC},
	// Never in byte order: case-insensitive, and blank-padded.
	{"citext_c", `citext COLLATE "C"`, `SELECT unnest(ARRAY['a', 'B', 'c', '_', 'Z'])`, schema.KeyOrderDiffers},
	{"bpchar_c", `char(3) COLLATE "C"`, `SELECT unnest(ARRAY['a', E'a\x01', 'a b', ' ', E'\x01'])`, schema.KeyOrderDiffers},
}

// keyOrderTexts are pairs of characters: control characters, blank, ASCII
// of both cases, punctuation sorting between them, and multi-byte ones.
const keyOrderTexts = `SELECT a || b FROM unnest(ARRAY['', E'\x01', E'\x1f', ' ', '!', '0', 'A', 'Z', '_', 'a', 'z', '~', E'\x7f', 'é', 'ÿ', 'Ā', '€', '中', '😀']) a,
  unnest(ARRAY['', E'\x01', ' ', 'A', 'a', 'é', '😀']) b`

// For every key type schema.KeyOrderOf calls safe for a precise backfill,
// PostgreSQL's ORDER BY (as the backfill query issues it, COLLATE "C"
// included where asked) equals the order of the values' row keys as built by
// the capture's encoder; and the types it calls unsafe really are, so
// calling them safe would lose rows.
func TestKeyOrderMatchesServer(t *testing.T) {
	e := newEnv(t)
	e.exec(`CREATE EXTENSION citext`)
	for _, c := range keyOrderCases {
		e.exec(fmt.Sprintf(`CREATE TABLE k_%s (v %s PRIMARY KEY)`, c.name, c.typ),
			fmt.Sprintf(`INSERT INTO k_%s SELECT DISTINCT x FROM (%s) s(x) ON CONFLICT DO NOTHING`, c.name, c.values))
	}
	ctx := context.Background()
	db, err := pgsource.Connect(ctx, pgsource.Config{ConnString: e.dbURL, Publication: "flow_publication"})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tables, err := db.Discover(ctx)
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]*pgsource.DiscoveredTable{}
	for _, tb := range tables {
		byName[tb.Name] = tb
	}
	for _, c := range keyOrderCases {
		t.Run(c.name, func(t *testing.T) {
			tb := byName["k_"+c.name]
			if tb == nil || len(tb.Key) != 1 {
				t.Fatalf("k_%s not discovered with its key", c.name)
			}
			typ := &tb.Columns[tb.Key[0]].Type
			order := schema.KeyOrderOf(typ)
			if order != c.want {
				t.Fatalf("KeyOrderOf(%+v) = %d, want %d", *typ, order, c.want)
			}
			rows, err := db.ReadChunk(ctx, &event.ChunkQuery{Schema: "public", Table: tb.Name, Columns: []string{"v"}, Key: []string{"v"},
				CollateC: []bool{order == schema.KeyOrderMatchesCollateC}, Limit: 1 << 20})
			if err != nil {
				t.Fatal(err)
			}
			if len(rows) < 2 {
				t.Fatalf("only %d rows", len(rows))
			}
			enc := flow.NewEncoder(&tb.Table, tb.Key, "")
			var prev []byte
			var prevText []byte
			inOrder := true
			for i, row := range rows {
				key, err := enc.AppendRowKey(nil, &event.Change{Op: event.OpCreate, Table: &tb.Table, New: row})
				if err != nil {
					t.Fatalf("row key of %q: %v", row[0].Data, err)
				}
				if i > 0 && bytes.Compare(prev, key) >= 0 {
					inOrder = false
					if order != schema.KeyOrderDiffers {
						t.Errorf("ORDER BY puts %q before %q, but their row keys sort the other way (%x >= %x)", prevText, row[0].Data, prev, key)
					}
				}
				prev, prevText = key, row[0].Data
			}
			if order == schema.KeyOrderDiffers && inOrder {
				t.Errorf("%s is said to differ from byte order, but these values do not show it: add values that do", c.typ)
			}
		})
	}
}

// A database whose default collation comes from ICU (PostgreSQL 15+) still
// has an lc_collate, which may be "C"; its text is ordered by ICU all the
// same, so a text key under the default collation is not in byte order.
func TestKeyOrderICUDefaultCollation(t *testing.T) {
	e, err := newEnvWith(t, `LOCALE_PROVIDER icu ICU_LOCALE 'en' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0`)
	if err != nil {
		t.Skipf("no ICU database on this server: %v", err)
	}
	e.exec(`CREATE TABLE words (v text PRIMARY KEY)`, `INSERT INTO words VALUES ('a'), ('B'), ('c')`)
	ctx := context.Background()
	db, err := pgsource.Connect(ctx, pgsource.Config{ConnString: e.dbURL, Publication: "flow_publication"})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tables, err := db.Discover(ctx)
	if err != nil || len(tables) != 1 {
		t.Fatalf("discover: %v, %d tables", err, len(tables))
	}
	typ := &tables[0].Columns[0].Type
	if got := schema.KeyOrderOf(typ); got != schema.KeyOrderMatchesCollateC {
		t.Errorf("KeyOrderOf(%+v) = %d, want KeyOrderMatchesCollateC (%d): ICU orders 'a' < 'B'", *typ, got, schema.KeyOrderMatchesCollateC)
	}
}

// In a WIN1252 database (€ is 0x80, Ÿ 0x9f, ÿ 0xff) a session that receives
// text unconverted (client_encoding WIN1252, the capture's default) gets row
// keys in COLLATE "C" order; one that has it converted to UTF-8 does not, and
// no collation helps, so discovery makes such keys KeyOrderDiffers.
func TestKeyOrderNonUTF8Encoding(t *testing.T) {
	e, err := newEnvWith(t, `ENCODING 'WIN1252' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0`)
	if err != nil {
		t.Skipf("no WIN1252 database on this server: %v", err)
	}
	e.exec(`CREATE TABLE words (v text COLLATE "C" PRIMARY KEY)`,
		`INSERT INTO words SELECT convert_from(decode(h, 'hex'), 'WIN1252') FROM unnest(ARRAY['80', '9f', 'ff', '61']) h`)
	for _, c := range []struct {
		params string
		want   schema.KeyOrder
	}{{"", schema.KeyOrderMatches}, {"client_encoding=UTF8", schema.KeyOrderDiffers}} {
		t.Run("session "+c.params, func(t *testing.T) {
			ctx := context.Background()
			url := e.dbURL
			if c.params != "" {
				url += map[bool]string{true: "&", false: "?"}[strings.Contains(url, "?")] + c.params
			}
			db, err := pgsource.Connect(ctx, pgsource.Config{ConnString: url, Publication: "flow_publication"})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			tables, err := db.Discover(ctx)
			if err != nil || len(tables) != 1 {
				t.Fatalf("discover: %v, %d tables", err, len(tables))
			}
			tb := tables[0]
			typ := &tb.Columns[0].Type
			if got := schema.KeyOrderOf(typ); got != c.want {
				t.Errorf("KeyOrderOf(%+v) = %d, want %d", *typ, got, c.want)
			}
			rows, err := db.ReadChunk(ctx, &event.ChunkQuery{Schema: "public", Table: "words", Columns: []string{"v"}, Key: []string{"v"},
				CollateC: []bool{true}, Limit: 100})
			if err != nil {
				t.Fatal(err)
			}
			enc := flow.NewEncoder(&tb.Table, tb.Key, "")
			var prev []byte
			inOrder := true
			for _, row := range rows {
				key, err := enc.AppendRowKey(nil, &event.Change{Op: event.OpCreate, Table: &tb.Table, New: row})
				if err != nil {
					t.Fatal(err)
				}
				if prev != nil && bytes.Compare(prev, key) >= 0 {
					inOrder = false
				}
				prev = key
			}
			if inOrder != (c.want == schema.KeyOrderMatches) {
				t.Errorf("ORDER BY v COLLATE \"C\" in row-key order: %t; KeyOrderOf says %d", inOrder, c.want)
			}
		})
	}
}

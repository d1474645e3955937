package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// typeColumn is one column of the every_type table: its SQL type, the SQL
// expression of its value in each row (missing or "" = NULL), and the exact
// JSON expected for some rows (§6 of the Flow reference, with pg2kafka's
// choices of §6.1).
type typeColumn struct {
	name, sqlType string
	vals          []string
	want          map[int]string
	// needs names an extension the column needs; the column is left out
	// when the extension cannot be created.
	needs string
	// since is the server_version_num the type appeared in (0: any); the
	// column is left out on older servers.
	since int
	// rowSince holds, for a value older servers reject, the
	// server_version_num that accepts it (numeric infinities: 14, the
	// extreme interval: 15); on older servers the value is NULL instead.
	rowSince map[int]int
}

// forVersion returns c with the values the server cannot take made NULL
// and their expectations dropped, and whether it changed anything.
func (c typeColumn) forVersion(version int) (typeColumn, bool) {
	changed := false
	vals := append([]string(nil), c.vals...)
	want := map[int]string{}
	for r, w := range c.want {
		want[r] = w
	}
	for r, since := range c.rowSince {
		if since > version && r < len(vals) {
			vals[r] = ""
			delete(want, r)
			changed = true
		}
	}
	c.vals, c.want = vals, want
	return c, changed
}

// Rows 0..5 hold the edge values, row 6 is all NULL, rows 7 and 8 hold a
// 1 MB text and a 1 MB bytea (kafka.max_message_bytes is raised for them).
const (
	typeRowNull     = 6
	typeRowBigText  = 7
	typeRowBigBytea = 8
	typeRows        = 9
	// typeReplOffset is added to a row's id for its copy inserted while
	// pg2kafka streams.
	typeReplOffset = 100
)

// typeBigText is 1,000,000 characters that do not compress.
const typeBigText = `(SELECT string_agg(md5(g::text), '') FROM generate_series(1, 31250) g)`

// typeBigBytea is 1,000,000 bytes.
const typeBigBytea = `(SELECT decode(string_agg(md5(g::text), ''), 'hex') FROM generate_series(1, 62500) g)`

var typeColumns = []typeColumn{
	{name: "c_bool", sqlType: "boolean", vals: []string{"true", "false"},
		want: map[int]string{0: `true`, 1: `false`, typeRowNull: `null`}},
	{name: "c_int2", sqlType: "smallint", vals: []string{"0", "-32768", "32767"},
		want: map[int]string{1: `-32768`, 2: `32767`}},
	{name: "c_int4", sqlType: "integer", vals: []string{"42", "-2147483648", "2147483647"},
		want: map[int]string{1: `-2147483648`, 2: `2147483647`}},
	{name: "c_int8", sqlType: "bigint", vals: []string{"1", "-9223372036854775808", "9223372036854775807"},
		want: map[int]string{1: `-9223372036854775808`, 2: `9223372036854775807`}},
	{name: "c_oid", sqlType: "oid", vals: []string{"1", "0", "4294967295"},
		want: map[int]string{2: `4294967295`}},
	{name: "c_float4", sqlType: "real", vals: []string{"'1.5'", "'-Infinity'", "'NaN'", "'3.4028235e38'", "'1e-45'", "'-0'"},
		want: map[int]string{0: `1.5`, 1: `"-Infinity"`, 2: `"NaN"`}},
	{name: "c_float8", sqlType: "double precision", vals: []string{"'123.456'", "'-Infinity'", "'Infinity'", "'NaN'", "'1e308'", "'5e-324'"},
		want: map[int]string{0: `123.456`, 1: `"-Infinity"`, 2: `"Infinity"`, 3: `"NaN"`}},
	{name: "c_numeric", sqlType: "numeric", rowSince: map[int]int{2: 140000, 3: 140000}, vals: []string{"'123456.7890'", "'NaN'", "'Infinity'", "'-Infinity'", "'0'", "'-0.000000000000000000000000000000000000001'"},
		want: map[int]string{0: `"123456.7890"`, 1: `"NaN"`, 2: `"Infinity"`, 3: `"-Infinity"`, 4: `"0"`}},
	{name: "c_numeric38_3", sqlType: "numeric(38,3)", vals: []string{"'0'", "'-99999999999999999999999999999999999.999'", "'99999999999999999999999999999999999.999'", "'0.0005'"},
		want: map[int]string{0: `"0.000"`, 1: `"-99999999999999999999999999999999999.999"`, 3: `"0.001"`}},
	{name: "c_numeric38", sqlType: "numeric(38,0)", vals: []string{"'12345678901234567890123456789012345678'", "'-99999999999999999999999999999999999999'"},
		want: map[int]string{0: `"12345678901234567890123456789012345678"`}},
	{name: "c_text", sqlType: "text", vals: []string{
		"'héllo wörld ✓ 𝄞 日本語'",
		`E'ctl \x01\x02\t\n\r\x1f\x7f "quoted" back\\slash'`,
		"''",
		`E'<script>&amp;\u2028\u2029</script>'`,
		"repeat('x', 10000)",
	},
		want: map[int]string{0: `"héllo wörld ✓ 𝄞 日本語"`, 1: `"ctl \u0001\u0002\t\n\r\u001f` + "\x7f" + ` \"quoted\" back\\slash"`, 2: `""`,
			typeRowBigText: ""}}, // checked by length below
	{name: "c_varchar", sqlType: "varchar(10)", vals: []string{"'abc'", "''", "'ünïcödé'"},
		want: map[int]string{0: `"abc"`, 2: `"ünïcödé"`}},
	{name: "c_char", sqlType: "char(10)", vals: []string{"'fixed'", "''", "'ü'"},
		want: map[int]string{0: `"fixed     "`, 1: `"          "`, 2: `"ü         "`}},
	{name: "c_citext", sqlType: "citext", needs: "citext", vals: []string{"'MiXeD Case'", "''"},
		want: map[int]string{0: `"MiXeD Case"`}},
	{name: "c_bytea", sqlType: "bytea", vals: []string{`'\xDEADBEEF'`, `'\x'`, `'\x00ff'`, `E'\\000\\001 a\\\\'::bytea`},
		want: map[int]string{0: `"3q2+7w=="`, 1: `""`, 2: `"AP8="`, 3: `"AAEgYVw="`}},
	{name: "c_bit", sqlType: "bit(4)", vals: []string{"B'1010'", "B'0000'"},
		want: map[int]string{0: `"1010"`}},
	{name: "c_varbit", sqlType: "bit varying", vals: []string{"B'101'", "B''"},
		want: map[int]string{0: `"101"`, 1: `""`}},
	{name: "c_uuid", sqlType: "uuid", vals: []string{"'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11'", "'00000000-0000-0000-0000-000000000000'"},
		want: map[int]string{0: `"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"`}},
	{name: "c_json", sqlType: "json", vals: []string{
		`'{"a": "\ud800", "b": [1, 2.50, null], "c": "\ud83d\ude00"}'`,
		`'"\udc00x"'`,
		`'[]'`,
		`'null'`,
		`'{"dup": 1, "dup": 2}'`,
		`'  {"deep": [[[[{"x": -1.5e+10}]]]], "s": "<&>"}  '`,
	},
		want: map[int]string{0: `{"a":"\ufffd","b":[1,2.50,null],"c":"\ud83d\ude00"}`, 1: `"\ufffdx"`, 2: `[]`, 3: `null`,
			4: `{"dup":1,"dup":2}`, 5: `{"deep":[[[[{"x":-1.5e+10}]]]],"s":"<&>"}`}},
	{name: "c_jsonb", sqlType: "jsonb", vals: []string{`'{"b": 1, "a": [true, null]}'`, `'"str"'`, `'null'`, `'{}'`, `'1.000'`},
		want: map[int]string{0: `{"a":[true,null],"b":1}`, 1: `"str"`, 2: `null`, 3: `{}`, 4: `1.000`}},
	{name: "c_jsonpath", sqlType: "jsonpath", vals: []string{`'$."name"'`, `'$.a[*] ? (@ > 1)'`},
		want: map[int]string{0: `"$.\"name\""`}},
	{name: "c_xml", sqlType: "xml", vals: []string{`'<?xml version="1.0"?><a>x &amp; y</a>'`, `'text only'`},
		want: map[int]string{1: `"text only"`}},
	{name: "c_date", sqlType: "date", vals: []string{"'2024-01-15'", "'4713-01-01 BC'", "'infinity'", "'-infinity'", "'5874897-12-31'", "'0001-01-01'"},
		want: map[int]string{0: `"2024-01-15"`, 1: `"0000-01-01"`, 2: `"9999-12-31"`, 3: `"0000-01-01"`, 4: `"0000-01-01"`, 5: `"0001-01-01"`}},
	{name: "c_time", sqlType: "time", vals: []string{"'14:30:00'", "'00:00:00'", "'24:00:00'", "'23:59:59.999999'", "'12:00:00.5'"},
		want: map[int]string{0: `"14:30:00Z"`, 1: `"00:00:00Z"`, 2: `"24:00:00Z"`, 3: `"23:59:59.999999Z"`, 4: `"12:00:00.5Z"`}},
	{name: "c_timetz", sqlType: "timetz", vals: []string{"'14:30:00+05:30'", "'00:00:00+00'", "'24:00:00-15:59'", "'12:00:00+05:30:15'", "'23:59:59.999999-00:00:01'", "'01:02:03+14'"},
		want: map[int]string{0: `"14:30:00+05:30"`, 1: `"00:00:00Z"`, 2: `"24:00:00-15:59"`, 3: `"06:29:45Z"`, 4: `"00:00:00.999999Z"`, 5: `"01:02:03+14:00"`}},
	{name: "c_timestamp", sqlType: "timestamp", vals: []string{"'2024-01-15 14:30:00'", "'4713-01-01 00:00:00 BC'", "'infinity'", "'-infinity'", "'294276-12-31 23:59:59.999999'", "'2000-02-29 00:00:00.000001'"},
		want: map[int]string{0: `"2024-01-15T14:30:00Z"`, 1: `"0000-01-01T00:00:00Z"`, 2: `"9999-12-31T23:59:59Z"`, 3: `"0000-01-01T00:00:00Z"`, 4: `"0000-01-01T00:00:00Z"`, 5: `"2000-02-29T00:00:00.000001Z"`}},
	{name: "c_timestamptz", sqlType: "timestamptz", vals: []string{"'2024-01-15 14:30:00-08'", "'4713-01-01 00:00:00+00 BC'", "'infinity'", "'-infinity'", "'294276-12-31 23:59:59.999999+00'", "'1883-11-18 12:00:00 America/New_York'"},
		want: map[int]string{0: `"2024-01-15T22:30:00Z"`, 1: `"0000-01-01T00:00:00Z"`, 2: `"9999-12-31T23:59:59Z"`, 3: `"0000-01-01T00:00:00Z"`, 4: `"0000-01-01T00:00:00Z"`}},
	{name: "c_interval", sqlType: "interval", rowSince: map[int]int{5: 150000}, vals: []string{"'1 year 2 months 3 days'", "'5 hours 30 minutes'", "'0'", "'1 year'", "'-1 mons -2 days +03:04:05.678'", "'178000000 years -2147483648 days -2562047788:00:54.775807'"},
		want: map[int]string{0: `"14 mon 3 day"`, 1: `" 05:30:00"`, 2: `""`, 3: `"12 mon "`, 4: `"-1 mon -2 day 03:04:05.678000"`, 5: `"2136000000 mon -2147483648 day -2562047788:00:54.775807"`}},
	{name: "c_money", sqlType: "money", vals: []string{"'123.45'", "'-999.99'", "'92233720368547758.07'"},
		want: map[int]string{0: `"$123.45"`, 1: `"-$999.99"`}},
	{name: "c_inet", sqlType: "inet", vals: []string{"'192.168.1.1'", "'2001:4f8:3:ba::1'", "'10.0.0.1/8'", "'::ffff:1.2.3.4'"},
		want: map[int]string{0: `"192.168.1.1/32"`, 1: `"2001:4f8:3:ba::1/128"`, 2: `"10.0.0.1/8"`, 3: `"::ffff:1.2.3.4/128"`}},
	{name: "c_cidr", sqlType: "cidr", vals: []string{"'192.168.1.0/24'", "'2001:4f8:3:ba::/64'", "'10.1.2.3'"},
		want: map[int]string{0: `"192.168.1.0/24"`, 1: `"2001:4f8:3:ba::/64"`, 2: `"10.1.2.3/32"`}},
	{name: "c_macaddr", sqlType: "macaddr", vals: []string{"'08:00:2B:01:02:03'"},
		want: map[int]string{0: `"08:00:2b:01:02:03"`}},
	{name: "c_macaddr8", sqlType: "macaddr8", vals: []string{"'08:00:2b:01:02:03:04:05'"},
		want: map[int]string{0: `"08:00:2b:01:02:03:04:05"`}},
	{name: "c_point", sqlType: "point", vals: []string{"'(1,2)'", "'(-1.5,1e300)'"},
		want: map[int]string{0: `"(1,2)"`}},
	{name: "c_line", sqlType: "line", vals: []string{"'{1,2,3}'"},
		want: map[int]string{0: `"{1,2,3}"`}},
	{name: "c_lseg", sqlType: "lseg", vals: []string{"'[(1,2),(3,4)]'"},
		want: map[int]string{0: `"[(1,2),(3,4)]"`}},
	{name: "c_box", sqlType: "box", vals: []string{"'(1,2),(3,4)'"},
		want: map[int]string{0: `"(3,4),(1,2)"`}},
	{name: "c_path", sqlType: "path", vals: []string{"'[(1,2),(3,4),(5,6)]'", "'((0,0),(1,1))'"},
		want: map[int]string{0: `"[(1,2),(3,4),(5,6)]"`}},
	{name: "c_polygon", sqlType: "polygon", vals: []string{"'((0,0),(0,1),(1,0))'"},
		want: map[int]string{0: `"((0,0),(0,1),(1,0))"`}},
	{name: "c_circle", sqlType: "circle", vals: []string{"'<(1,2),3>'"},
		want: map[int]string{0: `"<(1,2),3>"`}},
	{name: "c_tsvector", sqlType: "tsvector", vals: []string{"'a fat cat'", "''"},
		want: map[int]string{0: `"'a' 'cat' 'fat'"`, 1: `""`}},
	{name: "c_tsquery", sqlType: "tsquery", vals: []string{"'fat & cat'", "'!x | (y <-> z)'"},
		want: map[int]string{0: `"'fat' & 'cat'"`}},
	{name: "c_int4range", sqlType: "int4range", vals: []string{"'[1,10)'", "'(,)'", "'empty'", "'(0,5]'"},
		want: map[int]string{0: `"[1,10)"`, 1: `"(,)"`, 2: `"empty"`, 3: `"[1,6)"`}},
	{name: "c_int8range", sqlType: "int8range", vals: []string{"'[-9223372036854775808,9223372036854775807)'"},
		want: map[int]string{0: `"[-9223372036854775808,9223372036854775807)"`}},
	{name: "c_numrange", sqlType: "numrange", rowSince: map[int]int{1: 140000}, vals: []string{"'(0,1.50]'", "'[-Infinity,Infinity]'", "'empty'"},
		want: map[int]string{0: `"(0,1.50]"`, 2: `"empty"`}},
	{name: "c_tsrange", sqlType: "tsrange", vals: []string{"'[2024-01-01 10:00,2024-12-31 11:30:00.5)'", "'[-infinity,infinity)'", "'(,2024-01-01]'"},
		want: map[int]string{0: `"[2024-01-01T10:00:00Z,2024-12-31T11:30:00.5Z)"`, 1: `"[0000-01-01T00:00:00Z,9999-12-31T23:59:59Z)"`, 2: `"(,2024-01-01T00:00:00Z]"`}},
	{name: "c_tstzrange", sqlType: "tstzrange", vals: []string{"'[2024-01-01 00:00+02,2024-12-31 00:00+00)'", "'empty'"},
		want: map[int]string{0: `"[2023-12-31T22:00:00Z,2024-12-31T00:00:00Z)"`, 1: `"empty"`}},
	{name: "c_daterange", sqlType: "daterange", vals: []string{"'[2024-01-01,2024-12-31)'", "'[2024-01-01,2024-01-01]'", "'(,infinity)'"},
		want: map[int]string{0: `"[2024-01-01T00:00:00Z,2024-12-31T00:00:00Z)"`, 1: `"[2024-01-01T00:00:00Z,2024-01-02T00:00:00Z)"`}},
	{name: "c_multirange", sqlType: "int4multirange", since: 140000, vals: []string{"'{[1,3),[5,7)}'", "'{}'"},
		want: map[int]string{0: `"{[1,3),[5,7)}"`, 1: `"{}"`}},
	{name: "c_enum", sqlType: "mood", vals: []string{"'happy'", "'sad'"},
		want: map[int]string{0: `"happy"`}},
	{name: "c_domain_int", sqlType: "posint", vals: []string{"42", "2147483647"},
		want: map[int]string{0: `42`}},
	{name: "c_domain_text", sqlType: "short_text", vals: []string{"'dom'", "''"},
		want: map[int]string{0: `"dom"`}},
	{name: "c_composite", sqlType: "pair", vals: []string{"ROW(1, 'x y')", "ROW(NULL, NULL)", `ROW(-5, E'q"\\')`},
		want: map[int]string{0: `"(1,\"x y\")"`, 1: `"(,)"`}},
	{name: "c_int_array", sqlType: "integer[]", vals: []string{"'{{1,2},{3,4}}'", "'{}'", "'{1,NULL,3}'", "'[0:1]={5,6}'", "'{{NULL}}'", "'{-2147483648}'"},
		want: map[int]string{0: `[1,2,3,4]`, 1: `[]`, 2: `[1,null,3]`, 3: `[5,6]`, 4: `[null]`}},
	{name: "c_text_array", sqlType: "text[]", vals: []string{`'{"a b","c,d","\"q\"",NULL,"NULL","","é"}'`, "'{}'", "'{{a,b},{c,d}}'", `ARRAY[E'tab\there', E'back\\slash', '{}', ' spaced ']`},
		want: map[int]string{0: `["a b","c,d","\"q\"",null,"NULL","","é"]`, 1: `[]`, 2: `["a","b","c","d"]`, 3: `["tab\there","back\\slash","{}"," spaced "]`}},
	{name: "c_numeric_array", sqlType: "numeric[]", vals: []string{"'{1.50,NaN,0.000}'", "'{{1,2},{3,NULL}}'"},
		want: map[int]string{0: `["1.50","NaN","0.000"]`, 1: `["1","2","3",null]`}},
	{name: "c_date_array", sqlType: "date[]", vals: []string{"'{2024-01-15,infinity,-infinity}'", "'{}'"},
		want: map[int]string{0: `["2024-01-15","9999-12-31","0000-01-01"]`}},
	{name: "c_enum_array", sqlType: "mood[]", vals: []string{"'{sad,happy}'", "'{{ok,NULL},{sad,sad}}'"},
		want: map[int]string{0: `["sad","happy"]`, 1: `["ok",null,"sad","sad"]`}},
	{name: "c_jsonb_array", sqlType: "jsonb[]", vals: []string{`ARRAY['{"a": 1}'::jsonb, '[1, 2]', 'null', '"s,}"']`, "'{}'", `ARRAY[ARRAY['1'::jsonb, '2'], ARRAY['3'::jsonb, NULL]]`},
		want: map[int]string{0: `[{"a":1},[1,2],null,"s,}"]`, 1: `[]`, 2: `[1,2,3,null]`}},
	{name: "c_tstz_array", sqlType: "timestamptz[]", vals: []string{"'{\"2024-01-15 14:30:00+00\",infinity}'"},
		want: map[int]string{0: `["2024-01-15T14:30:00Z","9999-12-31T23:59:59Z"]`}},
	{name: "c_float_array", sqlType: "float8[]", vals: []string{"'{NaN,Infinity,-1.5,1e300}'"},
		want: map[int]string{0: `["NaN","Infinity",-1.5,1e+300]`}},
	{name: "c_bytea_array", sqlType: "bytea[]", vals: []string{`ARRAY['\xDEADBEEF'::bytea, '\x', NULL]`},
		want: map[int]string{0: `["3q2+7w==","",null]`}},
	{name: "c_box_array", sqlType: "box[]", vals: []string{`ARRAY['(1,2),(3,4)'::box, '(0,0),(1,1)']`},
		want: map[int]string{0: `["(3,4),(1,2)","(1,1),(0,0)"]`}},
	{name: "c_pg_lsn", sqlType: "pg_lsn", vals: []string{"'16/B374D848'", "'0/0'"},
		want: map[int]string{0: `"16/B374D848"`, 1: `"0/0"`}},
	{name: "c_regclass", sqlType: "regclass", vals: []string{"'pg_class'"},
		want: map[int]string{0: `"pg_class"`}},
	{name: "c_big_bytea", sqlType: "bytea", vals: []string{`'\x01'`}},
}

// typeValues returns the SQL values of row r in column order.
func typeValues(cols []typeColumn, r int) []string {
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = "NULL"
		switch {
		case r == typeRowBigText && c.name == "c_text":
			out[i] = typeBigText
		case r == typeRowBigBytea && c.name == "c_big_bytea":
			out[i] = typeBigBytea
		case r < len(c.vals) && r != typeRowNull && c.vals[r] != "":
			out[i] = c.vals[r]
		}
	}
	return out
}

// typeHostileDefaults returns the statements that give the test's
// database output styles unlike PostgreSQL's defaults: a time zone half an
// hour off the hour, day-first SQL dates, SQL-standard intervals, floats
// rounded to their shortest digits less 0, and escaped bytea.
func typeHostileDefaults(e *env) []string {
	var db string
	if err := e.conn().QueryRow(context.Background(), `SELECT current_database()`).Scan(&db); err != nil {
		e.t.Fatal(err)
	}
	var stmts []string
	for _, set := range []string{`TimeZone = 'Asia/Kolkata'`, `DateStyle = 'SQL, DMY'`, `IntervalStyle = 'sql_standard'`,
		`extra_float_digits = 0`, `bytea_output = 'escape'`} {
		stmts = append(stmts, fmt.Sprintf(`ALTER DATABASE %q SET %s`, db, set))
	}
	return stmts
}

// typeInsert inserts every row with its id plus offset.
func typeInsert(e *env, cols []typeColumn, offset int) {
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.name
	}
	// The literals are written for PostgreSQL's default styles, which the
	// database's own (typeHostileDefaults) would read otherwise.
	stmts := []string{`SET TimeZone = 'UTC'`, `SET DateStyle = 'ISO, MDY'`, `SET IntervalStyle = 'postgres'`}
	for r := 0; r < typeRows; r++ {
		stmts = append(stmts, fmt.Sprintf(`INSERT INTO every_type (id, %s) VALUES (%d, %s)`,
			strings.Join(names, ", "), r+offset, strings.Join(typeValues(cols, r), ", ")))
	}
	e.exec(stmts...)
}

// typeDoc decodes a document keeping each field's raw JSON text.
func typeDoc(t *testing.T, v []byte) map[string]json.RawMessage {
	t.Helper()
	if !json.Valid(v) {
		t.Fatalf("document is not valid JSON: %.500s", v)
	}
	var d map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(v))
	dec.UseNumber()
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("decoding document: %v: %.500s", err, v)
	}
	return d
}

// A table with a column of every type of §6, filled with edge values before
// pg2kafka starts (backfill documents) and again, under other keys, while
// it streams (replication documents): every column's JSON is the same on
// both paths, byte for byte, every document is valid JSON, and the values
// take the forms of §6.
func TestEveryType(t *testing.T) {
	e := newEnv(t)
	e.kafka = []string{"max_message_bytes: 4194304"} // the 1 MB bytea is 1.33 MB of base64
	e.advanced = []string{"source_tag: every-type"}
	version := serverVersion(t, e)
	conn := e.conn()
	_, citextErr := conn.Exec(context.Background(), `CREATE EXTENSION IF NOT EXISTS citext`)
	if citextErr != nil {
		t.Logf("citext unavailable, leaving its column out: %v", citextErr)
	}
	var cols []typeColumn
	for _, c := range typeColumns {
		switch {
		case c.needs == "citext" && citextErr != nil:
		case c.since > version:
			t.Logf("PostgreSQL %d has no %s, leaving %s out", version, c.sqlType, c.name)
		default:
			c, changed := c.forVersion(version)
			if changed {
				t.Logf("PostgreSQL %d rejects some values of %s, leaving them out", version, c.name)
			}
			cols = append(cols, c)
		}
	}
	defs := make([]string, len(cols))
	for i, c := range cols {
		defs[i] = c.name + " " + c.sqlType
	}
	e.exec(
		`CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy')`,
		`CREATE DOMAIN posint AS integer CHECK (VALUE > 0)`,
		`CREATE DOMAIN short_text AS text CHECK (length(VALUE) < 100)`,
		`CREATE TYPE pair AS (n integer, s text)`,
		`CREATE TABLE every_type (id integer PRIMARY KEY, `+strings.Join(defs, ", ")+`)`,
		`ALTER PUBLICATION flow_publication ADD TABLE every_type`,
	)
	typeInsert(e, cols, 0)
	// Every session of the database, pg2kafka's included, starts with
	// output styles other than PostgreSQL's defaults: the documents must not
	// change (pg2kafka sets its own on each connection, backfill and
	// replication alike; the want strings below are the default styles').
	e.exec(typeHostileDefaults(e)...)

	p := e.start(true)
	topic := e.topic("every_type")
	if got := e.consume(topic, typeRows, 30*time.Second); len(got) < typeRows {
		t.Fatalf("got %d backfill documents, want %d\n%s", len(got), typeRows, p.output())
	}
	typeInsert(e, cols, typeReplOffset)
	recs := e.consume(topic, 2*typeRows, 30*time.Second)
	p.stop(t)
	if len(recs) != 2*typeRows {
		t.Fatalf("got %d documents, want %d\n%s", len(recs), 2*typeRows, p.output())
	}

	backfill := map[int]map[string]json.RawMessage{}
	repl := map[int]map[string]json.RawMessage{}
	for _, r := range recs {
		d := typeDoc(t, r.Value)
		var m struct {
			Source struct {
				Snapshot bool   `json:"snapshot"`
				Tag      string `json:"tag"`
			} `json:"source"`
		}
		if err := json.Unmarshal(d["_meta"], &m); err != nil {
			t.Fatalf("_meta: %v", err)
		}
		if m.Source.Tag != "every-type" {
			t.Errorf("_meta.source.tag %q, want source.advanced.source_tag's \"every-type\" (snapshot %v)", m.Source.Tag, m.Source.Snapshot)
		}
		id, err := strconv.Atoi(string(d["id"]))
		if err != nil {
			t.Fatalf("id %s: %v", d["id"], err)
		}
		if id >= typeReplOffset {
			if m.Source.Snapshot {
				t.Errorf("row %d: replicated document marked snapshot", id)
			}
			repl[id-typeReplOffset] = d
		} else {
			if !m.Source.Snapshot {
				t.Errorf("row %d: backfill document not marked snapshot", id)
			}
			backfill[id] = d
		}
	}

	for r := 0; r < typeRows; r++ {
		b, s := backfill[r], repl[r]
		if b == nil || s == nil {
			t.Errorf("row %d: backfill document %v, replication document %v", r, b != nil, s != nil)
			continue
		}
		for _, c := range cols {
			bv, ok1 := b[c.name]
			sv, ok2 := s[c.name]
			if !ok1 || !ok2 {
				t.Errorf("row %d %s: missing (backfill %v, replication %v)", r, c.name, ok1, ok2)
				continue
			}
			if !bytes.Equal(bv, sv) {
				t.Errorf("row %d %s (%s): paths differ:\n  backfill    %.300s\n  replication %.300s", r, c.name, c.sqlType, bv, sv)
			}
			if want, ok := c.want[r]; ok && want != "" && string(bv) != want {
				t.Errorf("row %d %s (%s) = %.300s, want %s", r, c.name, c.sqlType, bv, want)
			}
			if r == typeRowNull && string(bv) != "null" {
				t.Errorf("row %d %s (%s) = %.300s, want null", r, c.name, c.sqlType, bv)
			}
		}
	}

	// The large values arrive whole.
	if d := backfill[typeRowBigText]; d != nil {
		var s string
		if err := json.Unmarshal(d["c_text"], &s); err != nil || len(s) != 1_000_000 {
			t.Errorf("1 MB text: %d characters (%v)", len(s), err)
		}
	}
	if d := backfill[typeRowBigBytea]; d != nil {
		var b []byte // encoding/json decodes base64 into []byte
		if err := json.Unmarshal(d["c_big_bytea"], &b); err != nil || len(b) != 1_000_000 {
			t.Errorf("1 MB bytea: %d bytes (%v)", len(b), err)
		}
	}

	if t.Failed() {
		var names []string
		for _, c := range cols {
			names = append(names, c.name)
		}
		sort.Strings(names)
		for _, n := range names {
			t.Logf("row 0 %s = %.200s", n, backfill[0][n])
		}
	}
}

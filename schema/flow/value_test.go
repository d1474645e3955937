package flow

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/pg2kafka/pg2kafka/event"
	"github.com/pg2kafka/pg2kafka/schema"
)

// valueTestType builds the type of a built-in base type (arrays get their
// element from the name).
func valueTestType(name string) *event.Type {
	t := schema.NewType(0, name, 'b', 0, nil)
	return &t
}

type valueTestCase struct {
	typ  string // typname; "enum"/"composite"/"range" use NewType's typtype
	text string // PostgreSQL text output (observed on PostgreSQL 15)
	want string // JSON
}

func valueTestTypeOf(name string) *event.Type {
	var t event.Type
	switch name {
	case "enum":
		t = schema.NewType(0, "mood", 'e', 0, nil)
	case "composite":
		t = schema.NewType(0, "pair", 'c', 0, nil)
	case "range":
		t = schema.NewType(0, "floatrange", 'r', 0, nil)
	case "_enum":
		e := schema.NewType(0, "mood", 'e', 0, nil)
		t = schema.NewType(0, "_mood", 'b', 0, &e)
	default:
		return valueTestType(name)
	}
	return &t
}

var valueTestCases = []valueTestCase{
	// bool
	{"bool", "t", `true`},
	{"bool", "f", `false`},
	{"bool", "x", `"x"`},
	// integers
	{"int2", "-32768", `-32768`},
	{"int4", "0", `0`},
	{"int4", "2147483647", `2147483647`},
	{"int8", "9223372036854775807", `9223372036854775807`},
	{"int8", "-9223372036854775808", `-9223372036854775808`},
	{"oid", "4294967295", `4294967295`},
	{"int4", "", `""`},
	{"int4", "12a", `"12a"`},
	{"int4", "007", `"007"`},
	// floats (extra_float_digits=3 output)
	{"float8", "123.456", `123.456`},
	{"float8", "0.1", `0.1`},
	{"float8", "-0", `-0`},
	{"float8", "1e+21", `1e+21`},
	{"float8", "1.5e-07", `1.5e-07`},
	{"float8", "NaN", `"NaN"`},
	{"float8", "Infinity", `"Infinity"`},
	{"float8", "-Infinity", `"-Infinity"`},
	{"float4", "1.1", `1.1`},
	{"float4", "1e-45", `1e-45`},
	{"float4", "-Infinity", `"-Infinity"`},
	{"float8", "bogus", `"bogus"`},
	// numeric
	{"numeric", "123456.7890", `"123456.7890"`},
	{"numeric", "0.000", `"0.000"`},
	{"numeric", "0", `"0"`},
	{"numeric", "12345678901234567890123456789012345678", `"12345678901234567890123456789012345678"`},
	{"numeric", "-0.00000000000000000000000000000000000001", `"-0.00000000000000000000000000000000000001"`},
	{"numeric", "NaN", `"NaN"`},
	{"numeric", "Infinity", `"Infinity"`},
	{"numeric", "-Infinity", `"-Infinity"`},
	// text kinds
	{"text", "", `""`},
	{"text", "héllo wörld ✓ 😀", `"héllo wörld ✓ 😀"`},
	{"text", "a\\b\"c\x01d\u00e9", `"a\\b\"c\u0001dé"`},
	{"text", "tab\tnl\ncr\rbs\bff\f\x1f\x7f", `"tab\tnl\ncr\rbs\bff\f\u001f` + "\x7f" + `"`},
	{"text", "bad\xffutf8\xc3", `"bad\udcffutf8\udcc3"`},
	{"text", "\xed\xb3\xbf=\\udcff", `"\udced\udcb3\udcbf=\\udcff"`}, // an encoded surrogate is invalid UTF-8
	{"text", "\uFFFD", "\"\uFFFD\""},
	{"text", "<&>", `"<&>"`},
	{"bpchar", "fixed     ", `"fixed     "`},
	{"varchar", "v", `"v"`},
	{"xml", `<?xml version="1.0"?><a/>`, `"<?xml version=\"1.0\"?><a/>"`},
	{"jsonpath", `$."name"`, `"$.\"name\""`},
	{"money", "$123.45", `"$123.45"`},
	{"inet", "192.168.1.1/32", `"192.168.1.1/32"`},
	{"point", "(1,2)", `"(1,2)"`},
	{"tsvector", "'a' 'cat' 'fat'", `"'a' 'cat' 'fat'"`},
	{"hstore", `"a"=>"1"`, `"\"a\"=>\"1\""`},
	{"uuid", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", `"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"`},
	{"enum", "happy", `"happy"`},
	{"composite", `(1,"a b")`, `"(1,\"a b\")"`},
	{"range", "[1.5,2)", `"[1.5,2)"`},
	{"int4range", "[1,10)", `"[1,10)"`},
	{"int4range", "empty", `"empty"`},
	{"int4multirange", "{[1,3),[5,7)}", `"{[1,3),[5,7)}"`},
	{"tsmultirange", `{["2024-01-01 00:00:00","2024-01-02 00:00:00")}`, `"{[\"2024-01-01 00:00:00\",\"2024-01-02 00:00:00\")}"`},
	// timestamp and date ranges: bounds by the timestamp rules (§6)
	{"tsrange", `["2024-01-01 10:00:00","2024-12-31 11:30:00.5")`, `"[2024-01-01T10:00:00Z,2024-12-31T11:30:00.5Z)"`},
	{"tsrange", `[-infinity,infinity)`, `"[0000-01-01T00:00:00Z,9999-12-31T23:59:59Z)"`},
	{"tsrange", `(,"2024-01-01 00:00:00"]`, `"(,2024-01-01T00:00:00Z]"`},
	{"tsrange", `(,)`, `"(,)"`},
	{"tsrange", `empty`, `"empty"`},
	{"tsrange", `["4713-01-01 00:00:00 BC","294276-12-31 23:59:59.999999")`, `"[0000-01-01T00:00:00Z,0000-01-01T00:00:00Z)"`},
	{"tstzrange", `["2023-12-31 22:00:00+00","2024-12-31 00:00:00+00")`, `"[2023-12-31T22:00:00Z,2024-12-31T00:00:00Z)"`},
	{"tstzrange", `["2024-01-01 00:00:00+05:30",)`, `"[2024-01-01T00:00:00+05:30,)"`},
	{"daterange", `[2024-01-01,2024-12-31)`, `"[2024-01-01T00:00:00Z,2024-12-31T00:00:00Z)"`},
	{"daterange", `[-infinity,infinity)`, `"[0000-01-01T00:00:00Z,9999-12-31T23:59:59Z)"`},
	{"daterange", `["4713-01-01 BC",2024-01-02)`, `"[0000-01-01T00:00:00Z,2024-01-02T00:00:00Z)"`},
	{"tsrange", `[2024-01-01,2024)`, `"[2024-01-01,2024)"`},
	{"tsrange", `["2024-01-01 00:00:00"`, `"[\"2024-01-01 00:00:00\""`},
	{"daterange", `[2024-01-01,2024-01-02,2024-01-03)`, `"[2024-01-01,2024-01-02,2024-01-03)"`},
	{"_tsrange", `{"[\"2024-01-01 00:00:00\",)",empty}`, `["[2024-01-01T00:00:00Z,)","empty"]`},
	// inet always shows its mask
	{"inet", "192.168.1.1", `"192.168.1.1/32"`},
	{"inet", "2001:4f8:3:ba::1", `"2001:4f8:3:ba::1/128"`},
	{"inet", "::ffff:1.2.3.4", `"::ffff:1.2.3.4/128"`},
	{"inet", "10.0.0.1/8", `"10.0.0.1/8"`},
	{"cidr", "10.1.2.3/32", `"10.1.2.3/32"`},
	{"_inet", "{10.0.0.1,::1/64,NULL}", `["10.0.0.1/32","::1/64",null]`},
	// bytea
	{"bytea", `\x`, `""`},
	{"bytea", `\xdeadbeef`, `"3q2+7w=="`},
	{"bytea", `\xDEADBEEF00`, `"3q2+7wA="`},
	{"bytea", `\x6162`, `"YWI="`},
	{"bytea", `\xabc`, `"\\xabc"`},
	{"bytea", `\xzz`, `"\\xzz"`},
	{"bytea", `ab\\c\001`, `"YWJcYwE="`}, // bytea_output=escape
	{"bytea", `ab\9`, `"ab\\9"`},
	// json / jsonb
	{"json", `{"a":  [1, 2.5e3, true, null, "x"]}`, `{"a":[1,2.5e3,true,null,"x"]}`},
	{"json", ` "\ud800x" `, `"\ufffdx"`},
	{"json", `["\udc00", "\ud83d\ude00", "\ud83d\ud83d\ude00", "\ud83d"]`, `["\ufffd","\ud83d\ude00","\ufffd\ud83d\ude00","\ufffd"]`},
	{"json", `{"k\ud800": "\u00e9\n\/"}`, `{"k\ufffd":"\u00e9\n\/"}`},
	{"json", `42`, `42`},
	{"json", `{}`, `{}`},
	{"json", "[ ]", `[]`},
	{"json", `{"a":{"b":[[{}]]}}`, `{"a":{"b":[[{}]]}}`},
	{"json", `{"a":1,}`, `"{\"a\":1,}"`},
	{"json", `[1] 2`, `"[1] 2"`},
	{"json", ``, `""`},
	{"jsonb", `{"a": 1, "b": [1, 2]}`, `{"a":1,"b":[1,2]}`},
	{"jsonb", `["😀"]`, `["😀"]`},
	{"jsonb", `"<&>"`, `"<&>"`},
	// date
	{"date", "2024-01-15", `"2024-01-15"`},
	{"date", "0099-01-01", `"0099-01-01"`},
	{"date", "infinity", `"9999-12-31"`},
	{"date", "-infinity", `"0000-01-01"`},
	{"date", "4713-01-01 BC", `"0000-01-01"`},
	{"date", "5874897-12-31", `"0000-01-01"`},
	{"date", "2024-1-15", `"2024-1-15"`},
	// time / timetz
	{"time", "14:30:00", `"14:30:00Z"`},
	{"time", "23:59:59.999999", `"23:59:59.999999Z"`},
	{"time", "14:30:00.5", `"14:30:00.5Z"`},
	{"time", "24:00:00", `"24:00:00Z"`},
	{"time", "14:30", `"14:30"`},
	{"timetz", "00:00:00+00", `"00:00:00Z"`},
	{"timetz", "12:00:00+05:30", `"12:00:00+05:30"`},
	{"timetz", "12:00:00-03", `"12:00:00-03:00"`},
	{"timetz", "24:00:00+00", `"24:00:00Z"`},
	{"timetz", "24:00:00-15:59", `"24:00:00-15:59"`},
	{"timetz", "12:00:00.25+01:02:03", `"10:57:57.25Z"`},
	{"timetz", "00:00:00-00:00:30", `"00:00:30Z"`},
	{"timetz", "00:00:00+00:00:30", `"23:59:30Z"`},
	{"timetz", "12:00:00", `"12:00:00"`},
	// timestamp / timestamptz
	{"timestamp", "2024-01-15 14:30:00", `"2024-01-15T14:30:00Z"`},
	{"timestamp", "2024-01-15 14:30:00.5", `"2024-01-15T14:30:00.5Z"`},
	{"timestamp", "infinity", `"9999-12-31T23:59:59Z"`},
	{"timestamp", "-infinity", `"0000-01-01T00:00:00Z"`},
	{"timestamp", "294276-12-31 23:59:59.999999", `"0000-01-01T00:00:00Z"`},
	{"timestamp", "4713-11-24 00:00:00 BC", `"0000-01-01T00:00:00Z"`},
	{"timestamp", "0001-01-01 00:00:00", `"0001-01-01T00:00:00Z"`},
	{"timestamptz", "2024-01-15 14:30:00.5+00", `"2024-01-15T14:30:00.5Z"`},
	{"timestamptz", "2024-05-01 12:00:00.123456+00", `"2024-05-01T12:00:00.123456Z"`},
	{"timestamptz", "2024-01-15 14:30:00.5+05:30", `"2024-01-15T14:30:00.5+05:30"`},
	{"timestamptz", "2024-01-15 06:30:00-08", `"2024-01-15T06:30:00-08:00"`},
	{"timestamptz", "1800-01-01 00:00:00+05:53:28", `"1799-12-31T18:06:32Z"`},
	{"timestamptz", "4713-01-01 00:00:00+00 BC", `"0000-01-01T00:00:00Z"`},
	{"timestamptz", "infinity", `"9999-12-31T23:59:59Z"`},
	{"timestamptz", "-infinity", `"0000-01-01T00:00:00Z"`},
	{"timestamptz", "2024-01-15T14:30:00Z", `"2024-01-15T14:30:00Z"`},
	// interval (IntervalStyle postgres → pgx text form)
	{"interval", "1 year 2 mons 3 days", `"14 mon 3 day"`},
	{"interval", "05:30:00", `" 05:30:00"`},
	{"interval", "00:00:00", `""`},
	{"interval", "1 year", `"12 mon "`},
	{"interval", "1 day", `"1 day"`},
	{"interval", "1 year 2 mons 3 days 04:05:06.5", `"14 mon 3 day 04:05:06.500000"`},
	{"interval", "-1 days +02:00:00", `"-1 day 02:00:00"`},
	{"interval", "-1 years -2 mons +3 days -04:05:06", `"-14 mon 3 day -04:05:06"`},
	{"interval", "1 mon -1 days", `"1 mon -1 day"`},
	{"interval", "100000:00:00", `" 100000:00:00"`},
	{"interval", "00:00:00.000001", `" 00:00:00.000001"`},
	{"interval", "-00:00:00.5", `" -00:00:00.500000"`},
	{"interval", "-178956970 years -8 mons -2147483648 days", `"-2147483648 mon -2147483648 day"`},
	{"interval", "-2562047788:00:54.775808", `" -2562047788:00:54.775808"`},
	{"interval", "2562047788:00:54.775808", `"2562047788:00:54.775808"`},
	{"interval", "infinity", `"infinity"`},
	{"interval", "@ 1 day", `"@ 1 day"`},
	{"interval", "P1Y", `"P1Y"`},
	{"interval", "", `""`},
	// arrays
	{"_int4", "{}", `[]`},
	{"_int4", "{1,2,NULL}", `[1,2,null]`},
	{"_int4", "{{1,2},{3,4}}", `[1,2,3,4]`},
	{"_int4", "{{{1,2}},{{3,4}}}", `[1,2,3,4]`},
	{"_int4", "[2:3][1:1]={{1},{2}}", `[1,2]`},
	{"_int4", "[0:1]={7,8}", `[7,8]`},
	{"_text", `{"a,b","c\"d","e\\f","NULL",NULL,""," x ",plain,null}`, `["a,b","c\"d","e\\f","NULL",null,""," x ","plain",null]`},
	{"_text", `{"{}","x}"}`, `["{}","x}"]`},
	{"_bpchar", `{"a  "}`, `["a  "]`},
	{"_date", "{2024-01-01,infinity,-infinity}", `["2024-01-01","9999-12-31","0000-01-01"]`},
	{"_numeric", "{1.50,NULL,NaN}", `["1.50",null,"NaN"]`},
	{"_float8", "{1.5,NaN,-Infinity,1e+21}", `[1.5,"NaN","-Infinity",1e+21]`},
	{"_json", `{"{\"a\": 1}","[1,2]"}`, `[{"a":1},[1,2]]`},
	{"_jsonb", `{"{\"a\": \"b,c\"}"}`, `[{"a":"b,c"}]`},
	{"_bytea", `{"\\x6162","\\x"}`, `["YWI=",""]`},
	{"_timestamptz", `{"2024-01-15 14:30:00.5+00"}`, `["2024-01-15T14:30:00.5Z"]`},
	{"_interval", `{"1 day","00:00:00"}`, `["1 day",""]`},
	{"_box", "{(1,1),(0,0);(2,2),(1,1)}", `["(1,1),(0,0)","(2,2),(1,1)"]`},
	{"_point", `{"(1,2)"}`, `["(1,2)"]`},
	{"_bool", "{t,f}", `[true,false]`},
	{"_enum", "{happy,sad}", `["happy","sad"]`},
	{"_int4", "{1,x}", `[1,"x"]`},
	{"_int4", "{{},{{0}}}", `[0]`},
	{"_int4", "{{1},{},{2}}", `[1,2]`},
	{"_int4", "{1,2", `"{1,2"`},
	{"_int4", "{1,}", `"{1,}"`},
	{"_int4", "1,2", `"1,2"`},
	{"_int4", "{1}}", `"{1}}"`},
	{"_text", `{a\,b}`, `["a,b"]`},
	{"_text", `{ a b ,c}`, `["a b","c"]`},
	{"_text", `{"\ud800"}`, `["ud800"]`},
}

func TestValueAppendJSON(t *testing.T) {
	for _, c := range valueTestCases {
		typ := valueTestTypeOf(c.typ)
		got := AppendJSON(nil, typ, []byte(c.text))
		if string(got) != c.want {
			t.Errorf("%s %q: got %s, want %s", c.typ, c.text, got, c.want)
		}
		if !json.Valid(got) {
			t.Errorf("%s %q: invalid JSON %s", c.typ, c.text, got)
		}
		// Appending keeps what is already in dst.
		got2 := AppendJSON([]byte("prefix"), typ, []byte(c.text))
		if string(got2) != "prefix"+c.want {
			t.Errorf("%s %q: with prefix got %s", c.typ, c.text, got2)
		}
	}
}

func TestValueNilType(t *testing.T) {
	if got := string(AppendJSON(nil, nil, []byte("a\"b"))); got != `"a\"b"` {
		t.Errorf("nil type: %s", got)
	}
	arr := event.Type{Name: "_x", Kind: event.KindArray}
	if got := string(AppendJSON(nil, &arr, []byte("{1,NULL}"))); got != `["1",null]` {
		t.Errorf("array without elem: %s", got)
	}
}

func TestValueAppendJSONNested(t *testing.T) {
	cases := []valueTestCase{
		{"_int4", "{}", `[]`},
		{"_int4", "{1,2,NULL}", `[1,2,null]`},
		{"_int4", "{{1,2},{3,4}}", `[[1,2],[3,4]]`},
		{"_int4", "{{{1,2}},{{3,4}}}", `[[[1,2]],[[3,4]]]`},
		{"_int4", "[2:3][1:1]={{1},{2}}", `[[1],[2]]`},
		{"_text", `{{"a","b"},{"c",NULL}}`, `[["a","b"],["c",null]]`},
		{"_int4", "{{1,2},{3,4}", `"{{1,2},{3,4}"`},
		{"_int4", "{{},{{0}}}", `[[],[[0]]]`},
		{"int4", "5", `5`},
	}
	for _, c := range cases {
		got := AppendJSONNested(nil, valueTestTypeOf(c.typ), []byte(c.text))
		if string(got) != c.want {
			t.Errorf("%s %q: got %s, want %s", c.typ, c.text, got, c.want)
		}
	}
}

func TestValueAppendJSONKey(t *testing.T) {
	cases := []valueTestCase{
		{"float8", "-1.1", `"-1.1"`},
		{"float8", "1", `"1"`},
		{"float8", "0", `"0"`},
		{"float8", "1e+21", `"1000000000000000000000"`},
		{"float8", "1.5e-07", `"0.00000015"`},
		{"float8", "NaN", `"NaN"`},
		{"float8", "-Infinity", `"-Infinity"`},
		{"float4", "1.1", `"1.1"`},
		{"float4", "3.4028235e+38", `"340282350000000000000000000000000000000"`},
		{"float8", "x", `"x"`},
		{"int8", "-9223372036854775808", `-9223372036854775808`},
		{"numeric", "1.50", `"1.50"`},
		{"text", "a  ", `"a  "`},
		{"_float8", "{1e+21}", `[1e+21]`},
	}
	for _, c := range cases {
		got := AppendJSONKey(nil, valueTestTypeOf(c.typ), []byte(c.text))
		if string(got) != c.want {
			t.Errorf("%s %q: got %s, want %s", c.typ, c.text, got, c.want)
		}
	}
}

func TestValueAppendJSONTruncated(t *testing.T) {
	big := bytes.Repeat([]byte("é"), MaxValueSize/2+1) // 2 bytes each: over the limit
	got := AppendJSONTruncated(nil, valueTestType("text"), big)
	var s string
	if err := json.Unmarshal(got, &s); err != nil {
		t.Fatal(err)
	}
	if len(s) != MaxValueSize || !strings.HasPrefix(s, "éé") {
		t.Errorf("text: got %d bytes", len(s))
	}
	// A cut in the middle of a UTF-8 sequence leaves an invalid byte.
	odd := append([]byte("x"), big...)
	got = AppendJSONTruncated(nil, valueTestType("text"), odd)
	if !bytes.HasSuffix(got, []byte(`é\udcc3"`)) {
		t.Errorf("split UTF-8 not replaced: %q", got[len(got)-8:])
	}

	hex := make([]byte, 2+2*(MaxValueSize+3))
	copy(hex, `\x`)
	for i := 2; i < len(hex); i++ {
		hex[i] = 'f'
	}
	got = AppendJSONTruncated(nil, valueTestType("bytea"), hex)
	if err := json.Unmarshal(got, &s); err != nil {
		t.Fatal(err)
	}
	raw, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(raw) != MaxValueSize || raw[0] != 0xff {
		t.Errorf("bytea: %d bytes, %v", len(raw), err)
	}

	js := append(append([]byte(`"`), bytes.Repeat([]byte("a"), MaxValueSize)...), '"')
	for _, k := range []string{"json", "jsonb"} {
		got = AppendJSONTruncated(nil, valueTestType(k), js)
		want := `{"flow_truncated":true,"original_size":8388610}`
		if string(got) != want {
			t.Errorf("%s: got %s", k, got)
		}
	}

	// Small values are untouched.
	for _, c := range valueTestCases[:20] {
		typ := valueTestTypeOf(c.typ)
		if got := AppendJSONTruncated(nil, typ, []byte(c.text)); string(got) != c.want {
			t.Errorf("%s %q: got %s", c.typ, c.text, got)
		}
	}
	// Exactly at the limit: unchanged.
	at := bytes.Repeat([]byte("a"), MaxValueSize)
	if got := AppendJSONTruncated(nil, valueTestType("text"), at); len(got) != MaxValueSize+2 {
		t.Errorf("at limit: %d", len(got))
	}
}

// valueAllKinds lists one type of every Kind, plus a few arrays, for the
// fuzz test.
func valueAllKinds() []*event.Type {
	names := []string{"text", "bool", "int4", "float4", "float8", "numeric", "bytea",
		"json", "jsonb", "date", "time", "timetz", "timestamp", "timestamptz",
		"interval", "uuid", "enum", "range", "composite", "_int4", "_text", "_json",
		"_date", "_float8", "_bytea", "_box", "_enum"}
	var ts []*event.Type
	for _, n := range names {
		ts = append(ts, valueTestTypeOf(n))
	}
	// Every Kind value, including ones no name maps to.
	for k := event.KindText; k <= event.KindComposite+1; k++ {
		ts = append(ts, &event.Type{Kind: k})
	}
	return ts
}

func FuzzValueAppendJSON(f *testing.F) {
	for _, c := range valueTestCases {
		f.Add([]byte(c.text))
	}
	for _, s := range []string{"\xff", "{\"\\", "[{", `{"a":[1,{"b":"\ud800`, "{{", `\x0`,
		"1 year 2", "12:00:00+", "2024-01-15 14:30:00+99:99:99", "-", "1e", "{\"\",NULL}"} {
		f.Add([]byte(s))
	}
	kinds := valueAllKinds()
	f.Fuzz(func(t *testing.T, text []byte) {
		for _, typ := range kinds {
			for name, fn := range map[string]func([]byte, *event.Type, []byte) []byte{
				"AppendJSON": AppendJSON, "Nested": AppendJSONNested,
				"Key": AppendJSONKey, "Truncated": AppendJSONTruncated,
			} {
				out := fn(nil, typ, text)
				if !json.Valid(out) {
					t.Fatalf("%s kind %d %q: invalid JSON %q", name, typ.Kind, text, out)
				}
			}
		}
	})
}

func TestValueDeepJSON(t *testing.T) {
	deep := strings.Repeat("[", 5000) + strings.Repeat("]", 5000)
	got := AppendJSON(nil, valueTestType("json"), []byte(deep))
	if string(got) != deep {
		t.Errorf("deep json altered")
	}
	deepObj := strings.Repeat(`{"a":`, 1000) + "1" + strings.Repeat("}", 1000)
	if got := AppendJSON(nil, valueTestType("jsonb"), []byte(deepObj)); string(got) != deepObj {
		t.Errorf("deep object altered")
	}
	bad := strings.Repeat(`{"a":`, 1000) + "1" + strings.Repeat("]", 1000)
	if got := AppendJSON(nil, valueTestType("json"), []byte(bad)); !json.Valid(got) || got[0] != '"' {
		t.Errorf("mismatched deep json not a string")
	}
}

func TestValueNoAllocs(t *testing.T) {
	row := valueBenchRow()
	dst := make([]byte, 0, 4096)
	allocs := testing.AllocsPerRun(100, func() {
		d := dst[:0]
		for _, c := range row {
			d = AppendJSON(d, c.t, c.text)
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per row", allocs)
	}
}

type valueBenchCol struct {
	t    *event.Type
	text []byte
}

func valueBenchRow() []valueBenchCol {
	return []valueBenchCol{
		{valueTestType("int8"), []byte("1234567890")},
		{valueTestType("text"), []byte("globex corporation, \"west\" branch")},
		{valueTestType("numeric"), []byte("250.00")},
		{valueTestType("timestamptz"), []byte("2024-05-01 12:00:00.123456+00")},
		{valueTestType("bool"), []byte("t")},
		{valueTestType("float8"), []byte("3.141592653589793")},
		{valueTestType("jsonb"), []byte(`{"sku": "A-1", "qty": [1, 2, 3]}`)},
		{valueTestType("_text"), []byte(`{red,"dark blue",NULL}`)},
	}
}

func BenchmarkValueRow(b *testing.B) {
	row := valueBenchRow()
	dst := make([]byte, 0, 4096)
	var n int
	for _, c := range row {
		n += len(c.text)
	}
	b.SetBytes(int64(n))
	b.ReportAllocs()
	for b.Loop() {
		d := dst[:0]
		for _, c := range row {
			d = AppendJSON(d, c.t, c.text)
		}
		dst = d
	}
}

// Text becomes a JSON string injectively over all byte strings, so distinct
// keys stay distinct in Kafka whatever their bytes (a SQL_ASCII database
// stores any), and valid UTF-8 reads back unchanged: every string of up to
// four bytes over an alphabet of ASCII, backslash escapes' letters, UTF-8
// lead and continuation bytes and the encoding of a surrogate.
func TestValueStringInjective(t *testing.T) {
	alphabet := []string{"a", "\\", "u", "d", "c", "f", "\"", "\xff", "\xc3", "\xa9", "\xed", "\xb3", "\xbf", "\U0001F600", "\uFFFD"}
	seen := map[string]string{}
	var walk func(prefix string, n int)
	walk = func(prefix string, n int) {
		got := string(AppendJSONKey(nil, valueTestType("text"), []byte(prefix)))
		if other, dup := seen[got]; dup {
			t.Fatalf("%q and %q both become %s", other, prefix, got)
		}
		seen[got] = prefix
		if !json.Valid([]byte(got)) {
			t.Fatalf("%q becomes invalid JSON %s", prefix, got)
		}
		if utf8.ValidString(prefix) {
			var back string
			if err := json.Unmarshal([]byte(got), &back); err != nil || back != prefix {
				t.Fatalf("valid %q becomes %s, which reads back as %q", prefix, got, back)
			}
		}
		if n == 0 {
			return
		}
		for _, a := range alphabet {
			walk(prefix+a, n-1)
		}
	}
	walk("", 4)
}

package rowkey

import (
	"bytes"
	"cmp"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"math"
	"math/big"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/pg2kafka/pg2kafka/event"
	"github.com/pg2kafka/pg2kafka/schema"
)

// Column types used by the row key tests.
var (
	rowKeyTestInt4      = &event.Type{OID: 23, Name: "int4", Kind: event.KindInt}
	rowKeyTestInt8      = &event.Type{OID: 20, Name: "int8", Kind: event.KindInt}
	rowKeyTestOID       = &event.Type{OID: 26, Name: "oid", Kind: event.KindInt}
	rowKeyTestVarchar   = &event.Type{OID: 1043, Name: "varchar", Kind: event.KindText}
	rowKeyTestText      = &event.Type{OID: 25, Name: "text", Kind: event.KindText}
	rowKeyTestTextC     = &event.Type{OID: 25, Name: "text", Kind: event.KindText, Collation: "C"}
	rowKeyTestBytea     = &event.Type{OID: 17, Name: "bytea", Kind: event.KindBytea}
	rowKeyTestBool      = &event.Type{OID: 16, Name: "bool", Kind: event.KindBool}
	rowKeyTestFloat4    = &event.Type{OID: 700, Name: "float4", Kind: event.KindFloat4}
	rowKeyTestFloat8    = &event.Type{OID: 701, Name: "float8", Kind: event.KindFloat8}
	rowKeyTestUUID      = &event.Type{OID: 2950, Name: "uuid", Kind: event.KindUUID}
	rowKeyTestTimestamp = &event.Type{OID: 1114, Name: "timestamp", Kind: event.KindTimestamp}
	rowKeyTestTSTZ      = &event.Type{OID: 1184, Name: "timestamptz", Kind: event.KindTimestampTZ}
	rowKeyTestDate      = &event.Type{OID: 1082, Name: "date", Kind: event.KindDate}
	rowKeyTestNumeric   = &event.Type{OID: 1700, Name: "numeric", Kind: event.KindNumeric}
	rowKeyTestMacaddr   = &event.Type{OID: 829, Name: "macaddr", Kind: event.KindText}
	rowKeyTestEnum      = &event.Type{OID: 16390, Name: "mood", Kind: event.KindEnum}
	rowKeyTestInet      = &event.Type{OID: 869, Name: "inet", Kind: event.KindText}
)

// rowKeyTestBase64 is how key bytes appear as a `scanned` value in JSON.
func rowKeyTestBase64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// rowKeyTestKey builds a row key from text values.
func rowKeyTestKey(t testing.TB, types []*event.Type, texts []string) []byte {
	t.Helper()
	var key []byte
	for i, typ := range types {
		var err error
		if key, err = Append(key, typ, []byte(texts[i])); err != nil {
			t.Fatalf("Append(%s, %q): %v", typ.Name, texts[i], err)
		}
	}
	return key
}

// rowKeyTestNum builds the pgtype.Numeric I × 10^X.
func rowKeyTestNum(i int64, x int32) pgtype.Numeric {
	return pgtype.Numeric{Int: big.NewInt(i), Exp: x, Valid: true}
}

func rowKeyTestTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

// TestRowKeyVectors checks every row key vector of reference §2.5 (1–28;
// 29 is in TestTupleVector29): hex bytes, base64 `scanned` form, and the
// decoded query parameters.
func TestRowKeyVectors(t *testing.T) {
	cases := []struct {
		num    string
		types  []*event.Type
		texts  []string
		hex    string
		b64    string
		params []any
	}{
		{"1", []*event.Type{rowKeyTestInt4}, []string{"0"}, "14", "FA==", []any{int64(0)}},
		{"2", []*event.Type{rowKeyTestInt4}, []string{"42"}, "15 2A", "FSo=", []any{int64(42)}},
		{"3", []*event.Type{rowKeyTestInt4}, []string{"1723"}, "16 06 BB", "Fga7", []any{int64(1723)}},
		{"4", []*event.Type{rowKeyTestInt4}, []string{"-1"}, "13 FE", "E/4=", []any{int64(-1)}},
		{"5", []*event.Type{rowKeyTestInt4}, []string{"-3"}, "13 FC", "E/w=", []any{int64(-3)}},
		{"6", []*event.Type{rowKeyTestInt4}, []string{"-256"}, "12 FE FF", "Ev7/", []any{int64(-256)}},
		{"7", []*event.Type{rowKeyTestInt8}, []string{"9223372036854775807"}, "1C 7F FF FF FF FF FF FF FF", "HH//////////", []any{int64(math.MaxInt64)}},
		{"8", []*event.Type{rowKeyTestInt8}, []string{"-9223372036854775808"}, "0C 7F FF FF FF FF FF FF FF", "DH//////////", []any{int64(math.MinInt64)}},
		{"9", []*event.Type{rowKeyTestOID}, []string{"4294967295"}, "18 FF FF FF FF", "GP////8=", []any{uint32(math.MaxUint32)}},
		{"10", []*event.Type{rowKeyTestVarchar, rowKeyTestInt4}, []string{"B", "4"}, "02 42 00 15 04", "AkIAFQQ=", []any{"B", int64(4)}},
		{"11", []*event.Type{rowKeyTestInt4, rowKeyTestInt4}, []string{"1200", "3"}, "16 04 B0 15 03", "FgSwFQM=", []any{int64(1200), int64(3)}},
		{"12", []*event.Type{rowKeyTestText, rowKeyTestInt4}, []string{"bbb", "333"}, "02 62 62 62 00 16 01 4D", "AmJiYgAWAU0=", []any{"bbb", int64(333)}},
		{"13", []*event.Type{rowKeyTestText}, []string{""}, "02 00", "AgA=", []any{""}},
		{"14", []*event.Type{rowKeyTestText}, []string{"é"}, "02 C3 A9 00", "AsOpAA==", []any{"é"}},
		{"15", []*event.Type{rowKeyTestBytea}, []string{`\x00ff`}, "01 00 FF FF 00", "AQD//wA=", []any{[]byte{0x00, 0xFF}}},
		{"16", []*event.Type{rowKeyTestBytea}, []string{`\xdeadbeef`}, "01 DE AD BE EF 00", "Ad6tvu8A", []any{[]byte{0xDE, 0xAD, 0xBE, 0xEF}}},
		{"17 false", []*event.Type{rowKeyTestBool}, []string{"f"}, "26", "Jg==", []any{false}},
		{"17 true", []*event.Type{rowKeyTestBool}, []string{"t"}, "27", "Jw==", []any{true}},
		{"18", []*event.Type{rowKeyTestFloat4}, []string{"1.5"}, "20 BF C0 00 00", "IL/AAAA=", []any{float32(1.5)}},
		{"19", []*event.Type{rowKeyTestFloat4}, []string{"-1.1"}, "20 40 73 33 32", "IEBzMzI=", []any{float32(-1.1)}},
		{"20 1.0", []*event.Type{rowKeyTestFloat8}, []string{"1"}, "21 BF F0 00 00 00 00 00 00", "Ib/wAAAAAAAA", []any{1.0}},
		{"20 -1.0", []*event.Type{rowKeyTestFloat8}, []string{"-1"}, "21 40 0F FF FF FF FF FF FF", "IUAP////////", []any{-1.0}},
		{"21", []*event.Type{rowKeyTestFloat8}, []string{"-0"}, "21 7F FF FF FF FF FF FF FF", "IX//////////", []any{math.Copysign(0, -1)}},
		{"22", []*event.Type{rowKeyTestUUID}, []string{"66b968a7-aeca-4401-8239-5d57958d1572"},
			"02" + rowKeyTestASCIIHex("66b968a7-aeca-4401-8239-5d57958d1572") + "00",
			"AjY2Yjk2OGE3LWFlY2EtNDQwMS04MjM5LTVkNTc5NThkMTU3MgA=", []any{"66b968a7-aeca-4401-8239-5d57958d1572"}},
		{"23", []*event.Type{rowKeyTestTimestamp}, []string{"1991-08-31 12:34:56.111"},
			"02" + rowKeyTestASCIIHex("1991-08-31T12:34:56.111000000Z") + "00",
			"AjE5OTEtMDgtMzFUMTI6MzQ6NTYuMTExMDAwMDAwWgA=", []any{rowKeyTestTime("1991-08-31T12:34:56.111Z")}},
		{"24", []*event.Type{rowKeyTestDate}, []string{"2023-01-15"},
			"02" + rowKeyTestASCIIHex("2023-01-15T00:00:00.000000000Z") + "00",
			"AjIwMjMtMDEtMTVUMDA6MDA6MDAuMDAwMDAwMDAwWgA=", []any{rowKeyTestTime("2023-01-15T00:00:00Z")}},
		{"25", []*event.Type{rowKeyTestNumeric}, []string{"0"},
			"05 02 4E 00 05 14 01 00 00 01 00 FF 00 FF FF FF 00 FF 00 FF 00 FF 00 FF 00 00",
			"BQJOAAUUAQAAAQD/AP///wD/AP8A/wD/AAA=", []any{rowKeyTestNum(0, 0)}},
		{"26", []*event.Type{rowKeyTestNumeric}, []string{"1.5"},
			"05 02 4E 00 05 16 4E 21 01 31 35 00 00 01 00 FF 02 00 FF 00 FF 00 FF 00 FF 00 FF 01 00 FF 01 13 88 00 00",
			"BQJOAAUWTiEBMTUAAAEA/wIA/wD/AP8A/wD/AQD/AROIAAA=", []any{rowKeyTestNum(15, -1)}},
		{"27", []*event.Type{rowKeyTestNumeric}, []string{"-1.5"},
			"05 02 4E 00 05 12 B1 DE 01 38 34 3A 00 00 01 00 FF 02 00 FF 00 FF 40 00 FF 00 FF 01 00 FF 01 13 88 00 00",
			"BQJOAAUSsd4BODQ6AAABAP8CAP8A/0AA/wD/AQD/AROIAAA=", []any{rowKeyTestNum(-15, -1)}},
		{"28", []*event.Type{rowKeyTestNumeric}, []string{"1.500"},
			"05 02 4E 00 05 16 4E 21 01 31 35 00 00 01 00 FF 02 00 FF 00 FF 00 FF 00 FF 00 FF 03 00 FF 01 13 88 00 00",
			"BQJOAAUWTiEBMTUAAAEA/wIA/wD/AP8A/wD/AwD/AROIAAA=", []any{rowKeyTestNum(1500, -3)}},
	}
	for _, c := range cases {
		t.Run("vector "+c.num, func(t *testing.T) {
			key := rowKeyTestKey(t, c.types, c.texts)
			if want := tupleTestHex(t, c.hex); !bytes.Equal(key, want) {
				t.Errorf("key = % X\nwant  % X", key, want)
			}
			if b64 := rowKeyTestBase64(key); b64 != c.b64 {
				t.Errorf("scanned = %s, want %s", b64, c.b64)
			}
			scanned, err := base64.StdEncoding.DecodeString(c.b64)
			if err != nil {
				t.Fatal(err)
			}
			params, err := Decode(scanned, c.types)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if !rowKeyTestParamsEqual(params, c.params) {
				t.Errorf("Decode = %#v, want %#v", params, c.params)
			}
		})
	}
}

// rowKeyTestASCIIHex is the hex of s's bytes.
func rowKeyTestASCIIHex(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		b.WriteString(strconv.FormatUint(uint64(s[i])|0x100, 16)[1:])
	}
	return b.String()
}

// rowKeyTestParamsEqual compares decoded parameters; numerics compare by
// value and scale, floats by bits.
func rowKeyTestParamsEqual(got, want []any) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		switch w := want[i].(type) {
		case pgtype.Numeric:
			g, ok := got[i].(pgtype.Numeric)
			if !ok || !g.Valid || g.Int.Cmp(w.Int) != 0 || g.Exp != w.Exp {
				return false
			}
		case time.Time:
			g, ok := got[i].(time.Time)
			if !ok || !g.Equal(w) || g.Location() != time.UTC {
				return false
			}
		default:
			if !tupleTestEqual(got[i], want[i]) {
				return false
			}
		}
	}
	return true
}

func TestRowKeyTextForms(t *testing.T) {
	cases := []struct {
		typ  *event.Type
		text string
		want any // decoded tuple element
	}{
		{rowKeyTestTSTZ, "2024-01-15 14:30:00.5+00", "2024-01-15T14:30:00.500000000Z"},
		{rowKeyTestTSTZ, "2024-01-15 14:30:00-08", "2024-01-15T22:30:00.000000000Z"},
		{rowKeyTestTSTZ, "2024-01-15 01:00:00.123456+05:30", "2024-01-14T19:30:00.123456000Z"},
		{rowKeyTestTSTZ, "1900-01-01 00:00:00+00:09:21", "1899-12-31T23:50:39.000000000Z"},
		{rowKeyTestTSTZ, "2024-01-15T14:30:00Z", "2024-01-15T14:30:00.000000000Z"},
		{rowKeyTestTSTZ, "9999-12-31 23:00:00-05", TimePlaceholder},
		{rowKeyTestTSTZ, "infinity", TimePlaceholder},
		{rowKeyTestTimestamp, "0044-03-15 12:00:00 BC", TimePlaceholder},
		{rowKeyTestTimestamp, "10000-01-01 00:00:00", TimePlaceholder},
		{rowKeyTestTimestamp, "-infinity", TimePlaceholder},
		{rowKeyTestTimestamp, "2000-02-29 23:59:59.999999", "2000-02-29T23:59:59.999999000Z"},
		{rowKeyTestDate, "0001-01-01", "0001-01-01T00:00:00.000000000Z"},
		{rowKeyTestDate, "0001-01-01 BC", TimePlaceholder},
		{rowKeyTestDate, "9999-12-31", "9999-12-31T00:00:00.000000000Z"},
		{rowKeyTestUUID, "66B968A7-AECA-4401-8239-5D57958D1572", "66b968a7-aeca-4401-8239-5d57958d1572"},
		{rowKeyTestUUID, "{66b968a7aeca440182395d57958d1572}", "66b968a7-aeca-4401-8239-5d57958d1572"},
		{rowKeyTestMacaddr, "08:00:2B:01:02:03", "08:00:2b:01:02:03"},
		{rowKeyTestEnum, "happy", "happy"},
		{&event.Type{Name: "bpchar", Kind: event.KindText}, "a  ", "a  "},
		{&event.Type{Name: "citext", Kind: event.KindText}, "MiXed", "MiXed"},
		{&event.Type{Name: "money", Kind: event.KindText}, "$1.00", "$1.00"},
		{rowKeyTestBytea, `a\\b\000\377`, []byte("a\\b\x00\xff")},
		{rowKeyTestBytea, `\x`, []byte{}},
		{rowKeyTestBool, "true", true},
		{rowKeyTestFloat8, "Infinity", math.Inf(1)},
		{rowKeyTestFloat8, "-Infinity", math.Inf(-1)},
		{rowKeyTestFloat8, "1e+20", 1e20},
		{rowKeyTestFloat4, "NaN", float32(math.NaN())},
		{rowKeyTestOID, "0", int64(0)},
	}
	for _, c := range cases {
		key, err := Append(nil, c.typ, []byte(c.text))
		if err != nil {
			t.Errorf("Append(%s, %q): %v", c.typ.Name, c.text, err)
			continue
		}
		dec, err := DecodeTuple(key)
		if err != nil || len(dec) != 1 {
			t.Errorf("%s %q: DecodeTuple(% X) = %#v, %v", c.typ.Name, c.text, key, dec, err)
			continue
		}
		if !tupleTestEqual(dec[0], c.want) {
			t.Errorf("%s %q: element %#v, want %#v", c.typ.Name, c.text, dec[0], c.want)
		}
	}
}

func TestRowKeyNumericElements(t *testing.T) {
	cases := []struct {
		text string
		e    int64
		f    string
	}{
		{"100", 20003, "1"},
		{"-100", -20003, "8:"},
		{"-1.0", -20001, "8:"},
		{"0.001", 19998, "1"},
		{"0.00", 0, ""},
		{"12345678901234567890.123", 20020, "12345678901234567890123"},
		{"-0.0150", -19999, "84:"},
	}
	for _, c := range cases {
		key, err := Append(nil, rowKeyTestNumeric, []byte(c.text))
		if err != nil {
			t.Errorf("%s: %v", c.text, err)
			continue
		}
		dec, err := DecodeTuple(key)
		if err != nil {
			t.Errorf("%s: %v", c.text, err)
			continue
		}
		n := dec[0].([]any)
		ef := n[1].([]any)
		if ef[0] != c.e || string(ef[1].([]byte)) != c.f {
			t.Errorf("%s: (E, F) = (%v, %q), want (%d, %q)", c.text, ef[0], ef[1], c.e, c.f)
		}
		params, err := Decode(key, []*event.Type{rowKeyTestNumeric})
		if err != nil {
			t.Errorf("%s: Decode: %v", c.text, err)
			continue
		}
		want, _ := new(big.Rat).SetString(c.text)
		if got := rowKeyTestNumericRat(params[0].(pgtype.Numeric)); got.Cmp(want) != 0 {
			t.Errorf("%s: decoded %s", c.text, got.RatString())
		}
	}
}

// rowKeyTestNumericRat converts a finite pgtype.Numeric to a big.Rat.
func rowKeyTestNumericRat(n pgtype.Numeric) *big.Rat {
	r := new(big.Rat).SetInt(n.Int)
	p := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(rowKeyTestAbs(n.Exp))), nil)
	if n.Exp >= 0 {
		return r.Mul(r, new(big.Rat).SetInt(p))
	}
	return r.Quo(r, new(big.Rat).SetInt(p))
}

func rowKeyTestAbs(x int32) int32 {
	if x < 0 {
		return -x
	}
	return x
}

func TestRowKeyErrors(t *testing.T) {
	cases := []struct {
		typ  *event.Type
		text string
	}{
		{nil, "1"},
		{rowKeyTestNumeric, "NaN"},
		{rowKeyTestNumeric, "Infinity"},
		{rowKeyTestNumeric, "-Infinity"},
		{rowKeyTestNumeric, "1.2.3"},
		{rowKeyTestNumeric, ""},
		{rowKeyTestInet, "10.0.0.1"},
		{&event.Type{Name: "interval", Kind: event.KindInterval}, "1 day"},
		{&event.Type{Name: "time", Kind: event.KindTime}, "12:00:00"},
		{&event.Type{Name: "jsonb", Kind: event.KindJSONB}, "{}"},
		{&event.Type{Name: "_int4", Kind: event.KindArray, Elem: rowKeyTestInt4}, "{1}"},
		{&event.Type{Name: "int4range", Kind: event.KindRange}, "[1,2)"},
		{&event.Type{Name: "pair", Kind: event.KindComposite}, "(1,2)"},
		{rowKeyTestInt4, "x"},
		{rowKeyTestInt4, ""},
		{rowKeyTestInt8, "9223372036854775808"},
		{rowKeyTestOID, "-1"},
		{rowKeyTestOID, "4294967296"},
		{rowKeyTestBool, "yes"},
		{rowKeyTestFloat8, "one"},
		{rowKeyTestUUID, "66b968a7-aeca-4401-8239"},
		{rowKeyTestUUID, "66b968a7-aeca-4401-8239-5d57958d157g"},
		{rowKeyTestUUID, "66b968a7aeca-4401-8239-5d57958d15723"},
		{rowKeyTestBytea, `\xabc`},
		{rowKeyTestBytea, `\xzz`},
		{rowKeyTestBytea, `a\b`},
		{rowKeyTestBytea, `\47`},
		{rowKeyTestDate, "2023-02-30"},
		{rowKeyTestDate, "2023-1-15"},
		{rowKeyTestDate, "2023-01-15 00:00:00"},
		{rowKeyTestTimestamp, "2023-01-15"},
		{rowKeyTestTimestamp, "2023-01-15 25:00:00"},
		{rowKeyTestTimestamp, "2023-01-15 12:00:00+00"},
		{rowKeyTestTimestamp, "2023-01-15 12:00:00."},
		{rowKeyTestTSTZ, "2023-01-15 12:00:00+"},
		{rowKeyTestTSTZ, "2023-01-15 12:00:00 UTC"},
		{rowKeyTestTSTZ, ""},
	}
	for _, c := range cases {
		dst := []byte{0x15, 0x01}
		out, err := Append(dst, c.typ, []byte(c.text))
		if err == nil {
			t.Errorf("Append(%v, %q) = % X, want error", c.typ, c.text, out)
			continue
		}
		if !bytes.Equal(out, []byte{0x15, 0x01}) {
			t.Errorf("Append(%v, %q): dst changed on error: % X", c.typ, c.text, out)
		}
		if c.typ != nil && !strings.Contains(err.Error(), c.typ.Name) {
			t.Errorf("error %q does not name type %s", err, c.typ.Name)
		}
	}
}

func TestRowKeyDecodeErrors(t *testing.T) {
	types := []*event.Type{rowKeyTestInt4}
	cases := []struct {
		name  string
		key   []byte
		types []*event.Type
	}{
		{"too few", tupleTestHex(t, "15 01"), []*event.Type{rowKeyTestInt4, rowKeyTestInt4}},
		{"too many", tupleTestHex(t, "15 01 15 02"), types},
		{"bad tuple", tupleTestHex(t, "02 61"), types},
		{"string for int", tupleTestHex(t, "02 61 00"), types},
		{"int for text", tupleTestHex(t, "15 01"), []*event.Type{rowKeyTestText}},
		{"uint64 for int8", AppendTupleUint(nil, math.MaxUint64), []*event.Type{rowKeyTestInt8}},
		{"oid out of range", AppendTupleInt(nil, 1<<32), []*event.Type{rowKeyTestOID}},
		{"negative oid", AppendTupleInt(nil, -1), []*event.Type{rowKeyTestOID}},
		{"float64 for float4", AppendTupleFloat64(nil, 1), []*event.Type{rowKeyTestFloat4}},
		{"bad timestamp", AppendTupleString(nil, "2023-01-15"), []*event.Type{rowKeyTestTimestamp}},
		{"numeric not nested", AppendTupleString(nil, "1.5"), []*event.Type{rowKeyTestNumeric}},
		{"numeric bad tag", rowKeyTestMust(AppendTupleNested(nil, "X", []any{int64(0), []byte{}}, []byte{0, 0, 0xff, 0xff, 0, 0, 0, 0})), []*event.Type{rowKeyTestNumeric}},
		{"numeric bad B", rowKeyTestMust(AppendTupleNested(nil, "N", []any{int64(0), []byte{}}, []byte{0, 1})), []*event.Type{rowKeyTestNumeric}},
		{"numeric NaN B", rowKeyTestMust(AppendTupleNested(nil, "N", []any{int64(0), []byte{}}, []byte{0, 0, 0, 0, 0xc0, 0, 0, 0})), []*event.Type{rowKeyTestNumeric}},
		{"unsupported type", AppendTupleString(nil, "10.0.0.1"), []*event.Type{rowKeyTestInet}},
		{"nil type", AppendTupleString(nil, "x"), []*event.Type{nil}},
	}
	for _, c := range cases {
		if params, err := Decode(c.key, c.types); err == nil {
			t.Errorf("%s: Decode = %#v, want error", c.name, params)
		}
	}

	key := rowKeyTestKey(t, []*event.Type{rowKeyTestInt4, rowKeyTestTSTZ}, []string{"1", "infinity"})
	_, err := Decode(key, []*event.Type{rowKeyTestInt4, rowKeyTestTSTZ})
	if !errors.Is(err, ErrTimePlaceholder) {
		t.Errorf("placeholder: err = %v, want ErrTimePlaceholder", err)
	}
}

func rowKeyTestMust(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

func TestRowKeyDecodeNull(t *testing.T) {
	key := AppendTupleNull(rowKeyTestKey(t, []*event.Type{rowKeyTestText}, []string{"a"}))
	params, err := Decode(key, []*event.Type{rowKeyTestText, rowKeyTestInt4})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(params, []any{"a", nil}) {
		t.Errorf("got %#v", params)
	}
}

// TestRowKeyRoundTrip re-encodes decoded parameters in their text form and
// checks the key is reproduced.
func TestRowKeyRoundTrip(t *testing.T) {
	cases := []struct {
		typ  *event.Type
		text string
	}{
		{rowKeyTestInt8, "-77"},
		{rowKeyTestOID, "12345"},
		{rowKeyTestText, "a\x00b"},
		{rowKeyTestBytea, `\x00010203ff`},
		{rowKeyTestFloat8, "-1.25e-300"},
		{rowKeyTestFloat4, "3.4028235e+38"},
		{rowKeyTestNumeric, "-98765.43210"},
		{rowKeyTestNumeric, "1000000"},
		{rowKeyTestNumeric, "0.0000001"},
		{rowKeyTestTSTZ, "2024-03-10 02:30:00.000001+00"},
		{rowKeyTestTimestamp, "1970-01-01 00:00:00"},
		{rowKeyTestDate, "2024-02-29"},
		{rowKeyTestUUID, "00000000-0000-0000-0000-000000000000"},
		{rowKeyTestBool, "f"},
	}
	for _, c := range cases {
		key := rowKeyTestKey(t, []*event.Type{c.typ}, []string{c.text})
		params, err := Decode(key, []*event.Type{c.typ})
		if err != nil {
			t.Errorf("%s %q: %v", c.typ.Name, c.text, err)
			continue
		}
		text := rowKeyTestParamText(t, c.typ, params[0])
		again := rowKeyTestKey(t, []*event.Type{c.typ}, []string{text})
		if !bytes.Equal(key, again) {
			t.Errorf("%s %q: re-encoded via %q: % X != % X", c.typ.Name, c.text, text, again, key)
		}
	}
}

// rowKeyTestParamText renders a decoded parameter in PostgreSQL's text form.
func rowKeyTestParamText(t *testing.T, typ *event.Type, p any) string {
	t.Helper()
	switch v := p.(type) {
	case int64:
		return strconv.FormatInt(v, 10)
	case uint32:
		return strconv.FormatUint(uint64(v), 10)
	case bool:
		if v {
			return "t"
		}
		return "f"
	case float32:
		return strconv.FormatFloat(float64(v), 'g', -1, 32)
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64)
	case string:
		return v
	case []byte:
		return `\x` + hex.EncodeToString(v)
	case pgtype.Numeric:
		b, err := v.Value()
		if err != nil {
			t.Fatal(err)
		}
		return b.(string)
	case time.Time:
		switch typ.Kind {
		case event.KindDate:
			return v.Format("2006-01-02")
		case event.KindTimestamp:
			return v.Format("2006-01-02 15:04:05.999999")
		default:
			return v.Format("2006-01-02 15:04:05.999999-07")
		}
	}
	t.Fatalf("unexpected parameter %T", p)
	return ""
}

func TestKeyOrderOf(t *testing.T) {
	const (
		differs  = schema.KeyOrderDiffers
		matches  = schema.KeyOrderMatches
		collateC = schema.KeyOrderMatchesCollateC
	)
	cases := []struct {
		typ  *event.Type
		want schema.KeyOrder
	}{
		{rowKeyTestInt4, matches},
		{rowKeyTestOID, matches},
		{rowKeyTestBool, matches},
		{rowKeyTestBytea, matches},
		{rowKeyTestUUID, matches},
		{rowKeyTestMacaddr, matches},
		{&event.Type{Name: "macaddr8", Kind: event.KindText}, matches},
		{rowKeyTestNumeric, matches},
		{rowKeyTestFloat4, matches},
		{rowKeyTestFloat8, matches},
		{rowKeyTestDate, matches},
		{rowKeyTestTimestamp, matches},
		{rowKeyTestTSTZ, matches},
		{rowKeyTestText, collateC},
		{rowKeyTestTextC, matches},
		{&event.Type{Name: "varchar", Kind: event.KindText, Collation: "POSIX"}, matches},
		{&event.Type{Name: "varchar", Kind: event.KindText, Collation: "en_US"}, collateC},
		{&event.Type{Name: "name", Kind: event.KindText, Collation: "C"}, matches},
		{&event.Type{Name: "text", Kind: event.KindText, Collation: "C (WIN1252 to UTF8)"}, differs},
		{&event.Type{Name: "text", Kind: event.KindText, Collation: "default (EUC_JP to UTF8)"}, differs},
		{&event.Type{Name: "bpchar", Kind: event.KindText, Collation: "C"}, differs},
		{&event.Type{Name: "citext", Kind: event.KindText, Collation: "C"}, differs},
		{&event.Type{Name: "mood", Kind: event.KindEnum, Collation: "C"}, differs},
		{&event.Type{Name: "money", Kind: event.KindText}, differs},
		{rowKeyTestInet, differs},
		{&event.Type{Name: "interval", Kind: event.KindInterval}, differs},
		{&event.Type{Name: "jsonb", Kind: event.KindJSONB}, differs},
		{nil, differs},
	}
	for _, c := range cases {
		if got := schema.KeyOrderOf(c.typ); got != c.want {
			t.Errorf("KeyOrderOf(%+v) = %v, want %v", c.typ, got, c.want)
		}
	}
}

// rowKeyTestSign maps a comparison result to -1, 0 or 1.
func rowKeyTestSign(c int) int { return cmp.Compare(c, 0) }

// FuzzRowKeyIntOrder checks that integer keys compare bytewise like the
// integers, and decode back.
func FuzzRowKeyIntOrder(f *testing.F) {
	seeds := [][2]int64{{0, 0}, {0, 1}, {-1, 0}, {-1, 1}, {255, 256}, {-255, -256}, {-256, -257},
		{math.MinInt64, math.MaxInt64}, {math.MinInt64, math.MinInt64 + 1}, {math.MaxInt64 - 1, math.MaxInt64},
		{1 << 32, 1<<32 - 1}, {-(1 << 40), 1 << 40}}
	for _, s := range seeds {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, a, b int64) {
		ka := rowKeyTestKey(t, []*event.Type{rowKeyTestInt8}, []string{strconv.FormatInt(a, 10)})
		kb := rowKeyTestKey(t, []*event.Type{rowKeyTestInt8}, []string{strconv.FormatInt(b, 10)})
		if got, want := rowKeyTestSign(bytes.Compare(ka, kb)), cmp.Compare(a, b); got != want {
			t.Fatalf("%d vs %d: bytes compare %d, want %d (% X vs % X)", a, b, got, want, ka, kb)
		}
		params, err := Decode(ka, []*event.Type{rowKeyTestInt8})
		if err != nil || params[0] != a {
			t.Fatalf("decode %d: %#v, %v", a, params, err)
		}
	})
}

// rowKeyTestFloatText renders a float as PostgreSQL does with
// extra_float_digits=3 (shortest exact form, Infinity spelled out).
func rowKeyTestFloatText(v float64, bitSize int) string {
	switch {
	case math.IsInf(v, 1):
		return "Infinity"
	case math.IsInf(v, -1):
		return "-Infinity"
	}
	return strconv.FormatFloat(v, 'g', -1, bitSize)
}

// FuzzRowKeyFloatOrder checks that float8 and float4 keys compare bytewise
// like the numbers (NaN and -0 vs 0 excluded).
func FuzzRowKeyFloatOrder(f *testing.F) {
	seeds := [][2]float64{{0, 1}, {-1, 1}, {-1.5, -1.25}, {1e-300, 1e300}, {math.Inf(-1), -math.MaxFloat64},
		{math.MaxFloat64, math.Inf(1)}, {-math.SmallestNonzeroFloat64, math.SmallestNonzeroFloat64}, {3.4e38, 3.5e38},
		{1.1, 1.1}, {-0.1, 0.1}}
	for _, s := range seeds {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, a, b float64) {
		if math.IsNaN(a) || math.IsNaN(b) {
			return
		}
		if a == b && math.Signbit(a) != math.Signbit(b) {
			return // -0 and 0: equal in PostgreSQL, distinct in bytes
		}
		ka := rowKeyTestKey(t, []*event.Type{rowKeyTestFloat8}, []string{rowKeyTestFloatText(a, 64)})
		kb := rowKeyTestKey(t, []*event.Type{rowKeyTestFloat8}, []string{rowKeyTestFloatText(b, 64)})
		if got, want := rowKeyTestSign(bytes.Compare(ka, kb)), cmp.Compare(a, b); got != want {
			t.Fatalf("float8 %v vs %v: bytes compare %d, want %d", a, b, got, want)
		}
		params, err := Decode(ka, []*event.Type{rowKeyTestFloat8})
		if err != nil || math.Float64bits(params[0].(float64)) != math.Float64bits(a) {
			t.Fatalf("decode %v: %#v, %v", a, params, err)
		}

		a32, b32 := float32(a), float32(b)
		if a32 == b32 && math.Signbit(float64(a32)) != math.Signbit(float64(b32)) {
			return
		}
		ka = rowKeyTestKey(t, []*event.Type{rowKeyTestFloat4}, []string{rowKeyTestFloatText(float64(a32), 32)})
		kb = rowKeyTestKey(t, []*event.Type{rowKeyTestFloat4}, []string{rowKeyTestFloatText(float64(b32), 32)})
		if got, want := rowKeyTestSign(bytes.Compare(ka, kb)), cmp.Compare(a32, b32); got != want {
			t.Fatalf("float4 %v vs %v: bytes compare %d, want %d", a32, b32, got, want)
		}
	})
}

// rowKeyTestNumericText renders m × 10^e as PostgreSQL's numeric output
// does: plain decimal, with -e fractional digits when e < 0.
func rowKeyTestNumericText(m int64, e int) string {
	v := big.NewInt(m)
	if e >= 0 {
		return v.Mul(v, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(e)), nil)).String()
	}
	digits := new(big.Int).Abs(v).String()
	for len(digits) <= -e {
		digits = "0" + digits
	}
	s := digits[:len(digits)+e] + "." + digits[len(digits)+e:]
	if m < 0 {
		s = "-" + s
	}
	return s
}

// FuzzRowKeyNumericOrder checks that numeric keys compare bytewise like the
// numbers (math/big), that equal numbers of different scale share (E, F),
// and that keys decode to the same number.
func FuzzRowKeyNumericOrder(f *testing.F) {
	seeds := []struct {
		m1 int64
		e1 int8
		m2 int64
		e2 int8
	}{
		{0, 0, 1, 0}, {15, -1, 1500, -3}, {-15, -1, -1, 0}, {-15, -1, -2, 0}, {1, 2, 99, 0}, {-1, 2, -99, 0},
		{0, -3, 0, 5}, {math.MaxInt64, 0, math.MinInt64, 0}, {math.MinInt64, -19, math.MinInt64, 19},
		{1, -5, 9999, -9}, {-1, -5, -9999, -9}, {123456789, -4, 12345679, -3}, {-10, -1, -1, 0},
	}
	for _, s := range seeds {
		f.Add(s.m1, s.e1, s.m2, s.e2)
	}
	f.Fuzz(func(t *testing.T, m1 int64, e1 int8, m2 int64, e2 int8) {
		x1, x2 := int(e1)%20, int(e2)%20
		s1, s2 := rowKeyTestNumericText(m1, x1), rowKeyTestNumericText(m2, x2)
		r1, ok1 := new(big.Rat).SetString(s1)
		r2, ok2 := new(big.Rat).SetString(s2)
		if !ok1 || !ok2 {
			t.Fatalf("bad test numerics %q %q", s1, s2)
		}
		k1 := rowKeyTestKey(t, []*event.Type{rowKeyTestNumeric}, []string{s1})
		k2 := rowKeyTestKey(t, []*event.Type{rowKeyTestNumeric}, []string{s2})
		want := r1.Cmp(r2)
		if want != 0 {
			if got := rowKeyTestSign(bytes.Compare(k1, k2)); got != want {
				t.Fatalf("%s vs %s: bytes compare %d, want %d", s1, s2, got, want)
			}
		} else {
			d1, err1 := DecodeTuple(k1)
			d2, err2 := DecodeTuple(k2)
			if err1 != nil || err2 != nil {
				t.Fatalf("decode: %v %v", err1, err2)
			}
			if !reflect.DeepEqual(d1[0].([]any)[1], d2[0].([]any)[1]) {
				t.Fatalf("%s == %s but (E, F) differ: %#v vs %#v", s1, s2, d1[0], d2[0])
			}
		}
		params, err := Decode(k1, []*event.Type{rowKeyTestNumeric})
		if err != nil {
			t.Fatalf("Decode(%s): %v", s1, err)
		}
		if got := rowKeyTestNumericRat(params[0].(pgtype.Numeric)); got.Cmp(r1) != 0 {
			t.Fatalf("%s decoded as %s", s1, got.RatString())
		}
	})
}

// FuzzRowKeyStringOrder checks that text keys under the C collation compare
// bytewise like their UTF-8 bytes, also as the first of two key columns, and
// decode back.
func FuzzRowKeyStringOrder(f *testing.F) {
	seeds := []struct {
		a, b   string
		i1, i2 int64
	}{
		{"", "", 0, 1}, {"", "a", 5, 0}, {"a", "a\x00", 0, 0}, {"a\x00", "a\x01", 0, 0}, {"a", "ab", 1, -1},
		{"B", "a", 0, 0}, {"é", "f", 0, 0}, {"a\x00b", "a", 0, 0}, {"\xff", "\x00\xff", 0, 0},
	}
	for _, s := range seeds {
		f.Add(s.a, s.b, s.i1, s.i2)
	}
	types := []*event.Type{rowKeyTestTextC, rowKeyTestInt8}
	f.Fuzz(func(t *testing.T, a, b string, i1, i2 int64) {
		ka := rowKeyTestKey(t, types[:1], []string{a})
		kb := rowKeyTestKey(t, types[:1], []string{b})
		if got, want := rowKeyTestSign(bytes.Compare(ka, kb)), strings.Compare(a, b); got != want {
			t.Fatalf("%q vs %q: bytes compare %d, want %d", a, b, got, want)
		}
		ka = rowKeyTestKey(t, types, []string{a, strconv.FormatInt(i1, 10)})
		kb = rowKeyTestKey(t, types, []string{b, strconv.FormatInt(i2, 10)})
		want := strings.Compare(a, b)
		if want == 0 {
			want = cmp.Compare(i1, i2)
		}
		if got := rowKeyTestSign(bytes.Compare(ka, kb)); got != want {
			t.Fatalf("(%q, %d) vs (%q, %d): bytes compare %d, want %d", a, i1, b, i2, got, want)
		}
		params, err := Decode(ka, types)
		if err != nil || !reflect.DeepEqual(params, []any{a, i1}) {
			t.Fatalf("decode (%q, %d): %#v, %v", a, i1, params, err)
		}
	})
}

// FuzzRowKeyText feeds arbitrary text to Append for every supported
// kind: it must not panic, and whatever it accepts must decode again (except
// the timestamp placeholder) and re-encode to the same key.
func FuzzRowKeyText(f *testing.F) {
	types := []*event.Type{rowKeyTestInt8, rowKeyTestOID, rowKeyTestBool, rowKeyTestFloat4, rowKeyTestFloat8,
		rowKeyTestNumeric, rowKeyTestText, rowKeyTestMacaddr, rowKeyTestUUID, rowKeyTestBytea, rowKeyTestDate,
		rowKeyTestTimestamp, rowKeyTestTSTZ, rowKeyTestEnum}
	for i, s := range []string{"1", "42", "t", "1.5", "-0", "-1.500", "x", "AA:BB:CC:DD:EE:FF",
		"66b968a7-aeca-4401-8239-5d57958d1572", `\x00ff`, "2023-01-15", "1991-08-31 12:34:56.111",
		"2024-01-15 14:30:00.5+05:30", "happy", `\\\001`, "0001-01-01 00:30:00+01", "99999-01-01 BC"} {
		f.Add(uint8(i), s)
	}
	f.Fuzz(func(t *testing.T, which uint8, text string) {
		typ := types[int(which)%len(types)]
		key, err := Append(nil, typ, []byte(text))
		if err != nil {
			return
		}
		params, err := Decode(key, []*event.Type{typ})
		if errors.Is(err, ErrTimePlaceholder) {
			return
		}
		if err != nil {
			t.Fatalf("%s %q: key % X does not decode: %v", typ.Name, text, key, err)
		}
		again := rowKeyTestKey(t, []*event.Type{typ}, []string{rowKeyTestParamText(t, typ, params[0])})
		if typ.Kind == event.KindNumeric {
			// B keeps the scale; the re-rendered text may carry a different one.
			d1, _ := DecodeTuple(key)
			d2, _ := DecodeTuple(again)
			if !reflect.DeepEqual(d1[0].([]any)[1], d2[0].([]any)[1]) {
				t.Fatalf("%s %q: re-encoded (E, F) differ: %#v vs %#v", typ.Name, text, d1, d2)
			}
			return
		}
		if !bytes.Equal(key, again) {
			t.Fatalf("%s %q: re-encoded key % X != % X", typ.Name, text, again, key)
		}
	})
}

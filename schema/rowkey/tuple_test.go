package rowkey

import (
	"bytes"
	"encoding/hex"
	"math"
	"reflect"
	"strings"
	"testing"
)

// tupleTestHex decodes a hex string that may contain spaces.
func tupleTestHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

func TestTupleIntEncoding(t *testing.T) {
	cases := []struct {
		v   int64
		hex string
	}{
		{0, "14"},
		{1, "15 01"},
		{42, "15 2A"},
		{255, "15 FF"},
		{256, "16 01 00"},
		{1723, "16 06 BB"},
		{65535, "16 FF FF"},
		{65536, "17 01 00 00"},
		{1<<24 - 1, "17 FF FF FF"},
		{math.MaxInt64, "1C 7F FF FF FF FF FF FF FF"},
		{-1, "13 FE"},
		{-3, "13 FC"},
		{-255, "13 00"},
		{-256, "12 FE FF"},
		{-65535, "12 00 00"},
		{-65536, "11 FE FF FF"},
		{math.MinInt64, "0C 7F FF FF FF FF FF FF FF"},
		{math.MinInt64 + 1, "0C 80 00 00 00 00 00 00 00"},
	}
	for _, c := range cases {
		want := tupleTestHex(t, c.hex)
		got := AppendTupleInt(nil, c.v)
		if !bytes.Equal(got, want) {
			t.Errorf("AppendTupleInt(%d) = % X, want % X", c.v, got, want)
		}
		dec, err := DecodeTuple(got)
		if err != nil {
			t.Errorf("DecodeTuple(% X): %v", got, err)
			continue
		}
		if !reflect.DeepEqual(dec, []any{c.v}) {
			t.Errorf("DecodeTuple(% X) = %#v, want %d", got, dec, c.v)
		}
	}
}

func TestTupleUintEncoding(t *testing.T) {
	cases := []struct {
		v    uint64
		hex  string
		want any
	}{
		{0, "14", int64(0)},
		{4294967295, "18 FF FF FF FF", int64(4294967295)},
		{math.MaxUint64, "1C FF FF FF FF FF FF FF FF", uint64(math.MaxUint64)},
		{1 << 63, "1C 80 00 00 00 00 00 00 00", uint64(1 << 63)},
	}
	for _, c := range cases {
		got := AppendTupleUint(nil, c.v)
		if want := tupleTestHex(t, c.hex); !bytes.Equal(got, want) {
			t.Errorf("AppendTupleUint(%d) = % X, want % X", c.v, got, want)
		}
		dec, err := DecodeTuple(got)
		if err != nil || !reflect.DeepEqual(dec, []any{c.want}) {
			t.Errorf("DecodeTuple(% X) = %#v, %v; want %#v", got, dec, err, c.want)
		}
	}
}

func TestTupleScalarEncodings(t *testing.T) {
	cases := []struct {
		name string
		got  []byte
		hex  string
		want any
	}{
		{"null", AppendTupleNull(nil), "00", nil},
		{"bytes 00ff", AppendTupleBytes(nil, []byte{0x00, 0xFF}), "01 00 FF FF 00", []byte{0x00, 0xFF}},
		{"bytes empty", AppendTupleBytes(nil, nil), "01 00", []byte{}},
		{"string empty", AppendTupleString(nil, ""), "02 00", ""},
		{"string é", AppendTupleString(nil, "é"), "02 C3 A9 00", "é"},
		{"string NUL", AppendTupleString(nil, "a\x00b"), "02 61 00 FF 62 00", "a\x00b"},
		{"false", AppendTupleBool(nil, false), "26", false},
		{"true", AppendTupleBool(nil, true), "27", true},
		{"float32 1.5", AppendTupleFloat32(nil, 1.5), "20 BF C0 00 00", float32(1.5)},
		{"float32 -1.1", AppendTupleFloat32(nil, -1.1), "20 40 73 33 32", float32(-1.1)},
		{"float64 1", AppendTupleFloat64(nil, 1), "21 BF F0 00 00 00 00 00 00", 1.0},
		{"float64 -1", AppendTupleFloat64(nil, -1), "21 40 0F FF FF FF FF FF FF", -1.0},
		{"float64 -0", AppendTupleFloat64(nil, math.Copysign(0, -1)), "21 7F FF FF FF FF FF FF FF", math.Copysign(0, -1)},
		{"float64 +0", AppendTupleFloat64(nil, 0), "21 80 00 00 00 00 00 00 00", 0.0},
	}
	for _, c := range cases {
		if want := tupleTestHex(t, c.hex); !bytes.Equal(c.got, want) {
			t.Errorf("%s: got % X, want % X", c.name, c.got, want)
		}
		dec, err := DecodeTuple(c.got)
		if err != nil {
			t.Errorf("%s: DecodeTuple: %v", c.name, err)
			continue
		}
		if len(dec) != 1 || !reflect.DeepEqual(dec[0], c.want) {
			t.Errorf("%s: DecodeTuple = %#v, want %#v", c.name, dec, c.want)
		}
		if f, ok := c.want.(float64); ok && math.Signbit(f) != math.Signbit(dec[0].(float64)) {
			t.Errorf("%s: sign of zero lost", c.name)
		}
	}
}

// TestTupleVector29 is §2.5 vector 29: the nested tuple (1, null, "x").
func TestTupleVector29(t *testing.T) {
	want := tupleTestHex(t, "05 15 01 00 FF 02 78 00 00")
	got, err := AppendTupleNested(nil, 1, nil, "x")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("got % X, want % X", got, want)
	}
	if b64 := rowKeyTestBase64(got); b64 != "BRUBAP8CeAAA" {
		t.Errorf("base64 = %s, want BRUBAP8CeAAA", b64)
	}
	dec, err := DecodeTuple(got)
	if err != nil {
		t.Fatal(err)
	}
	if wantDec := []any{[]any{int64(1), nil, "x"}}; !reflect.DeepEqual(dec, wantDec) {
		t.Errorf("DecodeTuple = %#v, want %#v", dec, wantDec)
	}
}

func TestTupleRoundTrip(t *testing.T) {
	cases := [][]any{
		{},
		{nil},
		{nil, nil},
		{[]any{}},
		{[]any{nil}},
		{[]any{[]any{nil, int64(-5)}, nil}, "tail"},
		{int64(-1), uint64(math.MaxUint64), float32(-2.5), 3.25, true, false, []byte("a\x00\xff"), "z\x00"},
		{[]any{"N", []any{int64(20001), []byte("15")}, []byte{0, 2, 0, 0}}},
	}
	for _, c := range cases {
		enc, err := AppendTuple(nil, c...)
		if err != nil {
			t.Fatalf("AppendTuple(%#v): %v", c, err)
		}
		dec, err := DecodeTuple(enc)
		if err != nil {
			t.Fatalf("DecodeTuple(% X): %v", enc, err)
		}
		if !reflect.DeepEqual(dec, c) {
			t.Errorf("round trip of %#v: got %#v (bytes % X)", c, dec, enc)
		}
	}
}

func TestTupleAppendTupleTypes(t *testing.T) {
	got, err := AppendTuple([]byte{0xAA}, int8(-1), int16(2), int32(3), int(4), uint(5), uint8(6), uint16(7), uint32(8))
	if err != nil {
		t.Fatal(err)
	}
	want := tupleTestHex(t, "AA 13 FE 15 02 15 03 15 04 15 05 15 06 15 07 15 08")
	if !bytes.Equal(got, want) {
		t.Errorf("got % X, want % X", got, want)
	}

	dst := []byte{1, 2}
	out, err := AppendTuple(dst, "ok", struct{}{})
	if err == nil {
		t.Fatal("AppendTuple accepted a struct")
	}
	if !bytes.Equal(out, []byte{1, 2}) {
		t.Errorf("dst changed on error: % X", out)
	}
	if _, err := AppendTupleNested(nil, []any{1, map[string]int{}}); err == nil {
		t.Error("AppendTupleNested accepted a map")
	}
}

func TestTupleDecodeErrors(t *testing.T) {
	bad := []string{
		"01",                         // unterminated bytes
		"02 61",                      // unterminated string
		"02 61 00 FF",                // escape then end: unterminated
		"05 15 01",                   // unterminated nested
		"05",                         // unterminated nested
		"15",                         // truncated integer
		"1C 01 02",                   // truncated integer
		"20 00 00",                   // truncated float32
		"21 00",                      // truncated float64
		"1D 09 01",                   // big integer: unsupported
		"0B F6 FE",                   // big negative integer: unsupported
		"30 00",                      // UUID: unsupported
		"FF",                         // unknown code
		"0C 00 00 00 00 00 00 00 00", // -(2^64-1): out of int64 range
	}
	for _, h := range bad {
		b := tupleTestHex(t, h)
		if dec, err := DecodeTuple(b); err == nil {
			t.Errorf("DecodeTuple(% X) = %#v, want error", b, dec)
		}
	}
}

func TestTupleFloatOrder(t *testing.T) {
	vals := []float64{math.Inf(-1), -math.MaxFloat64, -1, -math.SmallestNonzeroFloat64, math.Copysign(0, -1), 0,
		math.SmallestNonzeroFloat64, 1, math.MaxFloat64, math.Inf(1), math.NaN()}
	for i := 1; i < len(vals); i++ {
		a, b := AppendTupleFloat64(nil, vals[i-1]), AppendTupleFloat64(nil, vals[i])
		if bytes.Compare(a, b) >= 0 {
			t.Errorf("float64 %v !< %v in bytes", vals[i-1], vals[i])
		}
		a, b = AppendTupleFloat32(nil, float32(vals[i-1])), AppendTupleFloat32(nil, float32(vals[i]))
		if float32(vals[i-1]) != float32(vals[i]) && bytes.Compare(a, b) >= 0 {
			t.Errorf("float32 %v !< %v in bytes", float32(vals[i-1]), float32(vals[i]))
		}
	}
}

// FuzzDecodeTuple checks that DecodeTuple never panics and that whatever it
// decodes re-encodes to something that decodes to the same values.
func FuzzDecodeTuple(f *testing.F) {
	for _, h := range []string{"", "00", "05 15 01 00 FF 02 78 00 00", "01 00 FF FF 00", "0C 7F FF FF FF FF FF FF FF",
		"21 7F FF FF FF FF FF FF FF", "05 05 00 FF 00 00", "05 00", "05 00 FF"} {
		b, _ := hex.DecodeString(strings.ReplaceAll(h, " ", ""))
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		dec, err := DecodeTuple(b)
		if err != nil {
			return
		}
		enc, err := AppendTuple(nil, dec...)
		if err != nil {
			t.Fatalf("re-encode %#v: %v", dec, err)
		}
		again, err := DecodeTuple(enc)
		if err != nil {
			t.Fatalf("decode re-encoding % X: %v", enc, err)
		}
		if !tupleTestEqual(dec, again) {
			t.Fatalf("re-encoding changed %#v into %#v", dec, again)
		}
	})
}

// tupleTestEqual is reflect.DeepEqual except that NaNs of the same bits are
// equal.
func tupleTestEqual(a, b any) bool {
	switch x := a.(type) {
	case float64:
		y, ok := b.(float64)
		return ok && math.Float64bits(x) == math.Float64bits(y)
	case float32:
		y, ok := b.(float32)
		return ok && math.Float32bits(x) == math.Float32bits(y)
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !tupleTestEqual(x[i], y[i]) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(a, b)
}

package pgtext

// This file reads the output of the boolean, integer, floating-point and
// numeric types:
//
//	bool    = "t" | "f"                 (also "true" | "false")
//	integer = [ "-" ] digit { digit }   (int2, int4, int8, oid)
//	float   = [ "-" ] digits [ "." digits ] [ "e" ( "+" | "-" ) digits ]
//	        | "NaN" | "Infinity" | "-Infinity"
//	numeric = [ "-" ] digits [ "." digits ] | "NaN" | "Infinity" | "-Infinity"

import (
	"fmt"
	"math"
	"math/big"
	"math/bits"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgtype"
)

// IsDigit reports whether c is an ASCII decimal digit.
func IsDigit(c byte) bool { return c >= '0' && c <= '9' }

// Digits is the value of s, which must be decimal digits only (checked by
// the caller), as SplitDate and SplitClock check them.
func Digits(s []byte) int64 {
	var v int64
	for _, c := range s {
		v = v*10 + int64(c-'0')
	}
	return v
}

// ParseBool reads a boolean: "t" or "true" is true, "f" or "false" false.
func ParseBool(text []byte) (v, ok bool) {
	switch string(text) {
	case "t", "true":
		return true, true
	case "f", "false":
		return false, true
	}
	return false, false
}

// ParseInt reads an integer, -?[0-9]+, into an int64; ok is false on
// overflow or any other byte.
func ParseInt(s []byte) (int64, bool) {
	neg := len(s) > 0 && s[0] == '-'
	if neg {
		s = s[1:]
	}
	if len(s) == 0 || len(s) > 19 {
		return 0, false
	}
	var u uint64
	for _, c := range s {
		if !IsDigit(c) {
			return 0, false
		}
		u = u*10 + uint64(c-'0')
	}
	if neg {
		if u > 1<<63 {
			return 0, false
		}
		return int64(-u), true
	}
	if u > math.MaxInt64 {
		return 0, false
	}
	return int64(u), true
}

// ParseUint reads unsigned decimal digits, failing on overflow.
func ParseUint(s []byte) (uint64, bool) {
	if len(s) == 0 {
		return 0, false
	}
	var v uint64
	for _, c := range s {
		if !IsDigit(c) || v > (math.MaxUint64-9)/10 {
			return 0, false
		}
		v = v*10 + uint64(c-'0')
	}
	return v, true
}

// parseSmallInt reads an optionally signed decimal integer within ±2^40
// (enough for an interval's years, months or days).
func parseSmallInt(s []byte) (int64, bool) {
	neg := false
	if len(s) > 0 && (s[0] == '-' || s[0] == '+') {
		neg = s[0] == '-'
		s = s[1:]
	}
	u, ok := ParseUint(s)
	if !ok || u > 1<<40 {
		return 0, false
	}
	if neg {
		return -int64(u), true
	}
	return int64(u), true
}

// ParseFloat reads a float4 (bits 32) or float8 (bits 64), NaN and
// ±Infinity included.
func ParseFloat(text []byte, bits int) (float64, error) {
	v, err := strconv.ParseFloat(string(text), bits)
	if err != nil {
		return 0, fmt.Errorf("parse float: %w", err)
	}
	return v, nil
}

// ParseNumeric reads a numeric into pgx's Numeric (arbitrary precision;
// NaN and ±Infinity are flagged, not errors): the digits as an integer and
// the exponent, exactly as pgx's text scanner reads them (row keys are
// pgx's binary encoding of it). It allocates.
func ParseNumeric(text []byte) (pgtype.Numeric, error) {
	switch string(text) {
	case "NaN":
		return pgtype.Numeric{NaN: true, Valid: true}, nil
	case "Infinity":
		return pgtype.Numeric{InfinityModifier: pgtype.Infinity, Valid: true}, nil
	case "-Infinity":
		return pgtype.Numeric{InfinityModifier: pgtype.NegativeInfinity, Valid: true}, nil
	}
	neg, intPart, frac, ok := splitNumeric(text)
	if !ok {
		return pgtype.Numeric{}, fmt.Errorf("parse numeric: %q is not a numeric", text)
	}
	exp := -int32(len(frac))
	if indexByte(text, '.') < 0 {
		// As pgx: an integer's trailing zeros go to the exponent.
		for len(intPart) > 1 && intPart[len(intPart)-1] == '0' {
			intPart = intPart[:len(intPart)-1]
			exp++
		}
	}
	x, ok := new(big.Int).SetString(string(intPart)+string(frac), 10)
	if !ok {
		return pgtype.Numeric{}, fmt.Errorf("parse numeric: %q is not a numeric", text)
	}
	if neg {
		x.Neg(x)
	}
	return pgtype.Numeric{Int: x, Exp: exp, Valid: true}, nil
}

// splitNumeric splits a numeric's text ("-12.340") into its sign, integer
// digits and fraction digits; ok is false for anything else (NaN and the
// infinities included).
func splitNumeric(text []byte) (neg bool, intPart, frac []byte, ok bool) {
	neg = len(text) > 0 && text[0] == '-'
	s := text
	if neg || (len(s) > 0 && s[0] == '+') {
		s = s[1:]
	}
	intPart = s
	if i := indexByte(s, '.'); i >= 0 {
		intPart, frac = s[:i], s[i+1:]
	}
	if len(intPart) == 0 && len(frac) == 0 {
		return false, nil, nil, false
	}
	for _, c := range intPart {
		if !IsDigit(c) {
			return false, nil, nil, false
		}
	}
	for _, c := range frac {
		if !IsDigit(c) {
			return false, nil, nil, false
		}
	}
	return neg, intPart, frac, true
}

// AppendUnscaled appends the big-endian two's-complement bytes (shortest
// form) of the unscaled value at scale of a numeric's text ("-12.340"):
// the bytes of Avro's decimal and of Kafka Connect's Decimal. Fraction
// digits beyond the scale must be zeros; NaN and infinities fail. On
// failure dst may hold garbage after its original length. Only values of
// more than 18 digits allocate.
func AppendUnscaled(dst, text []byte, scale int) ([]byte, bool) {
	neg, intPart, frac, ok := splitNumeric(text)
	if !ok {
		return dst, false
	}
	for i, c := range frac {
		if i >= scale && c != '0' {
			return dst, false
		}
	}
	if len(frac) > scale {
		frac = frac[:scale]
	}
	for len(intPart) > 1 && intPart[0] == '0' {
		intPart = intPart[1:]
	}
	digits := len(intPart) + scale
	if digits <= 18 {
		var v int64
		for _, c := range intPart {
			v = v*10 + int64(c-'0')
		}
		for i := 0; i < scale; i++ {
			v *= 10
			if i < len(frac) {
				v += int64(frac[i] - '0')
			}
		}
		if neg {
			v = -v
		}
		n := 1
		if v >= 0 {
			n = bits.Len64(uint64(v))/8 + 1
		} else {
			n = bits.Len64(uint64(^v))/8 + 1
		}
		for i := n - 1; i >= 0; i-- {
			dst = append(dst, byte(v>>(8*i)))
		}
		return dst, true
	}
	var sb strings.Builder
	sb.Grow(digits)
	sb.Write(intPart)
	sb.Write(frac)
	for i := len(frac); i < scale; i++ {
		sb.WriteByte('0')
	}
	x, ok := new(big.Int).SetString(sb.String(), 10)
	if !ok {
		return dst, false
	}
	var n int
	if neg {
		x.Neg(x)
		m := new(big.Int).Neg(x)
		m.Sub(m, big.NewInt(1)) // ^x = -x-1
		n = m.BitLen()/8 + 1
		x.Add(x, new(big.Int).Lsh(big.NewInt(1), uint(8*n)))
	} else {
		n = x.BitLen()/8 + 1
	}
	start := len(dst)
	dst = append(dst, make([]byte, n)...)
	x.FillBytes(dst[start:])
	return dst, true
}

// Scale is the number of digits after the point of a numeric's text.
func Scale(text []byte) int {
	if i := indexByte(text, '.'); i >= 0 {
		return len(text) - i - 1
	}
	return 0
}

func indexByte(s []byte, c byte) int {
	for i, b := range s {
		if b == c {
			return i
		}
	}
	return -1
}

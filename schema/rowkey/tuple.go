package rowkey

// This file implements the subset of the FoundationDB tuple layer that row
// keys use (reference §2.2): null, byte strings, Unicode strings, nested
// tuples, integers of up to 64 bits, float32/float64 and booleans. The
// encoders append to a caller's buffer and never fail; DecodeTuple reverses
// them.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"
)

// Tuple type codes (FoundationDB tuple layer).
const (
	tupleCodeNull    = 0x00
	tupleCodeBytes   = 0x01
	tupleCodeString  = 0x02
	tupleCodeNested  = 0x05
	tupleCodeIntZero = 0x14
	tupleCodeFloat32 = 0x20
	tupleCodeFloat64 = 0x21
	tupleCodeFalse   = 0x26
	tupleCodeTrue    = 0x27
	tupleEscape      = 0xFF
)

// AppendTupleNull appends a top-level null element (0x00) to dst. Inside a
// nested tuple a null is written 00 FF instead; AppendTupleNested takes care
// of that.
func AppendTupleNull(dst []byte) []byte {
	return append(dst, tupleCodeNull)
}

// AppendTupleBytes appends b as a byte-string element (0x01): the bytes with
// every 0x00 written as 00 FF, then a terminating 0x00.
func AppendTupleBytes(dst, b []byte) []byte {
	dst = append(dst, tupleCodeBytes)
	return tupleAppendEscaped(dst, b)
}

// AppendTupleString appends s as a Unicode string element (0x02): its bytes,
// escaped and terminated like a byte string. s is not checked for valid
// UTF-8; its bytes are written as they are.
func AppendTupleString(dst []byte, s string) []byte {
	dst = append(dst, tupleCodeString)
	return tupleAppendEscaped(dst, s)
}

// tupleAppendEscaped appends the body of a byte or Unicode string: 0x00
// bytes escaped as 00 FF, then the 0x00 terminator.
func tupleAppendEscaped[S []byte | string](dst []byte, s S) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		dst = append(dst, c)
		if c == 0x00 {
			dst = append(dst, tupleEscape)
		}
	}
	return append(dst, 0x00)
}

// AppendTupleInt appends v as an integer element: 0x14 for zero, 0x14+n
// followed by the n-byte big-endian magnitude for positive values, 0x14-n
// followed by the ones' complement of the n-byte magnitude for negative ones
// (n being the minimal byte count, 1..8).
func AppendTupleInt(dst []byte, v int64) []byte {
	if v >= 0 {
		return AppendTupleUint(dst, uint64(v))
	}
	// Magnitude of a negative int64; correct for math.MinInt64 too.
	mag := uint64(-(v + 1)) + 1
	n := tupleMinBytes(mag)
	dst = append(dst, byte(tupleCodeIntZero-n))
	return tupleAppendBigEndian(dst, ^mag, n)
}

// AppendTupleUint appends v as a (non-negative) integer element; see
// AppendTupleInt. Values above math.MaxInt64 use the 8-byte form 0x1C.
func AppendTupleUint(dst []byte, v uint64) []byte {
	n := tupleMinBytes(v)
	dst = append(dst, byte(tupleCodeIntZero+n))
	return tupleAppendBigEndian(dst, v, n)
}

// tupleMinBytes is the number of bytes needed to hold v (0 for zero).
func tupleMinBytes(v uint64) int {
	return (bits.Len64(v) + 7) / 8
}

// tupleAppendBigEndian appends the low n bytes of v, most significant first.
func tupleAppendBigEndian(dst []byte, v uint64, n int) []byte {
	for i := n - 1; i >= 0; i-- {
		dst = append(dst, byte(v>>(8*uint(i))))
	}
	return dst
}

// AppendTupleFloat32 appends v as a float32 element (0x20): the IEEE-754
// big-endian bits with all bits inverted when the sign bit is set, else only
// the sign bit inverted, so that byte order equals numeric order.
func AppendTupleFloat32(dst []byte, v float32) []byte {
	b := math.Float32bits(v)
	if b&(1<<31) != 0 {
		b = ^b
	} else {
		b ^= 1 << 31
	}
	dst = append(dst, tupleCodeFloat32)
	return binary.BigEndian.AppendUint32(dst, b)
}

// AppendTupleFloat64 appends v as a float64 element (0x21), transformed like
// AppendTupleFloat32.
func AppendTupleFloat64(dst []byte, v float64) []byte {
	b := math.Float64bits(v)
	if b&(1<<63) != 0 {
		b = ^b
	} else {
		b ^= 1 << 63
	}
	dst = append(dst, tupleCodeFloat64)
	return binary.BigEndian.AppendUint64(dst, b)
}

// AppendTupleBool appends v as 0x26 (false) or 0x27 (true).
func AppendTupleBool(dst []byte, v bool) []byte {
	if v {
		return append(dst, tupleCodeTrue)
	}
	return append(dst, tupleCodeFalse)
}

// AppendTuple appends each of elems as a top-level tuple element. Accepted
// element types: nil (null), []byte, string, bool, float32, float64, int,
// int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, and []any
// (a nested tuple, whose elements follow the same rules). On error dst is
// returned unchanged.
func AppendTuple(dst []byte, elems ...any) ([]byte, error) {
	out := dst
	for i, e := range elems {
		var err error
		if out, err = tupleAppendElem(out, e, false); err != nil {
			return dst, fmt.Errorf("tuple element %d: %w", i, err)
		}
	}
	return out, nil
}

// AppendTupleNested appends elems as one nested tuple element: 0x05, the
// elements (a null written as 00 FF), then a terminating 0x00. Element types
// are as for AppendTuple. On error dst is returned unchanged.
func AppendTupleNested(dst []byte, elems ...any) ([]byte, error) {
	out, err := tupleAppendElem(dst, elems, false)
	if err != nil {
		return dst, err
	}
	return out, nil
}

// tupleAppendElem appends one element; nested says whether it sits inside a
// nested tuple (which changes how a null is written).
func tupleAppendElem(dst []byte, e any, nested bool) ([]byte, error) {
	switch v := e.(type) {
	case nil:
		dst = AppendTupleNull(dst)
		if nested {
			dst = append(dst, tupleEscape)
		}
		return dst, nil
	case []byte:
		return AppendTupleBytes(dst, v), nil
	case string:
		return AppendTupleString(dst, v), nil
	case bool:
		return AppendTupleBool(dst, v), nil
	case float32:
		return AppendTupleFloat32(dst, v), nil
	case float64:
		return AppendTupleFloat64(dst, v), nil
	case int:
		return AppendTupleInt(dst, int64(v)), nil
	case int8:
		return AppendTupleInt(dst, int64(v)), nil
	case int16:
		return AppendTupleInt(dst, int64(v)), nil
	case int32:
		return AppendTupleInt(dst, int64(v)), nil
	case int64:
		return AppendTupleInt(dst, v), nil
	case uint:
		return AppendTupleUint(dst, uint64(v)), nil
	case uint8:
		return AppendTupleUint(dst, uint64(v)), nil
	case uint16:
		return AppendTupleUint(dst, uint64(v)), nil
	case uint32:
		return AppendTupleUint(dst, uint64(v)), nil
	case uint64:
		return AppendTupleUint(dst, v), nil
	case []any:
		dst = append(dst, tupleCodeNested)
		for i, x := range v {
			var err error
			if dst, err = tupleAppendElem(dst, x, true); err != nil {
				return nil, fmt.Errorf("nested element %d: %w", i, err)
			}
		}
		return append(dst, 0x00), nil
	default:
		return nil, fmt.Errorf("unsupported tuple element type %T", e)
	}
}

// errTupleTruncated is returned (wrapped) when an encoding ends mid-element.
var errTupleTruncated = errors.New("truncated tuple")

// DecodeTuple decodes a tuple encoding (a concatenation of top-level
// elements) into Go values: nil for null, []byte for byte strings, string for
// Unicode strings, int64 for integers (uint64 for positive integers above
// math.MaxInt64), float32, float64, bool, and []any for nested tuples.
// Integers outside the int64/uint64 range and type codes outside the subset
// above (big integers, UUIDs, versionstamps, ...) are errors.
func DecodeTuple(b []byte) ([]any, error) {
	out := []any{}
	for pos := 0; pos < len(b); {
		v, n, err := tupleDecodeElem(b[pos:], false)
		if err != nil {
			return nil, fmt.Errorf("decode tuple at offset %d: %w", pos, err)
		}
		out = append(out, v)
		pos += n
	}
	return out, nil
}

// tupleDecodeElem decodes the element at the start of b and returns it with
// the number of bytes it took. nested says whether it sits inside a nested
// tuple; the caller has already handled a nested tuple's terminator.
func tupleDecodeElem(b []byte, nested bool) (any, int, error) {
	if len(b) == 0 {
		return nil, 0, errTupleTruncated
	}
	code := b[0]
	switch {
	case code == tupleCodeNull:
		if nested {
			// The caller only passes a 0x00 here when 0xFF follows.
			return nil, 2, nil
		}
		return nil, 1, nil
	case code == tupleCodeBytes || code == tupleCodeString:
		body, n, err := tupleDecodeEscaped(b[1:])
		if err != nil {
			return nil, 0, err
		}
		if code == tupleCodeString {
			return string(body), 1 + n, nil
		}
		return body, 1 + n, nil
	case code == tupleCodeNested:
		elems := []any{}
		pos := 1
		for {
			if pos >= len(b) {
				return nil, 0, fmt.Errorf("nested tuple: %w", errTupleTruncated)
			}
			if b[pos] == 0x00 && (pos+1 >= len(b) || b[pos+1] != tupleEscape) {
				return elems, pos + 1, nil
			}
			v, n, err := tupleDecodeElem(b[pos:], true)
			if err != nil {
				return nil, 0, fmt.Errorf("nested element %d: %w", len(elems), err)
			}
			elems = append(elems, v)
			pos += n
		}
	case code >= tupleCodeIntZero-8 && code <= tupleCodeIntZero+8:
		return tupleDecodeInt(b)
	case code == tupleCodeFloat32:
		if len(b) < 5 {
			return nil, 0, fmt.Errorf("float32: %w", errTupleTruncated)
		}
		u := binary.BigEndian.Uint32(b[1:5])
		if u&(1<<31) != 0 {
			u ^= 1 << 31
		} else {
			u = ^u
		}
		return math.Float32frombits(u), 5, nil
	case code == tupleCodeFloat64:
		if len(b) < 9 {
			return nil, 0, fmt.Errorf("float64: %w", errTupleTruncated)
		}
		u := binary.BigEndian.Uint64(b[1:9])
		if u&(1<<63) != 0 {
			u ^= 1 << 63
		} else {
			u = ^u
		}
		return math.Float64frombits(u), 9, nil
	case code == tupleCodeFalse:
		return false, 1, nil
	case code == tupleCodeTrue:
		return true, 1, nil
	default:
		return nil, 0, fmt.Errorf("unsupported tuple type code 0x%02x", code)
	}
}

// tupleDecodeEscaped reads a byte or Unicode string body (after the type
// code) up to its terminator and returns the unescaped bytes and the number
// of bytes consumed, terminator included.
func tupleDecodeEscaped(b []byte) ([]byte, int, error) {
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		if b[i] != 0x00 {
			out = append(out, b[i])
			continue
		}
		if i+1 < len(b) && b[i+1] == tupleEscape {
			out = append(out, 0x00)
			i++
			continue
		}
		return out, i + 1, nil
	}
	return nil, 0, fmt.Errorf("string: %w", errTupleTruncated)
}

// tupleDecodeInt decodes an integer element of 0 to 8 bytes.
func tupleDecodeInt(b []byte) (any, int, error) {
	code := int(b[0])
	n := code - tupleCodeIntZero
	neg := n < 0
	if neg {
		n = -n
	}
	if len(b) < 1+n {
		return nil, 0, fmt.Errorf("integer: %w", errTupleTruncated)
	}
	var u uint64
	for _, c := range b[1 : 1+n] {
		u = u<<8 | uint64(c)
	}
	if !neg {
		if u > math.MaxInt64 {
			return u, 1 + n, nil
		}
		return int64(u), 1 + n, nil
	}
	// Body is the ones' complement of the magnitude in n bytes.
	mag := ^u
	if n < 8 {
		mag &= (uint64(1) << (8 * uint(n))) - 1
	}
	switch {
	case mag <= math.MaxInt64:
		return -int64(mag), 1 + n, nil
	case mag == 1<<63:
		return int64(math.MinInt64), 1 + n, nil
	default:
		return nil, 0, fmt.Errorf("negative integer -%d out of int64 range", mag)
	}
}

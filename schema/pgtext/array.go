package pgtext

// This file reads PostgreSQL's array output (array_out):
//
//	array      = [ dimensions "=" ] "{" [ item { delim item } ] "}"
//	dimensions = "[" lower ":" upper "]" { "[" lower ":" upper "]" }
//	item       = array | element
//	element    = quoted | unquoted | "NULL" (any letter case, unquoted)
//	quoted     = '"' { byte other than '"' or '\' | "\\" byte } '"'
//	unquoted   = { byte other than delim, '{', '}', '"', or "\\" byte }
//	delim      = "," (";" for box)
//
// with spaces allowed around items and braces; trailing spaces of an
// unquoted element are not part of it. Each element is then read by the
// grammar of the element type.

// ArrayToken is what Array.Next found next in an array literal.
type ArrayToken uint8

const (
	// ArrayError: the text is not a well-formed array literal. The scan
	// is over; the caller should discard what it wrote.
	ArrayError ArrayToken = iota
	// ArrayOpen: a '{' began the outermost array (Depth is now 1) or a
	// sub-array (Depth is now greater than 1).
	ArrayOpen
	// ArrayClose: a '}' ended an array; Depth is now that of its
	// enclosing array, 0 for the outermost, and Empty tells whether it held
	// nothing (no element or sub-array).
	ArrayClose
	// ArrayElem: one element, in Raw, Null and Escaped.
	ArrayElem
	// ArrayEnd: the outermost array closed and only spaces followed; the
	// scan is over.
	ArrayEnd
)

// Array scans PostgreSQL's array literal text, the output of array_out,
// one token at a time, so that each encoder writes its own form of the
// array without parsing it again and without allocating:
//
//	a := NewArray(text, ',')
//	for {
//		switch a.Next() {
//		case ArrayOpen, ArrayClose: // a.Depth, a.Empty
//		case ArrayElem: // a.Raw, a.Null, a.Escaped
//		case ArrayEnd: // done
//		case ArrayError: // not an array literal
//		}
//	}
//
// It accepts an optional dimension decoration ("[1:2][0:1]=") before the
// outermost '{', nested braces, elements separated by delim (',' for most
// types, ';' for box) and spaces around elements and braces. An element is
// either double-quoted, where a backslash escapes the next byte, or
// unquoted, where a backslash escapes the next byte too and trailing
// (unescaped) spaces are not part of it; an unquoted, unescaped NULL in
// any letter case is the null element. An array or sub-array may be empty
// ("{}", "{{},{1}}"); an empty element (a stray delimiter), a quote or
// brace inside an unquoted element, an unterminated quote, or anything
// after the outermost '}' is an error.
type Array struct {
	text  []byte
	i     int  // next byte to read
	delim byte // element separator
	// started is set once the decoration and the first '{' were checked.
	started bool
	// justOpened: the last token was an ArrayOpen; after: the last token
	// was an element or an ArrayClose, so a delimiter or '}' must follow.
	justOpened, after bool

	// Depth is the number of arrays open after the last token.
	Depth int
	// Empty is set on ArrayClose of an array that held nothing.
	Empty bool
	// Raw is an ArrayElem's bytes, without quotes or trailing spaces but
	// still holding its backslash escapes when Escaped is set (see
	// AppendUnescaped); Null is set for the NULL element.
	Raw           []byte
	Escaped, Null bool
}

// NewArray returns a scanner of text whose elements are separated by
// delim.
func NewArray(text []byte, delim byte) Array {
	return Array{text: text, delim: delim}
}

// next reads the next token; see ArrayToken for what it sets.
func (a *Array) Next() ArrayToken {
	text := a.text
	i := a.i
	if !a.started {
		a.started = true
		if len(text) > 0 && text[0] == '[' {
			for i < len(text) && text[i] != '=' {
				c := text[i]
				if c != '[' && c != ']' && c != ':' && c != '-' && c != '+' && !IsDigit(c) {
					return ArrayError
				}
				i++
			}
			i++ // '='
		}
		if i >= len(text) || text[i] != '{' {
			return ArrayError
		}
	}
	for {
		for i < len(text) && isArraySpace(text[i]) {
			i++
		}
		if a.Depth == 0 && a.after {
			a.i = i
			if i != len(text) {
				return ArrayError
			}
			return ArrayEnd
		}
		if i >= len(text) {
			return ArrayError
		}
		c := text[i]
		if a.after {
			switch c {
			case a.delim:
				a.after = false
				i++
				continue
			case '}':
				a.Depth--
				a.i = i + 1
				a.Empty = false
				return ArrayClose
			}
			return ArrayError
		}
		switch c {
		case '{':
			a.Depth++
			a.justOpened = true
			a.i = i + 1
			return ArrayOpen
		case '}':
			if !a.justOpened {
				return ArrayError
			}
			a.Depth--
			a.i = i + 1
			a.after, a.justOpened, a.Empty = true, false, true
			return ArrayClose
		}
		if a.Depth == 0 {
			return ArrayError
		}
		a.justOpened = false
		a.Escaped, a.Null = false, false
		if c == '"' {
			i++
			s := i
			for i < len(text) && text[i] != '"' {
				if text[i] == '\\' {
					a.Escaped = true
					i++
				}
				i++
			}
			if i >= len(text) {
				return ArrayError
			}
			a.Raw = text[s:i]
			i++
		} else {
			s, last := i, i // last: the end without trailing spaces
			for i < len(text) && text[i] != a.delim && text[i] != '}' {
				switch text[i] {
				case '"', '{':
					return ArrayError
				case '\\':
					a.Escaped = true
					i++
					if i >= len(text) {
						return ArrayError
					}
					last = i + 1
				default:
					if !isArraySpace(text[i]) {
						last = i + 1
					}
				}
				i++
			}
			raw := text[s:last]
			if len(raw) == 0 {
				return ArrayError
			}
			a.Raw = raw
			a.Null = !a.Escaped && len(raw) == 4 && (raw[0]|0x20) == 'n' && (raw[1]|0x20) == 'u' &&
				(raw[2]|0x20) == 'l' && (raw[3]|0x20) == 'l'
		}
		a.i = i
		a.after = true
		return ArrayElem
	}
}

// AppendUnescaped appends an escaped element's raw bytes to dst with
// each backslash escape replaced by the byte it escapes.
func AppendUnescaped(dst, raw []byte) []byte {
	for k := 0; k < len(raw); k++ {
		if raw[k] == '\\' && k+1 < len(raw) {
			k++
		}
		dst = append(dst, raw[k])
	}
	return dst
}

func isArraySpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

// ArrayDelim is the element delimiter of an array whose element type is
// named elem: ';' for box, ',' for every other type.
func ArrayDelim(elem string) byte {
	if elem == "box" {
		return ';'
	}
	return ','
}

// AppendElem appends conv's form of the current ArrayElem, which must not
// be Null. An escaped element is unescaped into the tail of dst, converted
// from there, and the result moved down over the unescaped bytes, so no
// buffer is allocated.
func (a *Array) AppendElem(dst []byte, conv func(dst, text []byte) []byte) []byte {
	if !a.Escaped {
		return conv(dst, a.Raw)
	}
	tmp := len(dst)
	dst = AppendUnescaped(dst, a.Raw)
	from := len(dst)
	dst = conv(dst, dst[tmp:from])
	n := copy(dst[tmp:], dst[from:])
	return dst[:tmp+n]
}

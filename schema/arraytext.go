package schema

// arrayToken is what arrayText.next found next in an array literal.
type arrayToken uint8

const (
	// arrayError: the text is not a well-formed array literal. The scan
	// is over; the caller should discard what it wrote.
	arrayError arrayToken = iota
	// arrayOpen: a '{' began the outermost array (depth is now 1) or a
	// sub-array (depth is now greater than 1).
	arrayOpen
	// arrayClose: a '}' ended an array; depth is now that of its
	// enclosing array, 0 for the outermost, and empty tells whether it held
	// nothing (no element or sub-array).
	arrayClose
	// arrayElem: one element, in raw, null and escaped.
	arrayElem
	// arrayEnd: the outermost array closed and only spaces followed; the
	// scan is over.
	arrayEnd
)

// arrayText scans PostgreSQL's array literal text, the output of array_out,
// one token at a time, so that each encoder writes its own form of the
// array without parsing it again and without allocating:
//
//	a := newArrayText(text, ',')
//	for {
//		switch a.next() {
//		case arrayOpen, arrayClose: // a.depth, a.empty
//		case arrayElem: // a.raw, a.null, a.escaped
//		case arrayEnd: // done
//		case arrayError: // not an array literal
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
type arrayText struct {
	text  []byte
	i     int  // next byte to read
	delim byte // element separator
	// started is set once the decoration and the first '{' were checked.
	started bool
	// justOpened: the last token was an arrayOpen; after: the last token
	// was an element or an arrayClose, so a delimiter or '}' must follow.
	justOpened, after bool

	// depth is the number of arrays open after the last token.
	depth int
	// empty is set on arrayClose of an array that held nothing.
	empty bool
	// raw is an arrayElem's bytes, without quotes or trailing spaces but
	// still holding its backslash escapes when escaped is set (see
	// arrayAppendUnescaped); null is set for the NULL element.
	raw           []byte
	escaped, null bool
}

// newArrayText returns a scanner of text whose elements are separated by
// delim.
func newArrayText(text []byte, delim byte) arrayText {
	return arrayText{text: text, delim: delim}
}

// next reads the next token; see arrayToken for what it sets.
func (a *arrayText) next() arrayToken {
	text := a.text
	i := a.i
	if !a.started {
		a.started = true
		if len(text) > 0 && text[0] == '[' {
			for i < len(text) && text[i] != '=' {
				c := text[i]
				if c != '[' && c != ']' && c != ':' && c != '-' && c != '+' && !valueIsDigit(c) {
					return arrayError
				}
				i++
			}
			i++ // '='
		}
		if i >= len(text) || text[i] != '{' {
			return arrayError
		}
	}
	for {
		for i < len(text) && valueIsArraySpace(text[i]) {
			i++
		}
		if a.depth == 0 && a.after {
			a.i = i
			if i != len(text) {
				return arrayError
			}
			return arrayEnd
		}
		if i >= len(text) {
			return arrayError
		}
		c := text[i]
		if a.after {
			switch c {
			case a.delim:
				a.after = false
				i++
				continue
			case '}':
				a.depth--
				a.i = i + 1
				a.empty = false
				return arrayClose
			}
			return arrayError
		}
		switch c {
		case '{':
			a.depth++
			a.justOpened = true
			a.i = i + 1
			return arrayOpen
		case '}':
			if !a.justOpened {
				return arrayError
			}
			a.depth--
			a.i = i + 1
			a.after, a.justOpened, a.empty = true, false, true
			return arrayClose
		}
		if a.depth == 0 {
			return arrayError
		}
		a.justOpened = false
		a.escaped, a.null = false, false
		if c == '"' {
			i++
			s := i
			for i < len(text) && text[i] != '"' {
				if text[i] == '\\' {
					a.escaped = true
					i++
				}
				i++
			}
			if i >= len(text) {
				return arrayError
			}
			a.raw = text[s:i]
			i++
		} else {
			s, last := i, i // last: the end without trailing spaces
			for i < len(text) && text[i] != a.delim && text[i] != '}' {
				switch text[i] {
				case '"', '{':
					return arrayError
				case '\\':
					a.escaped = true
					i++
					if i >= len(text) {
						return arrayError
					}
					last = i + 1
				default:
					if !valueIsArraySpace(text[i]) {
						last = i + 1
					}
				}
				i++
			}
			raw := text[s:last]
			if len(raw) == 0 {
				return arrayError
			}
			a.raw = raw
			a.null = !a.escaped && len(raw) == 4 && (raw[0]|0x20) == 'n' && (raw[1]|0x20) == 'u' &&
				(raw[2]|0x20) == 'l' && (raw[3]|0x20) == 'l'
		}
		a.i = i
		a.after = true
		return arrayElem
	}
}

// arrayAppendUnescaped appends an escaped element's raw bytes to dst with
// each backslash escape replaced by the byte it escapes.
func arrayAppendUnescaped(dst, raw []byte) []byte {
	for k := 0; k < len(raw); k++ {
		if raw[k] == '\\' && k+1 < len(raw) {
			k++
		}
		dst = append(dst, raw[k])
	}
	return dst
}

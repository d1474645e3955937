package pgtext

// This file reads bytea's output, in either bytea_output format:
//
//	bytea  = hex | escape
//	hex    = "\x" { hexdigit hexdigit }       (bytea_output = hex)
//	escape = { byte | "\\\\" | "\" octal }    (bytea_output = escape)
//	octal  = [0-3] [0-7] [0-7]
//
// where byte is any byte but a backslash.

// AppendBytea appends the bytes a bytea's text stands for to dst. On
// failure (a malformed text) it returns dst as it was and false.
func AppendBytea(dst, text []byte) ([]byte, bool) {
	mark := len(dst)
	if len(text) >= 2 && text[0] == '\\' && text[1] == 'x' {
		h := text[2:]
		if len(h)%2 != 0 {
			return dst, false
		}
		for i := 0; i < len(h); i += 2 {
			a, ok1 := Unhex(h[i])
			b, ok2 := Unhex(h[i+1])
			if !ok1 || !ok2 {
				return dst[:mark], false
			}
			dst = append(dst, a<<4|b)
		}
		return dst, true
	}
	for i := 0; i < len(text); {
		c := text[i]
		switch {
		case c != '\\':
			dst = append(dst, c)
			i++
		case i+1 < len(text) && text[i+1] == '\\':
			dst = append(dst, '\\')
			i += 2
		case i+3 < len(text) && text[i+1] >= '0' && text[i+1] <= '3' &&
			text[i+2] >= '0' && text[i+2] <= '7' && text[i+3] >= '0' && text[i+3] <= '7':
			dst = append(dst, (text[i+1]-'0')<<6|(text[i+2]-'0')<<3|(text[i+3]-'0'))
			i += 4
		default:
			return dst[:mark], false
		}
	}
	return dst, true
}

// Unhex is the value of the hexadecimal digit c (either case).
func Unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

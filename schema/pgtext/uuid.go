package pgtext

// This file reads uuid's output, and the other forms uuid's input accepts:
//
//	uuid = [ "{" ] ( hex{8} "-" hex{4} "-" hex{4} "-" hex{4} "-" hex{12} | hex{32} ) [ "}" ]
//
// in either letter case (PostgreSQL writes the first form, lowercase,
// without braces).

// ParseUUID reads a uuid into its 16 bytes.
func ParseUUID(text []byte) (u [16]byte, ok bool) {
	s := text
	if len(s) >= 2 && s[0] == '{' && s[len(s)-1] == '}' {
		s = s[1 : len(s)-1]
	}
	if len(s) != 32 && len(s) != 36 {
		return u, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '-' && len(s) == 36 && (i == 8 || i == 13 || i == 18 || i == 23) {
			continue
		}
		if n == 32 {
			return u, false
		}
		v, ok := Unhex(c)
		if !ok {
			return u, false
		}
		if n%2 == 0 {
			u[n/2] = v << 4
		} else {
			u[n/2] |= v
		}
		n++
	}
	return u, n == 32
}

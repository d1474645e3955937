package pgtext

// This file reads money's output under lc_monetary=C (other locales write
// other symbols and separators, which it does not read):
//
//	money = [ "-" ] "$" digit { digit | "," } [ "." digit { digit } ]
//
// ("$1,234.56", "-$0.05").

// AppendMoney appends the plain decimal ("-1234.56") of a money text to
// dst. On failure it returns dst as it was and false.
func AppendMoney(dst, text []byte) ([]byte, bool) {
	mark := len(dst)
	s := text
	neg := len(s) > 0 && s[0] == '-'
	if neg {
		s = s[1:]
	}
	if len(s) < 2 || s[0] != '$' {
		return dst, false
	}
	s = s[1:]
	if neg {
		dst = append(dst, '-')
	}
	point := false
	for _, c := range s {
		switch {
		case IsDigit(c):
			dst = append(dst, c)
		case c == ',' && !point:
		case c == '.' && !point:
			point = true
			dst = append(dst, c)
		default:
			return dst[:mark], false
		}
	}
	return dst, true
}

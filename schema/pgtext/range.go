package pgtext

// This file reads the output of range types (built-in and user-defined):
//
//	range      = "empty" | ( "[" | "(" ) [ bound ] "," [ bound ] ( "]" | ")" )
//	bound      = quoted | unquoted
//	quoted     = '"' { byte other than '"' or '\' | "\" byte } '"'
//	unquoted   = { byte other than "," }
//	multirange = "{" [ range { "," range } ] "}"
//
// An empty bound is unbounded (-infinity or infinity). Multiranges, and the
// ranges of types other than dates and timestamps, are written by every
// encoder as their text; only the bounds of tsrange, tstzrange and
// daterange are read.

// SplitRange splits a range that is not "empty" into its bounds, without
// their quotes; open and close are its first and last bytes ('[' or '(',
// ']' or ')'). escaped is set when a quoted bound holds backslash escapes,
// which are left in place.
func SplitRange(text []byte) (open byte, lower, upper []byte, close byte, escaped, ok bool) {
	n := len(text)
	if n < 3 || (text[0] != '[' && text[0] != '(') || (text[n-1] != ']' && text[n-1] != ')') {
		return 0, nil, nil, 0, false, false
	}
	i := 1
	var bounds [2][]byte
	for b := 0; b < 2; b++ {
		if i < n-1 && text[i] == '"' {
			i++
			s := i
			for i < n-1 && text[i] != '"' {
				if text[i] == '\\' {
					escaped = true
					i++
				}
				i++
			}
			if i >= n-1 {
				return 0, nil, nil, 0, false, false
			}
			bounds[b] = text[s:i]
			i++
		} else {
			s := i
			for i < n-1 && text[i] != ',' {
				i++
			}
			bounds[b] = text[s:i]
		}
		if b == 0 {
			if i >= n-1 || text[i] != ',' {
				return 0, nil, nil, 0, false, false
			}
			i++
		}
	}
	if i != n-1 {
		return 0, nil, nil, 0, false, false
	}
	return text[0], bounds[0], bounds[1], text[n-1], escaped, true
}

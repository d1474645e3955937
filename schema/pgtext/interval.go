package pgtext

// This file reads interval's output under IntervalStyle=postgres:
//
//	interval = part { " " part } [ " " time ] | time
//	part     = integer " " unit
//	unit     = "year" | "years" | "mon" | "mons" | "day" | "days"
//	time     = [ "+" | "-" ] hours ":" MM ":" SS [ "." digit{1,6} ]
//
// ("1 year 2 mons -3 days +04:05:06.5", "00:00:00", "-1 days").

import "math"

// ParseInterval parses an interval in IntervalStyle postgres ("1 year
// 2 mons -3 days +04:05:06.5") into its months, days and signed
// microseconds (the time part).
func ParseInterval(text []byte) (months, days, us int64, ok bool) {
	var micros uint64 // magnitude
	neg := false
	haveTime := false
	i := 0
	for i < len(text) {
		// Next space-separated token.
		j := i
		for j < len(text) && text[j] != ' ' {
			j++
		}
		tok := text[i:j]
		if j < len(text) {
			j++ // skip the space
		}
		if len(tok) == 0 || haveTime {
			return 0, 0, 0, false
		}
		if c := tok[len(tok)-1]; IsDigit(c) && indexByte(tok, ':') >= 0 {
			// Time part: [+-]H+:MM:SS[.ffffff]
			haveTime = true
			if tok[0] == '-' || tok[0] == '+' {
				neg = tok[0] == '-'
				tok = tok[1:]
			}
			c1 := indexByte(tok, ':')
			if c1 < 1 || len(tok) < c1+6 || tok[c1+3] != ':' {
				return 0, 0, 0, false
			}
			h, ok := ParseUint(tok[:c1])
			if !ok || h > math.MaxInt64/3600_000_000 {
				return 0, 0, 0, false
			}
			mi, ok1 := ParseUint(tok[c1+1 : c1+3])
			s, ok2 := ParseUint(tok[c1+4 : c1+6])
			if !ok1 || !ok2 || mi > 59 || s > 59 {
				return 0, 0, 0, false
			}
			var us uint64
			if fr := tok[c1+6:]; len(fr) > 0 {
				if fr[0] != '.' || len(fr) < 2 || len(fr) > 7 {
					return 0, 0, 0, false
				}
				for k := 1; k < 7; k++ {
					us *= 10
					if k < len(fr) {
						if !IsDigit(fr[k]) {
							return 0, 0, 0, false
						}
						us += uint64(fr[k] - '0')
					}
				}
			}
			micros = ((h*60+mi)*60+s)*1_000_000 + us
			if micros > 1<<63 || (micros == 1<<63 && !neg) {
				return 0, 0, 0, false
			}
			i = j
			continue
		}
		// Number then unit.
		n, ok := parseSmallInt(tok)
		if !ok || j >= len(text) {
			return 0, 0, 0, false
		}
		k := j
		for k < len(text) && text[k] != ' ' {
			k++
		}
		unit := text[j:k]
		if k < len(text) {
			k++
		}
		switch string(unit) {
		case "year", "years":
			months += n * 12
		case "mon", "mons":
			months += n
		case "day", "days":
			days += n
		default:
			return 0, 0, 0, false
		}
		if months > math.MaxInt32 || months < math.MinInt32 || days > math.MaxInt32 || days < math.MinInt32 {
			return 0, 0, 0, false
		}
		i = k
	}
	if i == 0 {
		return 0, 0, 0, false // empty text
	}
	if neg {
		return months, days, -int64(micros), true
	}
	return months, days, int64(micros), true
}

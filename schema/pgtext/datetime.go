package pgtext

// This file reads the output of date, time, timetz, timestamp and
// timestamptz under DateStyle=ISO and TimeZone=UTC:
//
//	date        = ymd [ " BC" ] | "infinity" | "-infinity"
//	time        = clock
//	timetz      = clock zone
//	timestamp   = ymd sep clock [ zone ] [ " BC" ] | "infinity" | "-infinity"
//	timestamptz = timestamp
//	ymd         = year "-" MM "-" DD          (year: four digits or more)
//	clock       = HH ":" MM ":" SS [ "." digit { digit } ]
//	zone        = ( "+" | "-" ) HH [ ":" MM [ ":" SS ] ] | "Z"
//	sep         = " " | "T"
//
// PostgreSQL writes sep as " " and never writes "Z"; SplitTimestamp reads
// the ISO 8601 forms too, flagging them (Timestamp.ISO8601), for the row
// keys, which accept them; the encoders do not. Ranges of values (month 1-12,
// hour 0-24, ...) are the caller's to check: the encoders differ in what
// they accept.

// Clamps for ±infinity, as the JSON format writes them (9999-12-31 and
// 0000-01-01, 9999-12-31T23:59:59Z and 0000-01-01T00:00:00Z), in days and
// microseconds since 1970-01-01.
const (
	DateMax      = 2932896
	DateMin      = -719528
	TimestampMax = 253402300799_000000
	TimestampMin = -62167219200_000000
)

// TrimBC removes a " BC" suffix from text and reports whether it had one.
func TrimBC(text []byte) ([]byte, bool) {
	if n := len(text); n > 3 && string(text[n-3:]) == " BC" {
		return text[:n-3], true
	}
	return text, false
}

// SplitDate splits an ISO date "Y...Y-MM-DD" at the start of s. It returns
// the year's digit count and the index after the day, or ok=false.
func SplitDate(s []byte) (yearDigits, end int, ok bool) {
	for yearDigits < len(s) && IsDigit(s[yearDigits]) {
		yearDigits++
	}
	if yearDigits < 4 || len(s) < yearDigits+6 {
		return 0, 0, false
	}
	d := s[yearDigits:]
	if d[0] != '-' || !IsDigit(d[1]) || !IsDigit(d[2]) || d[3] != '-' ||
		!IsDigit(d[4]) || !IsDigit(d[5]) {
		return 0, 0, false
	}
	return yearDigits, yearDigits + 6, true
}

// DateFields returns the year, month and day of a date SplitDate accepted
// (the year as written, before any BC).
func DateFields(s []byte, yearDigits int) (year int64, month, day int) {
	return Digits(s[:yearDigits]), int(Digits(s[yearDigits+1 : yearDigits+3])), int(Digits(s[yearDigits+4 : yearDigits+6]))
}

// SplitClock checks "HH:MM:SS[.f+]" at the start of s and returns the index
// after the seconds and after the fraction.
func SplitClock(s []byte) (secEnd, end int, ok bool) {
	if len(s) < 8 || !IsDigit(s[0]) || !IsDigit(s[1]) || s[2] != ':' ||
		!IsDigit(s[3]) || !IsDigit(s[4]) || s[5] != ':' ||
		!IsDigit(s[6]) || !IsDigit(s[7]) {
		return 0, 0, false
	}
	end = 8
	if end < len(s) && s[end] == '.' {
		end++
		for end < len(s) && IsDigit(s[end]) {
			end++
		}
		if end == 9 {
			return 0, 0, false
		}
	}
	return 8, end, true
}

// ClockFields returns the hours, minutes and seconds of a clock SplitClock
// accepted.
func ClockFields(clock []byte) (h, m, s int) {
	return int(Digits(clock[0:2])), int(Digits(clock[3:5])), int(Digits(clock[6:8]))
}

// ParseOffset reads a zone as PostgreSQL writes it, "±HH[:MM[:SS]]" (all
// of s), into seconds east of UTC. Minutes and seconds above 59 fail.
func ParseOffset(s []byte) (int, bool) {
	if len(s) < 3 || (s[0] != '+' && s[0] != '-') {
		return 0, false
	}
	parts := 0
	secs := 0
	i := 1
	for {
		if i+2 > len(s) || !IsDigit(s[i]) || !IsDigit(s[i+1]) {
			return 0, false
		}
		v := int(s[i]-'0')*10 + int(s[i+1]-'0')
		if parts > 0 && v > 59 {
			return 0, false
		}
		secs = secs*60 + v
		parts++
		i += 2
		if i == len(s) {
			break
		}
		if s[i] != ':' || parts == 3 {
			return 0, false
		}
		i++
	}
	for ; parts < 3; parts++ {
		secs *= 60
	}
	if s[0] == '-' {
		secs = -secs
	}
	return secs, true
}

// Timestamp is a timestamp's text split into its parts by SplitTimestamp.
type Timestamp struct {
	// Date is "Y...Y-MM-DD", its year YearDigits long.
	Date       []byte
	YearDigits int
	// Clock is "HH:MM:SS[.f]"; Clock[SecEnd:] is the fraction with its
	// point, or empty.
	Clock  []byte
	SecEnd int
	// Offset is the zone in seconds east of UTC when HasOffset.
	Offset    int
	HasOffset bool
	// BC is set for a year before the common era.
	BC bool
	// ISO8601 is set when the text used an ISO 8601 form PostgreSQL does
	// not write: "T" between date and time, or the zone "Z".
	ISO8601 bool
}

// SplitTimestamp splits a timestamp or timestamptz that is not ±infinity.
func SplitTimestamp(text []byte) (Timestamp, bool) {
	var ts Timestamp
	text, ts.BC = TrimBC(text)
	yd, end, ok := SplitDate(text)
	if !ok || end >= len(text) || (text[end] != ' ' && text[end] != 'T') {
		return ts, false
	}
	ts.ISO8601 = text[end] == 'T'
	ts.Date, ts.YearDigits = text[:end], yd
	clock := text[end+1:]
	secEnd, cend, ok := SplitClock(clock)
	if !ok {
		return ts, false
	}
	ts.Clock, ts.SecEnd = clock[:cend], secEnd
	switch rest := clock[cend:]; {
	case len(rest) == 1 && rest[0] == 'Z':
		ts.HasOffset, ts.ISO8601 = true, true
	case len(rest) > 0:
		if ts.Offset, ok = ParseOffset(rest); !ok {
			return ts, false
		}
		ts.HasOffset = true
	}
	return ts, true
}

// DaysFromCivil is the count of days from 1970-01-01 to the proleptic
// Gregorian date y-m-d (astronomical year: 1 BC is 0).
func DaysFromCivil(y int64, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era--
	}
	yoe := y - era*400
	mp := int64((m + 9) % 12)
	doy := (153*mp+2)/5 + int64(d) - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

// dayNumber is the days since the epoch of a "Y...Y-MM-DD" SplitDate
// accepted, of at most nine year digits, month 1-12 and day 1-31.
func dayNumber(date []byte, yearDigits int, bc bool) (int64, bool) {
	if yearDigits > 9 {
		return 0, false
	}
	y, m, d := DateFields(date, yearDigits)
	if m < 1 || m > 12 || d < 1 || d > 31 {
		return 0, false
	}
	if bc {
		y = 1 - y
	}
	return DaysFromCivil(y, m, d), true
}

// ParseDate reads a date into days since 1970-01-01; ±infinity are
// DateMax and DateMin.
func ParseDate(text []byte) (int64, bool) {
	switch string(text) {
	case "infinity":
		return DateMax, true
	case "-infinity":
		return DateMin, true
	}
	text, bc := TrimBC(text)
	yd, end, ok := SplitDate(text)
	if !ok || end != len(text) {
		return 0, false
	}
	return dayNumber(text, yd, bc)
}

// ParseClock reads "HH:MM:SS[.f]" (all of s; hours up to 24, seconds up to
// 60) into microseconds, the fraction cut to six digits.
func ParseClock(s []byte) (int64, bool) {
	secEnd, end, ok := SplitClock(s)
	if !ok || end != len(s) {
		return 0, false
	}
	h, m, sec := ClockFields(s)
	if h > 24 || m > 59 || sec > 60 {
		return 0, false
	}
	var us int64
	frac := s[secEnd:end]
	if len(frac) > 0 {
		frac = frac[1:]
	}
	for i := 0; i < 6; i++ {
		us *= 10
		if i < len(frac) {
			us += int64(frac[i] - '0')
		}
	}
	return ((int64(h)*60+int64(m))*60+int64(sec))*1_000_000 + us, true
}

// ParseTimestamp reads a timestamp or timestamptz as PostgreSQL writes it
// (not the ISO 8601 forms) into microseconds since the epoch, in UTC;
// ±infinity are TimestampMax and TimestampMin.
func ParseTimestamp(text []byte) (int64, bool) {
	switch string(text) {
	case "infinity":
		return TimestampMax, true
	case "-infinity":
		return TimestampMin, true
	}
	ts, ok := SplitTimestamp(text)
	if !ok || ts.ISO8601 {
		return 0, false
	}
	days, ok := dayNumber(ts.Date, ts.YearDigits, ts.BC)
	if !ok {
		return 0, false
	}
	us, ok := ParseClock(ts.Clock)
	if !ok {
		return 0, false
	}
	secs := days*86400 - int64(ts.Offset)
	const limit = (1<<63-1)/1_000_000 - 86400
	if secs > limit || secs < -limit {
		return 0, false
	}
	return secs*1_000_000 + us, true
}

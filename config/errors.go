package config

import (
	"sort"
	"strconv"
	"strings"
)

// Problem is one thing wrong with a configuration file.
type Problem struct {
	// Path is the YAML path of the offending value, e.g.
	// "source.advanced.sslmode" or "bindings[2].resource.stream". It is
	// empty for problems with the file as a whole (such as a YAML syntax
	// error).
	Path string
	// Line is the 1-based line of the offending key or value, or of the
	// closest enclosing mapping when a required field is missing. It is 0
	// when unknown.
	Line int
	// Message says what is wrong and, where possible, how to fix it. It
	// never contains a password or other secret value.
	Message string
}

// String formats the problem as "line N: path: message".
func (p Problem) String() string {
	var b strings.Builder
	if p.Line > 0 {
		b.WriteString("line ")
		b.WriteString(strconv.Itoa(p.Line))
		b.WriteString(": ")
	}
	if p.Path != "" {
		b.WriteString(p.Path)
		b.WriteString(": ")
	}
	b.WriteString(p.Message)
	return b.String()
}

// Error is returned by Parse and Load when a configuration is invalid. It
// holds every problem found, in file order, so that a user can fix them all
// in one go.
type Error struct {
	// Source names the configuration (usually its file path).
	Source string
	// Problems lists what is wrong; it is never empty.
	Problems []Problem
}

// Error prints one problem per line, each prefixed with the source and
// line, e.g. "pg2kafka.yaml:12: kafka.broker: unknown field; did you mean
// "brokers"?".
func (e *Error) Error() string {
	var b strings.Builder
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteByte('\n')
		}
		if e.Source != "" {
			b.WriteString(e.Source)
			if p.Line > 0 {
				b.WriteByte(':')
				b.WriteString(strconv.Itoa(p.Line))
			}
			b.WriteString(": ")
		} else if p.Line > 0 {
			b.WriteString("line ")
			b.WriteString(strconv.Itoa(p.Line))
			b.WriteString(": ")
		}
		if p.Path != "" {
			b.WriteString(p.Path)
			b.WriteString(": ")
		}
		b.WriteString(p.Message)
	}
	return b.String()
}

// sortProblems orders problems by line, keeping the discovery order of
// problems on the same line. Problems without a line go last.
func sortProblems(ps []Problem) {
	sort.SliceStable(ps, func(i, j int) bool {
		li, lj := ps[i].Line, ps[j].Line
		if li == 0 || lj == 0 {
			return li != 0 && lj == 0
		}
		return li < lj
	})
}

// suggest returns the candidate closest to word, or "" when none is close
// enough to be a plausible typo. Comparison ignores case, '_' and '-', so
// "slot_name" suggests "slotName".
func suggest(word string, candidates []string) string {
	nw := normalizeKey(word)
	best, bestDist := "", -1
	for _, c := range candidates {
		nc := normalizeKey(c)
		d := osaDistance(nw, nc)
		if bestDist < 0 || d < bestDist {
			best, bestDist = c, d
		}
	}
	if bestDist < 0 {
		return ""
	}
	limit := 1
	switch n := len([]rune(nw)); {
	case n >= 9:
		limit = 3
	case n >= 4:
		limit = 2
	}
	if bestDist > limit {
		return ""
	}
	return best
}

func normalizeKey(s string) string {
	s = strings.ToLower(s)
	return strings.Map(func(r rune) rune {
		if r == '_' || r == '-' || r == ' ' {
			return -1
		}
		return r
	}, s)
}

// osaDistance is the optimal string alignment (restricted Damerau-
// Levenshtein) distance: insertions, deletions, substitutions and
// transpositions of adjacent characters each cost 1.
func osaDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	n, m := len(ra), len(rb)
	prev2 := make([]int, m+1)
	prev := make([]int, m+1)
	cur := make([]int, m+1)
	for j := 0; j <= m; j++ {
		prev[j] = j
	}
	for i := 1; i <= n; i++ {
		cur[0] = i
		for j := 1; j <= m; j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			v := min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				v = min(v, prev2[j-2]+1)
			}
			cur[j] = v
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[m]
}

// oneOf formats allowed values for an "invalid value" message.
func oneOf(values []string) string {
	shown := make([]string, len(values))
	for i, v := range values {
		if v == "" {
			v = `""`
		}
		shown[i] = v
	}
	return "one of " + strings.Join(shown, ", ")
}

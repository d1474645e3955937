package config

import (
	"os"
	"strings"
)

// expandEnv replaces ${VAR} and ${VAR:-default} in s. ${VAR:-default}
// yields default when VAR is unset or empty, like the shell. "$${" yields a
// literal "${". A "$" not followed by a well-formed reference is kept as is,
// so passwords containing "$" need no escaping. It returns the names of
// referenced variables that are unset and have no default.
func expandEnv(s string, lookup func(string) (string, bool)) (out string, changed bool, missing []string) {
	if !strings.Contains(s, "${") {
		return s, false, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		if strings.HasPrefix(s[i:], "$${") {
			b.WriteString("${")
			i += 3
			changed = true
			continue
		}
		if !strings.HasPrefix(s[i:], "${") {
			b.WriteByte(s[i])
			i++
			continue
		}
		end := strings.IndexByte(s[i+2:], '}')
		if end < 0 {
			b.WriteString(s[i:])
			break
		}
		body := s[i+2 : i+2+end]
		name, def, hasDef := strings.Cut(body, ":-")
		if !validEnvName(name) {
			b.WriteString("${")
			i += 2
			continue
		}
		changed = true
		v, ok := lookup(name)
		switch {
		case hasDef && v == "":
			b.WriteString(def)
		case ok:
			b.WriteString(v)
		default:
			missing = append(missing, name)
		}
		i += 2 + end + 1
	}
	return b.String(), changed, missing
}

func validEnvName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_', r >= 'A' && r <= 'Z', r >= 'a' && r <= 'z':
		case r >= '0' && r <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// osLookup is the environment lookup used by Parse and Load.
var osLookup = os.LookupEnv

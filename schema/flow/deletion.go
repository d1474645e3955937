package flow

import (
	"bytes"

	"github.com/pg2kafka/pg2kafka/event"
)

// AppendDeletion appends the delete document of a row known only by its
// Kafka key (as AppendKey wrote it): the key's members, under their
// document names, and _meta from c (its Op a delete). The sweep writes it
// for a key its topic holds and its table no longer has, where no old
// tuple exists to encode. It reports false, appending nothing, when key is
// not a key this encoder writes.
func (e *Encoder) AppendDeletion(dst []byte, key []byte, c *event.Change) ([]byte, bool) {
	if len(e.key) == 0 || len(key) < 2 || key[0] != '{' || key[len(key)-1] != '}' {
		return dst, false
	}
	// The raw JSON value of each key column, in key order.
	raw := make(map[int][]byte, len(e.key))
	rest := key[1 : len(key)-1]
	for i, k := range e.key {
		if i > 0 {
			if len(rest) == 0 || rest[0] != ',' {
				return dst, false
			}
			rest = rest[1:]
		}
		if !bytes.HasPrefix(rest, e.keyName[i]) {
			return dst, false
		}
		rest = rest[len(e.keyName[i]):]
		n := jsonValueLen(rest)
		if n == 0 {
			return dst, false
		}
		raw[k], rest = rest[:n], rest[n:]
	}
	if len(rest) != 0 {
		return dst, false
	}
	dst = append(dst, '{')
	first := true
	for i, col := range e.order {
		if i == e.metaPos {
			dst = e.appendMeta(dst, c, first, 0)
			first = false
		}
		if v, ok := raw[col]; ok {
			if !first {
				dst = append(dst, ',')
			}
			dst = append(dst, e.names[col]...)
			dst = append(dst, v...)
			first = false
		}
	}
	if e.metaPos == len(e.order) {
		dst = e.appendMeta(dst, c, first, 0)
	}
	return append(dst, '}'), true
}

// jsonValueLen returns the length of the JSON value s starts with (as this
// package writes them: no spaces), or 0 if it is not one.
func jsonValueLen(s []byte) int {
	if len(s) == 0 {
		return 0
	}
	switch s[0] {
	case '"':
		for i := 1; i < len(s); i++ {
			switch s[i] {
			case '\\':
				i++
			case '"':
				return i + 1
			}
		}
		return 0
	case '{', '[':
		depth := 0
		for i := 0; i < len(s); i++ {
			switch s[i] {
			case '"':
				n := jsonValueLen(s[i:])
				if n == 0 {
					return 0
				}
				i += n - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
		}
		return 0
	}
	i := 0
	for i < len(s) && s[i] != ',' && s[i] != '}' && s[i] != ']' {
		i++
	}
	return i
}

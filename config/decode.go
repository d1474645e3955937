package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// decoder walks a yaml.Node tree into a Config, recording problems with
// their paths and lines instead of stopping at the first one.
type decoder struct {
	lookup   func(string) (string, bool)
	problems []Problem
	lines    map[string]int  // path -> line of its key or value
	bad      map[string]bool // paths that already have a problem
}

func newDecoder(lookup func(string) (string, bool)) *decoder {
	return &decoder{lookup: lookup, lines: map[string]int{}, bad: map[string]bool{}}
}

func (d *decoder) addf(path string, line int, format string, args ...any) {
	if path != "" {
		d.bad[path] = true
	}
	d.problems = append(d.problems, Problem{Path: path, Line: line, Message: fmt.Sprintf(format, args...)})
}

// at reports a problem at path, using the line recorded for path or for its
// closest recorded ancestor.
func (d *decoder) at(path string, format string, args ...any) {
	for p := path; p != ""; p = parentPath(p) {
		if d.bad[p] {
			return // already reported (e.g. a wrong type); don't pile on
		}
	}
	d.addf(path, d.lineOf(path), format, args...)
}

// parentPath strips the last element of a path ("a.b[2]" -> "a.b").
func parentPath(p string) string {
	if i := strings.LastIndexAny(p, ".["); i >= 0 {
		return p[:i]
	}
	return ""
}

func (d *decoder) lineOf(path string) int {
	for p := path; ; {
		if l, ok := d.lines[p]; ok {
			return l
		}
		i := strings.LastIndexAny(p, ".[")
		if i < 0 {
			return d.lines[""]
		}
		p = p[:i]
	}
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): `)

// decode parses data and decodes it onto Defaults(). ok is false when
// there is nothing worth validating (a syntax error or an empty file).
func (d *decoder) decode(data []byte) (cfg *Config, ok bool) {
	cfg = Defaults()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			d.addf("", 0, "the configuration is empty; at least source.address, source.password and kafka.brokers are required")
			return cfg, false
		}
		d.yamlError(err)
		return cfg, false
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		d.addf("", extra.Line, "more than one YAML document; a configuration is a single document")
	} else if !errors.Is(err, io.EOF) {
		d.yamlError(err)
	}
	root := &doc
	if root.Kind == yaml.DocumentNode {
		if len(root.Content) == 0 {
			d.addf("", 0, "the configuration is empty")
			return cfg, false
		}
		root = root.Content[0]
	}
	top := d.object("", root, 1)
	if root.Kind != yaml.MappingNode {
		return cfg, false // reported by object; nothing else to check
	}
	d.decodeSettings(top, cfg)
	top.finish()
	return cfg, true
}

func (d *decoder) yamlError(err error) {
	msg := err.Error()
	line := 0
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = msg[len(m[0]):]
	} else {
		msg = strings.TrimPrefix(msg, "yaml: ")
	}
	d.addf("", line, "invalid YAML: %s", msg)
}

func (d *decoder) decodeBindings(top *object, cfg *Config) {
	n, path := top.value("bindings")
	if n == nil {
		return
	}
	if n.Kind != yaml.SequenceNode {
		d.addf(path, n.Line, "expected a list of bindings, got %s", kindName(n))
		return
	}
	for i, item := range n.Content {
		ip := fmt.Sprintf("%s[%d]", path, i)
		var b Binding
		o := d.object(ip, item, n.Line)
		d.decodeBinding(o, &b)
		cfg.Bindings = append(cfg.Bindings, b)
		o.finish()
	}
}

// object is a YAML mapping being decoded. Every getter marks its key as
// known; finish then reports the keys nobody asked for.
type object struct {
	d        *decoder
	path     string
	line     int // line of the mapping, or of its parent when absent
	present  bool
	keys     []*yaml.Node
	vals     []*yaml.Node
	index    map[string]int
	known    []string
	children []*object
	parent   *object
}

// object wraps mapping node n at path. A nil or null node is an absent,
// empty mapping; parentLine is then used for its problems.
func (d *decoder) object(path string, n *yaml.Node, parentLine int) *object {
	o := &object{d: d, path: path, line: parentLine, index: map[string]int{}}
	n = resolveAlias(n)
	if n == nil || isNull(n) {
		return o
	}
	o.line = n.Line
	if _, ok := d.lines[path]; !ok {
		d.lines[path] = n.Line
	}
	if n.Kind != yaml.MappingNode {
		d.addf(path, n.Line, "expected a mapping, got %s", kindName(n))
		return o
	}
	o.present = true
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolveAlias(n.Content[i]), n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.addf(path, k.Line, "mapping keys must be strings, got %s", kindName(k))
			continue
		}
		if k.Value == "<<" && k.ShortTag() == "!!merge" {
			d.addf(path, k.Line, "YAML merge keys (<<) are not supported; write the fields out")
			continue
		}
		if j, dup := o.index[k.Value]; dup {
			d.addf(join(path, safeKey(k.Value)), k.Line, "duplicate key (first set on line %d)", o.keys[j].Line)
			continue
		}
		o.index[k.Value] = len(o.keys)
		o.keys = append(o.keys, k)
		o.vals = append(o.vals, v)
	}
	return o
}

// value marks key as known and returns its value node (aliases resolved)
// and path; the node is nil when the key is absent or null.
func (o *object) value(key string) (*yaml.Node, string) {
	o.known = append(o.known, key)
	path := join(o.path, key)
	i, ok := o.index[key]
	if !ok {
		return nil, path
	}
	o.d.lines[path] = o.keys[i].Line
	v := resolveAlias(o.vals[i])
	if v == nil || isNull(v) {
		return nil, path
	}
	if v.Kind == yaml.ScalarNode {
		// Scalars point at their value (it may sit on the next line);
		// mappings and lists keep their key's line.
		o.d.lines[path] = v.Line
	}
	return v, path
}

// ignore accepts key without decoding it.
func (o *object) ignore(key string) { o.known = append(o.known, key) }

// child returns the nested mapping at key (absent = empty).
func (o *object) child(key string) *object {
	n, path := o.value(key)
	c := o.d.object(path, n, o.line)
	c.parent = o
	o.children = append(o.children, c)
	return c
}

// str decodes a string. Any scalar is accepted as its text, so
// "min_backfill_xid: 123" works. It reports whether the key was set.
func (o *object) str(key string, dst *string) bool {
	n, path := o.value(key)
	if n == nil {
		return false
	}
	s, ok := o.d.scalarString(path, n)
	if ok {
		*dst = s
	}
	return ok
}

// boolean decodes true/false.
func (o *object) boolean(key string, dst *bool) bool {
	n, path := o.value(key)
	if n == nil {
		return false
	}
	s, plain, ok := o.d.scalar(path, n, "a boolean (true or false)")
	if !ok {
		return false
	}
	switch strings.ToLower(s) {
	case "true":
		if plain {
			*dst = true
			return true
		}
	case "false":
		if plain {
			*dst = false
			return true
		}
	}
	if !plain {
		o.d.addf(path, n.Line, "expected a boolean (true or false), got a quoted string")
		return false
	}
	o.d.addf(path, n.Line, "expected a boolean (true or false), got %q", s)
	return false
}

// intField decodes an integer of dst's size.
func intField[T int | int16 | int32 | int64](o *object, key string, dst *T) bool {
	n, path := o.value(key)
	if n == nil {
		return false
	}
	s, plain, ok := o.d.scalar(path, n, "an integer")
	if !ok {
		return false
	}
	if !plain {
		o.d.addf(path, n.Line, "expected an integer, got a quoted string")
		return false
	}
	var zero T
	bits := 64
	switch any(zero).(type) {
	case int16:
		bits = 16
	case int32:
		bits = 32
	}
	v, err := strconv.ParseInt(s, 0, bits)
	if err != nil {
		var ne *strconv.NumError
		if errors.As(err, &ne) && errors.Is(ne.Err, strconv.ErrRange) {
			o.d.addf(path, n.Line, "integer %s out of range", s)
		} else {
			o.d.addf(path, n.Line, "expected an integer, got %q", s)
		}
		return false
	}
	*dst = T(v)
	return true
}

// duration decodes a Go duration such as "100ms" or "15m". An empty
// string keeps the default.
func (o *object) duration(key string, dst *time.Duration) bool {
	n, path := o.value(key)
	if n == nil {
		return false
	}
	s, ok := o.d.scalarString(path, n)
	if !ok || s == "" {
		return false
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		hint := ""
		if allDigits(s) {
			hint = `; add a unit, e.g. "` + s + `ms" or "` + s + `s"`
		}
		o.d.addf(path, n.Line, "invalid duration %q%s (Go syntax: 100ms, 30s, 15m, 1h)", s, hint)
		return false
	}
	*dst = v
	return true
}

// strs decodes a list of strings.
func (o *object) strs(key string, dst *[]string) bool {
	n, path := o.value(key)
	if n == nil {
		return false
	}
	if n.Kind != yaml.SequenceNode {
		o.d.addf(path, n.Line, "expected a list of strings, got %s", kindName(n))
		return false
	}
	if list := o.d.stringList(path, n); len(list) > 0 {
		*dst = list
	} else {
		*dst = nil
	}
	return true
}

func (d *decoder) stringList(path string, n *yaml.Node) []string {
	out := make([]string, 0, len(n.Content))
	for i, item := range n.Content {
		ip := fmt.Sprintf("%s[%d]", path, i)
		item = resolveAlias(item)
		d.lines[ip] = item.Line
		if isNull(item) {
			out = append(out, "")
			continue
		}
		if s, ok := d.scalarString(ip, item); ok {
			out = append(out, s)
		}
	}
	return out
}

// scalarString returns a scalar's text with environment references
// expanded.
func (d *decoder) scalarString(path string, n *yaml.Node) (string, bool) {
	s, _, ok := d.scalar(path, n, "a string")
	return s, ok
}

// scalar checks that n is a scalar, expands environment references and
// reports whether it was written plain (unquoted), so numbers and
// booleans can be told from strings.
func (d *decoder) scalar(path string, n *yaml.Node, want string) (s string, plain bool, ok bool) {
	if n.Kind != yaml.ScalarNode {
		d.addf(path, n.Line, "expected %s, got %s", want, kindName(n))
		return "", false, false
	}
	out, _, missing := expandEnv(n.Value, d.lookup)
	for _, name := range missing {
		d.addf(path, n.Line, "environment variable %s is not set (use ${%s:-default} for a default)", name, name)
	}
	if len(missing) > 0 {
		return "", false, false
	}
	quoted := n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) != 0
	if n.Style&yaml.TaggedStyle != 0 && n.ShortTag() == "!!str" {
		quoted = true
	}
	return out, !quoted, true
}

// finish reports unknown keys of o and of every child mapping.
func (o *object) finish() {
	for _, c := range o.children {
		c.finish()
	}
	knownSet := map[string]bool{}
	for _, k := range o.known {
		knownSet[k] = true
	}
	for _, k := range o.keys {
		if knownSet[k.Value] {
			continue
		}
		o.d.addf(join(o.path, safeKey(k.Value)), k.Line, "unknown field%s", o.hint(k.Value))
	}
}

// hint suggests a known key for an unknown one: a near miss at this level,
// or the same key one level down (slotName under source instead of
// source.advanced) or one level up.
func (o *object) hint(key string) string {
	if s := suggest(key, o.known); s != "" {
		return fmt.Sprintf("; did you mean %q?", s)
	}
	nk := normalizeKey(key)
	for _, c := range o.children {
		for _, k := range c.known {
			if normalizeKey(k) == nk {
				return fmt.Sprintf("; did you mean %q?", join(c.path, k))
			}
		}
	}
	if o.parent != nil {
		for _, k := range o.parent.known {
			if normalizeKey(k) == nk {
				return fmt.Sprintf("; did you mean %q?", join(o.parent.path, k))
			}
		}
	}
	return "; expected one of " + strings.Join(o.known, ", ")
}

func join(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}

// safeKey shortens an unknown key at the first ':', '=' or space, so that
// a mistyped "password:secret" line never echoes the secret.
func safeKey(k string) string {
	if i := strings.IndexAny(k, ":= \t"); i >= 0 {
		return k[:i] + "…"
	}
	if len(k) > 64 {
		return k[:64] + "…"
	}
	return k
}

func resolveAlias(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 100; i++ {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!int", "!!float":
			return "a number"
		case "!!bool":
			return "a boolean"
		case "!!null":
			return "null"
		}
		return "a string"
	}
	return "an unsupported YAML node"
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// splitList splits a comma-separated list, trimming spaces and dropping
// empty entries.
func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path"
	"regexp"
	"slices"
	"strings"
	"unicode"

	"go.yaml.in/yaml/v3"

	"github.com/pg2kafka/pg2kafka/checkpoint"
	"github.com/pg2kafka/pg2kafka/config"
	"github.com/pg2kafka/pg2kafka/event"
	"github.com/pg2kafka/pg2kafka/schema"
	"github.com/pg2kafka/pg2kafka/schema/flow"
	"github.com/pg2kafka/pg2kafka/source"
)

// discovered is one capturable table as `discover` prints it: Flow's
// discovered binding (recommendedName, resourceConfig, documentSchema,
// key, resourcePath) plus where pg2kafka puts it.
type discovered struct {
	RecommendedName string         `json:"recommendedName" yaml:"recommendedName"`
	ResourceConfig  resourceConfig `json:"resourceConfig" yaml:"resourceConfig"`
	DocumentSchema  map[string]any `json:"documentSchema" yaml:"documentSchema"`
	Key             []string       `json:"key" yaml:"key"`
	ResourcePath    []string       `json:"resourcePath" yaml:"resourcePath"`
	// pg2kafka's additions.
	Topic      string   `json:"topic" yaml:"topic"`
	StateKey   string   `json:"stateKey" yaml:"stateKey"`
	KeyColumns []string `json:"keyColumns,omitempty" yaml:"keyColumns,omitempty"`
	// FallbackKey says the key is a unique index, not the primary key.
	FallbackKey bool `json:"fallbackKey,omitempty" yaml:"fallbackKey,omitempty"`
}

// resourceConfig is Flow's source-postgres resource config, which is also
// pg2kafka's bindings[].resource.
type resourceConfig struct {
	Mode      string `json:"mode,omitempty" yaml:"mode,omitempty"`
	Namespace string `json:"namespace" yaml:"namespace"`
	Stream    string `json:"stream" yaml:"stream"`
}

// runDiscover prints, for every capturable table (§7.3), the binding to
// paste into the configuration, its collection schema (§3.4) and key.
func runDiscover(ctx context.Context, cfg *config.Config, format string) error {
	db, tables, err := connectAndDiscover(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	lengths, err := columnLengths(ctx, db, tables)
	if err != nil {
		return err
	}
	var out []discovered
	unpublished := 0
	for _, t := range tables {
		switch {
		case db.IsWatermarks(t.Schema, t.Name), hasColumn(t, "flow_published_at"),
			t.Name == "flow_materializations_v2", t.Name == "flow_checkpoints_v1", !discoveryFilter(cfg, t.Schema, t.Name):
			continue
		case !t.Published && !cfg.DiscoverUnpublished():
			unpublished++
			continue
		}
		out = append(out, discoverBinding(cfg, t, lengths[t.OID]))
	}
	slices.SortFunc(out, func(a, b discovered) int { return strings.Compare(a.RecommendedName, b.RecommendedName) })
	if unpublished > 0 {
		fmt.Fprintf(os.Stderr, "pg2kafka discover: %d table(s) are not in publication %q and were left out (add them with ALTER PUBLICATION ... ADD TABLE, `pg2kafka setup`, or set source.discoveryFilters.discover_unpublished_tables: true)\n",
			unpublished, cfg.Source.Advanced.PublicationName)
	}
	if format == "yaml" {
		return printDiscoverYAML(out)
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if out == nil {
		out = []discovered{}
	}
	return enc.Encode(map[string]any{"bindings": out})
}

// printDiscoverYAML prints a `bindings:` section to paste into the
// configuration, each binding followed by its full discovery as comments-
// free YAML under `discovered:`.
func printDiscoverYAML(out []discovered) error {
	type pasted struct {
		Resource resourceConfig `yaml:"resource"`
	}
	var b bytes.Buffer
	b.WriteString("# pg2kafka discover: paste `bindings` into the configuration; `discovered` holds\n# each table's collection schema and key (informational).\n")
	binds := make([]pasted, len(out))
	for i, d := range out {
		binds[i] = pasted{Resource: d.ResourceConfig}
	}
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(map[string]any{"bindings": binds}); err != nil {
		return fmt.Errorf("encoding the bindings as YAML: %w", err)
	}
	if err := enc.Encode(map[string]any{"discovered": out}); err != nil {
		return fmt.Errorf("encoding the discovery as YAML: %w", err)
	}
	_, err := os.Stdout.Write(b.Bytes())
	return err
}

// discoveryFilter applies source.discoveryFilters and
// advanced.discover_schemas (§7.1).
func discoveryFilter(cfg *config.Config, schemaName, table string) bool {
	if inc := cfg.DiscoverSchemas(); len(inc) > 0 && !slices.Contains(inc, schemaName) {
		return false
	}
	if slices.Contains(cfg.Source.DiscoveryFilters.ExcludeSchemas, schemaName) {
		return false
	}
	pats := cfg.Source.DiscoveryFilters.TablePatterns
	if len(pats) == 0 {
		return true
	}
	for _, p := range pats {
		name := table
		if strings.Contains(p, ".") {
			name = schemaName + "." + table
		}
		if ok, _ := path.Match(strings.ReplaceAll(p, "[", "\\["), name); ok {
			return true
		}
	}
	return false
}

func discoverBinding(cfg *config.Config, t *source.DiscoveredTable, lengths map[string]int) discovered {
	d := discovered{
		RecommendedName: recommendedName(t.Schema, t.Name),
		ResourceConfig:  resourceConfig{Namespace: t.Schema, Stream: t.Name},
		ResourcePath:    []string{t.Schema, t.Name},
		Topic:           cfg.TopicFor(t.Schema, t.Name),
		FallbackKey:     t.FallbackKey,
	}
	counter := 0
	if b := cfg.Binding(t.Schema, t.Name); b != nil {
		counter = b.BackfillCounter
	}
	d.StateKey = checkpoint.StateKey(d.ResourcePath, counter)
	names := documentNames(t)
	for _, i := range t.Key {
		d.KeyColumns = append(d.KeyColumns, t.Columns[i].Name)
		d.Key = append(d.Key, keyPointer(names[i]))
	}
	if len(d.Key) == 0 {
		d.Key = []string{"/_meta/source/loc/0", "/_meta/source/loc/1", "/_meta/source/loc/2"}
		d.ResourceConfig.Mode = "Without Primary Key"
	}
	d.DocumentSchema = collectionSchema(cfg, t, lengths)
	return d
}

// documentNames is flow.DocumentNames of the table's columns as the
// capture sees them (generated columns left out), indexed like t.Columns.
func documentNames(t *source.DiscoveredTable) []string {
	var cols []event.Column
	var at []int
	for i, c := range t.Columns {
		if !c.Generated {
			cols = append(cols, c)
			at = append(at, i)
		}
	}
	names := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		names[i] = c.Name
	}
	for j, n := range flow.DocumentNames(cols) {
		names[at[j]] = n
	}
	return names
}

// collectionSchema is the discovered collection schema of §3.4: a $defs
// row definition (one property per non-generated column, described by its
// comment and source type; the key columns required) combined with the
// _meta schema, with Flow's reduction annotations.
func collectionSchema(cfg *config.Config, t *source.DiscoveredTable, lengths map[string]int) map[string]any {
	anchor := titleCase(t.Schema) + titleCase(t.Name)
	names := documentNames(t)
	props := map[string]any{}
	for i, c := range t.Columns {
		if c.Generated {
			continue
		}
		var opts []flow.SchemaOption
		if slices.Contains(t.Key, i) {
			opts = append(opts, flow.AsKey())
		}
		if n := lengths[c.Name]; n > 0 {
			opts = append(opts, flow.WithLength(n))
		}
		if cfg.FeatureFlag("multidimensional_arrays") {
			opts = append(opts, flow.NestedArrays())
		}
		s := flow.JSONSchemaFor(&c.Type, c.Nullable, opts...)
		nullability := ""
		if !c.Nullable {
			nullability = "non-nullable "
		}
		desc := fmt.Sprintf("(source type: %s%s)", nullability, sourceTypeName(&c.Type))
		if c.Description != "" {
			desc = c.Description + " " + desc
		}
		s["description"] = desc
		props[names[i]] = s
	}
	row := map[string]any{"type": "object", "$anchor": anchor, "properties": props}
	if len(t.Key) > 0 {
		var req []string
		for _, i := range t.Key {
			req = append(req, names[i])
		}
		row["required"] = req
	}

	sourceProps := map[string]any{
		"ts_ms":    map[string]any{"type": "integer", "description": "Unix timestamp (in millis) at which this event was recorded by the database."},
		"schema":   map[string]any{"type": "string", "description": "Database schema (namespace) of the event."},
		"snapshot": map[string]any{"type": "boolean", "description": "Snapshot is true if the record was produced from an initial table backfill and unset if produced from the replication log."},
		"table":    map[string]any{"type": "string", "description": "Database table of the event."},
		"loc": map[string]any{"type": "array", "items": map[string]any{"type": "integer"}, "minItems": 3, "maxItems": 3,
			"description": "Location of this WAL event as [last Commit.EndLSN; event LSN; current Begin.FinalLSN]. See https://www.postgresql.org/docs/current/protocol-logicalrep-message-formats.html"},
		"txid": map[string]any{"type": "integer", "description": "The 32-bit transaction ID assigned by Postgres to the commit which produced this change."},
	}
	if cfg.Source.Advanced.SourceTag != "" {
		sourceProps["tag"] = map[string]any{"type": "string", "description": "Optional 'Source Tag' property as defined in the endpoint configuration."}
	}
	sourceSchema := map[string]any{
		"$id":                  "https://github.com/estuary/connectors/source-postgres/postgres-source",
		"type":                 "object",
		"properties":           sourceProps,
		"additionalProperties": false,
		"required":             []string{"schema", "table", "loc"},
	}
	if cfg.Source.HistoryMode {
		sourceSchema["reduce"] = map[string]any{"strategy": "lastWriteWins", "associative": false}
	}
	meta := map[string]any{
		"type": "object",
		"properties": map[string]any{
			"op":     map[string]any{"enum": []string{"c", "d", "u"}, "description": "Change operation type: 'c' Create/Insert, 'u' Update, 'd' Delete."},
			"source": sourceSchema,
			"before": map[string]any{"$ref": "#" + anchor, "description": "Record state immediately before this change was applied.",
				"reduce": map[string]any{"strategy": "firstWriteWins"}},
		},
		"required": []string{"op", "source"},
		"reduce":   map[string]any{"strategy": "merge"},
	}
	doc := map[string]any{
		"$defs": map[string]any{anchor: row},
		"allOf": []any{
			map[string]any{
				"required":   []string{"_meta"},
				"properties": map[string]any{"_meta": meta},
				"if":         map[string]any{"properties": map[string]any{"_meta": map[string]any{"properties": map[string]any{"op": map[string]any{"const": "d"}}}}},
				"then":       map[string]any{"reduce": map[string]any{"strategy": "merge", "delete": true}},
				"else":       map[string]any{"reduce": map[string]any{"strategy": "merge"}},
			},
			map[string]any{"$ref": "#" + anchor},
		},
	}
	if cfg.FeatureFlag("use_schema_inference") {
		doc["x-infer-schema"] = true
	}
	return doc
}

// sourceTypeName is the type named in a column's description: the base
// type's name, "enum" or "composite" for user-defined ones.
func sourceTypeName(t *event.Type) string {
	switch t.Kind {
	case event.KindEnum:
		return "enum"
	case event.KindComposite:
		return "composite"
	}
	return t.Name
}

// keyPointer is a collection key JSON pointer for a column (§7.3).
func keyPointer(col string) string {
	return "/" + strings.ReplaceAll(strings.ReplaceAll(col, "~", "~0"), "/", "~1")
}

var nameSanitizer = regexp.MustCompile(`[^a-z0-9\-_.]`)

// recommendedName is the suggested collection name: lowercased
// schema/table, other characters than [a-z0-9-_.] replaced by "_".
func recommendedName(schemaName, table string) string {
	return nameSanitizer.ReplaceAllString(strings.ToLower(schemaName), "_") + "/" + nameSanitizer.ReplaceAllString(strings.ToLower(table), "_")
}

// titleCase upper-cases the first letter of each word, as Go's deprecated
// strings.Title (which Flow uses for the anchor) does.
func titleCase(s string) string {
	prev := ' '
	var b strings.Builder
	for _, r := range s {
		if titleSeparator(prev) {
			b.WriteRune(unicode.ToTitle(r))
		} else {
			b.WriteRune(r)
		}
		prev = r
	}
	return b.String()
}

func titleSeparator(r rune) bool {
	if r <= 0x7F {
		switch {
		case '0' <= r && r <= '9', 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z', r == '_':
			return false
		}
		return true
	}
	if unicode.IsLetter(r) || unicode.IsDigit(r) {
		return false
	}
	return unicode.IsSpace(r)
}

// columnLengths reads the declared lengths of varchar(n) and char(n)
// columns, by table OID and column name.
func columnLengths(ctx context.Context, db *source.Database, tables []*source.DiscoveredTable) (map[uint32]map[string]int, error) {
	out := map[uint32]map[string]int{}
	if len(tables) == 0 {
		return out, nil
	}
	oids := make([]uint32, len(tables))
	for i, t := range tables {
		oids[i] = t.OID
	}
	rows, err := db.Conn().Query(ctx, `SELECT a.attrelid, a.attname, t.typname, a.atttypmod
FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
WHERE a.attrelid = ANY($1) AND a.attnum > 0 AND NOT a.attisdropped AND a.atttypmod >= 4 AND t.typname IN ('varchar', 'bpchar')`, oids)
	if err != nil {
		return nil, fmt.Errorf("discovering column lengths: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var rel uint32
		var name, typ string
		var typmod int32
		if err := rows.Scan(&rel, &name, &typ, &typmod); err != nil {
			return nil, fmt.Errorf("discovering column lengths: %w", err)
		}
		if out[rel] == nil {
			out[rel] = map[string]int{}
		}
		out[rel][name] = schema.LengthFromTypmod(typ, typmod)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("discovering column lengths: %w", err)
	}
	return out, nil
}

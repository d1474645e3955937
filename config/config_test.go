package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"go.yaml.in/yaml/v3"
)

// minimal is the smallest valid configuration.
const minimal = `
source:
  address: db.internal
  password: pw
kafka:
  brokers: [localhost:9092]
`

func mustParse(t *testing.T, src string) *Config {
	t.Helper()
	c, err := Parse([]byte(src), "test.yaml")
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return c
}

func parseErr(t *testing.T, src string) *Error {
	t.Helper()
	_, err := Parse([]byte(src), "test.yaml")
	if err == nil {
		t.Fatalf("Parse succeeded, want an error for:\n%s", src)
	}
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("error %T is not *Error: %v", err, err)
	}
	return ce
}

func TestDefaults(t *testing.T) {
	c := mustParse(t, minimal)
	want := Defaults()
	want.Source.Address = "db.internal:5432"
	want.Source.Password = "pw"
	want.Kafka.Brokers = []string{"localhost:9092"}
	want.Kafka.CheckpointTopic = "pg2kafka.checkpoints"
	want.Kafka.Capture = "flow_slot"
	want.skip = map[string]bool{}
	want.flags = map[string]bool{}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("defaults differ:\n got %+v\nwant %+v", c, want)
	}

	checks := []struct {
		name      string
		got, want any
	}{
		{"user", c.Source.User, "flow_capture"},
		{"database", c.Source.Database, "postgres"},
		{"auth_type", c.Source.Credentials.AuthType, AuthUserPassword},
		{"publication", c.Source.Advanced.PublicationName, "flow_publication"},
		{"slot", c.Source.Advanced.SlotName, "flow_slot"},
		{"watermarks", c.Source.Advanced.WatermarksTable, "public.flow_watermarks"},
		{"chunk", c.ChunkSize(), 50000},
		{"rediscovery", c.Source.Advanced.RediscoveryInterval, 15 * time.Minute},
		{"statement timeout", c.StatementTimeout(), 2 * time.Minute},
		{"checkpoint topic", c.CheckpointTopic(), "pg2kafka.checkpoints"},
		{"capture", c.CaptureName(), "flow_slot"},
		{"partitions", c.Kafka.Partitions, int32(1)},
		{"rf", c.Kafka.ReplicationFactor, int16(-1)},
		{"compression", c.Kafka.Compression, "lz4"},
		{"delivery", c.Kafka.Delivery, DeliveryExactlyOnce},
		{"tombstones", c.Kafka.Tombstones, true},
		{"format", c.Kafka.Format, "json"},
		{"envelope", c.Kafka.Envelope, "flow"},
		{"oversize", c.Kafka.Oversize, "fail"},
		{"max_delay", c.Kafka.Batch.MaxDelay, 100 * time.Millisecond},
		{"max_records", c.Kafka.Batch.MaxRecords, 50000},
		{"max_bytes", c.Kafka.Batch.MaxBytes, int64(16777216)},
		{"txn timeout", c.Kafka.TransactionTimeout, 60 * time.Second},
		{"client id", c.Kafka.ClientID, "pg2kafka"},
		{"slot busy", c.Kafka.SlotBusyRetries, -1},
		{"listen", c.HTTP.Listen, "127.0.0.1:9187"},
		{"log level", c.Log.Level, "info"},
		{"log format", c.Log.Format, ""},
		{"bindings", c.Bindings == nil, true},
		{"flag date_as_date", c.FeatureFlag("date_as_date"), true},
		{"flag multidimensional_arrays", c.FeatureFlag("multidimensional_arrays"), false},
		{"skip", c.SkipBackfill("public", "orders"), false},
	}
	for _, ck := range checks {
		if !reflect.DeepEqual(ck.got, ck.want) {
			t.Errorf("%s = %#v, want %#v", ck.name, ck.got, ck.want)
		}
	}
	s, tb := c.WatermarksTable()
	if s != "public" || tb != "flow_watermarks" {
		t.Errorf("WatermarksTable = %q, %q", s, tb)
	}
}

func TestOverrides(t *testing.T) {
	c := mustParse(t, `
source:
  address: "[::1]:6543"
  user: capture
  database: app
  credentials: {auth_type: UserPassword, password: cpw}
  historyMode: true
  discoveryFilters: {include_schemas: [a], exclude_schemas: [b], table_patterns: ["x.*"], discover_unpublished_tables: true}
  advanced:
    publicationName: pub
    slotName: slot_1
    watermarksTable: meta.wm
    skip_backfills: "public.big, Other.Huge"
    backfill_chunk_size: -5
    sslmode: verify-full
    sslrootcert: /ca.pem
    sslcert: /c.pem
    sslkey: /k.pem
    discover_schemas: [a, c]
    min_backfill_xid: 12345
    read_only_capture: true
    capture_as_partitions: true
    source_tag: tag
    rediscovery_interval: 1h
    statement_timeout: "0"
    feature_flags: "no_date_as_date, multidimensional_arrays"
    discover_only_published: true
kafka:
  brokers: "k1:9093, k2"
  topic_prefix: cdc
  partitions: -1
  replication_factor: 3
  compression: lz4
  delivery: at-least-once
  tombstones: false
  format: avro
  envelope: debezium
  oversize: truncate
  batch: {max_delay: 0s, max_records: 10, max_bytes: 1024}
  transaction_timeout: 2m
  client_id: me
  tls: {enabled: true, ca_file: /ca, cert_file: /c, key_file: /k, server_name: kafka, insecure_skip_verify: false}
  sasl: {mechanism: scram-sha-512, username: u, password: p}
  schema_registry: {url: "https://sr:8081", username: u, password: p}
  slot_busy_retries: 3
http: {listen: ""}
log: {level: debug, format: console}
`)
	if c.Source.Address != "[::1]:6543" {
		t.Errorf("address = %q", c.Source.Address)
	}
	if h, p := c.Source.HostPort(); h != "::1" || p != "6543" {
		t.Errorf("HostPort = %q %q", h, p)
	}
	if c.Source.EffectivePassword() != "cpw" {
		t.Errorf("password = %q", c.Source.EffectivePassword())
	}
	if c.ChunkSize() != DefaultBackfillChunkSize {
		t.Errorf("ChunkSize = %d", c.ChunkSize())
	}
	if c.StatementTimeout() != 0 {
		t.Errorf("StatementTimeout = %v", c.StatementTimeout())
	}
	if c.FeatureFlag("date_as_date") || !c.FeatureFlag("multidimensional_arrays") || !c.FeatureFlag("flatten_arrays") {
		t.Errorf("feature flags wrong: %v", c.flags)
	}
	if got := c.DiscoverSchemas(); !reflect.DeepEqual(got, []string{"a", "c"}) {
		t.Errorf("DiscoverSchemas = %v", got)
	}
	if !c.DiscoverUnpublished() {
		t.Error("DiscoverUnpublished = false")
	}
	if !reflect.DeepEqual(c.Kafka.Brokers, []string{"k1:9093", "k2:9092"}) {
		t.Errorf("brokers = %v", c.Kafka.Brokers)
	}
	if c.Kafka.SASL.Mechanism != "SCRAM-SHA-512" {
		t.Errorf("mechanism = %q", c.Kafka.SASL.Mechanism)
	}
	if c.CheckpointTopic() != "cdc.checkpoints" || c.CaptureName() != "slot_1" {
		t.Errorf("checkpoint %q capture %q", c.CheckpointTopic(), c.CaptureName())
	}
	if c.HTTP.Listen != "" {
		t.Errorf("listen = %q, want disabled", c.HTTP.Listen)
	}
	if c.Kafka.Batch.MaxDelay != 0 || c.Kafka.Tombstones || c.Kafka.Partitions != -1 {
		t.Errorf("kafka = %+v", c.Kafka)
	}
	if s, tb := c.WatermarksTable(); s != "meta" || tb != "wm" {
		t.Errorf("WatermarksTable = %q %q", s, tb)
	}
}

func TestEnvExpansion(t *testing.T) {
	t.Setenv("PG2K_TEST_PW", "from-env")
	t.Setenv("PG2K_TEST_EMPTY", "")
	t.Setenv("PG2K_TEST_PARTS", "6")
	t.Setenv("PG2K_TEST_BROKERS", "a:1,b:2")
	t.Setenv("PG2K_TEST_WEIRD", `it's: "#{} *&`)
	tests := []struct {
		name, password string
		extraKafka     string
		check          func(t *testing.T, c *Config)
		want           string
	}{
		{name: "set", password: "${PG2K_TEST_PW}", want: "from-env"},
		{name: "set in the middle", password: "pre-${PG2K_TEST_PW}-post", want: "pre-from-env-post"},
		{name: "default when unset", password: "${PG2K_TEST_UNSET:-fallback}", want: "fallback"},
		{name: "default when empty", password: "${PG2K_TEST_EMPTY:-fallback}", want: "fallback"},
		{name: "set wins over default", password: "${PG2K_TEST_PW:-fallback}", want: "from-env"},
		{name: "value taken verbatim", password: "${PG2K_TEST_WEIRD}", want: `it's: "#{} *&`},
		{name: "escaped", password: "'$${PG2K_TEST_PW}'", want: "${PG2K_TEST_PW}"},
		{name: "plain dollar kept", password: "'a$b$'", want: "a$b$"},
		{name: "bad name kept", password: "'${1x}'", want: "${1x}"},
		{name: "unterminated kept", password: "'x${PG2K'", want: "x${PG2K"},
		{name: "integer field", password: "pw", extraKafka: "  partitions: ${PG2K_TEST_PARTS}\n", want: "pw",
			check: func(t *testing.T, c *Config) {
				if c.Kafka.Partitions != 6 {
					t.Errorf("partitions = %d", c.Kafka.Partitions)
				}
			}},
		{name: "integer default", password: "pw", extraKafka: "  partitions: ${PG2K_TEST_UNSET:-4}\n", want: "pw",
			check: func(t *testing.T, c *Config) {
				if c.Kafka.Partitions != 4 {
					t.Errorf("partitions = %d", c.Kafka.Partitions)
				}
			}},
		{name: "comment ignored", password: "pw # ${PG2K_TEST_UNSET}", want: "pw"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := "source:\n  address: db\n  password: " + tt.password + "\nkafka:\n  brokers: ${PG2K_TEST_BROKERS}\n" + tt.extraKafka
			c := mustParse(t, src)
			if got := c.Source.Password; got != tt.want {
				t.Errorf("password = %q, want %q", got, tt.want)
			}
			if !reflect.DeepEqual(c.Kafka.Brokers, []string{"a:1", "b:2"}) {
				t.Errorf("brokers = %q", c.Kafka.Brokers)
			}
			if tt.check != nil {
				tt.check(t, c)
			}
		})
	}

	t.Run("missing", func(t *testing.T) {
		e := parseErr(t, "source:\n  address: db\n  password: ${PG2K_TEST_MISSING}\nkafka:\n  brokers: [x]\n  client_id: ${PG2K_TEST_MISSING2}\n")
		if len(e.Problems) != 2 {
			t.Fatalf("problems = %v", e.Problems)
		}
		want := []Problem{
			{Path: "source.password", Line: 3, Message: "environment variable PG2K_TEST_MISSING is not set (use ${PG2K_TEST_MISSING:-default} for a default)"},
			{Path: "kafka.client_id", Line: 6, Message: "environment variable PG2K_TEST_MISSING2 is not set (use ${PG2K_TEST_MISSING2:-default} for a default)"},
		}
		if !reflect.DeepEqual(e.Problems, want) {
			t.Errorf("problems:\n got %#v\nwant %#v", e.Problems, want)
		}
	})
}

// TestProblems covers every validation error path: the YAML path, the line
// and a distinctive part of the message.
func TestProblems(t *testing.T) {
	// src replaces the minimal config's lines by the given ones; %s markers
	// are not used: each case is a complete file so that lines are exact.
	tests := []struct {
		name string
		src  string
		path string
		line int
		msg  string
	}{
		// Structure and types.
		{"yaml syntax", "source: [\n", "", 1, "invalid YAML: "},
		{"empty file", "", "", 0, "the configuration is empty"},
		{"comments only", "# nothing\n", "", 0, "the configuration is empty"},
		{"two documents", minimal + "---\na: 1\n", "", 7, "more than one YAML document"},
		{"root not mapping", "[1, 2]\n", "", 1, "expected a mapping, got a list"},
		{"section not mapping", "source: db:5432\nkafka: {brokers: [x]}\n", "source", 1, "expected a mapping, got a string"},
		{"unknown top-level", minimal + "kafak: {}\n", "kafak", 7, `unknown field; did you mean "kafka"?`},
		{"source key at top level", minimal + "slot: x\naddress: y\n", "address", 8, `unknown field; did you mean "source.address"?`},
		{"unknown kafka key", "source: {address: db, password: pw}\nkafka:\n  broker: [x]\n  brokers: [x]\n", "kafka.broker", 3, `unknown field; did you mean "brokers"?`},
		{"case typo", "source:\n  address: db\n  password: pw\n  advanced:\n    SlotName: s\nkafka: {brokers: [x]}\n", "source.advanced.SlotName", 5, `unknown field; did you mean "slotName"?`},
		{"snake typo", "source:\n  address: db\n  password: pw\n  advanced:\n    slot_name: s\nkafka: {brokers: [x]}\n", "source.advanced.slot_name", 5, `did you mean "slotName"?`},
		{"transposition", "source:\n  address: db\n  password: pw\n  databsae: x\nkafka: {brokers: [x]}\n", "source.databsae", 4, `did you mean "database"?`},
		{"advanced key one level up", "source:\n  address: db\n  password: pw\n  slotName: s\nkafka: {brokers: [x]}\n", "source.slotName", 4, `did you mean "source.advanced.slotName"?`},
		{"source key one level down", "source:\n  address: db\n  advanced:\n    password: pw\nkafka: {brokers: [x]}\n", "source.advanced.password", 4, `did you mean "source.password"?`},
		{"no hint lists keys", "source: {address: db, password: pw}\nkafka: {brokers: [x]}\nlog: {zzzzzz: 1}\n", "log.zzzzzz", 3, "unknown field; expected one of level, format"},
		{"duplicate key", "source:\n  address: db\n  password: pw\n  address: other\nkafka: {brokers: [x]}\n", "source.address", 4, "duplicate key (first set on line 2)"},
		{"merge key", "x: &x {address: db, password: pw}\nsource:\n  <<: *x\nkafka: {brokers: [x]}\n", "source", 3, "merge keys"},
		{"bool wrong", "source: {address: db, password: pw, historyMode: yes}\nkafka: {brokers: [x]}\n", "source.historyMode", 1, `expected a boolean (true or false), got "yes"`},
		{"bool quoted", "source: {address: db, password: pw, historyMode: \"true\"}\nkafka: {brokers: [x]}\n", "source.historyMode", 1, "expected a boolean (true or false), got a quoted string"},
		{"int wrong", "source: {address: db, password: pw}\nkafka:\n  brokers: [x]\n  partitions: many\n", "kafka.partitions", 4, `expected an integer, got "many"`},
		{"int quoted", "source: {address: db, password: pw}\nkafka:\n  brokers: [x]\n  partitions: \"3\"\n", "kafka.partitions", 4, "expected an integer, got a quoted string"},
		{"int float", "source: {address: db, password: pw}\nkafka:\n  brokers: [x]\n  partitions: 1.5\n", "kafka.partitions", 4, `expected an integer, got "1.5"`},
		{"int range", "source: {address: db, password: pw}\nkafka:\n  brokers: [x]\n  replication_factor: 70000\n", "kafka.replication_factor", 4, "integer 70000 out of range"},
		{"string got mapping", "source: {address: {host: db}, password: pw}\nkafka: {brokers: [x]}\n", "source.address", 1, "expected a string, got a mapping"},
		{"list got string", "source: {address: db, password: pw, advanced: {discover_schemas: public}}\nkafka: {brokers: [x]}\n", "source.advanced.discover_schemas", 1, "expected a list of strings, got a string"},
		{"list item mapping", "source: {address: db, password: pw, advanced: {discover_schemas: [{a: b}]}}\nkafka: {brokers: [x]}\n", "source.advanced.discover_schemas[0]", 1, "expected a string, got a mapping"},
		{"duration bare number", "source: {address: db, password: pw}\nkafka:\n  brokers: [x]\n  batch:\n    max_delay: 100\n", "kafka.batch.max_delay", 5, `invalid duration "100"; add a unit`},
		{"duration garbage", "source: {address: db, password: pw}\nkafka:\n  brokers: [x]\n  transaction_timeout: soon\n", "kafka.transaction_timeout", 4, `invalid duration "soon"`},
		{"bindings not list", "source: {address: db, password: pw}\nbindings: {resource: {}}\nkafka: {brokers: [x]}\n", "bindings", 2, "expected a list of bindings, got a mapping"},

		// source.
		{"missing source", "kafka: {brokers: [x]}\n", "source.address", 1, "missing 'address' (required)"},
		{"missing address", "source:\n  password: pw\nkafka: {brokers: [x]}\n", "source.address", 1, "missing 'address'"},
		{"empty address", "source:\n  address: \"\"\n  password: pw\nkafka: {brokers: [x]}\n", "source.address", 2, "missing 'address'"},
		{"bad port", "source:\n  address: db:http\n  password: pw\nkafka: {brokers: [x]}\n", "source.address", 2, `invalid port "http"`},
		{"no host", "source:\n  address: \":5432\"\n  password: pw\nkafka: {brokers: [x]}\n", "source.address", 2, `invalid address ":5432"`},
		{"supabase pooler", "source:\n  address: aws-0-us-east-1.pooler.supabase.com:6543\n  password: pw\nkafka: {brokers: [x]}\n", "source.address", 2, "address must be a direct connection"},
		{"supabase pooler no port", "source:\n  address: AWS-0.Pooler.Supabase.com\n  password: pw\nkafka: {brokers: [x]}\n", "source.address", 2, "supabase-direct-address"},
		{"empty user", "source:\n  address: db\n  user: ''\n  password: pw\nkafka: {brokers: [x]}\n", "source.user", 3, "missing 'user'"},
		{"empty database", "source:\n  address: db\n  database: ''\n  password: pw\nkafka: {brokers: [x]}\n", "source.database", 3, "missing 'database'"},
		{"missing password", "source:\n  address: db\nkafka: {brokers: [x]}\n", "source.password", 1, "missing 'password'"},
		{"missing credentials password", "source:\n  address: db\n  credentials:\n    auth_type: UserPassword\nkafka: {brokers: [x]}\n", "source.credentials.password", 3, "missing 'password'"},
		{"aws iam", "source:\n  address: db\n  credentials:\n    auth_type: AWSIAM\n    aws_region: us-east-1\nkafka: {brokers: [x]}\n", "source.credentials.auth_type", 4, "AWSIAM authentication is not supported yet"},
		{"gcp iam", "source:\n  address: db\n  credentials: {auth_type: GCPIAM}\nkafka: {brokers: [x]}\n", "source.credentials.auth_type", 3, "GCPIAM authentication is not supported yet"},
		{"azure iam", "source:\n  address: db\n  credentials: {auth_type: AzureIAM}\nkafka: {brokers: [x]}\n", "source.credentials.auth_type", 3, "AzureIAM authentication is not supported yet"},
		{"bad auth type", "source:\n  address: db\n  credentials: {auth_type: Kerberos}\nkafka: {brokers: [x]}\n", "source.credentials.auth_type", 3, `invalid value "Kerberos"; one of UserPassword, AWSIAM, GCPIAM, AzureIAM`},
		{"blank include schema", "source:\n  address: db\n  password: pw\n  discoveryFilters:\n    include_schemas: [a, \" \"]\nkafka: {brokers: [x]}\n", "source.discoveryFilters.include_schemas[1]", 5, "blank entry"},
		{"blank exclude schema", "source:\n  address: db\n  password: pw\n  discoveryFilters:\n    exclude_schemas:\n      - a\n      -\nkafka: {brokers: [x]}\n", "source.discoveryFilters.exclude_schemas[1]", 7, "blank entry"},
		{"blank table pattern", "source:\n  address: db\n  password: pw\n  discoveryFilters: {table_patterns: ['']}\nkafka: {brokers: [x]}\n", "source.discoveryFilters.table_patterns[0]", 4, "blank entry"},
		{"blank discover schema", "source:\n  address: db\n  password: pw\n  advanced:\n    discover_schemas: ['']\nkafka: {brokers: [x]}\n", "source.advanced.discover_schemas[0]", 5, "blank entry"},
		{"empty publication", "source:\n  address: db\n  password: pw\n  advanced:\n    publicationName: ''\nkafka: {brokers: [x]}\n", "source.advanced.publicationName", 5, "missing 'publicationName'"},
		{"empty slot", "source:\n  address: db\n  password: pw\n  advanced:\n    slotName: ''\nkafka: {brokers: [x]}\n", "source.advanced.slotName", 5, "missing 'slotName'"},
		{"bad slot", "source:\n  address: db\n  password: pw\n  advanced:\n    slotName: My-Slot\nkafka: {brokers: [x]}\n", "source.advanced.slotName", 5, `invalid slot name "My-Slot"`},
		{"watermarks unqualified", "source:\n  address: db\n  password: pw\n  advanced:\n    watermarksTable: flow_watermarks\nkafka: {brokers: [x]}\n", "source.advanced.watermarksTable", 5, `invalid 'watermarksTable' configuration: table name "flow_watermarks" must be fully-qualified as "<schema>.<table>"`},
		{"skip backfills unqualified", "source:\n  address: db\n  password: pw\n  advanced:\n    skip_backfills: public.a,b\nkafka: {brokers: [x]}\n", "source.advanced.skip_backfills", 5, `invalid 'skipBackfills' configuration: table name "b" must be fully-qualified`},
		{"sslmode", "source:\n  address: db\n  password: pw\n  advanced:\n    sslmode: verifyfull\nkafka: {brokers: [x]}\n", "source.advanced.sslmode", 5, `invalid value "verifyfull"; one of disable, allow, prefer, require, verify-ca, verify-full`},
		{"sslcert without key", "source:\n  address: db\n  password: pw\n  advanced:\n    sslcert: /c.pem\nkafka: {brokers: [x]}\n", "source.advanced.sslcert", 5, "sslkey is not"},
		{"sslkey without cert", "source:\n  address: db\n  password: pw\n  advanced:\n    sslkey: /k.pem\nkafka: {brokers: [x]}\n", "source.advanced.sslkey", 5, "sslcert is not"},
		{"xid not digits", "source:\n  address: db\n  password: pw\n  advanced:\n    min_backfill_xid: 12a\nkafka: {brokers: [x]}\n", "source.advanced.min_backfill_xid", 5, `invalid value "12a"; digits only`},
		{"xid negative", "source:\n  address: db\n  password: pw\n  advanced:\n    min_backfill_xid: -1\nkafka: {brokers: [x]}\n", "source.advanced.min_backfill_xid", 5, "digits only"},
		{"rediscovery too short", "source:\n  address: db\n  password: pw\n  advanced:\n    rediscovery_interval: 30s\nkafka: {brokers: [x]}\n", "source.advanced.rediscovery_interval", 5, "between 1m and 8760h"},
		{"rediscovery too long", "source:\n  address: db\n  password: pw\n  advanced:\n    rediscovery_interval: 8761h\nkafka: {brokers: [x]}\n", "source.advanced.rediscovery_interval", 5, "between 1m and 8760h"},
		{"statement timeout", "source:\n  address: db\n  password: pw\n  advanced:\n    statement_timeout: 10s\nkafka: {brokers: [x]}\n", "source.advanced.statement_timeout", 5, `invalid value "10s"; one of "", 0, 30s, 1m, 2m, 5m, 30m`},
		{"feature flag typo", "source:\n  address: db\n  password: pw\n  advanced:\n    feature_flags: no_date_as_dat\nkafka: {brokers: [x]}\n", "source.advanced.feature_flags", 5, `unknown feature flag "no_date_as_dat"; did you mean "date_as_date"?`},
		{"feature flag unknown", "source:\n  address: db\n  password: pw\n  advanced:\n    feature_flags: wat\nkafka: {brokers: [x]}\n", "source.advanced.feature_flags", 5, "known flags: "},
		{"ssh tunnel", "source:\n  address: db\n  password: pw\n  networkTunnel:\n    sshForwarding:\n      sshEndpoint: ssh://u@bastion\n      privateKey: k\nkafka: {brokers: [x]}\n", "source.networkTunnel.sshForwarding.sshEndpoint", 6, "not supported yet"},

		// bindings.
		{"binding missing namespace", minimal + "bindings:\n  - resource: {stream: t}\n", "bindings[0].resource.namespace", 8, "missing 'namespace'"},
		{"binding missing resource", minimal + "bindings:\n  - topic: x\n", "bindings[0].resource.namespace", 8, "missing 'namespace'"},
		{"binding missing stream", minimal + "bindings:\n  - resource:\n      namespace: public\n", "bindings[0].resource.stream", 8, "missing 'stream'"},
		{"binding mode", minimal + "bindings:\n  - resource: {namespace: public, stream: t, mode: normal}\n", "bindings[0].resource.mode", 8, `invalid value "normal"; one of "", Normal, Precise, Only Changes, Without Primary Key`},
		{"binding priority", minimal + "bindings:\n  - resource: {namespace: public, stream: t, priority: high}\n", "bindings[0].resource.priority", 8, "expected an integer"},
		{"binding filter blank", minimal + "bindings:\n  - resource:\n      namespace: public\n      stream: t\n      additional_backfill_filter: '  '\n", "bindings[0].resource.additional_backfill_filter", 11, "whitespace-only filter"},
		{"binding advanced filter blank", minimal + "bindings:\n  - resource:\n      namespace: public\n      stream: t\n      advanced: {additional_backfill_filter: ' '}\n", "bindings[0].resource.advanced.additional_backfill_filter", 11, "whitespace-only filter"},
		{"binding filter twice", minimal + "bindings:\n  - resource:\n      namespace: public\n      stream: t\n      additional_backfill_filter: a > 1\n      advanced: {additional_backfill_filter: a > 2}\n", "bindings[0].resource.advanced.additional_backfill_filter", 12, "not both"},
		{"binding blank key column", minimal + "bindings:\n  - resource: {namespace: public, stream: t, primary_key: [id, '']}\n", "bindings[0].resource.primary_key[1]", 8, "blank entry"},
		{"binding topic", minimal + "bindings:\n  - resource: {namespace: public, stream: t}\n    topic: my topic\n", "bindings[0].topic", 9, `invalid topic name "my topic"`},
		{"binding topic too long", minimal + "bindings:\n  - resource: {namespace: public, stream: t}\n    topic: " + strings.Repeat("t", 250) + "\n", "bindings[0].topic", 9, "at most 249"},
		{"binding topic is checkpoint", minimal + "bindings:\n  - resource: {namespace: public, stream: t}\n    topic: pg2kafka.checkpoints\n", "bindings[0].topic", 9, "is the checkpoint topic"},
		{"binding counter", minimal + "bindings:\n  - resource: {namespace: public, stream: t}\n    backfill_counter: -1\n", "bindings[0].backfill_counter", 9, "must be 0 or more"},
		{"binding duplicate", minimal + "bindings:\n  - resource: {namespace: public, stream: t}\n  - resource: {namespace: Public, stream: T}\n", "bindings[1].resource", 9, "duplicate binding for Public.T (also bindings[0], line 8)"},
		{"binding unknown", minimal + "bindings:\n  - resource: {namespace: public, stream: t}\n    topik: x\n", "bindings[0].topik", 9, `did you mean "topic"?`},
		{"binding resource unknown", minimal + "bindings:\n  - resource: {namespace: public, stream: t, streem: u}\n", "bindings[0].resource.streem", 8, `did you mean "stream"?`},

		// kafka.
		{"missing kafka", "source: {address: db, password: pw}\n", "kafka.brokers", 1, "missing 'brokers'"},
		{"empty brokers", "source: {address: db, password: pw}\nkafka:\n  brokers: []\n", "kafka.brokers", 3, "missing 'brokers'"},
		{"broker bad port", "source: {address: db, password: pw}\nkafka:\n  brokers:\n    - ok:9092\n    - bad:port\n", "kafka.brokers[1]", 5, `invalid port "port"`},
		{"broker no host", "source: {address: db, password: pw}\nkafka:\n  brokers: [':9092']\n", "kafka.brokers[0]", 3, "invalid broker address"},
		{"embedded not alone", "source: {address: db, password: pw}\nkafka:\n  brokers: [embedded, k:9092]\n", "kafka.brokers[0]", 3, `"embedded" must be the only broker`},
		{"embedded bad port", "source: {address: db, password: pw}\nkafka:\n  brokers: embedded:x\n", "kafka.brokers", 3, "invalid embedded broker port"},
		{"embedded port range", "source: {address: db, password: pw}\nkafka:\n  brokers: [embedded:70000]\n", "kafka.brokers[0]", 3, "invalid embedded broker port"},
		{"topic prefix", "source: {address: db, password: pw}\nkafka:\n  brokers: [x]\n  topic_prefix: a/b\n", "kafka.topic_prefix", 4, `invalid topic name "a/b"`},
		{"checkpoint topic", "source: {address: db, password: pw}\nkafka:\n  brokers: [x]\n  checkpoint_topic: ..\n", "kafka.checkpoint_topic", 4, `invalid topic name ".."`},
		{"capture with #", "source: {address: db, password: pw}\nkafka:\n  brokers: [x]\n  capture: \"a#2\"\n", "kafka.capture", 4, `capture name "a#2" holds '#'`},
		{"partitions zero", "source: {address: db, password: pw}\nkafka:\n  brokers: [x]\n  partitions: 0\n", "kafka.partitions", 4, "must be at least 1, or -1"},
		{"rf -2", "source: {address: db, password: pw}\nkafka:\n  brokers: [x]\n  replication_factor: -2\n", "kafka.replication_factor", 4, "must be at least 1, or -1"},
		{"compression", "source: {address: db, password: pw}\nkafka:\n  brokers: [x]\n  compression: zstandard\n", "kafka.compression", 4, `invalid value "zstandard"; one of none, gzip, snappy, lz4, zstd`},
		{"delivery", "source: {address: db, password: pw}\nkafka:\n  brokers: [x]\n  delivery: exactly_once\n", "kafka.delivery", 4, `invalid value "exactly_once"; one of exactly-once, at-least-once`},
		{"format", "source: {address: db, password: pw}\nkafka:\n  brokers: [x]\n  format: protobuf\n", "kafka.format", 4, "one of json, avro"},
		{"envelope", "source: {address: db, password: pw}\nkafka:\n  brokers: [x]\n  envelope: raw\n", "kafka.envelope", 4, "one of flow, debezium"},
		{"oversize", "source: {address: db, password: pw}\nkafka:\n  brokers: [x]\n  oversize: drop\n", "kafka.oversize", 4, "one of fail, truncate"},
		{"max_delay negative", "source: {address: db, password: pw}\nkafka:\n  brokers: [x]\n  batch: {max_delay: -1s}\n", "kafka.batch.max_delay", 4, "must not be negative"},
		{"max_records", "source: {address: db, password: pw}\nkafka:\n  brokers: [x]\n  batch: {max_records: 0}\n", "kafka.batch.max_records", 4, "must be at least 1"},
		{"max_bytes", "source: {address: db, password: pw}\nkafka:\n  brokers: [x]\n  batch:\n    max_bytes: -5\n", "kafka.batch.max_bytes", 5, "must be at least 1"},
		{"txn timeout short", "source: {address: db, password: pw}\nkafka:\n  brokers: [x]\n  transaction_timeout: 10ms\n", "kafka.transaction_timeout", 4, "must be at least 1s"},
		{"txn timeout vs delay", "source: {address: db, password: pw}\nkafka:\n  brokers: [x]\n  transaction_timeout: 5s\n  batch: {max_delay: 10s}\n", "kafka.transaction_timeout", 4, "longer than kafka.batch.max_delay"},
		{"client id", "source: {address: db, password: pw}\nkafka:\n  brokers: [x]\n  client_id: ''\n", "kafka.client_id", 4, "missing 'client_id'"},
		{"tls disabled with file", "source: {address: db, password: pw}\nkafka:\n  brokers: [x]\n  tls:\n    ca_file: /ca.pem\n", "kafka.tls.ca_file", 5, `kafka.tls.enabled is false; add "enabled: true"`},
		{"tls cert without key", "source: {address: db, password: pw}\nkafka:\n  brokers: [x]\n  tls:\n    enabled: true\n    cert_file: /c.pem\n", "kafka.tls.cert_file", 6, "key_file is not"},
		{"sasl mechanism", "source: {address: db, password: pw}\nkafka:\n  brokers: [x]\n  sasl: {mechanism: GSSAPI}\n", "kafka.sasl.mechanism", 4, `invalid value "GSSAPI"; one of "", PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, AWS_MSK_IAM`},
		{"sasl no mechanism", "source: {address: db, password: pw}\nkafka:\n  brokers: [x]\n  sasl:\n    username: u\n", "kafka.sasl.mechanism", 4, "no mechanism"},
		{"sasl plain no user", "source: {address: db, password: pw}\nkafka:\n  brokers: [x]\n  sasl:\n    mechanism: PLAIN\n    password: p\n", "kafka.sasl.username", 4, "missing 'username' (required by PLAIN)"},
		{"sasl scram no password", "source: {address: db, password: pw}\nkafka:\n  brokers: [x]\n  sasl:\n    mechanism: SCRAM-SHA-256\n    username: u\n", "kafka.sasl.password", 4, "missing 'password' (required by SCRAM-SHA-256)"},
		{"sasl iam half", "source: {address: db, password: pw}\nkafka:\n  brokers: [x]\n  sasl:\n    mechanism: AWS_MSK_IAM\n    username: AKIA\n", "kafka.sasl", 4, "needs both"},
		{"avro without registry", "source: {address: db, password: pw}\nkafka:\n  brokers: [x]\n  format: avro\n", "kafka.schema_registry.url", 2, "required by kafka.format avro"},
		{"registry url", "source: {address: db, password: pw}\nkafka:\n  brokers: [x]\n  schema_registry:\n    url: ftp://sr\n", "kafka.schema_registry.url", 5, "invalid URL"},
		{"registry password without user", "source: {address: db, password: pw}\nkafka:\n  brokers: [x]\n  schema_registry:\n    url: http://sr\n    password: p\n", "kafka.schema_registry.username", 4, "missing 'username'"},
		{"slot busy retries", "source: {address: db, password: pw}\nkafka:\n  brokers: [x]\n  slot_busy_retries: -2\n", "kafka.slot_busy_retries", 4, "must be -1 (forever) or more"},

		// http and log.
		{"http listen", minimal + "http:\n  listen: 9187\n", "http.listen", 8, `invalid listen address "9187"`},
		{"http port", minimal + "http:\n  listen: localhost:http\n", "http.listen", 8, `invalid port "http"`},
		{"log level", minimal + "log:\n  level: warning\n", "log.level", 8, `invalid value "warning"; one of debug, info, warn, error`},
		{"log format", minimal + "log:\n  format: text\n", "log.format", 8, `invalid value "text"; one of "", json, console`},
		{"log level typo key", minimal + "log:\n  levle: info\n", "log.levle", 8, `did you mean "level"?`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := parseErr(t, tt.src)
			for _, p := range e.Problems {
				if p.Path == tt.path && p.Line == tt.line && strings.Contains(p.Message, tt.msg) {
					return
				}
			}
			t.Errorf("no problem {%s line %d: ...%s...}; got:\n%v", tt.path, tt.line, tt.msg, e)
		})
	}
}

func TestNoPileOn(t *testing.T) {
	// A wrong type is reported once, not again as "missing".
	e := parseErr(t, "source: {address: [db], password: pw}\nkafka: {brokers: [x]}\n")
	if len(e.Problems) != 1 {
		t.Errorf("problems = %v", e)
	}
	e = parseErr(t, "source: 5\nkafka: {brokers: [x]}\n")
	if len(e.Problems) != 1 {
		t.Errorf("problems = %v", e)
	}
}

func TestAllProblemsTogether(t *testing.T) {
	src := `source:
  address: db
  password: pw
  advanced:
    sslmode: verifyfull
kafka:
  broker: [localhost:9092]
  compression: brotli
log:
  level: loud
`
	_, err := Parse([]byte(src), "pg2kafka.yaml")
	if err == nil {
		t.Fatal("no error")
	}
	want := `pg2kafka.yaml:5: source.advanced.sslmode: invalid value "verifyfull"; one of disable, allow, prefer, require, verify-ca, verify-full
pg2kafka.yaml:6: kafka.brokers: missing 'brokers' (required): a list of host:port, or "embedded" for an in-process broker
pg2kafka.yaml:7: kafka.broker: unknown field; did you mean "brokers"?
pg2kafka.yaml:8: kafka.compression: invalid value "brotli"; one of none, gzip, snappy, lz4, zstd
pg2kafka.yaml:10: log.level: invalid value "loud"; one of debug, info, warn, error`
	if err.Error() != want {
		t.Errorf("Error() =\n%s\nwant\n%s", err, want)
	}
	var ce *Error
	if !errors.As(err, &ce) || len(ce.Problems) != 5 || ce.Source != "pg2kafka.yaml" {
		t.Errorf("error = %#v", err)
	}
	if got := (&Error{Problems: []Problem{{Path: "a", Line: 3, Message: "m"}}}).Error(); got != "line 3: a: m" {
		t.Errorf("sourceless Error() = %q", got)
	}
	if got := (Problem{Path: "a", Line: 3, Message: "m"}).String(); got != "line 3: a: m" {
		t.Errorf("Problem.String() = %q", got)
	}
}

// TestFlowEndpointConfig pastes Flow endpoint configs verbatim, in JSON form.
func TestFlowEndpointConfig(t *testing.T) {
	t.Run("json source block", func(t *testing.T) {
		c := mustParse(t, `source: {
  "address": "db.example.com:5432",
  "database": "app",
  "user": "flow_capture",
  "credentials": {"auth_type": "UserPassword", "password": "secret"},
  "historyMode": false,
  "discoveryFilters": {"include_schemas": ["public"], "table_patterns": ["orders*"]},
  "advanced": {
    "backfill_chunk_size": 50000,
    "publicationName": "flow_publication",
    "slotName": "flow_slot",
    "watermarksTable": "public.flow_watermarks",
    "skip_backfills": "public.huge",
    "sslmode": "require",
    "discover_schemas": [],
    "min_backfill_xid": "",
    "read_only_capture": false,
    "capture_as_partitions": false,
    "discover_unpublished_tables": false,
    "discover_only_published": true,
    "source_tag": "",
    "rediscovery_interval": "15m",
    "statement_timeout": "",
    "feature_flags": ""
  },
  "networkTunnel": null
}
kafka:
  brokers: [embedded]
`)
		if c.Source.Address != "db.example.com:5432" || c.Source.EffectivePassword() != "secret" || c.Source.Database != "app" {
			t.Errorf("source = %+v", c.Source)
		}
		if c.Source.Advanced.SSLMode != "require" || !c.SkipBackfill("public", "huge") {
			t.Errorf("advanced = %+v", c.Source.Advanced)
		}
	})
	t.Run("whole file json with legacy password and bindings", func(t *testing.T) {
		c := mustParse(t, `{
  "source": {"address": "localhost", "database": "postgres", "user": "flow_capture", "password": "secret"},
  "bindings": [
    {"resource": {"namespace": "public", "stream": "orders", "syncMode": "incremental", "mode": "Precise", "priority": 2,
                  "advanced": {"additional_backfill_filter": "id > 10"}}}
  ],
  "kafka": {"brokers": ["kafka:9092"]}
}`)
		if c.Source.Address != "localhost:5432" || c.Source.EffectivePassword() != "secret" {
			t.Errorf("source = %+v", c.Source)
		}
		want := []Binding{{Resource: Resource{Namespace: "public", Stream: "orders", Mode: "Precise", Priority: 2, AdditionalBackfillFilter: "id > 10"}}}
		if !reflect.DeepEqual(c.Bindings, want) {
			t.Errorf("bindings = %+v", c.Bindings)
		}
	})
	t.Run("json wrong type", func(t *testing.T) {
		e := parseErr(t, `{"source": {"address": "db", "password": "pw", "advanced": {"backfill_chunk_size": "4096"}}, "kafka": {"brokers": ["k"]}}`)
		if p := e.Problems[0]; p.Path != "source.advanced.backfill_chunk_size" || p.Line != 1 {
			t.Errorf("problem = %+v", p)
		}
	})
}

func TestEmbedded(t *testing.T) {
	tests := []struct {
		brokers string
		port    int
		ok      bool
	}{
		{"embedded", 9092, true},
		{"[embedded]", 9092, true},
		{"Embedded", 9092, true},
		{"embedded:19092", 19092, true},
		{"[embedded:0]", 0, true},
		{"[localhost:9092]", 0, false},
		{"[a:1, b:2]", 0, false},
		{"embedded.example.com", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.brokers, func(t *testing.T) {
			c := mustParse(t, "source: {address: db, password: pw}\nkafka:\n  brokers: "+tt.brokers+"\n")
			port, ok := c.Embedded()
			if port != tt.port || ok != tt.ok {
				t.Errorf("Embedded() = %d, %v; want %d, %v", port, ok, tt.port, tt.ok)
			}
		})
	}
}

func TestTopicFor(t *testing.T) {
	c := mustParse(t, minimal+`bindings:
  - resource: {namespace: public, stream: orders}
    topic: orders-v2
  - resource: {namespace: public, stream: users}
`)
	noPrefix := mustParse(t, minimal+"  topic_prefix: ''\n")
	custom := mustParse(t, minimal+"  topic_prefix: cdc.prod\n  checkpoint_topic: cdc.state\n")
	tests := []struct {
		cfg           *Config
		schema, table string
		want          string
	}{
		{c, "public", "orders", "orders-v2"},
		{c, "PUBLIC", "Orders", "orders-v2"},
		{c, "public", "users", "pg2kafka.public.users"},
		{c, "sales", "Line Items", "pg2kafka.sales.Line_Items"},
		{c, "s", "café", "pg2kafka.s.caf_"},
		{c, "s", "", "pg2kafka.s._"},
		{noPrefix, "public", "users", "public.users"},
		{custom, "public", "users", "cdc.prod.public.users"},
	}
	for _, tt := range tests {
		if got := tt.cfg.TopicFor(tt.schema, tt.table); got != tt.want {
			t.Errorf("TopicFor(%q, %q) = %q, want %q", tt.schema, tt.table, got, tt.want)
		}
	}
	if got := noPrefix.CheckpointTopic(); got != "pg2kafka.checkpoints" {
		t.Errorf("no-prefix CheckpointTopic = %q", got)
	}
	if got := custom.CheckpointTopic(); got != "cdc.state" {
		t.Errorf("custom CheckpointTopic = %q", got)
	}
	if b := c.Binding("Public", "USERS"); b == nil || b.Resource.Stream != "users" {
		t.Errorf("Binding = %+v", b)
	}
	if b := c.Binding("public", "nope"); b != nil {
		t.Errorf("Binding(nope) = %+v", b)
	}
}

// Two tables whose topics meet — by sanitising, by one override, or in
// Kafka's metric names — or a table on the checkpoint topic are refused,
// naming both tables and the binding's topic setting.
func TestCheckTopics(t *testing.T) {
	c := mustParse(t, minimal+`bindings:
  - resource: {namespace: public, stream: orders}
    topic: shared
`)
	use := func(schema, table string) TopicUse {
		return TopicUse{Schema: schema, Table: table, Topic: c.TopicFor(schema, table)}
	}
	tests := []struct {
		uses []TopicUse
		want []string // phrases of the error; nil for none
	}{
		{[]TopicUse{use("public", "a b"), use("public", "a_c")}, nil},
		{[]TopicUse{use("public", "a b"), use("public", "a_b")}, []string{`public."a b"`, "public.a_b", `"pg2kafka.public.a_b"`, "topic: <name>", `stream: "a_b"`}},
		{[]TopicUse{use("public", "orders"), use("public", "Orders")}, []string{"public.orders", `public."Orders"`, `"shared"`}},
		{[]TopicUse{use("public", "a.b"), use("public", "a_b")}, []string{`public."a.b"`, "public.a_b", "'.' and '_'"}},
		{[]TopicUse{use("a.b", "c"), use("a", "b.c")}, []string{`"a.b".c`, `a."b.c"`}},
		{[]TopicUse{{Schema: "public", Table: "x", Topic: "pg2kafka.checkpoints"}}, []string{"public.x", "checkpoint topic"}},
		{[]TopicUse{use(strings.Repeat("s", 63), strings.Repeat("t", 63)), use(strings.Repeat("s", 63), strings.Repeat("u", 200))},
			[]string{"is 273 characters long", "at most 249", "topic: <name>", "kafka.topic_prefix"}},
		{[]TopicUse{use("public", strings.Repeat("t", 249-len("pg2kafka.public.")))}, nil},
	}
	for _, tt := range tests {
		err := c.CheckTopics(tt.uses)
		switch {
		case tt.want == nil && err != nil:
			t.Errorf("CheckTopics(%v) = %v, want nil", tt.uses, err)
		case tt.want != nil && err == nil:
			t.Errorf("CheckTopics(%v) = nil, want an error", tt.uses)
		case err != nil:
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("CheckTopics(%v) = %q, lacks %q", tt.uses, err, w)
				}
			}
		}
	}
}

func TestSkipBackfill(t *testing.T) {
	tests := []struct {
		list          string
		schema, table string
		want          bool
	}{
		{"", "public", "a", false},
		{"public.a", "public", "a", true},
		{"public.a", "PUBLIC", "A", true},
		{"Public.A", "public", "a", true},
		{"public.a", "public", "b", false},
		{"public.a, sales.b ,", "sales", "b", true},
		{"*.*", "any", "thing", true},
		{"public.a,*.*", "x", "y", true},
		{"public.*", "public", "z", false},
	}
	for _, tt := range tests {
		c := mustParse(t, "source:\n  address: db\n  password: pw\n  advanced:\n    skip_backfills: \""+tt.list+"\"\nkafka: {brokers: [x]}\n")
		if got := c.SkipBackfill(tt.schema, tt.table); got != tt.want {
			t.Errorf("skip_backfills %q: SkipBackfill(%q, %q) = %v, want %v", tt.list, tt.schema, tt.table, got, tt.want)
		}
	}
}

const secret = "S3cr3t-Pa55"

// TestPasswordNeverInErrors breaks configs in every way near a secret and
// checks that no error message echoes it.
func TestPasswordNeverInErrors(t *testing.T) {
	t.Setenv("PG2K_TEST_SECRET", secret)
	srcs := []string{
		"source:\n  address: db\n  password: " + secret + "\n  pasword: " + secret + "\nkafka: {brokers: [x]}\n",
		"source:\n  address: db\n  password: [" + secret + "]\nkafka: {brokers: [x]}\n",
		"source:\n  address: db\n  password: {" + secret + ": 1}\nkafka: {brokers: [x]}\n",
		"source:\n  address: db\n  password:" + secret + "\nkafka: {brokers: [x]}\n",
		"source:\n  address: db\n  password: " + secret + "\n  password: " + secret + "x\nkafka: {brokers: [x]}\n",
		"source:\n  address: db\n  credentials: {auth_type: AWSIAM, password: " + secret + "}\nkafka: {brokers: [x]}\n",
		"source:\n  address: db\n  credentials: {auth_type: UserPassword, password: " + secret + ", pw: " + secret + "}\nkafka: {brokers: [x]}\n",
		"source:\n  address: db\n  credentials: {password: \"" + secret + "\n",
		"source:\n  address: db\n  password: ${PG2K_TEST_SECRET}\n  user: ''\nkafka: {brokers: [x]}\n",
		"source:\n  address: db\n  password: " + secret + "\n  networkTunnel: {sshForwarding: {sshEndpoint: ssh://b, privateKey: " + secret + "}}\nkafka: {brokers: [x]}\n",
		"source: {address: db, password: pw}\nkafka:\n  brokers: [x]\n  sasl: {mechanism: PLAIN, password: " + secret + "}\n",
		"source: {address: db, password: pw}\nkafka:\n  brokers: [x]\n  sasl: {password: " + secret + "}\n",
		"source: {address: db, password: pw}\nkafka:\n  brokers: [x]\n  sasl: {mechanism: PLAIN, username: u, password: [" + secret + "]}\n",
		"source: {address: db, password: pw}\nkafka:\n  brokers: [x]\n  schema_registry: {url: 'https://u:" + secret + "@', password: " + secret + "}\n",
		"source: {address: db, password: pw}\nkafka:\n  brokers: [x]\n  schema_registry: {url: 'gopher://u:" + secret + "@sr', username: u, password: " + secret + "}\n",
		"source: {address: db, password: pw}\nkafka:\n  brokers: [x]\n  schema_registry: {url: 'http://u:" + secret + "@sr:bad', username: u}\n",
		"source: {address: db, password: '" + secret + "', zzz: 1}\n",
		"source: {address: db, password:" + secret + "}\nkafka: {brokers: [x]}\n",
		"source: {address: db, password=" + secret + ": x}\nkafka: {brokers: [x]}\n",
	}
	for i, src := range srcs {
		_, err := Parse([]byte(src), "test.yaml")
		if err == nil {
			t.Errorf("case %d: no error", i)
			continue
		}
		if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), "S3cr3t") {
			t.Errorf("case %d: error leaks the secret:\n%v", i, err)
		}
	}
}

func TestRedacted(t *testing.T) {
	c := mustParse(t, `source:
  address: db
  password: legacy-pw
  credentials: {password: cred-pw}
  networkTunnel: {sshForwarding: {privateKey: key}}
bindings:
  - resource: {namespace: public, stream: t, primary_key: [id]}
kafka:
  brokers: [k:9092]
  sasl: {mechanism: PLAIN, username: u, password: sasl-pw}
  schema_registry: {url: "https://reg:url-pw@sr:8081", username: reg, password: reg-pw}
`)
	r := c.Redacted()
	for name, got := range map[string]string{
		"source.password":             r.Source.Password,
		"source.credentials.password": r.Source.Credentials.Password,
		"privateKey":                  r.Source.NetworkTunnel.SSHForwarding.PrivateKey,
		"sasl.password":               r.Kafka.SASL.Password,
		"schema_registry.password":    r.Kafka.SchemaRegistry.Password,
	} {
		if got != RedactedValue {
			t.Errorf("%s = %q, want %q", name, got, RedactedValue)
		}
	}
	if r.Kafka.SchemaRegistry.URL != "https://reg:***@sr:8081" {
		t.Errorf("registry URL = %q", r.Kafka.SchemaRegistry.URL)
	}
	if r.Kafka.SASL.Username != "u" || r.Source.User != "flow_capture" {
		t.Error("non-secrets redacted")
	}
	out, err := yaml.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"legacy-pw", "cred-pw", "sasl-pw", "reg-pw", "url-pw", "key\n"} {
		if strings.Contains(string(out), s) {
			t.Errorf("marshalled redacted config contains %q", s)
		}
	}
	if strings.Contains(r.ConnString(), "cred-pw") {
		t.Error("redacted ConnString has the password")
	}
	// The original is untouched and not aliased.
	if c.Source.Credentials.Password != "cred-pw" || c.Kafka.SASL.Password != "sasl-pw" {
		t.Error("Redacted modified the original")
	}
	r.Kafka.Brokers[0] = "changed"
	r.Bindings[0].Resource.PrimaryKey[0] = "changed"
	if c.Kafka.Brokers[0] != "k:9092" || c.Bindings[0].Resource.PrimaryKey[0] != "id" {
		t.Error("Redacted shares slices with the original")
	}
	// Empty secrets stay empty.
	if m := mustParse(t, minimal).Redacted(); m.Kafka.SASL.Password != "" || m.Source.Credentials.Password != "" {
		t.Error("empty secret redacted")
	}
}

func TestConnString(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want string
	}{
		{"plain", minimal, "host='db.internal' port='5432' user='flow_capture' password='pw' dbname='postgres'"},
		{"quoting and tls", `source:
  address: "[2001:db8::1]:6432"
  user: "o'brien"
  password: 'p a\ss''wd='
  database: my db
  advanced: {sslmode: verify-full, sslrootcert: /etc/ca.pem, sslcert: /c.pem, sslkey: /k.pem}
kafka: {brokers: [x]}
`, `host='2001:db8::1' port='6432' user='o\'brien' password='p a\\ss\'wd=' dbname='my db' sslmode='verify-full' sslrootcert='/etc/ca.pem' sslcert='/c.pem' sslkey='/k.pem'`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustParse(t, tt.src)
			got := c.ConnString()
			if got != tt.want {
				t.Errorf("ConnString =\n%s\nwant\n%s", got, tt.want)
			}
			// pgx must read back exactly what was configured.
			pc, err := pgconn.ParseConfig(strings.Replace(got, "sslmode='verify-full' sslrootcert='/etc/ca.pem' sslcert='/c.pem' sslkey='/k.pem'", "sslmode='disable'", 1))
			if err != nil {
				t.Fatalf("pgconn.ParseConfig: %v", err)
			}
			host, port := c.Source.HostPort()
			if pc.Host != host || pc.User != c.Source.User || pc.Password != c.Source.EffectivePassword() || pc.Database != c.Source.Database || port != "5432" && port != "6432" {
				t.Errorf("pgconn read back host=%q user=%q password=%q db=%q", pc.Host, pc.User, pc.Password, pc.Database)
			}
		})
	}
}

func TestRoundTrip(t *testing.T) {
	c := mustParse(t, minimal+`  sasl: {mechanism: PLAIN, username: u, password: p}
bindings:
  - resource: {namespace: public, stream: t, mode: Normal, primary_key: [id]}
    topic: tt
    backfill_counter: 2
`)
	out, err := yaml.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	c2, err := Parse(out, "marshalled")
	if err != nil {
		t.Fatalf("re-parse: %v\n%s", err, out)
	}
	if !reflect.DeepEqual(c, c2) {
		t.Errorf("round trip differs:\n%+v\n%+v", c, c2)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "pg2kafka.yaml")
	if err := os.WriteFile(path, []byte(minimal), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); err != nil {
		t.Errorf("Load(path): %v", err)
	}
	t.Setenv(EnvConfigPath, path)
	if _, err := Load(""); err != nil {
		t.Errorf("Load via env: %v", err)
	}
	t.Setenv(EnvConfigPath, "")
	if _, err := Load(""); err == nil || !strings.Contains(err.Error(), EnvConfigPath) {
		t.Errorf("Load without path: %v", err)
	}
	if _, err := Load(filepath.Join(dir, "missing.yaml")); err == nil {
		t.Error("Load of a missing file succeeded")
	}
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("source: {}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(bad)
	var ce *Error
	if !errors.As(err, &ce) || ce.Source != bad || !strings.HasPrefix(err.Error(), bad+":1: ") {
		t.Errorf("Load(bad) = %v", err)
	}
}

func TestSuggest(t *testing.T) {
	keys := []string{"brokers", "topic_prefix", "checkpoint_topic", "partitions", "replication_factor", "tls", "sasl"}
	tests := []struct{ in, want string }{
		{"broker", "brokers"},
		{"borkers", "brokers"},
		{"topicPrefix", "topic_prefix"},
		{"partitons", "partitions"},
		{"replicationfactor", "replication_factor"},
		{"tsl", "tls"},
		{"xyz", ""},
		{"completely_different", ""},
	}
	for _, tt := range tests {
		if got := suggest(tt.in, keys); got != tt.want {
			t.Errorf("suggest(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	for _, tt := range []struct {
		a, b string
		d    int
	}{{"", "", 0}, {"abc", "", 3}, {"ab", "ba", 1}, {"kitten", "sitting", 3}, {"ca", "abc", 3}} {
		if got := osaDistance(tt.a, tt.b); got != tt.d {
			t.Errorf("osaDistance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.d)
		}
	}
}

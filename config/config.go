// Package config loads and validates the pg2kafka configuration file, which
// every command of cmd/pg2kafka (run, check, discover, state) shares.
//
// The file is YAML (JSON is valid YAML) with the sections source, bindings,
// kafka, http and log. The source section is exactly Estuary Flow's
// source-postgres endpoint configuration: same property names, same
// defaults, same validation, so a Flow user's endpoint config can be pasted
// in verbatim.
//
// Scalar values may reference the environment as ${VAR} or
// ${VAR:-default} (default used when VAR is unset or empty); "$${" is a
// literal "${". References are expanded inside each scalar value after the
// YAML is parsed, so an expanded value (a password, say) is taken verbatim
// and never needs YAML quoting, and references in comments are ignored. An
// unset ${VAR} without a default is an error naming VAR.
//
// Parse and Load check everything that can be checked without connecting:
// unknown keys (with a "did you mean" hint), wrong types, missing required
// fields and invalid values. All problems are reported together in one
// *Error, each with its YAML path and line. Messages never contain a secret.
package config

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// EnvConfigPath is the environment variable naming the config file when no
// --config flag is given.
const EnvConfigPath = "PG2KAFKA_CONFIG"

// RedactedValue replaces secrets in Redacted copies.
const RedactedValue = "***"

// Default values that are referenced by more than one helper.
const (
	DefaultBackfillChunkSize   = 50000
	DefaultStatementTimeout    = 2 * time.Minute
	DefaultEmbeddedPort        = 9092
	DefaultPostgresPort        = "5432"
	DefaultKafkaPort           = "9092"
	DefaultTopicPrefix         = "pg2kafka"
	DefaultRediscoveryInterval = 15 * time.Minute
)

// Kafka delivery guarantees (Kafka.Delivery).
const (
	DeliveryExactlyOnce = "exactly-once"
	DeliveryAtLeastOnce = "at-least-once"
)

// Auth types of Credentials.AuthType. Only AuthUserPassword is supported
// by pg2kafka so far; the others are recognised so that a Flow config using
// them gets a clear "not supported yet" error.
const (
	AuthUserPassword = "UserPassword"
	AuthAWSIAM       = "AWSIAM"
	AuthGCPIAM       = "GCPIAM"
	AuthAzureIAM     = "AzureIAM"
)

// Config is a loaded, defaulted and validated pg2kafka configuration.
// Fields hold effective values: defaults are filled in by Parse.
type Config struct {
	// Source is the Flow source-postgres endpoint config.
	Source Source `yaml:"source"`
	// Bindings restricts and tunes the captured tables. Nil (absent or an
	// empty list) means every table discovery finds.
	Bindings []Binding `yaml:"bindings"`
	// Kafka configures the destination.
	Kafka Kafka `yaml:"kafka"`
	// HTTP configures the metrics and health endpoint.
	HTTP HTTP `yaml:"http"`
	// Recovery bounds the in-process recovery from transient faults.
	Recovery Recovery `yaml:"recovery"`
	// Log configures logging.
	Log Log `yaml:"log"`

	skipAll bool
	skip    map[string]bool
	flags   map[string]bool
}

// Source is Flow's source-postgres endpoint configuration (reference §7.1).
// YAML property names are Flow's JSON property names.
type Source struct {
	// Address is host:port; ":5432" is appended by Parse when the
	// configured value has no colon.
	Address string `yaml:"address"`
	// User is the database user (default "flow_capture").
	User string `yaml:"user"`
	// Password is Flow's legacy top-level password. Use Password() for the
	// effective password.
	Password string `yaml:"password"`
	// Database is the logical database (default "postgres").
	Database string `yaml:"database"`
	// Credentials selects the authentication method.
	Credentials Credentials `yaml:"credentials"`
	// HistoryMode only changes the collection schema's reduction
	// annotations in Flow; pg2kafka keeps it for compatibility.
	HistoryMode bool `yaml:"historyMode"`
	// DiscoveryFilters narrows discovery.
	DiscoveryFilters DiscoveryFilters `yaml:"discoveryFilters"`
	// Advanced holds the advanced options.
	Advanced Advanced `yaml:"advanced"`
	// NetworkTunnel is accepted so Flow configs parse; SSH forwarding is not
	// supported yet and is rejected when configured.
	NetworkTunnel NetworkTunnel `yaml:"networkTunnel"`
}

// Credentials is Flow's credentials object.
type Credentials struct {
	// AuthType is one of UserPassword (default), AWSIAM, GCPIAM, AzureIAM;
	// only UserPassword is supported.
	AuthType string `yaml:"auth_type"`
	// Password is the password for UserPassword authentication.
	Password string `yaml:"password"`
	// AWSRegion is for AWSIAM (not supported yet).
	AWSRegion string `yaml:"aws_region"`
	// AWSRoleARN is for AWSIAM (not supported yet).
	AWSRoleARN string `yaml:"aws_role_arn"`
	// GCPServiceAccountToImpersonate is for GCPIAM (not supported yet).
	GCPServiceAccountToImpersonate string `yaml:"gcp_service_account_to_impersonate"`
	// GCPWorkloadIdentityPoolAudience is for GCPIAM (not supported yet).
	GCPWorkloadIdentityPoolAudience string `yaml:"gcp_workload_identity_pool_audience"`
	// AzureClientID is for AzureIAM (not supported yet).
	AzureClientID string `yaml:"azure_client_id"`
	// AzureTenantID is for AzureIAM (not supported yet).
	AzureTenantID string `yaml:"azure_tenant_id"`
}

// DiscoveryFilters is Flow's discoveryFilters object.
type DiscoveryFilters struct {
	// IncludeSchemas limits discovery to these schemas (union with
	// Advanced.DiscoverSchemas).
	IncludeSchemas []string `yaml:"include_schemas"`
	// ExcludeSchemas drops these schemas.
	ExcludeSchemas []string `yaml:"exclude_schemas"`
	// TablePatterns are globs with * and ?; with a "." they match
	// schema.table, otherwise the bare table name in any schema.
	TablePatterns []string `yaml:"table_patterns"`
	// DiscoverUnpublishedTables is OR'ed with the advanced option.
	DiscoverUnpublishedTables bool `yaml:"discover_unpublished_tables"`
}

// Advanced is Flow's advanced options object, plus pg2kafka's TLS client
// certificate paths.
type Advanced struct {
	// PublicationName defaults to "flow_publication".
	PublicationName string `yaml:"publicationName"`
	// SlotName defaults to "flow_slot".
	SlotName string `yaml:"slotName"`
	// WatermarksTable is "schema.table", default "public.flow_watermarks".
	WatermarksTable string `yaml:"watermarksTable"`
	// SkipBackfills is a comma-separated list of schema.table ("*.*" =
	// all). Use (*Config).SkipBackfill to query it.
	SkipBackfills string `yaml:"skip_backfills"`
	// BackfillChunkSize is rows per backfill query; values <= 0 mean the
	// default. Use (*Config).ChunkSize for the effective value.
	BackfillChunkSize int `yaml:"backfill_chunk_size"`
	// SSLMode is "" or one of disable, allow, prefer, require, verify-ca,
	// verify-full.
	SSLMode string `yaml:"sslmode"`
	// SSLRootCert is a CA certificate file (pg2kafka addition).
	SSLRootCert string `yaml:"sslrootcert"`
	// SSLCert is a client certificate file (pg2kafka addition).
	SSLCert string `yaml:"sslcert"`
	// SSLKey is a client key file (pg2kafka addition).
	SSLKey string `yaml:"sslkey"`
	// DiscoverSchemas limits discovery to these schemas.
	DiscoverSchemas []string `yaml:"discover_schemas"`
	// MinBackfillXID is a decimal XID (digits only) or "".
	MinBackfillXID string `yaml:"min_backfill_xid"`
	// ReadOnlyCapture disables the watermarks table and all writes.
	ReadOnlyCapture bool `yaml:"read_only_capture"`
	// CaptureAsPartitions captures partitions rather than their roots.
	CaptureAsPartitions bool `yaml:"capture_as_partitions"`
	// DiscoverUnpublishedTables also discovers tables outside the
	// publication.
	DiscoverUnpublishedTables bool `yaml:"discover_unpublished_tables"`
	// SourceTag is copied to _meta.source.tag.
	SourceTag string `yaml:"source_tag"`
	// RediscoveryInterval is between 1m and 8760h (default 15m).
	RediscoveryInterval time.Duration `yaml:"rediscovery_interval"`
	// StatementTimeout is one of "", "0", "30s", "1m", "2m", "5m", "30m".
	// Use (*Config).StatementTimeout for the effective duration.
	StatementTimeout string `yaml:"statement_timeout"`
	// FeatureFlags is a comma list; "no_<flag>" disables a flag. Use
	// (*Config).FeatureFlag to query it.
	FeatureFlags string `yaml:"feature_flags"`
}

// NetworkTunnel is Flow's networkTunnel object (not supported yet).
type NetworkTunnel struct {
	// SSHForwarding configures an SSH tunnel.
	SSHForwarding SSHForwarding `yaml:"sshForwarding"`
}

// SSHForwarding is Flow's networkTunnel.sshForwarding object.
type SSHForwarding struct {
	// SSHEndpoint is ssh://user@host[:port].
	SSHEndpoint string `yaml:"sshEndpoint"`
	// PrivateKey is the SSH private key (a secret).
	PrivateKey string `yaml:"privateKey"`
}

// Binding selects one table and tunes its capture (reference §7.2).
type Binding struct {
	// Resource is Flow's resource config.
	Resource Resource `yaml:"resource"`
	// Topic overrides the table's topic name.
	Topic string `yaml:"topic"`
	// BackfillCounter is the N of the ".vN" suffix of the binding's state
	// key; bumping it re-backfills the table.
	BackfillCounter int `yaml:"backfill_counter"`
}

// Resource is Flow's source-postgres resource config.
type Resource struct {
	// Namespace is the schema (required).
	Namespace string `yaml:"namespace"`
	// Stream is the table (required).
	Stream string `yaml:"stream"`
	// Mode is "", "Normal", "Precise", "Only Changes" or "Without Primary
	// Key".
	Mode string `yaml:"mode"`
	// Priority orders backfills (default 0).
	Priority int `yaml:"priority"`
	// AdditionalBackfillFilter is a SQL predicate added to backfill
	// queries. Flow nests it under "advanced"; both places are accepted.
	AdditionalBackfillFilter string `yaml:"additional_backfill_filter"`
	// PrimaryKey explicitly lists the key columns.
	PrimaryKey []string `yaml:"primary_key"`
}

// Kafka configures the destination cluster and how records are written.
type Kafka struct {
	// Brokers are host:port seed brokers (":9092" appended when there is no
	// port), or the single entry "embedded" / "embedded:PORT" for an
	// in-process broker. See (*Config).Embedded.
	Brokers []string `yaml:"brokers"`
	// TopicPrefix prefixes table topics: <prefix>.<schema>.<table>.
	TopicPrefix string `yaml:"topic_prefix"`
	// CheckpointTopic defaults to <prefix>.checkpoints.
	CheckpointTopic string `yaml:"checkpoint_topic"`
	// Capture is the checkpoint record key; defaults to the slot name.
	Capture string `yaml:"capture"`
	// Partitions for created topics (default 1; -1 = broker default).
	Partitions int32 `yaml:"partitions"`
	// ReplicationFactor for created topics (-1 = broker default).
	ReplicationFactor int16 `yaml:"replication_factor"`
	// Compression is none, gzip, snappy, lz4 or zstd.
	Compression string `yaml:"compression"`
	// Delivery is DeliveryExactlyOnce or DeliveryAtLeastOnce.
	Delivery string `yaml:"delivery"`
	// Truncates writes a truncate event (op t, no key) for each TRUNCATE of
	// a captured table, with the debezium envelope; otherwise a TRUNCATE
	// only logs a warning (as Flow).
	Truncates bool `yaml:"truncates"`
	// Tombstones emits a null-value record after each delete.
	Tombstones bool `yaml:"tombstones"`
	// Format is json or avro.
	Format string `yaml:"format"`
	// Envelope is flow or debezium.
	Envelope string `yaml:"envelope"`
	// Oversize is fail or truncate.
	Oversize string `yaml:"oversize"`
	// Batch says when a Kafka transaction closes (only ever at a
	// PostgreSQL commit).
	Batch Batch `yaml:"batch"`
	// TransactionTimeout is the Kafka transaction timeout.
	TransactionTimeout time.Duration `yaml:"transaction_timeout"`
	// MaxMessageBytes is the largest record the producer sends, and the
	// max.message.bytes of topics pg2kafka creates (default 1 MiB, Kafka's
	// own default). Raise it for rows with large values.
	MaxMessageBytes int32 `yaml:"max_message_bytes"`
	// ConnectTimeout bounds how long start-up retries an unreachable
	// cluster before failing with one clear error (default 1m).
	ConnectTimeout time.Duration `yaml:"connect_timeout"`
	// ClientID is the Kafka client ID.
	ClientID string `yaml:"client_id"`
	// TLS configures TLS to the brokers.
	TLS TLS `yaml:"tls"`
	// SASL configures SASL authentication.
	SASL SASL `yaml:"sasl"`
	// SchemaRegistry is used by the avro format.
	SchemaRegistry SchemaRegistry `yaml:"schema_registry"`
	// SlotBusyRetries is how often to retry while another process holds
	// the replication slot; -1 = forever.
	SlotBusyRetries int `yaml:"slot_busy_retries"`
	// HeartbeatInterval writes a heartbeat record to <prefix>.heartbeat
	// this often while streaming (0: off; Debezium's heartbeat.interval.ms).
	HeartbeatInterval time.Duration `yaml:"heartbeat_interval"`
	// HeartbeatActionQuery is run on the source at each heartbeat
	// (Debezium's heartbeat.action.query), on a connection of its own.
	HeartbeatActionQuery string `yaml:"heartbeat_action_query"`
	// TransactionMetadata writes BEGIN and END records of each PostgreSQL
	// transaction to <prefix>.transaction, and the transaction block of
	// Debezium-envelope records (provide.transaction.metadata).
	TransactionMetadata bool `yaml:"transaction_metadata"`
	// SignalTable ("schema.table", Debezium's signal.data.collection)
	// receives signals, such as execute-snapshot, through the stream.
	SignalTable string `yaml:"signal_table"`
	// SignalTopic names a Kafka topic read for signals (Debezium's Kafka
	// signal channel), with offsets of group pg2kafka-<capture>-signals.
	SignalTopic string `yaml:"signal_topic"`
}

// Batch bounds a Kafka transaction.
type Batch struct {
	// MaxDelay is the longest a transaction stays open (default 100ms).
	MaxDelay time.Duration `yaml:"max_delay"`
	// MaxRecords is the most records per transaction (default 50000).
	MaxRecords int `yaml:"max_records"`
	// MaxBytes is the most record bytes per transaction (default 16 MiB).
	MaxBytes int64 `yaml:"max_bytes"`
	// SplitRecords and SplitBytes split a PostgreSQL transaction larger
	// than either across Kafka transactions (defaults 200000, 128 MiB).
	SplitRecords int   `yaml:"split_records"`
	SplitBytes   int64 `yaml:"split_bytes"`
}

// TLS configures TLS to Kafka.
type TLS struct {
	// Enabled turns TLS on.
	Enabled bool `yaml:"enabled"`
	// CAFile is a PEM CA bundle; empty = system roots.
	CAFile string `yaml:"ca_file"`
	// CertFile is a PEM client certificate.
	CertFile string `yaml:"cert_file"`
	// KeyFile is the PEM client key.
	KeyFile string `yaml:"key_file"`
	// ServerName overrides the verified server name.
	ServerName string `yaml:"server_name"`
	// InsecureSkipVerify disables certificate verification.
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`
}

// SASL configures SASL authentication to Kafka.
type SASL struct {
	// Mechanism is "", PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or AWS_MSK_IAM.
	Mechanism string `yaml:"mechanism"`
	// Username (for AWS_MSK_IAM: the access key ID, optional).
	Username string `yaml:"username"`
	// Password (for AWS_MSK_IAM: the secret access key, optional).
	Password string `yaml:"password"`
}

// SchemaRegistry locates a Confluent-compatible schema registry.
type SchemaRegistry struct {
	// URL is http(s)://host[:port].
	URL string `yaml:"url"`
	// Username for basic auth.
	Username string `yaml:"username"`
	// Password for basic auth.
	Password string `yaml:"password"`
}

// HTTP configures the metrics/health listener.
type HTTP struct {
	// Listen is host:port; empty disables the listener.
	Listen string `yaml:"listen"`
}

// Recovery bounds how pg2kafka recovers, in process, from a transient
// fault after its capture has streamed (PostgreSQL restarted, a broker
// unreachable): it retries with exponential backoff up to MaxBackoff,
// resuming from the last checkpoint.
type Recovery struct {
	// MaxOutage turns an outage longer than this into an exit with the
	// fault's error; 0 (the default) retries for ever.
	MaxOutage time.Duration `yaml:"max_outage"`
	// MaxBackoff caps the wait between attempts (default 30s).
	MaxBackoff time.Duration `yaml:"max_backoff"`
}

// Log configures logging.
type Log struct {
	// Level is debug, info, warn or error.
	Level string `yaml:"level"`
	// Format is json or console; empty = console on a TTY, else json.
	Format string `yaml:"format"`
}

// ResolvePath returns flagValue when it is not empty, else the value of
// $PG2KAFKA_CONFIG, else an error asking for one of them.
func ResolvePath(flagValue string) (string, error) {
	if flagValue != "" {
		return flagValue, nil
	}
	if p := os.Getenv(EnvConfigPath); p != "" {
		return p, nil
	}
	return "", fmt.Errorf("config: no configuration file: pass --config or set %s", EnvConfigPath)
}

// Load reads and parses the configuration file at path. An empty path
// falls back to $PG2KAFKA_CONFIG (see ResolvePath). Read failures are
// returned as ordinary errors; invalid configurations as *Error.
func Load(path string) (*Config, error) {
	p, err := ResolvePath(path)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(data, p)
}

// Parse parses, defaults and validates a configuration. source names it in
// error messages (usually the file path). Invalid configurations yield an
// *Error listing every problem.
func Parse(data []byte, source string) (*Config, error) {
	d := newDecoder(osLookup)
	cfg, ok := d.decode(data)
	if ok {
		d.validate(cfg)
	}
	if len(d.problems) > 0 {
		sortProblems(d.problems)
		return nil, &Error{Source: source, Problems: d.problems}
	}
	return cfg, nil
}

// EffectivePassword returns the effective password: credentials.password, else the
// legacy top-level password.
func (s *Source) EffectivePassword() string {
	if s.Credentials.Password != "" {
		return s.Credentials.Password
	}
	return s.Password
}

// HostPort splits Address into host and port.
func (s *Source) HostPort() (host, port string) {
	h, p, err := net.SplitHostPort(s.Address)
	if err != nil {
		return s.Address, DefaultPostgresPort
	}
	return h, p
}

// CheckpointTopic returns the topic holding checkpoints.
func (c *Config) CheckpointTopic() string { return c.Kafka.CheckpointTopic }

// CaptureName returns the checkpoint record key (kafka.capture, default
// the slot name).
func (c *Config) CaptureName() string { return c.Kafka.Capture }

// Binding returns the binding for schema.table (matched
// case-insensitively), or nil when there is none.
func (c *Config) Binding(schema, table string) *Binding {
	for i := range c.Bindings {
		b := &c.Bindings[i]
		if strings.EqualFold(b.Resource.Namespace, schema) && strings.EqualFold(b.Resource.Stream, table) {
			return b
		}
	}
	return nil
}

// TopicFor returns the topic of a table: the binding's topic override when
// set, else <topic_prefix>.<schema>.<table> (just <schema>.<table> with an
// empty prefix). Characters that Kafka does not allow in topic names
// (anything but ASCII letters, digits, '.', '_' and '-') are replaced by
// '_'.
func (c *Config) TopicFor(schema, table string) string {
	if b := c.Binding(schema, table); b != nil && b.Topic != "" {
		return b.Topic
	}
	name := sanitizeTopic(schema) + "." + sanitizeTopic(table)
	if c.Kafka.TopicPrefix != "" {
		name = c.Kafka.TopicPrefix + "." + name
	}
	return name
}

func sanitizeTopic(s string) string {
	if s == "" {
		return "_"
	}
	return strings.Map(func(r rune) rune {
		if isTopicRune(r) {
			return r
		}
		return '_'
	}, s)
}

func isTopicRune(r rune) bool {
	return r == '.' || r == '_' || r == '-' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'
}

// Embedded reports whether kafka.brokers asks for the in-process broker,
// and on which port (9092 unless "embedded:PORT"; 0 means any free port).
func (c *Config) Embedded() (port int, ok bool) {
	if len(c.Kafka.Brokers) != 1 {
		return 0, false
	}
	port, ok, err := parseEmbedded(c.Kafka.Brokers[0])
	if err != nil {
		return 0, false
	}
	return port, ok
}

// parseEmbedded recognises "embedded" and "embedded:PORT".
func parseEmbedded(s string) (port int, ok bool, err error) {
	s = strings.TrimSpace(s)
	name, p, hasPort := strings.Cut(s, ":")
	if !strings.EqualFold(name, "embedded") {
		return 0, false, nil
	}
	if !hasPort {
		return DefaultEmbeddedPort, true, nil
	}
	n, err := strconv.Atoi(p)
	if err != nil || n < 0 || n > 65535 || !allDigits(p) {
		return 0, true, fmt.Errorf("invalid embedded broker port %q; use \"embedded\" or \"embedded:PORT\" with PORT 0..65535", p)
	}
	return n, true, nil
}

// SkipBackfill reports whether advanced.skip_backfills names schema.table
// (case-insensitively) or is "*.*".
func (c *Config) SkipBackfill(schema, table string) bool {
	if c.skipAll {
		return true
	}
	return c.skip[strings.ToLower(schema+"."+table)]
}

// ChunkSize returns the effective backfill chunk size.
func (c *Config) ChunkSize() int {
	if c.Source.Advanced.BackfillChunkSize <= 0 {
		return DefaultBackfillChunkSize
	}
	return c.Source.Advanced.BackfillChunkSize
}

// WatermarksTable splits advanced.watermarksTable at its first '.'.
func (c *Config) WatermarksTable() (schema, table string) {
	schema, table, _ = strings.Cut(c.Source.Advanced.WatermarksTable, ".")
	return schema, table
}

// StatementTimeout returns the effective statement timeout: 2m for "", 0
// (disabled) for "0".
func (c *Config) StatementTimeout() time.Duration {
	switch s := c.Source.Advanced.StatementTimeout; s {
	case "":
		return DefaultStatementTimeout
	case "0":
		return 0
	default:
		d, err := time.ParseDuration(s)
		if err != nil {
			return DefaultStatementTimeout
		}
		return d
	}
}

// DiscoverSchemas returns the union of discoveryFilters.include_schemas and
// advanced.discover_schemas (nil = all schemas).
func (c *Config) DiscoverSchemas() []string {
	var out []string
	seen := map[string]bool{}
	for _, list := range [][]string{c.Source.DiscoveryFilters.IncludeSchemas, c.Source.Advanced.DiscoverSchemas} {
		for _, s := range list {
			if !seen[s] {
				seen[s] = true
				out = append(out, s)
			}
		}
	}
	return out
}

// DiscoverUnpublished reports whether either discover_unpublished_tables
// option is set.
func (c *Config) DiscoverUnpublished() bool {
	return c.Source.DiscoveryFilters.DiscoverUnpublishedTables || c.Source.Advanced.DiscoverUnpublishedTables
}

// FeatureFlag reports whether a feature flag is on, after applying
// advanced.feature_flags to Flow's defaults.
func (c *Config) FeatureFlag(name string) bool {
	if v, ok := c.flags[name]; ok {
		return v
	}
	return featureFlagDefaults[name]
}

// featureFlagDefaults are Flow's source-postgres feature flags and their
// defaults (reference §7.1).
var featureFlagDefaults = map[string]bool{
	"use_schema_inference":     true,
	"emit_sourced_schemas":     true,
	"date_as_date":             true,
	"time_as_time":             true,
	"flatten_arrays":           true,
	"create_replication_slot":  true,
	"multidimensional_arrays":  false,
	"skip_prerequisites":       false,
	"skip_table_prerequisites": false,
}

// Redacted returns a deep copy with every secret (database passwords, SSH
// private key, SASL and schema registry passwords, and a password in the
// schema registry URL) replaced by "***". Empty secrets stay empty.
func (c *Config) Redacted() *Config {
	r := *c
	r.Bindings = append([]Binding(nil), c.Bindings...)
	for i := range r.Bindings {
		r.Bindings[i].Resource.PrimaryKey = append([]string(nil), c.Bindings[i].Resource.PrimaryKey...)
	}
	r.Kafka.Brokers = append([]string(nil), c.Kafka.Brokers...)
	r.Source.DiscoveryFilters.IncludeSchemas = append([]string(nil), c.Source.DiscoveryFilters.IncludeSchemas...)
	r.Source.DiscoveryFilters.ExcludeSchemas = append([]string(nil), c.Source.DiscoveryFilters.ExcludeSchemas...)
	r.Source.DiscoveryFilters.TablePatterns = append([]string(nil), c.Source.DiscoveryFilters.TablePatterns...)
	r.Source.Advanced.DiscoverSchemas = append([]string(nil), c.Source.Advanced.DiscoverSchemas...)
	// The parsed maps are never mutated after Parse, so sharing is safe.
	for _, s := range []*string{
		&r.Source.Password,
		&r.Source.Credentials.Password,
		&r.Source.NetworkTunnel.SSHForwarding.PrivateKey,
		&r.Kafka.SASL.Password,
		&r.Kafka.SchemaRegistry.Password,
	} {
		if *s != "" {
			*s = RedactedValue
		}
	}
	r.Kafka.SchemaRegistry.URL = redactURL(r.Kafka.SchemaRegistry.URL)
	return &r
}

// TopicUse is one captured table and the topic its records go to.
type TopicUse struct {
	Schema, Table, Topic string
}

// CheckTopics fails when two tables would write to one topic, or a table to
// the checkpoint topic. Sanitising makes different table names meet
// (`"a b"` and `a_b` both become `…a_b`), as can a binding's topic override
// or a binding matching two tables that differ only in case; a shared topic
// merges two tables, and a delete in one tombstones the other's row of the
// same key. Names that differ only in '.' versus '_' are refused too: Kafka
// refuses to create the second of two such topics (their metric names
// collide), and so are topic names over Kafka's 249 characters (a long
// kafka.topic_prefix, schema and table name together). The error names both
// tables and the binding's `topic` setting
// that separates them. Call it with every table at start, and again with the
// running tables plus a newcomer when a table joins.
func (c *Config) CheckTopics(uses []TopicUse) error {
	metric := func(topic string) string { return strings.ReplaceAll(topic, ".", "_") }
	seen := make(map[string]TopicUse, len(uses)+1)
	seen[metric(c.CheckpointTopic())] = TopicUse{Topic: c.CheckpointTopic()}
	for _, u := range uses {
		if len(u.Topic) > maxTopicLen {
			table := quoteName(u.Schema) + "." + quoteName(u.Table)
			return fmt.Errorf("table %s would write to topic %q, which is %d characters long; Kafka allows at most %d: give it a shorter topic, bindings: [{resource: {namespace: %s, stream: %s}, topic: <name>}], or shorten kafka.topic_prefix", table, u.Topic, len(u.Topic), maxTopicLen, yamlQuote(u.Schema), yamlQuote(u.Table))
		}
		m := metric(u.Topic)
		other, dup := seen[m]
		if !dup {
			seen[m] = u
			continue
		}
		table := quoteName(u.Schema) + "." + quoteName(u.Table)
		fix := fmt.Sprintf("give one of them a topic of its own: bindings: [{resource: {namespace: %s, stream: %s}, topic: <name>}]", yamlQuote(u.Schema), yamlQuote(u.Table))
		if other.Table == "" {
			return fmt.Errorf("table %s would write to topic %q, which is the checkpoint topic (kafka.checkpoint_topic); %s", table, u.Topic, fix)
		}
		otherTable := quoteName(other.Schema) + "." + quoteName(other.Table)
		if other.Topic == u.Topic {
			return fmt.Errorf("tables %s and %s would both write to topic %q (topic names replace characters Kafka does not allow with '_', and a binding's topic applies to every table it matches): their rows would mix and a delete in one would tombstone the other's row; %s", otherTable, table, u.Topic, fix)
		}
		return fmt.Errorf("tables %s and %s would write to topics %q and %q, which Kafka refuses to hold together (their names differ only in '.' and '_'); %s", otherTable, table, other.Topic, u.Topic, fix)
	}
	return nil
}

// quoteName double-quotes a schema or table name unless it is a plain
// lower-case identifier.
func quoteName(s string) string {
	for _, r := range s {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9') {
			return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
		}
	}
	if s == "" {
		return `""`
	}
	return s
}

// yamlQuote writes s as a YAML flow scalar.
func yamlQuote(s string) string {
	return strconv.Quote(s)
}

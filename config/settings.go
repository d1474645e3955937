package config

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// setting declares one configuration key, once: where it lives in the YAML
// (path), the Config field it decodes into (and so its type), its default,
// the rule that validates it on its own, and the one line of documentation
// the README's configuration table shows. Decoding (decodeSettings),
// Defaults, validation (checkSettings) and the README table (settingsTable)
// all walk the settings slice; nothing else names a key.
//
// Rules that involve more than one key (a password in either of two
// places, transaction_timeout longer than batch.max_delay, TLS files only
// with TLS enabled, SASL credentials for the mechanism) and the derived
// defaults (checkpoint_topic, capture) stay in validate.go, each naming the
// keys it reads.
type setting struct {
	// path is the dotted YAML path; per-binding keys start "bindings[].".
	path string
	// field returns a pointer to the setting's Config field (*string,
	// *bool, *int, *int16, *int32, *int64, *time.Duration or *[]string).
	field func(*Config) any
	// bfield is field for per-binding keys.
	bfield func(*Binding) any
	// def is the default, of the field's type; nil means the zero value.
	def any
	// show is the README's default column when def does not say it
	// ("*required*", "the slot name"); empty shows def, or "—".
	show string
	// check validates the decoded value on its own (nil: any value of the
	// type). It reports through d.at at path.
	check func(d *decoder, path string, v any)
	// decode replaces the typed decoding for the few keys with a shape of
	// their own (kafka.brokers, bindings, a filter accepted in two places).
	decode  func(o *object, key string, c *Config)
	bdecode func(o *object, key string, b *Binding, itemPath string)
	// hidden keys are accepted (old configs parse) but not documented.
	hidden bool
	// doc is the README's one-line meaning.
	doc string
}

// settings is every configuration key, in the order they are decoded (the
// order "expected one of" hints list them in).
var settings = []setting{
	{path: "source.address", field: func(c *Config) any { return &c.Source.Address }, show: "*required*", check: required("address"),
		doc: "`host` or `host:port` (`:5432` added). Supabase pooler addresses are rejected: use the direct address."},
	{path: "source.user", field: func(c *Config) any { return &c.Source.User }, def: "flow_capture", check: required("user"),
		doc: "Database role."},
	{path: "source.password", field: func(c *Config) any { return &c.Source.Password }, show: "*required* (or `credentials.password`)",
		doc: "Flow's legacy top-level password."},
	{path: "source.database", field: func(c *Config) any { return &c.Source.Database }, def: "postgres", check: required("database"),
		doc: "Database to capture."},
	{path: "source.historyMode", field: func(c *Config) any { return &c.Source.HistoryMode },
		doc: "Flow-only (collection reductions); no effect."},
	{path: "source.credentials.auth_type", field: func(c *Config) any { return &c.Source.Credentials.AuthType }, def: AuthUserPassword,
		doc: "Only `UserPassword` is supported; `AWSIAM`, `GCPIAM`, `AzureIAM` are rejected as not supported yet (their `aws_*`, `gcp_*`, `azure_*` fields parse)."},
	{path: "source.credentials.password", field: func(c *Config) any { return &c.Source.Credentials.Password },
		doc: "Password; wins over `source.password`."},
	{path: "source.credentials.aws_region", field: func(c *Config) any { return &c.Source.Credentials.AWSRegion },
		doc: "For `AWSIAM` (not supported yet)."},
	{path: "source.credentials.aws_role_arn", field: func(c *Config) any { return &c.Source.Credentials.AWSRoleARN },
		doc: "For `AWSIAM` (not supported yet)."},
	{path: "source.credentials.gcp_service_account_to_impersonate", field: func(c *Config) any { return &c.Source.Credentials.GCPServiceAccountToImpersonate },
		doc: "For `GCPIAM` (not supported yet)."},
	{path: "source.credentials.gcp_workload_identity_pool_audience", field: func(c *Config) any { return &c.Source.Credentials.GCPWorkloadIdentityPoolAudience },
		doc: "For `GCPIAM` (not supported yet)."},
	{path: "source.credentials.azure_client_id", field: func(c *Config) any { return &c.Source.Credentials.AzureClientID },
		doc: "For `AzureIAM` (not supported yet)."},
	{path: "source.credentials.azure_tenant_id", field: func(c *Config) any { return &c.Source.Credentials.AzureTenantID },
		doc: "For `AzureIAM` (not supported yet)."},
	{path: "source.discoveryFilters.include_schemas", field: func(c *Config) any { return &c.Source.DiscoveryFilters.IncludeSchemas }, check: noBlanks,
		doc: "Not applied yet."},
	{path: "source.discoveryFilters.exclude_schemas", field: func(c *Config) any { return &c.Source.DiscoveryFilters.ExcludeSchemas }, check: noBlanks,
		doc: "Not applied yet."},
	{path: "source.discoveryFilters.table_patterns", field: func(c *Config) any { return &c.Source.DiscoveryFilters.TablePatterns }, check: noBlanks,
		doc: "Not applied yet."},
	{path: "source.discoveryFilters.discover_unpublished_tables", field: func(c *Config) any { return &c.Source.DiscoveryFilters.DiscoverUnpublishedTables },
		doc: "Without `bindings`, also capture tables that are not in the publication (pg2kafka then adds them to it)."},
	{path: "source.advanced.publicationName", field: func(c *Config) any { return &c.Source.Advanced.PublicationName }, def: "flow_publication", check: required("publicationName"),
		doc: "Publication streamed by the slot."},
	{path: "source.advanced.slotName", field: func(c *Config) any { return &c.Source.Advanced.SlotName }, def: "flow_slot", check: all(required("slotName"), slotName),
		doc: "Replication slot (lower-case letters, digits, `_`); also the default capture name."},
	{path: "source.advanced.watermarksTable", field: func(c *Config) any { return &c.Source.Advanced.WatermarksTable }, def: "public.flow_watermarks", check: watermarksTable,
		doc: "`schema.table` pg2kafka writes watermarks to (created if permitted)."},
	{path: "source.advanced.skip_backfills", field: func(c *Config) any { return &c.Source.Advanced.SkipBackfills },
		doc: "Comma list of `schema.table` (or `*.*`) whose existing rows are not backfilled; also cancels a half-done backfill."},
	{path: "source.advanced.backfill_chunk_size", field: func(c *Config) any { return &c.Source.Advanced.BackfillChunkSize }, def: DefaultBackfillChunkSize,
		doc: "Rows per backfill chunk (one query, one Kafka transaction); `0` or less means the default, as in Flow."},
	{path: "source.advanced.sslmode", field: func(c *Config) any { return &c.Source.Advanced.SSLMode }, show: "libpq default", check: optional(enum(sslModes)),
		doc: "`disable`, `allow`, `prefer`, `require`, `verify-ca`, `verify-full`."},
	{path: "source.advanced.sslrootcert", field: func(c *Config) any { return &c.Source.Advanced.SSLRootCert },
		doc: "CA file (pg2kafka addition)."},
	{path: "source.advanced.sslcert", field: func(c *Config) any { return &c.Source.Advanced.SSLCert },
		doc: "Client certificate file, with `sslkey` (pg2kafka addition)."},
	{path: "source.advanced.sslkey", field: func(c *Config) any { return &c.Source.Advanced.SSLKey },
		doc: "Client key file, with `sslcert` (pg2kafka addition)."},
	{path: "source.advanced.discover_schemas", field: func(c *Config) any { return &c.Source.Advanced.DiscoverSchemas }, check: noBlanks,
		doc: "Not applied yet."},
	{path: "source.advanced.min_backfill_xid", field: func(c *Config) any { return &c.Source.Advanced.MinBackfillXID }, check: minBackfillXID,
		doc: "Validated as Flow does (a decimal transaction ID); not applied yet."},
	{path: "source.advanced.read_only_capture", field: func(c *Config) any { return &c.Source.Advanced.ReadOnlyCapture },
		doc: "No watermarks table and no writes: fences are reached through the server's keepalive WAL positions instead of watermark commits."},
	{path: "source.advanced.capture_as_partitions", field: func(c *Config) any { return &c.Source.Advanced.CaptureAsPartitions },
		doc: "Validated as Flow does; not applied yet."},
	{path: "source.advanced.discover_unpublished_tables", field: func(c *Config) any { return &c.Source.Advanced.DiscoverUnpublishedTables },
		doc: "Same as the `discoveryFilters` option (either one enables it)."},
	{path: "source.advanced.source_tag", field: func(c *Config) any { return &c.Source.Advanced.SourceTag },
		doc: "Written as `_meta.source.tag` in every document."},
	{path: "source.advanced.rediscovery_interval", field: func(c *Config) any { return &c.Source.Advanced.RediscoveryInterval }, def: DefaultRediscoveryInterval, check: rediscoveryInterval,
		doc: "How often the tables are discovered again while running: a table added to the publication (or renamed, or removed) is then followed even before its first change."},
	{path: "source.advanced.statement_timeout", field: func(c *Config) any { return &c.Source.Advanced.StatementTimeout }, show: "`\"\"` = 2m", check: enum(statementTimeouts),
		doc: "One of `\"\"`, `0` (none), `30s`, `1m`, `2m`, `5m`, `30m`."},
	{path: "source.advanced.feature_flags", field: func(c *Config) any { return &c.Source.Advanced.FeatureFlags },
		doc: "Comma list as Flow; `multidimensional_arrays` keeps array dimensions (nested JSON arrays). The other flags are validated but not applied."},
	{path: "source.advanced.discover_only_published", hidden: true,
		decode: func(o *object, key string, _ *Config) { o.ignore(key) },
		doc:    "Hidden in Flow; ignored, accepted so old configs parse."},
	{path: "source.networkTunnel.sshForwarding.sshEndpoint", field: func(c *Config) any { return &c.Source.NetworkTunnel.SSHForwarding.SSHEndpoint },
		doc: "SSH tunnels are not supported: run a tunnel yourself and point `address` at it."},
	{path: "source.networkTunnel.sshForwarding.privateKey", field: func(c *Config) any { return &c.Source.NetworkTunnel.SSHForwarding.PrivateKey },
		doc: "Accepted so Flow configs parse; SSH tunnels are not supported."},

	// bindings is decoded item by item from the bindings[] keys below
	// (decodeSettings calls decodeBindings here, keeping the key order).
	{path: "bindings", hidden: true,
		doc: "The list of bindings (the bindings[] keys)."},
	{path: "bindings[].resource.namespace", bfield: func(b *Binding) any { return &b.Resource.Namespace }, show: "*required*", check: required("namespace"),
		doc: "Schema (case-sensitive). With `bindings` present, exactly these tables are captured; without, every table in the publication (except the watermarks table and tables with a `flow_published_at` column)."},
	{path: "bindings[].resource.stream", bfield: func(b *Binding) any { return &b.Resource.Stream }, show: "*required*", check: required("stream"),
		doc: "Table (case-sensitive)."},
	{path: "bindings[].resource.mode", bfield: func(b *Binding) any { return &b.Resource.Mode }, show: "`\"\"`", check: enum(bindingModes),
		doc: "`\"\"`, `Normal`, `Precise`, `Only Changes` (no backfill), `Without Primary Key`."},
	{path: "bindings[].resource.priority", bfield: func(b *Binding) any { return &b.Resource.Priority }, def: 0,
		doc: "Backfill order: higher first; equal priorities interleave chunk by chunk."},
	{path: "bindings[].resource.primary_key", bfield: func(b *Binding) any { return &b.Resource.PrimaryKey }, show: "table's primary key", check: noBlanks,
		doc: "Key columns, in order; they make the record key."},
	{path: "bindings[].resource.syncMode", hidden: true,
		bdecode: func(o *object, key string, _ *Binding, _ string) { o.ignore(key) },
		doc:     "Hidden legacy in Flow; ignored."},
	{path: "bindings[].resource.additional_backfill_filter", bfield: func(b *Binding) any { return &b.Resource.AdditionalBackfillFilter },
		bdecode: decodeBackfillFilter,
		doc:     "SQL predicate for backfill queries (also accepted under `resource.advanced`)."},
	{path: "bindings[].topic", bfield: func(b *Binding) any { return &b.Topic }, show: "`<prefix>.<schema>.<table>`", check: optional(topicName),
		doc: "Topic override."},
	{path: "bindings[].backfill_counter", bfield: func(b *Binding) any { return &b.BackfillCounter }, def: 0, check: atLeastMsg(0, "must be 0 or more, got %d"),
		doc: "The `.vN` of the binding's state key; bump it to re-backfill the table."},

	{path: "kafka.brokers", field: func(c *Config) any { return &c.Kafka.Brokers }, show: "*required*", decode: decodeBrokers,
		doc: "`host:port` list (`:9092` added), a comma-separated string, or `embedded` / `embedded:PORT` (an in-process broker for trying out: it keeps **nothing**, checkpoints included, when pg2kafka stops)."},
	{path: "kafka.topic_prefix", field: func(c *Config) any { return &c.Kafka.TopicPrefix }, def: DefaultTopicPrefix, check: optional(topicPrefix),
		doc: "Table topics are `<prefix>.<schema>.<table>` (just `<schema>.<table>` if empty). Characters Kafka rejects become `_`."},
	{path: "kafka.checkpoint_topic", field: func(c *Config) any { return &c.Kafka.CheckpointTopic }, show: "`<prefix>.checkpoints`", check: optional(topicName),
		doc: "Compacted checkpoint topic."},
	{path: "kafka.capture", field: func(c *Config) any { return &c.Kafka.Capture }, show: "the slot name",
		doc: "Checkpoint record key (no `#`); also names the transactional IDs `pg2kafka-<capture>` and `pg2kafka-<capture>#2`."},
	{path: "kafka.partitions", field: func(c *Config) any { return &c.Kafka.Partitions }, def: int32(1), check: positiveOrBrokerDefault,
		doc: "Partitions of table topics pg2kafka creates (`-1` = broker default). Records are keyed, so each key stays in order on one partition."},
	{path: "kafka.replication_factor", field: func(c *Config) any { return &c.Kafka.ReplicationFactor }, def: int16(-1), check: positiveOrBrokerDefault,
		doc: "Replication factor of created topics (`-1` = broker default)."},
	{path: "kafka.compression", field: func(c *Config) any { return &c.Kafka.Compression }, def: "lz4", check: enum(compressions),
		doc: "`none`, `gzip`, `snappy`, `lz4`, `zstd`."},
	{path: "kafka.delivery", field: func(c *Config) any { return &c.Kafka.Delivery }, def: DeliveryExactlyOnce, check: enum(deliveries),
		doc: "Or `at-least-once` (see below)."},
	{path: "kafka.tombstones", field: func(c *Config) any { return &c.Kafka.Tombstones }, def: true,
		doc: "Write a null-value record after each delete (keyed tables)."},
	{path: "kafka.truncates", field: func(c *Config) any { return &c.Kafka.Truncates },
		doc: "With `envelope: debezium`, write each TRUNCATE of a captured table as a keyless `op` `t` record. Otherwise a TRUNCATE is logged and skipped (as Flow)."},
	{path: "kafka.format", field: func(c *Config) any { return &c.Kafka.Format }, def: "json", check: enum(formats),
		doc: "Or `avro`: Confluent wire format, schemas registered under `<topic>-key` / `<topic>-value` with BACKWARD compatibility ([docs/avro.md](docs/avro.md))."},
	{path: "kafka.envelope", field: func(c *Config) any { return &c.Kafka.Envelope }, def: "flow", check: enum(envelopes),
		doc: "Or `debezium`: Debezium's `{before, after, source, op, ts_ms}` envelope, op `r` for backfill rows, key changes as delete + tombstone + create, column values in Debezium's default forms (epoch days/µs, decimal bytes, json as a string) ([docs/debezium.md](docs/debezium.md)); JSON or Avro."},
	{path: "kafka.oversize", field: func(c *Config) any { return &c.Kafka.Oversize }, def: "fail", check: enum(oversizes),
		doc: "A record over `max_message_bytes` stops the capture with an error naming the topic, key and size (nothing is skipped, nothing past it is confirmed). `truncate` re-encodes it with its large values cut as Flow cuts oversized values (text and bytea shortened, json replaced by `{\"flow_truncated\":true,\"original_size\":N}`) until it fits, and logs a warning; Flow envelope in JSON only."},
	{path: "kafka.batch.max_delay", field: func(c *Config) any { return &c.Kafka.Batch.MaxDelay }, def: 100 * time.Millisecond, check: notNegative("must not be negative"),
		doc: "Longest a Kafka transaction stays open. A batch also closes as soon as no more changes are waiting; it only ever closes at a PostgreSQL commit. `0` closes it at every PostgreSQL commit."},
	{path: "kafka.batch.max_records", field: func(c *Config) any { return &c.Kafka.Batch.MaxRecords }, def: 50000, check: atLeast(1),
		doc: "Records per Kafka transaction."},
	{path: "kafka.batch.max_bytes", field: func(c *Config) any { return &c.Kafka.Batch.MaxBytes }, def: int64(16 << 20), check: atLeast(1),
		doc: "Record bytes per Kafka transaction."},
	{path: "kafka.batch.split_records", field: func(c *Config) any { return &c.Kafka.Batch.SplitRecords }, def: 200_000, check: atLeast(1),
		doc: "A PostgreSQL transaction with more records is split across Kafka transactions, so that relaying it never outlives `transaction_timeout`: read_committed consumers then see it in parts. The checkpoint keeps the position inside it (in a `pg2kafka.within` header of the checkpoint record, beside Flow's state, which keeps Flow's format), and a restart skips exactly the part already committed."},
	{path: "kafka.batch.split_bytes", field: func(c *Config) any { return &c.Kafka.Batch.SplitBytes }, def: int64(128 << 20), check: atLeast(1),
		doc: "As `split_records`, in record bytes."},
	{path: "kafka.transaction_timeout", field: func(c *Config) any { return &c.Kafka.TransactionTimeout }, def: 60 * time.Second, check: atLeastDuration(time.Second),
		doc: "Broker-side transaction timeout (> `max_delay`); also bounds one commit."},
	{path: "kafka.connect_timeout", field: func(c *Config) any { return &c.Kafka.ConnectTimeout }, def: 60 * time.Second, check: atLeastDuration(time.Second),
		doc: "How long start-up retries an unreachable cluster before one clear error."},
	{path: "kafka.max_message_bytes", field: func(c *Config) any { return &c.Kafka.MaxMessageBytes }, def: int32(1 << 20), check: atLeast(1024),
		doc: "Largest record; topics pg2kafka creates get a matching `max.message.bytes`."},
	{path: "kafka.client_id", field: func(c *Config) any { return &c.Kafka.ClientID }, def: "pg2kafka", check: required("client_id"),
		doc: "Kafka client ID."},
	{path: "kafka.tls.enabled", field: func(c *Config) any { return &c.Kafka.TLS.Enabled },
		doc: "TLS to the brokers (TLS 1.2+)."},
	{path: "kafka.tls.ca_file", field: func(c *Config) any { return &c.Kafka.TLS.CAFile }, show: "system roots",
		doc: "PEM CA bundle."},
	{path: "kafka.tls.cert_file", field: func(c *Config) any { return &c.Kafka.TLS.CertFile },
		doc: "PEM client certificate (with `key_file`)."},
	{path: "kafka.tls.key_file", field: func(c *Config) any { return &c.Kafka.TLS.KeyFile },
		doc: "PEM client key (with `cert_file`)."},
	{path: "kafka.tls.server_name", field: func(c *Config) any { return &c.Kafka.TLS.ServerName },
		doc: "Overrides the verified server name."},
	{path: "kafka.tls.insecure_skip_verify", field: func(c *Config) any { return &c.Kafka.TLS.InsecureSkipVerify },
		doc: "No certificate verification."},
	{path: "kafka.sasl.mechanism", field: func(c *Config) any { return &c.Kafka.SASL.Mechanism },
		doc: "`PLAIN`, `SCRAM-SHA-256`, `SCRAM-SHA-512` (with `username`, `password`), or `AWS_MSK_IAM` (signed with `username`/`password` as access key ID and secret key, else `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`)."},
	{path: "kafka.sasl.username", field: func(c *Config) any { return &c.Kafka.SASL.Username },
		doc: "SASL user (for `AWS_MSK_IAM`: the access key ID)."},
	{path: "kafka.sasl.password", field: func(c *Config) any { return &c.Kafka.SASL.Password },
		doc: "SASL password (for `AWS_MSK_IAM`: the secret access key)."},
	{path: "kafka.schema_registry.url", field: func(c *Config) any { return &c.Kafka.SchemaRegistry.URL },
		doc: "Schema registry for `avro`, `http(s)://host[:port]`."},
	{path: "kafka.schema_registry.username", field: func(c *Config) any { return &c.Kafka.SchemaRegistry.Username },
		doc: "Schema registry basic-auth user (optional)."},
	{path: "kafka.schema_registry.password", field: func(c *Config) any { return &c.Kafka.SchemaRegistry.Password },
		doc: "Schema registry basic-auth password (optional)."},
	{path: "kafka.slot_busy_retries", field: func(c *Config) any { return &c.Kafka.SlotBusyRetries }, def: -1, check: atLeastMsg(-1, "must be -1 (forever) or more, got %d"),
		doc: "Retries while another process holds the slot: `-1` = forever, as a standby checking every second; `n` = n retries backing off to 10 s; `0` fails at once."},
	{path: "kafka.heartbeat_interval", field: func(c *Config) any { return &c.Kafka.HeartbeatInterval }, show: "`0` (off)",
		doc: "Write a heartbeat record to `<prefix>.heartbeat` this often while streaming (Debezium's `heartbeat.interval.ms`), in a Kafka transaction with the checkpoint whose position it carries (`{\"ts_ms\":…,\"lsn\":…,\"cursor\":\"0/1D55878\"}`, key `{\"serverName\":\"<prefix>\"}`). At least `100ms`. ([docs/debezium.md](docs/debezium.md#side-channels))"},
	{path: "kafka.heartbeat_action_query", field: func(c *Config) any { return &c.Kafka.HeartbeatActionQuery },
		doc: "SQL run on the source at each heartbeat, on a connection of its own (Debezium's `heartbeat.action.query`): a write there moves the slot when the captured tables are idle and others are busy. Needs `heartbeat_interval`."},
	{path: "kafka.transaction_metadata", field: func(c *Config) any { return &c.Kafka.TransactionMetadata },
		doc: "Write a `BEGIN` and an `END` record (event counts per table) per PostgreSQL transaction to `<prefix>.transaction`, in the Kafka transactions of its records, and fill the `transaction` block of Debezium-envelope records (Debezium's `provide.transaction.metadata`)."},
	{path: "kafka.signal_table", field: func(c *Config) any { return &c.Kafka.SignalTable },
		doc: "`schema.table` of a signal table (Debezium's `signal.data.collection`: columns `id`, `type`, `data`; in the publication, never captured). An `execute-snapshot` row (`data` `{\"data-collections\": [\"public.t\"], \"type\": \"incremental\"}`) backfills the named tables anew while running; a `log` row is logged."},
	{path: "kafka.signal_topic", field: func(c *Config) any { return &c.Kafka.SignalTopic },
		doc: "A Kafka topic read for the same signals (Debezium's Kafka signal channel; created if missing): key the `topic_prefix`, value `{\"type\": \"execute-snapshot\", \"data\": {\"data-collections\": [\"public.t\"]}}`. Offsets are committed for consumer group `pg2kafka-<capture>-signals` once a signal is acted on durably (a crash re-reads it); on its first start the group begins at the topic's end."},

	{path: "http.listen", field: func(c *Config) any { return &c.HTTP.Listen }, def: "127.0.0.1:9187", check: optional(listenAddress),
		doc: "Prometheus `/metrics`, `/healthz`, `/readyz` ([docs/operations.md](docs/operations.md)); empty disables."},
	{path: "recovery.max_outage", field: func(c *Config) any { return &c.Recovery.MaxOutage }, show: "`0`", check: notNegative("must not be negative (0 retries for ever)"),
		doc: "How long a transient fault may last (PostgreSQL or Kafka unreachable) before pg2kafka exits with its error; `0` retries for ever."},
	{path: "recovery.max_backoff", field: func(c *Config) any { return &c.Recovery.MaxBackoff }, def: 30 * time.Second, check: atLeastDuration(time.Second),
		doc: "Longest wait between recovery attempts (from 1 s, doubling)."},
	{path: "log.level", field: func(c *Config) any { return &c.Log.Level }, def: "info", check: enum(logLevels),
		doc: "`debug`, `info`, `warn`, `error`."},
	{path: "log.format", field: func(c *Config) any { return &c.Log.Format }, show: "console on a terminal, else `json`", check: enum(logFormats),
		doc: "`json` or `console`."},
}

// Defaults returns a configuration holding every default. It is not valid
// by itself: source.address and kafka.brokers have no default.
func Defaults() *Config {
	c := &Config{}
	for _, s := range settings {
		if s.def != nil && s.field != nil {
			setValue(s.field(c), s.def)
		}
	}
	return c
}

// setValue stores v, of the field's type, through ptr.
func setValue(ptr, v any) {
	switch p := ptr.(type) {
	case *string:
		*p = v.(string)
	case *bool:
		*p = v.(bool)
	case *int:
		*p = v.(int)
	case *int16:
		*p = v.(int16)
	case *int32:
		*p = v.(int32)
	case *int64:
		*p = v.(int64)
	case *time.Duration:
		*p = v.(time.Duration)
	default:
		panic(fmt.Sprintf("config: no default of type %T", ptr))
	}
}

// decodeValue decodes key of o into ptr by the pointer's type.
func decodeValue(o *object, key string, ptr any) {
	switch p := ptr.(type) {
	case *string:
		o.str(key, p)
	case *bool:
		o.boolean(key, p)
	case *int:
		intField(o, key, p)
	case *int16:
		intField(o, key, p)
	case *int32:
		intField(o, key, p)
	case *int64:
		intField(o, key, p)
	case *time.Duration:
		o.duration(key, p)
	case *[]string:
		o.strs(key, p)
	default:
		panic(fmt.Sprintf("config: cannot decode into %T", ptr))
	}
}

// typeName names a field's YAML type for the README.
func typeName(ptr any) string {
	switch ptr.(type) {
	case *string:
		return "string"
	case *bool:
		return "boolean"
	case *int, *int16, *int32, *int64:
		return "integer"
	case *time.Duration:
		return "duration"
	case *[]string:
		return "list of strings"
	}
	return "—"
}

// splitPath splits "a.b.c" into "a.b" and "c".
func splitPath(p string) (parent, key string) {
	if i := strings.LastIndexByte(p, '.'); i >= 0 {
		return p[:i], p[i+1:]
	}
	return "", p
}

// objects hands out the nested mapping at a path below a root object,
// creating each one once.
type objects map[string]*object

func (m objects) at(path string) *object {
	if o, ok := m[path]; ok {
		return o
	}
	parent, key := splitPath(path)
	o := m.at(parent).child(key)
	m[path] = o
	return o
}

// decodeSettings decodes every top-level (non-binding) setting below top.
func (d *decoder) decodeSettings(top *object, c *Config) {
	objs := objects{"": top}
	for _, s := range settings {
		if strings.HasPrefix(s.path, "bindings[].") {
			continue
		}
		parent, key := splitPath(s.path)
		o := objs.at(parent)
		switch {
		case s.path == "bindings":
			d.decodeBindings(o, c)
			continue
		case s.decode != nil:
			s.decode(o, key, c)
			continue
		}
		decodeValue(o, key, s.field(c))
	}
}

// decodeBinding decodes the per-binding settings of one bindings[] item.
func (d *decoder) decodeBinding(item *object, b *Binding) {
	objs := objects{"": item}
	for _, s := range settings {
		rel, ok := strings.CutPrefix(s.path, "bindings[].")
		if !ok {
			continue
		}
		parent, key := splitPath(rel)
		o := objs.at(parent)
		if s.bdecode != nil {
			s.bdecode(o, key, b, item.path)
			continue
		}
		decodeValue(o, key, s.bfield(b))
	}
}

// checkSettings applies every setting's own rule to c.
func (d *decoder) checkSettings(c *Config) {
	for _, s := range settings {
		if s.check == nil {
			continue
		}
		if s.field != nil {
			s.check(d, s.path, deref(s.field(c)))
			continue
		}
		rel := strings.TrimPrefix(s.path, "bindings[]")
		for i := range c.Bindings {
			s.check(d, "bindings["+strconv.Itoa(i)+"]"+rel, deref(s.bfield(&c.Bindings[i])))
		}
	}
}

// deref returns the value a field pointer points at.
func deref(ptr any) any {
	switch p := ptr.(type) {
	case *string:
		return *p
	case *bool:
		return *p
	case *int:
		return *p
	case *int16:
		return *p
	case *int32:
		return *p
	case *int64:
		return *p
	case *time.Duration:
		return *p
	case *[]string:
		return *p
	}
	panic(fmt.Sprintf("config: cannot read %T", ptr))
}

// asInt64 widens any integer field value.
func asInt64(v any) int64 {
	switch n := v.(type) {
	case int:
		return int64(n)
	case int16:
		return int64(n)
	case int32:
		return int64(n)
	case int64:
		return n
	}
	panic(fmt.Sprintf("config: %T is not an integer", v))
}

// The rules of the settings table.

func required(flowName string) func(*decoder, string, any) {
	return func(d *decoder, path string, v any) { d.required(path, v.(string), flowName) }
}

func all(checks ...func(*decoder, string, any)) func(*decoder, string, any) {
	return func(d *decoder, path string, v any) {
		for _, c := range checks {
			if d.bad[path] {
				return
			}
			c(d, path, v)
		}
	}
}

// optional applies check only to a non-empty string.
func optional(check func(*decoder, string, any)) func(*decoder, string, any) {
	return func(d *decoder, path string, v any) {
		if v.(string) != "" {
			check(d, path, v)
		}
	}
}

func enum(allowed []string) func(*decoder, string, any) {
	return func(d *decoder, path string, v any) { d.enum(path, v.(string), allowed) }
}

func noBlanks(d *decoder, path string, v any) { d.noBlanks(path, v.([]string)) }

func atLeast(minimum int64) func(*decoder, string, any) {
	return atLeastMsg(minimum, "must be at least "+strconv.FormatInt(minimum, 10)+", got %d")
}

func atLeastMsg(minimum int64, format string) func(*decoder, string, any) {
	return func(d *decoder, path string, v any) {
		if n := asInt64(v); n < minimum {
			d.at(path, format, n)
		}
	}
}

func atLeastDuration(minimum time.Duration) func(*decoder, string, any) {
	return func(d *decoder, path string, v any) {
		if t := v.(time.Duration); t < minimum {
			d.at(path, "must be at least %s, got %s", minimum, t)
		}
	}
}

func notNegative(msg string) func(*decoder, string, any) {
	return func(d *decoder, path string, v any) {
		if v.(time.Duration) < 0 {
			d.at(path, "%s", msg)
		}
	}
}

func positiveOrBrokerDefault(d *decoder, path string, v any) {
	if n := asInt64(v); n == 0 || n < -1 {
		d.at(path, "must be at least 1, or -1 for the broker default; got %d", n)
	}
}

func slotName(d *decoder, path string, v any) {
	if s := v.(string); !slotNameRE.MatchString(s) {
		d.at(path, "invalid slot name %q; PostgreSQL allows only lower-case letters, digits and underscores, at most 63 characters", s)
	}
}

func watermarksTable(d *decoder, path string, v any) {
	if sch, tbl, ok := strings.Cut(v.(string), "."); !ok || sch == "" || tbl == "" {
		d.at(path, "invalid 'watermarksTable' configuration: table name %q must be fully-qualified as \"<schema>.<table>\"", v)
	}
}

func minBackfillXID(d *decoder, path string, v any) {
	s := v.(string)
	if s != "" && !allDigits(s) {
		d.at(path, "invalid value %q; digits only (a transaction ID)", s)
	} else if s != "" {
		if _, err := strconv.ParseUint(s, 10, 64); err != nil {
			d.at(path, "transaction ID %s out of range", s)
		}
	}
}

func rediscoveryInterval(d *decoder, path string, v any) {
	if t := v.(time.Duration); t < time.Minute || t > 8760*time.Hour {
		d.at(path, "invalid rediscovery interval %s; must be between 1m and 8760h", t)
	}
}

func topicName(d *decoder, path string, v any) { d.topicName(path, v.(string)) }

func topicPrefix(d *decoder, path string, v any) {
	if p := v.(string); d.topicName(path, p) && len(p) > 200 {
		d.at(path, "prefix is too long (%d characters; keep it under 200)", len(p))
	}
}

func listenAddress(d *decoder, path string, v any) {
	l := v.(string)
	_, port, err := net.SplitHostPort(l)
	if err != nil {
		d.at(path, "invalid listen address %q; expected host:port (\":9187\" for all interfaces, empty to disable)", l)
	} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 || !allDigits(port) {
		d.at(path, "invalid port %q; expected 0..65535", port)
	}
}

// decodeBrokers accepts a list of host:port strings or one string,
// possibly comma-separated (handy with ${KAFKA_BROKERS}).
func decodeBrokers(o *object, key string, c *Config) {
	n, path := o.value(key)
	if n == nil {
		return
	}
	d := o.d
	switch n.Kind {
	case yaml.ScalarNode:
		if s, ok := d.scalarString(path, n); ok {
			c.Kafka.Brokers = splitList(s)
			d.lines[path] = n.Line
		}
	case yaml.SequenceNode:
		c.Kafka.Brokers = d.stringList(path, n)
	default:
		d.addf(path, n.Line, "expected a list of host:port strings, got %s", kindName(n))
	}
}

// decodeBackfillFilter reads additional_backfill_filter from the resource
// or, as Flow nests it, from resource.advanced; setting both is an error.
func decodeBackfillFilter(r *object, key string, b *Binding, itemPath string) {
	var filt, advFilt string
	hasFilt := r.str(key, &filt)
	hasAdvFilt := r.child("advanced").str(key, &advFilt)
	switch {
	case hasFilt && hasAdvFilt:
		r.d.at(itemPath+".resource.advanced."+key, "set either resource.additional_backfill_filter or resource.advanced.additional_backfill_filter, not both")
	case hasFilt:
		b.Resource.AdditionalBackfillFilter = filt
	case hasAdvFilt:
		b.Resource.AdditionalBackfillFilter = advFilt
	}
}

// settingsTable renders the README's configuration table from settings.
func settingsTable() string {
	var b strings.Builder
	b.WriteString("| Key | Type | Default | Meaning |\n|---|---|---|---|\n")
	var zero Config
	var zeroB Binding
	for _, s := range settings {
		if s.hidden {
			continue
		}
		var ptr any
		if s.field != nil {
			ptr = s.field(&zero)
		} else {
			ptr = s.bfield(&zeroB)
		}
		def := s.show
		if def == "" {
			def = showDefault(s.def, ptr)
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", s.path, typeName(ptr), def, s.doc)
	}
	return b.String()
}

// showDefault writes a default as the README shows it.
func showDefault(v, ptr any) string {
	switch x := v.(type) {
	case nil:
		switch ptr.(type) {
		case *bool:
			return "`false`"
		case *int, *int16, *int32, *int64, *time.Duration:
			return "`0`"
		}
		return "—"
	case time.Duration:
		return "`" + shortDuration(x) + "`"
	default:
		return fmt.Sprintf("`%v`", x)
	}
}

// shortDuration writes 100ms, 15m or 60s rather than Go's 1m0s.
func shortDuration(t time.Duration) string {
	switch {
	case t == 0:
		return "0"
	case t%time.Hour == 0:
		return strconv.FormatInt(int64(t/time.Hour), 10) + "h"
	case t%time.Minute == 0 && t > time.Minute:
		return strconv.FormatInt(int64(t/time.Minute), 10) + "m"
	case t%time.Second == 0:
		return strconv.FormatInt(int64(t/time.Second), 10) + "s"
	}
	return t.String()
}

package config

import (
	"net"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

var (
	sslModes          = []string{"disable", "allow", "prefer", "require", "verify-ca", "verify-full"}
	statementTimeouts = []string{"", "0", "30s", "1m", "2m", "5m", "30m"}
	bindingModes      = []string{"", "Normal", "Precise", "Only Changes", "Without Primary Key"}
	authTypes         = []string{AuthUserPassword, AuthAWSIAM, AuthGCPIAM, AuthAzureIAM}
	compressions      = []string{"none", "gzip", "snappy", "lz4", "zstd"}
	deliveries        = []string{DeliveryExactlyOnce, DeliveryAtLeastOnce}
	formats           = []string{"json", "avro"}
	envelopes         = []string{"flow", "debezium"}
	oversizes         = []string{"fail", "truncate"}
	saslMechanisms    = []string{"", "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "AWS_MSK_IAM"}
	logLevels         = []string{"debug", "info", "warn", "error"}
	logFormats        = []string{"", "json", "console"}

	slotNameRE = regexp.MustCompile(`^[a-z0-9_]{1,63}$`)
)

const maxTopicLen = 249

// validate checks decoded values, fills derived defaults and parses the
// list-valued strings into the Config's lookup tables.
func (d *decoder) validate(c *Config) {
	d.checkSettings(c)
	d.validateSource(c)
	d.validateBindings(c)
	d.validateKafka(c)
}

func (d *decoder) required(path, value, flowName string) bool {
	if strings.TrimSpace(value) != "" {
		return true
	}
	d.at(path, "missing '%s' (required)", flowName)
	return false
}

func (d *decoder) enum(path, value string, allowed []string) bool {
	if slices.Contains(allowed, value) {
		return true
	}
	d.at(path, "invalid value %q; %s", value, oneOf(allowed))
	return false
}

func (d *decoder) validateSource(c *Config) {
	s := &c.Source
	if strings.TrimSpace(s.Address) != "" {
		d.validateAddress(s)
	}

	switch s.Credentials.AuthType {
	case AuthUserPassword:
		if s.EffectivePassword() == "" {
			path := "source.password"
			if _, ok := d.lines["source.credentials"]; ok {
				path = "source.credentials.password"
			}
			d.at(path, "missing 'password' (required; set source.password or source.credentials.password, e.g. to ${PGPASSWORD})")
		}
	case AuthAWSIAM, AuthGCPIAM, AuthAzureIAM:
		d.at("source.credentials.auth_type", "%s authentication is not supported yet; use %s", s.Credentials.AuthType, AuthUserPassword)
	default:
		d.enum("source.credentials.auth_type", s.Credentials.AuthType, authTypes)
	}

	a := &s.Advanced
	c.skip = map[string]bool{}
	for _, name := range splitList(a.SkipBackfills) {
		if name == "*.*" {
			c.skipAll = true
			continue
		}
		if sch, tbl, ok := strings.Cut(name, "."); !ok || sch == "" || tbl == "" {
			d.at("source.advanced.skip_backfills", "invalid 'skipBackfills' configuration: table name %q must be fully-qualified as \"<schema>.<table>\"", name)
			continue
		}
		c.skip[strings.ToLower(name)] = true
	}

	if (a.SSLCert == "") != (a.SSLKey == "") {
		if a.SSLCert == "" {
			d.at("source.advanced.sslkey", "sslkey is set but sslcert is not; a client certificate needs both")
		} else {
			d.at("source.advanced.sslcert", "sslcert is set but sslkey is not; a client certificate needs both")
		}
	}

	c.flags = map[string]bool{}
	known := make([]string, 0, len(featureFlagDefaults))
	for f := range featureFlagDefaults {
		known = append(known, f)
	}
	slices.Sort(known)
	for _, f := range splitList(a.FeatureFlags) {
		name, on := f, true
		if n, ok := strings.CutPrefix(f, "no_"); ok {
			name, on = n, false
		}
		if _, ok := featureFlagDefaults[name]; !ok {
			msg := "unknown feature flag %q"
			if s := suggest(name, known); s != "" {
				msg += "; did you mean \"" + s + "\"?"
			} else {
				msg += "; known flags: " + strings.Join(known, ", ") + " (prefix no_ to disable)"
			}
			d.at("source.advanced.feature_flags", msg, f)
			continue
		}
		c.flags[name] = on
	}

	if s.NetworkTunnel.SSHForwarding.SSHEndpoint != "" {
		d.at("source.networkTunnel.sshForwarding.sshEndpoint", "SSH tunnelling is not supported yet; reach the database directly or run a tunnel yourself and point source.address at it")
	}
}

// validateAddress applies Flow's ":5432" default and rejects addresses
// that cannot work.
func (d *decoder) validateAddress(s *Source) {
	const path = "source.address"
	addr := strings.TrimSpace(s.Address)
	if !strings.Contains(addr, ":") {
		addr += ":" + DefaultPostgresPort
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil || host == "" {
		d.at(path, "invalid address %q; expected host or host:port (IPv6 as [addr]:port)", s.Address)
		return
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 || !allDigits(port) {
		d.at(path, "invalid port %q in address; expected 1..65535", port)
		return
	}
	if strings.HasSuffix(strings.ToLower(strings.TrimSuffix(host, ".")), ".pooler.supabase.com") {
		d.at(path, "address must be a direct connection: address %q is using the connection pooler, consult go.estuary.dev/supabase-direct-address for details", s.Address)
		return
	}
	s.Address = addr
}

func (d *decoder) noBlanks(path string, list []string) {
	for i, s := range list {
		if strings.TrimSpace(s) == "" {
			d.at(path+"["+strconv.Itoa(i)+"]", "blank entry; remove it")
		}
	}
}

func (d *decoder) validateBindings(c *Config) {
	seen := map[string]int{}
	for i := range c.Bindings {
		b := &c.Bindings[i]
		p := "bindings[" + strconv.Itoa(i) + "]"
		r := &b.Resource
		if strings.TrimSpace(r.Namespace) != "" && strings.TrimSpace(r.Stream) != "" {
			key := strings.ToLower(r.Namespace + "." + r.Stream)
			if j, dup := seen[key]; dup {
				d.at(p+".resource", "duplicate binding for %s.%s (also bindings[%d], line %d)", r.Namespace, r.Stream, j, d.lineOf("bindings["+strconv.Itoa(j)+"]"))
			} else {
				seen[key] = i
			}
		}
		if r.AdditionalBackfillFilter != "" && strings.TrimSpace(r.AdditionalBackfillFilter) == "" {
			path := p + ".resource.additional_backfill_filter"
			if _, ok := d.lines[p+".resource.advanced.additional_backfill_filter"]; ok {
				path = p + ".resource.advanced.additional_backfill_filter"
			}
			d.at(path, "whitespace-only filter; remove it or write a SQL predicate")
		}
	}
}

// topicName checks a Kafka topic name.
func (d *decoder) topicName(path, name string) bool {
	switch {
	case name == "." || name == "..":
		d.at(path, "invalid topic name %q", name)
	case len(name) > maxTopicLen:
		d.at(path, "topic name is %d characters long; Kafka allows at most %d", len(name), maxTopicLen)
	case strings.IndexFunc(name, func(r rune) bool { return !isTopicRune(r) }) >= 0:
		d.at(path, "invalid topic name %q; Kafka allows only ASCII letters, digits, '.', '_' and '-'", name)
	default:
		return true
	}
	return false
}

func (d *decoder) validateKafka(c *Config) {
	k := &c.Kafka
	if len(k.Brokers) == 0 {
		d.at("kafka.brokers", "missing 'brokers' (required): a list of host:port, or \"embedded\" for an in-process broker")
	}
	for i, b := range k.Brokers {
		path := "kafka.brokers[" + strconv.Itoa(i) + "]"
		if _, ok := d.lines[path]; !ok {
			path = "kafka.brokers"
		}
		_, emb, err := parseEmbedded(b)
		switch {
		case err != nil:
			d.at(path, "%s", err.Error())
		case emb && len(k.Brokers) > 1:
			d.at(path, "\"embedded\" must be the only broker")
		case emb:
			k.Brokers[i] = strings.ToLower(strings.TrimSpace(b))
		default:
			addr := strings.TrimSpace(b)
			if !strings.Contains(addr, ":") || strings.HasPrefix(addr, "[") && strings.HasSuffix(addr, "]") {
				addr += ":" + DefaultKafkaPort
			}
			host, port, err := net.SplitHostPort(addr)
			if err != nil || host == "" {
				d.at(path, "invalid broker address %q; expected host:port", b)
				continue
			}
			if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 || !allDigits(port) {
				d.at(path, "invalid port %q in broker address; expected 1..65535", port)
				continue
			}
			k.Brokers[i] = addr
		}
	}

	if k.CheckpointTopic == "" {
		prefix := k.TopicPrefix
		if prefix == "" {
			prefix = DefaultTopicPrefix
		}
		k.CheckpointTopic = prefix + ".checkpoints"
	}
	for i, b := range c.Bindings {
		if b.Topic != "" && b.Topic == k.CheckpointTopic {
			d.at("bindings["+strconv.Itoa(i)+"].topic", "topic %q is the checkpoint topic; choose another", b.Topic)
		}
	}
	if k.Capture == "" {
		k.Capture = c.Source.Advanced.SlotName
	}
	if strings.Contains(k.Capture, "#") {
		// The capture's second transactional ID is pg2kafka-<capture>#2:
		// capture "a#2" would share an ID with capture "a", and each would
		// fence the other.
		d.at("kafka.capture", "capture name %q holds '#', which pg2kafka keeps for the capture's second transactional ID; choose a name without it", k.Capture)
	}

	if k.Truncates && k.Envelope != "debezium" {
		d.at("kafka.truncates", "truncate events exist only in the debezium envelope (set kafka.envelope: debezium, or remove kafka.truncates)")
	}
	if k.TransactionTimeout >= time.Second && k.TransactionTimeout <= k.Batch.MaxDelay {
		d.at("kafka.transaction_timeout", "must be longer than kafka.batch.max_delay (%s)", k.Batch.MaxDelay)
	}

	t := &k.TLS
	if !t.Enabled {
		for _, f := range []struct{ key, v string }{{"ca_file", t.CAFile}, {"cert_file", t.CertFile}, {"key_file", t.KeyFile}, {"server_name", t.ServerName}} {
			if f.v != "" {
				d.at("kafka.tls."+f.key, "set, but kafka.tls.enabled is false; add \"enabled: true\"")
			}
		}
		if t.InsecureSkipVerify {
			d.at("kafka.tls.insecure_skip_verify", "set, but kafka.tls.enabled is false; add \"enabled: true\"")
		}
	}
	if (t.CertFile == "") != (t.KeyFile == "") {
		if t.CertFile == "" {
			d.at("kafka.tls.key_file", "key_file is set but cert_file is not; a client certificate needs both")
		} else {
			d.at("kafka.tls.cert_file", "cert_file is set but key_file is not; a client certificate needs both")
		}
	}

	s := &k.SASL
	if m := strings.ToUpper(s.Mechanism); slices.Contains(saslMechanisms, m) {
		s.Mechanism = m
	}
	if d.enum("kafka.sasl.mechanism", s.Mechanism, saslMechanisms) {
		switch s.Mechanism {
		case "":
			if s.Username != "" || s.Password != "" {
				d.at("kafka.sasl.mechanism", "missing: username/password are set but no mechanism; %s", oneOf(saslMechanisms[1:]))
			}
		case "AWS_MSK_IAM":
			if (s.Username == "") != (s.Password == "") {
				d.at("kafka.sasl", "AWS_MSK_IAM needs both username (access key ID) and password (secret key), or neither for the default AWS credentials")
			}
		default:
			if s.Username == "" {
				d.at("kafka.sasl.username", "missing 'username' (required by %s)", s.Mechanism)
			}
			if s.Password == "" {
				d.at("kafka.sasl.password", "missing 'password' (required by %s)", s.Mechanism)
			}
		}
	}

	r := &k.SchemaRegistry
	if r.URL != "" {
		u, err := url.Parse(r.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			// The URL may hold credentials: never echo it.
			d.at("kafka.schema_registry.url", "invalid URL; expected http(s)://host[:port]")
		}
	} else if k.Format == "avro" {
		d.at("kafka.schema_registry.url", "missing 'url' (required by kafka.format avro)")
	}
	if r.Password != "" && r.Username == "" {
		d.at("kafka.schema_registry.username", "missing 'username' (a password is set)")
	}
	d.validateSideChannels(c)
}

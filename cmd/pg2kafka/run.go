package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/aws"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/pg2kafka/pg2kafka/capture"
	"github.com/pg2kafka/pg2kafka/checkpoint"
	"github.com/pg2kafka/pg2kafka/config"
	"github.com/pg2kafka/pg2kafka/event"
	"github.com/pg2kafka/pg2kafka/metrics"
	"github.com/pg2kafka/pg2kafka/schema/debezium"
	"github.com/pg2kafka/pg2kafka/schema/format"
	"github.com/pg2kafka/pg2kafka/sink/kafka"
	"github.com/pg2kafka/pg2kafka/source"
)

func sourceConfig(cfg *config.Config) source.Config {
	return source.Config{
		ConnString:       cfg.ConnString(),
		Slot:             cfg.Source.Advanced.SlotName,
		Publication:      cfg.Source.Advanced.PublicationName,
		WatermarksTable:  cfg.Source.Advanced.WatermarksTable,
		ReadOnly:         cfg.Source.Advanced.ReadOnlyCapture,
		StatementTimeout: cfg.StatementTimeout(),
	}
}

// brokers returns the seed brokers, starting the embedded broker if asked.
func brokers(cfg *config.Config, log zerolog.Logger) ([]string, func(), error) {
	port, ok := cfg.Embedded()
	if !ok {
		return cfg.Kafka.Brokers, func() {}, nil
	}
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(port), kfake.ClusterID("pg2kafka-embedded"))
	if err != nil {
		return nil, nil, fmt.Errorf("starting the embedded Kafka broker on 127.0.0.1:%d (is the port free? set kafka.brokers: [embedded:PORT]): %w", port, err)
	}
	log.Warn().Strs("listening", c.ListenAddrs()).Msg("EMBEDDED KAFKA BROKER: for trying pg2kafka out only; it keeps NOTHING when pg2kafka stops (checkpoints included)")
	return c.ListenAddrs(), c.Close, nil
}

// sinkOptions builds the sink's options; transactional is false for tools
// that only read, so they never fence a running capture's producer.
func sinkOptions(cfg *config.Config, transactional bool, log zerolog.Logger) ([]kafka.Opt, error) {
	k := cfg.Kafka
	opts := []kafka.Opt{
		kafka.Logger(kgoLogger{log}),
		kafka.TopicProgress(func(done, total int) {
			log.Info().Int("done", done).Int("topics", total).Msgf("topics checked or created: %d of %d", done, total)
		}),
		kafka.Checkpoints(cfg.CheckpointTopic(), cfg.CaptureName()),
		kafka.Compression(k.Compression),
		kafka.TopicDefaults(k.Partitions, k.ReplicationFactor),
		kafka.ClientID(k.ClientID),
		kafka.TransactionTimeout(k.TransactionTimeout),
		kafka.ConnectTimeout(k.ConnectTimeout),
		kafka.MaxRecordBytes(k.MaxMessageBytes),
	}
	if transactional && k.Delivery != config.DeliveryAtLeastOnce {
		opts = append(opts, kafka.Transactional("pg2kafka-"+cfg.CaptureName()))
	}
	if k.TLS.Enabled {
		tc := &tls.Config{ServerName: k.TLS.ServerName, InsecureSkipVerify: k.TLS.InsecureSkipVerify, MinVersion: tls.VersionTLS12}
		if k.TLS.CAFile != "" {
			pem, err := os.ReadFile(k.TLS.CAFile)
			if err != nil {
				return nil, fmt.Errorf("kafka.tls.ca_file: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("kafka.tls.ca_file %s: no PEM certificates found", k.TLS.CAFile)
			}
			tc.RootCAs = pool
		}
		if k.TLS.CertFile != "" {
			cert, err := tls.LoadX509KeyPair(k.TLS.CertFile, k.TLS.KeyFile)
			if err != nil {
				return nil, fmt.Errorf("kafka.tls.cert_file / key_file: %w", err)
			}
			tc.Certificates = []tls.Certificate{cert}
		}
		opts = append(opts, kafka.TLS(tc))
	}
	if k.SASL.Mechanism != "" {
		mech, err := saslMechanism(k.SASL)
		if err != nil {
			return nil, err
		}
		opts = append(opts, kafka.SASL(mech))
	}
	return opts, nil
}

// bindings resolves the configured bindings (or, when none are configured,
// every published table) against discovery.
func bindings(cfg *config.Config, db *source.Database, tables []*source.DiscoveredTable) ([]capture.Binding, error) {
	byName := map[string]*source.DiscoveredTable{}
	for _, t := range tables {
		byName[t.Schema+"."+t.Name] = t
	}
	var out []capture.Binding
	add := func(t *source.DiscoveredTable, cb *config.Binding) error {
		b := capture.Binding{Schema: t.Schema, Table: t.Name, OID: t.OID, Topic: cfg.TopicFor(t.Schema, t.Name),
			SkipBackfill: cfg.SkipBackfill(t.Schema, t.Name), Attributes: t.Attributes}
		for _, col := range t.Columns {
			if !col.Generated { // replication never carries them (§4.2)
				b.Columns = append(b.Columns, col)
			}
		}
		counter := 0
		if cb != nil {
			b.Mode, b.Priority, counter = cb.Resource.Mode, cb.Resource.Priority, cb.BackfillCounter
			b.Filter = cb.Resource.AdditionalBackfillFilter
			if len(cb.Resource.PrimaryKey) > 0 {
				b.KeyColumns = cb.Resource.PrimaryKey
			}
		}
		if t.RowFilter != "" {
			// Replication sends only the rows the publication's row filter
			// passes (PostgreSQL 15+); the backfill reads the same rows.
			if b.Filter != "" {
				b.Filter = "(" + b.Filter + ") AND " + t.RowFilter
			} else {
				b.Filter = t.RowFilter
			}
		}
		if b.KeyColumns == nil && b.Mode != "Without Primary Key" {
			for _, i := range t.Key {
				b.KeyColumns = append(b.KeyColumns, t.Columns[i].Name)
			}
		}
		if len(b.KeyColumns) == 0 && (b.Mode == "Precise" || b.Mode == "Normal") {
			return fmt.Errorf("binding %s.%s: mode %q needs a key, and the table has no primary key or usable unique index (add a primary key, set resource.primary_key, or use mode \"Without Primary Key\")", t.Schema, t.Name, b.Mode)
		}
		b.StateKey = checkpoint.StateKey([]string{t.Schema, t.Name}, counter)
		out = append(out, b)
		return nil
	}
	if len(cfg.Bindings) > 0 {
		for i := range cfg.Bindings {
			cb := &cfg.Bindings[i]
			t, ok := byName[cb.Resource.Namespace+"."+cb.Resource.Stream]
			if !ok {
				return nil, fmt.Errorf("bindings[%d]: table %s.%s not found (check resource.namespace and resource.stream; names are case-sensitive)", i, cb.Resource.Namespace, cb.Resource.Stream)
			}
			if err := add(t, cb); err != nil {
				return nil, err
			}
		}
		return out, checkTopics(cfg, out)
	}
	for _, t := range tables {
		if db.IsWatermarks(t.Schema, t.Name) || isSignalTable(cfg, t) || (!t.Published && !cfg.DiscoverUnpublished()) || hasColumn(t, "flow_published_at") ||
			!discoveryFilter(cfg, t.Schema, t.Name) {
			continue
		}
		if err := add(t, cfg.Binding(t.Schema, t.Name)); err != nil {
			return nil, err
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no tables to capture: publication %q has none (ALTER PUBLICATION %s ADD TABLE <schema>.<table>;) and no bindings are configured", cfg.Source.Advanced.PublicationName, cfg.Source.Advanced.PublicationName)
	}
	return out, checkTopics(cfg, out)
}

// checkTopics refuses bindings that would share a topic (config.CheckTopics).
func checkTopics(cfg *config.Config, binds []capture.Binding) error {
	uses := make([]config.TopicUse, len(binds))
	for i, b := range binds {
		uses[i] = config.TopicUse{Schema: b.Schema, Table: b.Table, Topic: b.Topic}
	}
	return cfg.CheckTopics(uses)
}

func hasColumn(t *source.DiscoveredTable, name string) bool {
	for _, c := range t.Columns {
		if c.Name == name {
			return true
		}
	}
	return false
}

// version is pg2kafka's version, as written in Debezium's source.version.
const version = "0.1.0"

// unsupported names configured features this version does not have yet, so
// they fail loudly instead of being ignored.
func unsupported(cfg *config.Config) error {
	k := cfg.Kafka
	switch {
	case k.Format != "" && k.Format != "json" && k.Format != "avro":
		return fmt.Errorf("kafka.format %q is not supported (use json or avro)", k.Format)
	case k.Envelope != "" && k.Envelope != "flow" && k.Envelope != "debezium":
		return fmt.Errorf("kafka.envelope %q is not supported (use flow or debezium)", k.Envelope)
	case k.Oversize == "truncate" && (k.Format == "avro" || k.Envelope == "debezium"):
		return fmt.Errorf("kafka.oversize truncate works with the flow envelope in json only (use kafka.oversize: fail, or raise kafka.max_message_bytes)")
	}
	return nil
}

func runCapture(ctx context.Context, cfg *config.Config, log zerolog.Logger) error {
	if err := unsupported(cfg); err != nil {
		return err
	}
	// Metrics and health first, so /healthz answers during a slow start.
	var observer capture.Observer
	var ready func()
	var rec *metrics.Metrics
	if cfg.HTTP.Listen != "" {
		m := metrics.New(metrics.WithLogger(log))
		if err := m.Start(cfg.HTTP.Listen); err != nil {
			return err
		}
		defer func() {
			if err := m.Stop(); err != nil {
				log.Warn().Err(err).Msg("stopping the metrics server")
			}
		}()
		// The lag and slot gauges come from the source's readings of the slot.
		defer watchSlot(sourceConfig(cfg), m)()
		// Not ready from the first signal on, while the last batch drains.
		stopReady := context.AfterFunc(ctx, m.NotReady)
		defer stopReady()
		observer, ready, rec = m, m.Ready, m
	}
	seeds, stopBroker, err := brokers(cfg, log)
	if err != nil {
		return err
	}
	defer stopBroker()
	a := &attachment{cfg: cfg, log: log, seeds: seeds}
	if rec != nil {
		a.onStandby = rec.NotReady
	}
	defer a.close()
	if err := a.attach(ctx); err != nil {
		return err
	}
	// A run ends with ErrRediscover when the stream shows a table that
	// discovery did not see (added to the publication, renamed, created
	// again): the tables are discovered again and the capture resumes from
	// its last durable checkpoint, in this process. A transient fault after
	// the capture has streamed (PostgreSQL restarted, the walsender
	// terminated, the broker unreachable or aborting a transaction) is
	// retried the same way, after a backoff.
	rediscovered := map[uint32]bool{}
	sig := newSignals()
	go heartbeatAction(ctx, cfg, log)
	if err := readSignalTopic(ctx, cfg, log, a.sink, sig); err != nil {
		return err
	}
	var outage time.Time // since when the capture is failing, if it is
	backoff := time.Second
	for {
		streamed := false
		runReady := func() {
			streamed = true
			outage, backoff = time.Time{}, time.Second
			if ready != nil {
				ready()
			}
		}
		err := runOnce(ctx, cfg, log, a.db, a.sink, a.binds, a.tables, rediscovered, sig, observer, runReady)
		if ctx.Err() != nil || err == nil {
			return err
		}
		var rd *capture.RediscoverError
		if errors.As(err, &rd) {
			log.Warn().Str("reason", rd.Reason).Msg("the captured tables changed: discovering them again; the capture resumes from its last checkpoint")
			if rd.OID != 0 {
				rediscovered[rd.OID] = true
			}
			sig.received(rd)
			if err := a.rediscover(ctx); err != nil {
				return err
			}
			continue
		}
		cause, transient := faultOf(err)
		if !transient || (!streamed && outage.IsZero() && !a.recovered) {
			// Permanent, or a fault before this process ever streamed:
			// one clear error (check names the fix).
			return err
		}
		if outage.IsZero() {
			outage = time.Now()
		}
		if limit := cfg.Recovery.MaxOutage; limit > 0 && time.Since(outage) > limit {
			return fmt.Errorf("still failing after recovery.max_outage (%s): %w", limit, err)
		}
		if rec != nil {
			rec.Recovering(cause)
		}
		for {
			log.Warn().Err(err).Str("cause", cause).Dur("retry_in", backoff).Msg("recovering: the capture resumes from its last checkpoint")
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, cfg.Recovery.MaxBackoff)
			if err = a.reattach(ctx); err == nil {
				break
			}
			if cause, transient = faultOf(err); !transient {
				return err
			}
			if limit := cfg.Recovery.MaxOutage; limit > 0 && time.Since(outage) > limit {
				return fmt.Errorf("still failing after recovery.max_outage (%s): %w", limit, err)
			}
		}
	}
}

// attachment is what a capture runs on: the PostgreSQL connection with its
// discovered tables and bindings, and the Kafka sink.
type attachment struct {
	cfg       *config.Config
	log       zerolog.Logger
	seeds     []string
	db        *source.Database
	tables    []*source.DiscoveredTable
	binds     []capture.Binding
	sink      *kafka.Sink
	recovered bool // reattached after a fault at least once
	onStandby func()
}

// attach connects to PostgreSQL, discovers and checks the tables, and
// readies the sink (creating topics, fencing any predecessor).
func (a *attachment) attach(ctx context.Context) error {
	started := time.Now()
	db, tables, err := connectAndDiscover(ctx, a.cfg)
	if err != nil {
		return err
	}
	a.db = db
	a.log.Info().Int("tables", len(tables)).Dur("took", time.Since(started)).Msgf("discovered %d tables in %s", len(tables), time.Since(started).Round(time.Millisecond))
	binds, err := bindings(a.cfg, db, tables)
	if err != nil {
		// A missing publication or permission explains "no tables" better.
		if cerr := db.Check(ctx, nil); cerr != nil {
			return cerr
		}
		return err
	}
	tableRefs, topics := refsOf(binds)
	checked := time.Now()
	if err := db.Check(ctx, tableRefs); err != nil {
		return err
	}
	a.log.Info().Int("tables", len(tableRefs)).Dur("took", time.Since(checked)).Msgf("checked %d captured tables in %s", len(tableRefs), time.Since(checked).Round(time.Millisecond))
	if err := checkSignalTable(a.cfg, tables); err != nil {
		return err
	}
	topics = append(topics, sideTopics(a.cfg)...)
	if !slices.ContainsFunc(tables, func(t *source.DiscoveredTable) bool { return db.IsWatermarks(t.Schema, t.Name) }) {
		// The check created the watermarks table: know its OID, so its
		// first change is no news to the stream.
		if tables, err = db.Discover(ctx); err != nil {
			return err
		}
	}
	a.tables, a.binds = tables, binds
	// High availability: the transactional producer's initialisation fences
	// whoever holds the capture's transactional ID, so a second instance
	// must not initialise it while the first streams. It stands by until
	// the slot is free (the active instance gone), then takes over.
	if err := a.standBy(ctx); err != nil {
		return err
	}
	opts, err := sinkOptions(a.cfg, true, a.log)
	if err != nil {
		return err
	}
	sink, err := kafka.New(a.seeds, opts...)
	if err != nil {
		return err
	}
	a.sink = sink
	ready := time.Now()
	if err := sink.Init(ctx, topics); err != nil {
		return err
	}
	a.log.Info().Int("topics", len(topics)).Dur("took", time.Since(ready)).Msgf("%d topics ready in %s", len(topics), time.Since(ready).Round(time.Millisecond))
	return nil
}

// standBy waits while another process streams the capture's slot: for
// ever by default (a standby instance), or kafka.slot_busy_retries times.
func (a *attachment) standBy(ctx context.Context) error {
	retries := a.cfg.Kafka.SlotBusyRetries
	logged := int32(0)
	wait := 200 * time.Millisecond
	for attempt := 0; ; attempt++ {
		pid, err := a.db.SlotHolder(ctx)
		if err != nil || pid == 0 {
			if logged != 0 && err == nil {
				a.log.Info().Int32("pid", logged).Msg("the slot is free: taking over")
			}
			return err
		}
		slot := a.cfg.Source.Advanced.SlotName
		if retries >= 0 && attempt >= retries {
			return fmt.Errorf("another capture holds replication slot %q (pid %d): stop the other process streaming it (active_pid in pg_replication_slots), or give this capture a slot of its own with source.advanced.slotName", slot, pid)
		}
		if a.onStandby != nil {
			a.onStandby()
		}
		switch {
		case retries >= 0:
			a.log.Warn().Int32("pid", pid).Str("slot", slot).Dur("retry_in", wait).Msg("another capture holds the slot; retrying")
		case pid != logged:
			a.log.Info().Int32("pid", pid).Str("slot", slot).
				Msg("standing by: the replication slot is held by another process (the active pg2kafka, or one still exiting); taking over when it is free")
		}
		logged = pid
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		if retries >= 0 {
			wait = min(2*wait, 10*time.Second)
		} else {
			wait = time.Second
		}
	}
}

// reattach drops the connections of a failed run and attaches anew.
func (a *attachment) reattach(ctx context.Context) error {
	a.close()
	a.recovered = true
	return a.attach(ctx)
}

func (a *attachment) close() {
	if a.sink != nil {
		a.sink.Close()
		a.sink = nil
	}
	if a.db != nil {
		a.db.Close()
		a.db = nil
	}
}

// rediscover discovers the tables again on the same connections, and marks
// what changed: tables created again, columns added, tables joining or
// leaving the capture.
func (a *attachment) rediscover(ctx context.Context) error {
	oids := map[string]uint32{}
	columns := map[string]map[string]bool{}
	partitions := map[string][]uint32{}
	for _, t := range a.tables {
		oids[t.Schema+"."+t.Name] = t.OID
		partitions[t.Schema+"."+t.Name] = t.Partitions
		columns[t.Schema+"."+t.Name] = map[string]bool{}
		for _, c := range t.Columns {
			columns[t.Schema+"."+t.Name][c.Name] = true
		}
	}
	prev := map[string]bool{}
	for _, b := range a.binds {
		prev[b.Schema+"."+b.Table] = true
	}
	tables, err := a.db.Discover(ctx)
	if err != nil {
		return err
	}
	binds, err := bindings(a.cfg, a.db, tables)
	if err != nil {
		return err
	}
	tableRefs, topics := refsOf(binds)
	if err := a.db.Check(ctx, tableRefs); err != nil {
		return err
	}
	if err := a.sink.EnsureTopics(ctx, append(topics, sideTopics(a.cfg)...)); err != nil {
		return err
	}
	for i := range binds {
		b := &binds[i]
		name := b.Schema + "." + b.Table
		if old := oids[name]; old != 0 && old != b.OID {
			b.Rebackfill = "the table was dropped and created again"
		} else if t := tableNamed(tables, name); t != nil && old != 0 {
			filled, err := a.filledPartition(ctx, partitions[name], t.Partitions)
			if err != nil {
				return err
			}
			if filled {
				b.Rebackfill = "a partition holding rows was attached (or created and filled) since the last discovery: rows attached with it never passed through the replication stream"
			} else if partitionGone(partitions[name], t.Partitions) {
				b.Sweep = "a partition was detached or dropped since the last discovery: its rows left the table without a delete in the replication stream"
			}
		}
		if had := columns[name]; had != nil {
			for _, c := range b.Columns {
				b.ColumnsAdded = b.ColumnsAdded || !had[c.Name]
			}
		}
		if !prev[name] {
			a.log.Info().Str("table", name).Str("topic", b.Topic).Msg("table joins the capture")
		}
		delete(prev, name)
	}
	for name := range prev {
		a.log.Warn().Str("table", name).Msg("table left the capture (renamed, dropped or removed from the publication); its topic keeps the records written so far")
	}
	a.tables, a.binds = tables, binds
	return nil
}

// partitionGone reports whether a partition of was is not in now (both
// sorted by OID).
func partitionGone(was, now []uint32) bool {
	for _, oid := range was {
		if _, found := slices.BinarySearch(now, oid); !found {
			return true
		}
	}
	return false
}

// tableNamed finds a discovered table by "schema.name".
func tableNamed(tables []*source.DiscoveredTable, name string) *source.DiscoveredTable {
	for _, t := range tables {
		if t.Schema+"."+t.Name == name {
			return t
		}
	}
	return nil
}

// attached reports whether now holds a partition before did not (both in
// ascending order).
func attached(before, now []uint32) bool {
	for _, p := range now {
		if _, found := slices.BinarySearch(before, p); !found {
			return true
		}
	}
	return false
}

// filledPartition reports whether a partition new since before holds rows.
// An empty new partition (created ahead of its rows, as time partitions
// usually are) needs nothing: its rows will come through the stream.
func (a *attachment) filledPartition(ctx context.Context, before, now []uint32) (bool, error) {
	for _, p := range now {
		if _, found := slices.BinarySearch(before, p); found {
			continue
		}
		has, err := a.db.HasRows(ctx, p)
		if err != nil || has {
			return has, err
		}
	}
	return false, nil
}

// refsOf lists the bindings' tables and topics.
func refsOf(binds []capture.Binding) ([]source.TableRef, []string) {
	refs := make([]source.TableRef, len(binds))
	topics := make([]string, len(binds))
	for i, b := range binds {
		refs[i] = source.TableRef{Schema: b.Schema, Name: b.Table, Key: b.KeyColumns}
		topics[i] = b.Topic
	}
	return refs, topics
}

// watchTables discovers the tables every interval (rediscovery_interval,
// each time on a connection of its own) and says why on changed when the
// published tables differ from tables (by OID and name): a table added with
// rows and no changes yet is otherwise only seen at its first change.
func watchTables(ctx context.Context, interval time.Duration, discover func(context.Context) ([]*source.DiscoveredTable, error), log zerolog.Logger, tables []*source.DiscoveredTable, changed chan<- string) {
	known := map[uint32]string{}
	parts := map[uint32][]uint32{}
	for _, t := range tables {
		if t.Published {
			known[t.OID] = t.Schema + "." + t.Name
			parts[t.OID] = t.Partitions
		}
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		now, err := discover(ctx)
		if err != nil {
			log.Warn().Err(err).Msg("periodic discovery failed; trying again at the next interval")
			continue
		}
		seen := 0
		for _, t := range now {
			if !t.Published {
				continue
			}
			seen++
			if name, ok := known[t.OID]; !ok || name != t.Schema+"."+t.Name {
				changed <- fmt.Sprintf("periodic discovery: table %s.%s is new or renamed", t.Schema, t.Name)
				return
			}
			if attached(parts[t.OID], t.Partitions) {
				changed <- fmt.Sprintf("periodic discovery: a partition was attached to %s.%s", t.Schema, t.Name)
				return
			}
		}
		if seen != len(known) {
			changed <- "periodic discovery: a published table left the publication"
			return
		}
	}
}

// runOnce runs the capture of binds from the last durable checkpoint.
func runOnce(ctx context.Context, cfg *config.Config, log zerolog.Logger, db *source.Database, sink *kafka.Sink,
	binds []capture.Binding, tables []*source.DiscoveredTable, rediscovered map[uint32]bool, sig *signals, observer capture.Observer, ready func()) error {
	relations := map[uint32]bool{}
	for _, t := range tables {
		relations[t.OID] = true
		for _, p := range t.Partitions {
			relations[p] = true // publish_via_partition_root = false sends these
		}
	}
	changed := make(chan string, 1)
	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	discover := func(ctx context.Context) ([]*source.DiscoveredTable, error) {
		db, now, err := connectAndDiscover(ctx, cfg)
		if err != nil {
			return nil, err
		}
		db.Close()
		return now, nil
	}
	go watchTables(watchCtx, cfg.Source.Advanced.RediscoveryInterval, discover, log, tables, changed)
	cp, err := sink.ReadCheckpoint(ctx)
	if err != nil {
		return err
	}
	state, err := checkpoint.Parse(cp.State)
	if err != nil {
		return fmt.Errorf("reading the checkpoint of capture %q from %s: %w", cfg.CaptureName(), cfg.CheckpointTopic(), err)
	}
	log.Info().Str("capture", cfg.CaptureName()).Str("cursor", state.Cursor).Int("bindings", len(binds)).Msg("starting capture")
	encoder, err := encoderFor(cfg, binds)
	if err != nil {
		return err
	}
	opts := loopSettings(cfg)
	opts.Encoder = encoder
	opts.Observer = observer
	opts.Ready = func() { sig.ran(true); ready() } // the first checkpoint is durable
	opts.Within = cp.Within
	opts.Sweeps = cp.Sweeps
	opts.Topics = sink
	opts.Relations = relations
	opts.Rediscover = changed
	opts.Rediscovered = rediscovered
	opts.Side = sig.side(cfg)
	opts.Logger = log
	c := capture.New(db, sink, state, sig.apply(binds), opts)
	err = c.Run(ctx)
	sig.ran(c.Durable() != "")
	if err == nil || errors.Is(err, context.Canceled) {
		log.Info().Str("cursor", c.Durable()).Msg("stopped")
		return nil
	}
	return err
}

// encoderFor builds the record encoders the configuration asks for
// (format.NewEncoder), with a schema registry client for Avro.
func encoderFor(cfg *config.Config, binds []capture.Binding) (capture.NewEncoder, error) {
	settings := format.Settings{
		Format:                 cfg.Kafka.Format,
		Envelope:               cfg.Kafka.Envelope,
		SourceTag:              cfg.Source.Advanced.SourceTag,
		MultidimensionalArrays: cfg.FeatureFlag("multidimensional_arrays"),
		Debezium:               debezium.Options{Version: version, Name: cfg.Kafka.TopicPrefix, Database: cfg.Source.Database},
	}
	if cfg.Kafka.Format == "avro" {
		reg := cfg.Kafka.SchemaRegistry
		opts := []sr.ClientOpt{sr.URLs(reg.URL)}
		if reg.Username != "" {
			opts = append(opts, sr.BasicAuth(reg.Username, reg.Password))
		}
		client, err := sr.NewClient(opts...)
		if err != nil {
			return nil, fmt.Errorf("kafka.schema_registry: %w", err)
		}
		topics := make(map[string]string, len(binds))
		for _, b := range binds {
			topics[b.Schema+"."+b.Table] = b.Topic
		}
		settings.Registry = client
		settings.TopicOf = func(t *event.Table) string { return topics[t.Schema+"."+t.Name] }
	}
	return format.NewEncoder(settings)
}

// saslMechanism builds the configured SASL mechanism. AWS_MSK_IAM signs with
// kafka.sasl's access key ID and secret key when given, else with the
// standard AWS environment variables (AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN), read at each authentication so
// rotated credentials are picked up.
func saslMechanism(c config.SASL) (sasl.Mechanism, error) {
	switch strings.ToUpper(c.Mechanism) {
	case "PLAIN":
		return plain.Auth{User: c.Username, Pass: c.Password}.AsMechanism(), nil
	case "SCRAM-SHA-256":
		return scram.Auth{User: c.Username, Pass: c.Password}.AsSha256Mechanism(), nil
	case "SCRAM-SHA-512":
		return scram.Auth{User: c.Username, Pass: c.Password}.AsSha512Mechanism(), nil
	case "AWS_MSK_IAM":
		if c.Username != "" {
			return aws.Auth{AccessKey: c.Username, SecretKey: c.Password}.AsManagedStreamingIAMMechanism(), nil
		}
		return aws.ManagedStreamingIAM(func(context.Context) (aws.Auth, error) {
			a := aws.Auth{AccessKey: os.Getenv("AWS_ACCESS_KEY_ID"), SecretKey: os.Getenv("AWS_SECRET_ACCESS_KEY"), SessionToken: os.Getenv("AWS_SESSION_TOKEN")}
			if a.AccessKey == "" || a.SecretKey == "" {
				return a, errors.New("AWS_MSK_IAM: no credentials: set kafka.sasl.username and password (access key ID and secret key), or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
			}
			return a, nil
		}), nil
	}
	return nil, fmt.Errorf("kafka.sasl.mechanism %q is not supported (use PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or AWS_MSK_IAM)", c.Mechanism)
}

// connectAndDiscover opens the query connection and discovers the
// capturable tables; the caller closes the database.
func connectAndDiscover(ctx context.Context, cfg *config.Config) (*source.Database, []*source.DiscoveredTable, error) {
	db, err := source.Connect(ctx, sourceConfig(cfg))
	if err != nil {
		return nil, nil, err
	}
	tables, err := db.Discover(ctx)
	if err != nil {
		db.Close()
		return nil, nil, err
	}
	return db, tables, nil
}

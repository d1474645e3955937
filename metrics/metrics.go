// Package metrics exposes pg2kafka's measurements to Prometheus and its
// health to orchestrators: a private registry with the capture's counters,
// histograms and gauges (names in base units, ready for Grafana), a
// observer methods the capture loop calls (Record, Committed, Backfill:
// the loop's Observer interface), ObserveSlot and SlotReadFailed that take
// the source's readings of the replication slot (source.WatchSlot, wired by
// cmd/pg2kafka) for the lag and slot gauges, and an HTTP server with
// /metrics, /healthz and /readyz. It runs no query of its own.
//
// docs/operations.md lists every metric and the alerts worth setting.
package metrics

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/rs/zerolog"

	"github.com/pg2kafka/pg2kafka/event"
)

// Defaults of the options.
const (
	// DefaultPollInterval is how often the slot should be read for the
	// lag and slot gauges (cmd/pg2kafka passes it to source.WatchSlot).
	DefaultPollInterval = 10 * time.Second
	// DefaultReadyMaxLagBytes is the replication lag at and above which
	// /readyz fails.
	DefaultReadyMaxLagBytes = 256 << 20
	// DefaultShutdownTimeout bounds the HTTP server's graceful shutdown.
	DefaultShutdownTimeout = 5 * time.Second
)

// Metrics holds pg2kafka's metrics and health. Its Record, Committed and
// Backfill methods are the capture loop's observer, meant to be called from
// the capture goroutine; everything else may be called from any goroutine.
type Metrics struct {
	opts options
	reg  *prometheus.Registry

	records        *prometheus.CounterVec
	recordBytes    *prometheus.CounterVec
	commits        prometheus.Counter
	commitDuration prometheus.Histogram
	commitLatency  prometheus.Histogram
	backfillRows   *prometheus.GaugeVec
	backfillEst    *prometheus.GaugeVec
	backfillDone   *prometheus.GaugeVec
	lagBytes       prometheus.Gauge
	retainedWAL    prometheus.Gauge
	checkpointLSN  prometheus.Gauge
	up             prometheus.Gauge
	slotLost       prometheus.Gauge
	pollErrors     prometheus.Counter
	faults         *prometheus.CounterVec

	// tables caches each table's counters: the observer reads it without a
	// lock; a new table copies it under cacheMu.
	tables  atomic.Pointer[map[tableKey]*tableCounters]
	cacheMu sync.Mutex

	ready      atomic.Bool
	slotFailed atomic.Bool   // the last slot reading failed
	cursor     atomic.Uint64 // last committed checkpoint cursor; 0 = none yet
	lagKnown   atomic.Bool   // lagBytesV holds a measurement
	lagBytesV  atomic.Uint64 // last measured replication lag in bytes

	// Lag-in-seconds bookkeeping (see lagSeconds); guarded by lagMu.
	lagMu      sync.Mutex
	lastChange time.Time // commit time of the last committed change
	caughtUpAt time.Time // when the capture was last seen caught up
	behind     bool      // the last check found WAL past the cursor
	walPos     uint64    // server WAL position of the last slot reading
	walPosAt   time.Time // when it was read

	// Runtime state of Start/Stop.
	runMu   sync.Mutex
	srv     *serverRun
	started bool
}

type tableKey struct {
	schema, table string
}

// tableCounters are one table's record counters, by op.
type tableCounters struct {
	name                   string // "schema.table"
	create, update, delete prometheus.Counter
	bytes                  prometheus.Counter
}

// Option configures Metrics.
type Option func(*options)

type options struct {
	readyMaxLag     int64
	logger          zerolog.Logger
	shutdownTimeout time.Duration
	runtime         bool
	now             func() time.Time
}

// WithReadyMaxLagBytes sets the replication lag, in bytes, at and above
// which /readyz reports 503 (default 256 MiB); zero or negative disables
// the lag check.
func WithReadyMaxLagBytes(n int64) Option {
	return func(o *options) { o.readyMaxLag = n }
}

// WithLogger sets the logger of the slot readings and the HTTP server.
func WithLogger(l zerolog.Logger) Option {
	return func(o *options) { o.logger = l }
}

// WithShutdownTimeout bounds the HTTP server's graceful shutdown in Stop
// (default 5s).
func WithShutdownTimeout(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.shutdownTimeout = d
		}
	}
}

// WithoutRuntimeMetrics leaves the Go runtime (go_*) and process
// (process_*) collectors out of the registry.
func WithoutRuntimeMetrics() Option {
	return func(o *options) { o.runtime = false }
}

// withClock replaces time.Now (tests).
func withClock(now func() time.Time) Option {
	return func(o *options) { o.now = now }
}

// New builds the metrics on a registry of their own.
func New(opts ...Option) *Metrics {
	o := options{
		readyMaxLag:     DefaultReadyMaxLagBytes,
		logger:          zerolog.Nop(),
		shutdownTimeout: DefaultShutdownTimeout,
		runtime:         true,
		now:             time.Now,
	}
	for _, opt := range opts {
		opt(&o)
	}
	m := &Metrics{opts: o, reg: prometheus.NewRegistry()}
	f := factory{m.reg}

	m.records = f.counterVec("pg2kafka_records_total",
		"Records written to Kafka, by table (schema.table) and op (c, u or d; as the record's op header). Counted when written to the open batch: an aborted batch's records are counted too.",
		"table", "op")
	m.recordBytes = f.counterVec("pg2kafka_record_bytes_total",
		"Bytes of records written to Kafka (key, value and LSN header), by table.",
		"table")
	m.commits = f.counter("pg2kafka_kafka_commits_total",
		"Kafka commits of a batch with its checkpoint.")
	m.commitDuration = f.histogram("pg2kafka_kafka_commit_duration_seconds",
		"Duration of the Kafka commit of a batch and its checkpoint.",
		[]float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30})
	m.commitLatency = f.histogram("pg2kafka_commit_to_kafka_latency_seconds",
		"Time from the PostgreSQL commit of the oldest transaction of a batch to the batch's Kafka commit.",
		[]float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600})
	m.backfillRows = f.gaugeVec("pg2kafka_backfill_rows",
		"Rows backfilled so far, by table.", "table")
	m.backfillEst = f.gaugeVec("pg2kafka_backfill_rows_estimated",
		"PostgreSQL's estimate of the table's rows at the start of its backfill, by table.", "table")
	m.backfillDone = f.gaugeVec("pg2kafka_backfill_complete",
		"1 once the table's backfill is complete, 0 while it runs; absent for tables not backfilled by this process.", "table")
	m.lagBytes = f.gauge("pg2kafka_replication_lag_bytes",
		"Server WAL insert position minus the confirmed checkpoint cursor.")
	f.gaugeFunc("pg2kafka_replication_lag_seconds",
		"Now minus the PostgreSQL commit time of the last change committed to Kafka while WAL is waiting; 0 when idle and caught up.",
		m.lagSeconds)
	m.retainedWAL = f.gauge("pg2kafka_slot_retained_wal_bytes",
		"WAL the replication slot holds on the server: pg_current_wal_lsn() minus the slot's restart_lsn.")
	m.checkpointLSN = f.gauge("pg2kafka_checkpoint_lsn",
		"Cursor (LSN) of the last committed checkpoint, as a number (exact below 2^53).")
	m.up = f.gauge("pg2kafka_up",
		"1 while the capture streams, 0 otherwise.")
	m.slotLost = f.gauge("pg2kafka_slot_lost",
		"1 when the capture's replication slot is missing or invalidated (wal_status lost, or an invalidation_reason on PostgreSQL 17+) after the capture has checkpointed; 0 otherwise.")
	m.faults = f.counterVec("pg2kafka_faults_total",
		"Transient faults the capture recovered from in process (it resumed from its last checkpoint), by cause: postgres or kafka.",
		"cause")
	m.pollErrors = f.counter("pg2kafka_poll_errors_total",
		"Failed readings of the replication slot for the lag and slot gauges.")

	if o.runtime {
		m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	empty := map[tableKey]*tableCounters{}
	m.tables.Store(&empty)
	return m
}

// Registry returns the registry holding the metrics (for more collectors
// or tests).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Ready marks the capture as streaming: /readyz may report ready and
// pg2kafka_up is 1. Pass it as capture.Options.Ready.
func (m *Metrics) Ready() {
	m.ready.Store(true)
	m.up.Set(1)
}

// NotReady marks the capture as not streaming (stopping, or failed).
func (m *Metrics) NotReady() {
	m.ready.Store(false)
	m.up.Set(0)
}

// Recovering counts a transient fault by cause and marks the capture not
// ready (pg2kafka_up 0) until it streams again.
func (m *Metrics) Recovering(cause string) {
	m.faults.WithLabelValues(cause).Inc()
	m.NotReady()
}

// Record counts one record written for schema.table (capture.Observer).
func (m *Metrics) Record(schema, table string, op event.Op, bytes int) {
	tc, ok := (*m.tables.Load())[tableKey{schema, table}]
	if !ok {
		tc = m.addTable(schema, table)
	}
	switch op {
	case event.OpCreate:
		tc.create.Inc()
	case event.OpUpdate:
		tc.update.Inc()
	case event.OpDelete:
		tc.delete.Inc()
	default:
		m.records.WithLabelValues(tc.name, opLabel(op)).Inc()
	}
	tc.bytes.Add(float64(bytes))
}

// addTable builds a table's counters and publishes a copy of the cache
// holding them.
func (m *Metrics) addTable(schema, table string) *tableCounters {
	m.cacheMu.Lock()
	defer m.cacheMu.Unlock()
	k := tableKey{schema, table}
	old := *m.tables.Load()
	if tc, ok := old[k]; ok {
		return tc
	}
	name := schema + "." + table
	tc := &tableCounters{
		name:   name,
		create: m.records.WithLabelValues(name, opLabel(event.OpCreate)),
		update: m.records.WithLabelValues(name, opLabel(event.OpUpdate)),
		delete: m.records.WithLabelValues(name, opLabel(event.OpDelete)),
		bytes:  m.recordBytes.WithLabelValues(name),
	}
	next := make(map[tableKey]*tableCounters, len(old)+1)
	for kk, v := range old {
		next[kk] = v
	}
	next[k] = tc
	m.tables.Store(&next)
	return tc
}

// opLabel is the op label of a record: its op header (c, u or d).
func opLabel(op event.Op) string {
	switch op {
	case event.OpCreate:
		return "c"
	case event.OpUpdate:
		return "u"
	case event.OpDelete:
		return "d"
	}
	return string(rune(op))
}

// Committed records a Kafka commit of records with its checkpoint at
// cursor (capture.Observer).
func (m *Metrics) Committed(records int, commit time.Duration, cursor uint64, oldest time.Time) {
	now := m.opts.now()
	m.commits.Inc()
	m.commitDuration.Observe(commit.Seconds())
	if !oldest.IsZero() {
		m.commitLatency.Observe(max(now.Sub(oldest).Seconds(), 0))
	}
	m.cursor.Store(cursor)
	m.checkpointLSN.Set(float64(cursor))

	m.lagMu.Lock()
	defer m.lagMu.Unlock()
	if !oldest.IsZero() && oldest.After(m.lastChange) {
		m.lastChange = oldest
	}
	if m.behind && !m.walPosAt.IsZero() && cursor >= m.walPos {
		// Everything the server had written at the last poll is in Kafka.
		m.behind = false
		m.caughtUpAt = m.walPosAt
	}
	if m.lagKnown.Load() && m.walPos > 0 {
		m.setLagBytes(m.walPos, cursor)
	}
}

// Backfill records a table's backfill progress (capture.Observer).
func (m *Metrics) Backfill(schema, table string, done int64, estimate float64, complete bool) {
	name := schema + "." + table
	m.backfillRows.WithLabelValues(name).Set(float64(done))
	m.backfillEst.WithLabelValues(name).Set(max(estimate, 0))
	c := 0.0
	if complete {
		c = 1
	}
	m.backfillDone.WithLabelValues(name).Set(c)
}

// setLagBytes sets the lag gauge from a WAL position and a cursor; lagMu
// is held.
func (m *Metrics) setLagBytes(wal, cursor uint64) {
	var lag uint64
	if wal > cursor {
		lag = wal - cursor
	}
	m.lagBytesV.Store(lag)
	m.lagKnown.Store(true)
	m.lagBytes.Set(float64(lag))
}

// observeWAL takes a slot reading's measurements: the server's WAL insert
// position and the slot's confirmed_flush_lsn (0 if unknown), read at at.
func (m *Metrics) observeWAL(at time.Time, wal, slotConfirmed uint64) {
	cursor := max(m.cursor.Load(), slotConfirmed)
	m.lagMu.Lock()
	defer m.lagMu.Unlock()
	m.walPos, m.walPosAt = wal, at
	m.setLagBytes(wal, cursor)
	if cursor >= wal {
		m.behind = false
		m.caughtUpAt = at
	} else if !m.behind {
		m.behind = true
		if m.caughtUpAt.IsZero() {
			// Never seen caught up: count from the first poll behind.
			m.caughtUpAt = at
		}
	}
}

// lagSeconds is pg2kafka_replication_lag_seconds: 0 when the last check
// found the capture caught up; otherwise the time since the commit of the
// last change in Kafka or, if later, since the capture was last seen caught
// up (every change committed before then was in Kafka by then). Both are
// upper bounds of the age of the oldest change not yet in Kafka.
func (m *Metrics) lagSeconds() float64 {
	m.lagMu.Lock()
	defer m.lagMu.Unlock()
	if !m.behind {
		return 0
	}
	ref := m.caughtUpAt
	if m.lastChange.After(ref) {
		ref = m.lastChange
	}
	if ref.IsZero() {
		return 0
	}
	return max(m.opts.now().Sub(ref).Seconds(), 0)
}

// factory registers metrics on a registry.
type factory struct{ reg *prometheus.Registry }

func (f factory) counter(name, help string) prometheus.Counter {
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
	f.reg.MustRegister(c)
	return c
}

func (f factory) counterVec(name, help string, labels ...string) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	f.reg.MustRegister(c)
	return c
}

func (f factory) gauge(name, help string) prometheus.Gauge {
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help})
	f.reg.MustRegister(g)
	return g
}

func (f factory) gaugeVec(name, help string, labels ...string) *prometheus.GaugeVec {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, labels)
	f.reg.MustRegister(g)
	return g
}

func (f factory) gaugeFunc(name, help string, fn func() float64) {
	f.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, fn))
}

func (f factory) histogram(name, help string, buckets []float64) prometheus.Histogram {
	h := prometheus.NewHistogram(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets})
	f.reg.MustRegister(h)
	return h
}

// SlotReading is one reading of the server's WAL positions and the
// capture's replication slot, taken by the source (source.WatchSlot).
type SlotReading struct {
	// At is when it was taken.
	At time.Time
	// WALInsert and WALWrite are the server's WAL insert and write
	// positions (0 if unknown).
	WALInsert, WALWrite uint64
	// SlotExists is false when the slot is missing.
	SlotExists bool
	// RestartLSN and ConfirmedFlushLSN are the slot's positions (0 if
	// unknown).
	RestartLSN, ConfirmedFlushLSN uint64
	// WALStatus is the slot's wal_status ("" before PostgreSQL 13).
	WALStatus string
	// Invalidated is set when PostgreSQL invalidated the slot.
	Invalidated bool
}

// ObserveSlot takes one slot reading: the replication lag (server WAL
// insert position minus the confirmed cursor), the WAL the slot retains,
// and whether the slot is lost.
func (m *Metrics) ObserveSlot(r SlotReading) {
	if m.slotFailed.Swap(false) {
		m.opts.logger.Info().Msg("metrics: polling PostgreSQL for replication lag works again")
	}
	lost := !r.SlotExists || r.RestartLSN == 0 || r.WALStatus == "lost" || r.Invalidated
	if lost && m.cursor.Load() != 0 {
		m.slotLost.Set(1)
	} else {
		m.slotLost.Set(0)
	}
	if r.RestartLSN != 0 && r.WALWrite > r.RestartLSN {
		m.retainedWAL.Set(float64(r.WALWrite - r.RestartLSN))
	} else {
		m.retainedWAL.Set(0)
	}
	if r.WALInsert != 0 {
		m.observeWAL(r.At, r.WALInsert, r.ConfirmedFlushLSN)
	}
}

// SlotReadFailed counts a failed slot reading (pg2kafka_poll_errors_total)
// and logs the first of a streak of failures; the lag and slot gauges keep
// their last values.
func (m *Metrics) SlotReadFailed(err error) {
	m.pollErrors.Inc()
	if !m.slotFailed.Swap(true) {
		m.opts.logger.Warn().Err(err).Msg("metrics: polling PostgreSQL for replication lag failed; retrying every poll interval")
	}
}

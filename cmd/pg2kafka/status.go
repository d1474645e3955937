package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pglogrepl"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/rs/zerolog"
	"golang.org/x/term"

	"github.com/pg2kafka/pg2kafka/checkpoint"
	"github.com/pg2kafka/pg2kafka/config"
	"github.com/pg2kafka/pg2kafka/sink/kafka"
	"github.com/pg2kafka/pg2kafka/source"
)

// statusReport is what `pg2kafka status` shows; --json prints it as is
// (docs/commands.md documents every field). Pointers are null when the
// figure is unknown.
type statusReport struct {
	// Capture and CheckpointTopic name the capture.
	Capture         string `json:"capture"`
	CheckpointTopic string `json:"checkpointTopic"`
	// Time is when the figures were read.
	Time time.Time `json:"time"`
	// Checkpoint is whether the capture has a checkpoint yet.
	Checkpoint bool `json:"checkpoint"`
	// Cursor is the checkpoint's cursor (LSN), "" when none.
	Cursor string `json:"cursor,omitempty"`
	// LastCommit is the Kafka timestamp of the checkpoint record: the last
	// commit of a batch.
	LastCommit *time.Time `json:"lastCommit"`
	// Tables are the captured tables, by name.
	Tables []statusTable `json:"tables"`
	// Slot is the replication slot; null when PostgreSQL could not be read
	// (SlotError says why).
	Slot      *statusSlot `json:"slot"`
	SlotError string      `json:"slotError,omitempty"`
	// LagBytes is the server's WAL position minus the capture's position
	// (the later of the cursor and the slot's confirmed_flush_lsn).
	LagBytes *int64 `json:"lagBytes"`
	// LagSeconds is pg2kafka_replication_lag_seconds of a streaming
	// instance (metrics only).
	LagSeconds *float64 `json:"lagSeconds"`
	// Instance is "active" (a process streams the slot), "standby" (the
	// instance at the metrics URL runs but does not stream) or "none".
	Instance string `json:"instance"`
	// Metrics is what the metrics endpoint said.
	Metrics statusMetrics `json:"metrics"`
}

// statusTable is one captured table.
type statusTable struct {
	// Table is schema.table.
	Table string `json:"table"`
	// Mode is backfill, streaming, pending or missing; StateMode the
	// checkpoint's own mode (Backfill, KeylessBackfill, Active, ...).
	Mode      string `json:"mode"`
	StateMode string `json:"stateMode"`
	// RowsDone is the rows backfilled so far (all of them once streaming).
	RowsDone int64 `json:"rowsDone"`
	// RowsEstimated is PostgreSQL's estimate of the table's rows
	// (pg_class.reltuples, else the capture's own estimate); null when
	// unknown (the table was never analyzed).
	RowsEstimated *int64 `json:"rowsEstimated"`
	// Progress is RowsDone / RowsEstimated in [0, 1]; 1 once streaming.
	Progress *float64 `json:"progress"`
	// RowsPerSecond and ETASeconds are the backfill's rate and remaining
	// time, measured between two readings (null before a second one, or
	// when no row was backfilled between them).
	RowsPerSecond *float64 `json:"rowsPerSecond"`
	ETASeconds    *float64 `json:"etaSeconds"`
	// Records is pg2kafka_records_total of the table (metrics only);
	// RecordsPerSecond its rate between two readings.
	Records          *int64   `json:"records"`
	RecordsPerSecond *float64 `json:"recordsPerSecond"`
}

// statusSlot is the replication slot as pg_replication_slots shows it.
type statusSlot struct {
	Name   string `json:"name"`
	Exists bool   `json:"exists"`
	// ActivePID is the PID of the walsender streaming the slot; 0 when
	// the slot is free.
	ActivePID      int32  `json:"activePid"`
	ConfirmedFlush string `json:"confirmedFlushLsn,omitempty"`
	RestartLSN     string `json:"restartLsn,omitempty"`
	// ServerWAL is pg_current_wal_lsn().
	ServerWAL string `json:"serverWalLsn,omitempty"`
	// RetainedBytes is pg_current_wal_lsn() - restart_lsn: the WAL the
	// slot keeps on the server.
	RetainedBytes int64  `json:"retainedWalBytes"`
	WALStatus     string `json:"walStatus,omitempty"`
}

// statusMetrics is what the metrics endpoint answered.
type statusMetrics struct {
	// URL is the /metrics URL read; "" when http.listen is off.
	URL       string `json:"url,omitempty"`
	Reachable bool   `json:"reachable"`
	Error     string `json:"error,omitempty"`
	// Up is pg2kafka_up: the instance at URL streams.
	Up *bool `json:"up"`
}

// Modes of statusTable.Mode.
const (
	statusBackfill  = "backfill"
	statusStreaming = "streaming"
	statusPending   = "pending"
	statusMissing   = "missing"
)

// Defaults of the status flags.
const defaultStatusInterval = 2 * time.Second

// statusReader reads the figures of one report.
type statusReader struct {
	cfg        *config.Config
	sink       *kafka.Sink
	db         *source.Database // nil when PostgreSQL could not be reached
	dbErr      error
	metricsURL string
	http       *http.Client
	now        func() time.Time
}

// runStatus prints the capture's status once, or every interval with
// watch, as text or JSON.
func runStatus(ctx context.Context, cfg *config.Config, log zerolog.Logger, tf toolFlags, stdout io.Writer) error {
	sink, closeSink, err := openSink(ctx, cfg, log, false)
	if err != nil {
		return err
	}
	defer closeSink()
	r := &statusReader{cfg: cfg, sink: sink, http: &http.Client{Timeout: 3 * time.Second}, now: time.Now}
	r.db, r.dbErr = source.Connect(ctx, sourceConfig(cfg))
	if r.db != nil {
		defer r.db.Close()
	}
	switch {
	case tf.metricsURL != "":
		r.metricsURL = tf.metricsURL
	case cfg.HTTP.Listen != "":
		if u, err := healthURL(cfg.HTTP.Listen); err == nil {
			r.metricsURL = strings.TrimSuffix(u, "/healthz") + "/metrics"
		}
	}
	clear := tf.watch && !tf.json && isTerminal(stdout)
	var first *statusReport
	for {
		rep, err := r.read(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if first == nil && !tf.watch && rep.backfilling() {
			// One reading gives no rate: take a second one.
			first = rep
			if !sleepCtx(ctx, tf.interval) {
				return nil
			}
			continue
		}
		if first != nil {
			rep.rates(first)
		} else {
			first = rep
		}
		if tf.json {
			enc := json.NewEncoder(stdout)
			enc.SetEscapeHTML(false)
			if !tf.watch {
				enc.SetIndent("", "  ")
			}
			if err := enc.Encode(rep); err != nil {
				return err
			}
		} else {
			if clear {
				fmt.Fprint(stdout, "\033[H\033[2J")
			} else if tf.watch && rep != first {
				fmt.Fprintln(stdout)
			}
			width := 0
			if f, ok := stdout.(*os.File); ok && clear {
				width, _, _ = term.GetSize(int(f.Fd()))
			}
			renderStatus(stdout, rep, width)
		}
		if !tf.watch {
			if rep.SlotError != "" {
				return errReported
			}
			return nil
		}
		if !sleepCtx(ctx, tf.interval) {
			return nil
		}
	}
}

// isTerminal is whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// sleepCtx sleeps d; false when ctx ended first.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// read takes one reading of the checkpoint, the slot and the metrics.
// Only an unreadable checkpoint is an error: a missing slot or metrics
// endpoint is part of the status.
func (r *statusReader) read(ctx context.Context) (*statusReport, error) {
	rep := &statusReport{Capture: r.cfg.CaptureName(), CheckpointTopic: r.cfg.CheckpointTopic(), Time: r.now()}
	st, at, err := r.checkpoint(ctx)
	if err != nil {
		return nil, err
	}
	rep.Checkpoint = at != nil
	rep.Cursor, rep.LastCommit = st.Cursor, at
	for key, ts := range st.Bindings {
		if ts.Mode == checkpoint.ModeIgnore {
			continue
		}
		t := statusTable{Table: key, StateMode: string(ts.Mode), RowsDone: ts.Backfilled}
		if path, _, err := checkpoint.ParseStateKey(key); err == nil {
			t.Table = strings.Join(path, ".")
		}
		switch {
		case checkpoint.IsBackfillMode(ts.Mode):
			t.Mode = statusBackfill
		case ts.Mode == checkpoint.ModeActive:
			t.Mode = statusStreaming
		case ts.Mode == checkpoint.ModePending:
			t.Mode = statusPending
		default:
			t.Mode = strings.ToLower(string(ts.Mode))
		}
		rep.Tables = append(rep.Tables, t)
	}
	sort.Slice(rep.Tables, func(i, j int) bool { return rep.Tables[i].Table < rep.Tables[j].Table })

	scraped := r.scrape(ctx, rep)
	estimates := map[string]float64{}
	if r.db == nil {
		rep.SlotError = fmt.Sprintf("%v (check source in the configuration; pg2kafka check says more)", r.dbErr)
	} else {
		rep.Slot, err = readSlot(ctx, r.db, r.cfg.Source.Advanced.SlotName)
		if err != nil {
			rep.SlotError = err.Error()
		}
		if estimates, err = readEstimates(ctx, r.db, rep.Tables); err != nil && rep.SlotError == "" {
			rep.SlotError = err.Error()
		}
	}
	for i := range rep.Tables {
		t := &rep.Tables[i]
		if m, ok := scraped.byTable["pg2kafka_backfill_rows"][t.Table]; ok && int64(m) > t.RowsDone && t.Mode == statusBackfill {
			t.RowsDone = int64(m)
		}
		if n, ok := scraped.records[t.Table]; ok {
			t.Records = &n
		}
		est, ok := estimates[t.Table]
		if !ok || est < 0 {
			est, ok = scraped.byTable["pg2kafka_backfill_rows_estimated"][t.Table]
		}
		switch {
		case t.Mode == statusStreaming:
			n, p := t.RowsDone, 1.0
			t.RowsEstimated, t.Progress = &n, &p
		case ok && est >= 0:
			n := max(int64(math.Round(est)), t.RowsDone)
			t.RowsEstimated = &n
			p := 1.0
			if n > 0 {
				p = float64(t.RowsDone) / float64(n)
			}
			t.Progress = &p
		}
	}
	if s := rep.Slot; s != nil && s.Exists && s.ServerWAL != "" {
		wal, _ := pglogrepl.ParseLSN(s.ServerWAL)
		pos, _ := pglogrepl.ParseLSN(s.ConfirmedFlush)
		if c, err := checkpoint.ParseLSN(rep.Cursor); err == nil && uint64(c) > uint64(pos) {
			pos = pglogrepl.LSN(c)
		}
		lag := int64(0)
		if wal > pos {
			lag = int64(wal - pos)
		}
		rep.LagBytes = &lag
	}
	// A standby's lag gauge measures nothing: only the streaming
	// instance's counts.
	if v, ok := scraped.single["pg2kafka_replication_lag_seconds"]; ok && rep.Metrics.Up != nil && *rep.Metrics.Up {
		rep.LagSeconds = &v
	}
	switch {
	case rep.Slot != nil && rep.Slot.ActivePID != 0:
		rep.Instance = "active"
	case rep.Metrics.Up != nil && !*rep.Metrics.Up:
		rep.Instance = "standby"
	case rep.Metrics.Up != nil && *rep.Metrics.Up:
		rep.Instance = "active"
	default:
		rep.Instance = "none"
	}
	return rep, nil
}

// checkpoint reads and parses the capture's checkpoint; at is nil when
// there is none.
func (r *statusReader) checkpoint(ctx context.Context) (st *checkpoint.State, at *time.Time, err error) {
	exists, err := r.sink.CheckpointTopicExists(ctx)
	if err != nil {
		return nil, nil, err
	}
	var raw []byte
	if exists {
		cp, ts, err := r.sink.ReadCheckpointWithTime(ctx)
		if err != nil {
			return nil, nil, err
		}
		if cp.State != nil {
			raw, at = cp.State, &ts
		}
	}
	st, err = checkpoint.Parse(raw)
	if err != nil {
		return nil, nil, fmt.Errorf("the checkpoint of capture %q in %s: %w (replace it with pg2kafka state import, or pg2kafka state reset --yes)", r.cfg.CaptureName(), r.cfg.CheckpointTopic(), err)
	}
	return st, at, nil
}

// slotQuery reads the slot and the server's WAL position in one query.
const slotQuery = `SELECT s.slot_name IS NOT NULL, coalesce(s.active_pid, 0),
  coalesce(s.confirmed_flush_lsn::text, ''), coalesce(s.restart_lsn::text, ''),
  w.lsn::text, coalesce(pg_wal_lsn_diff(w.lsn, s.restart_lsn), 0)::bigint,
  coalesce(to_jsonb(s) ->> 'wal_status', '')
FROM (SELECT CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END AS lsn) w
LEFT JOIN pg_replication_slots s ON s.slot_name = $1`

// readSlot reads the capture's replication slot.
func readSlot(ctx context.Context, db *source.Database, name string) (*statusSlot, error) {
	s := &statusSlot{Name: name}
	err := db.Conn().QueryRow(ctx, slotQuery, name).Scan(&s.Exists, &s.ActivePID, &s.ConfirmedFlush, &s.RestartLSN, &s.ServerWAL, &s.RetainedBytes, &s.WALStatus)
	if err != nil {
		return nil, fmt.Errorf("reading replication slot %q and the WAL position: %w (the role needs to read pg_replication_slots: see pg2kafka setup)", name, err)
	}
	return s, nil
}

// readEstimates reads pg_class.reltuples of the tables, by schema.table
// (-1: never analyzed).
func readEstimates(ctx context.Context, db *source.Database, tables []statusTable) (map[string]float64, error) {
	out := map[string]float64{}
	if len(tables) == 0 {
		return out, nil
	}
	var schemas, names []string
	for _, t := range tables {
		s, n, _ := strings.Cut(t.Table, ".")
		schemas, names = append(schemas, s), append(names, n)
	}
	rows, err := db.Conn().Query(ctx, `SELECT n.nspname || '.' || c.relname, c.reltuples::float8
FROM unnest($1::text[], $2::text[]) AS t(s, n)
JOIN pg_namespace n ON n.nspname = t.s JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = t.n`, schemas, names)
	if err != nil {
		return out, fmt.Errorf("reading the tables' row estimates (pg_class.reltuples): %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		var n float64
		if err := rows.Scan(&name, &n); err != nil {
			return out, fmt.Errorf("reading the tables' row estimates: %w", err)
		}
		out[name] = n
	}
	return out, rows.Err()
}

// scraped holds the metrics status uses.
type scraped struct {
	// byTable is each per-table gauge's value by table label.
	byTable map[string]map[string]float64
	// single is each unlabelled gauge's value.
	single map[string]float64
	// records is pg2kafka_records_total summed over ops, by table.
	records map[string]int64
}

// scrape reads the metrics endpoint, recording in rep.Metrics whether it
// answered.
func (r *statusReader) scrape(ctx context.Context, rep *statusReport) scraped {
	out := scraped{byTable: map[string]map[string]float64{}, single: map[string]float64{}, records: map[string]int64{}}
	rep.Metrics.URL = r.metricsURL
	if r.metricsURL == "" {
		rep.Metrics.Error = "http.listen is empty: no metrics endpoint (set http.listen, or pass --metrics-url)"
		return out
	}
	body, err := r.get(ctx, r.metricsURL)
	if err != nil {
		rep.Metrics.Error = err.Error()
		return out
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		rep.Metrics.Error = fmt.Sprintf("%s is not Prometheus text: %v", r.metricsURL, err)
		return out
	}
	rep.Metrics.Reachable = true
	parseScraped(fams, &out)
	if v, ok := out.single["pg2kafka_up"]; ok {
		up := v == 1
		rep.Metrics.Up = &up
	}
	return out
}

// parseScraped picks the figures status uses out of metric families.
func parseScraped(fams map[string]*dto.MetricFamily, out *scraped) {
	for name, f := range fams {
		for _, m := range f.GetMetric() {
			var v float64
			switch {
			case m.GetGauge() != nil:
				v = m.GetGauge().GetValue()
			case m.GetCounter() != nil:
				v = m.GetCounter().GetValue()
			case m.GetUntyped() != nil:
				v = m.GetUntyped().GetValue()
			default:
				continue
			}
			table := ""
			for _, l := range m.GetLabel() {
				if l.GetName() == "table" {
					table = l.GetValue()
				}
			}
			switch {
			case name == "pg2kafka_records_total":
				out.records[table] += int64(v)
			case table != "":
				if out.byTable[name] == nil {
					out.byTable[name] = map[string]float64{}
				}
				out.byTable[name][table] = v
			case len(m.GetLabel()) == 0:
				out.single[name] = v
			}
		}
	}
}

// get GETs url and returns its body; an error names the URL.
func (r *statusReader) get(ctx context.Context, url string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", fmt.Errorf("metrics URL %q: %w", url, err)
	}
	req.Header.Set("Accept", "text/plain; version=0.0.4")
	resp, err := r.http.Do(req)
	if err != nil {
		return "", fmt.Errorf("metrics endpoint not reachable: %w (is pg2kafka run on this host? else pass --metrics-url)", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%s answered %s", url, resp.Status)
	}
	return string(b), nil
}

// backfilling is whether any table is being backfilled.
func (rep *statusReport) backfilling() bool {
	for _, t := range rep.Tables {
		if t.Mode == statusBackfill {
			return true
		}
	}
	return false
}

// rates fills the rates and ETAs from an earlier reading.
func (rep *statusReport) rates(earlier *statusReport) {
	dt := rep.Time.Sub(earlier.Time).Seconds()
	if dt <= 0 {
		return
	}
	before := map[string]statusTable{}
	for _, t := range earlier.Tables {
		before[t.Table] = t
	}
	for i := range rep.Tables {
		t := &rep.Tables[i]
		b, ok := before[t.Table]
		if !ok {
			continue
		}
		if t.Records != nil && b.Records != nil && *t.Records >= *b.Records {
			r := float64(*t.Records-*b.Records) / dt
			t.RecordsPerSecond = &r
		}
		if t.Mode != statusBackfill || t.RowsDone <= b.RowsDone {
			continue
		}
		r := float64(t.RowsDone-b.RowsDone) / dt
		t.RowsPerSecond = &r
		if t.RowsEstimated != nil {
			eta := math.Max(float64(*t.RowsEstimated-t.RowsDone), 0) / r
			t.ETASeconds = &eta
		}
	}
}

// renderStatus prints the report for people: one line per table, then the
// replication figures. width is the terminal's (0: unknown).
func renderStatus(w io.Writer, rep *statusReport, width int) {
	fmt.Fprintf(w, "capture %q (checkpoints in %s) at %s\n", rep.Capture, rep.CheckpointTopic, rep.Time.UTC().Format("2006-01-02 15:04:05 UTC"))
	if !rep.Checkpoint {
		fmt.Fprintln(w, "  no checkpoint yet: the first run backfills every table")
	}
	nameWidth := 5
	for _, t := range rep.Tables {
		nameWidth = max(nameWidth, len(t.Table))
	}
	bar := 20
	if width > 0 && width < nameWidth+100 {
		bar = max(10, width-nameWidth-80)
	}
	for _, t := range rep.Tables {
		fmt.Fprintf(w, "  %-*s  %-9s  %s  %s\n", nameWidth, t.Table, t.Mode, progressBar(t.Progress, bar), tableDetail(t))
	}
	fmt.Fprintln(w)
	lag := "unknown"
	if rep.LagBytes != nil {
		lag = formatBytes(*rep.LagBytes)
		if rep.LagSeconds != nil {
			lag += ", " + formatSeconds(*rep.LagSeconds)
		}
	} else if rep.LagSeconds != nil {
		lag = formatSeconds(*rep.LagSeconds)
	}
	if s := rep.Slot; s != nil && s.ServerWAL != "" {
		lag += fmt.Sprintf(" (checkpoint at %s, server at %s)", orDash(rep.Cursor), s.ServerWAL)
	}
	fmt.Fprintf(w, "  %-17s %s\n", "replication lag", lag)
	switch s := rep.Slot; {
	case s == nil:
		fmt.Fprintf(w, "  %-17s unknown: %s\n", "slot", rep.SlotError)
	case !s.Exists:
		fmt.Fprintf(w, "  %-17s slot %q does not exist (the next run creates it)\n", "WAL retained", s.Name)
	default:
		status := ""
		if s.WALStatus != "" {
			status = ", wal_status " + s.WALStatus
		}
		fmt.Fprintf(w, "  %-17s %s by slot %q (restart_lsn %s, confirmed_flush_lsn %s%s)\n", "WAL retained", formatBytes(s.RetainedBytes), s.Name, s.RestartLSN, s.ConfirmedFlush, status)
	}
	last := "none yet"
	if rep.LastCommit != nil {
		last = fmt.Sprintf("%s (%s ago) at %s", rep.LastCommit.UTC().Format("2006-01-02 15:04:05 UTC"),
			formatSeconds(math.Max(rep.Time.Sub(*rep.LastCommit).Seconds(), 0)), orDash(rep.Cursor))
	}
	fmt.Fprintf(w, "  %-17s %s\n", "last commit", last)
	fmt.Fprintf(w, "  %-17s %s\n", "instance", instanceLine(rep))
	m := "off: " + rep.Metrics.Error
	switch {
	case rep.Metrics.Reachable && rep.Metrics.Up != nil && *rep.Metrics.Up:
		m = rep.Metrics.URL + " (streaming)"
	case rep.Metrics.Reachable && rep.Metrics.Up != nil:
		m = rep.Metrics.URL + " (not streaming: standing by or recovering)"
	case rep.Metrics.Reachable:
		m = rep.Metrics.URL
	case rep.Metrics.URL != "":
		m = "unreachable: " + rep.Metrics.Error
	}
	fmt.Fprintf(w, "  %-17s %s\n", "metrics", m)
}

// instanceLine says which instance runs.
func instanceLine(rep *statusReport) string {
	switch rep.Instance {
	case "active":
		if s := rep.Slot; s != nil && s.ActivePID != 0 {
			line := fmt.Sprintf("active: walsender PID %d streams slot %q", s.ActivePID, s.Name)
			if rep.Metrics.Up != nil && !*rep.Metrics.Up {
				line += "; the instance at the metrics URL stands by"
			}
			return line
		}
		return "active (the instance at the metrics URL streams)"
	case "standby":
		return "standing by: the instance at the metrics URL runs, but no process streams the slot (starting, recovering, or waiting for it)"
	}
	return "none: no process streams the slot (pg2kafka run is stopped)"
}

// tableDetail is a table line's figures after the bar.
func tableDetail(t statusTable) string {
	var b strings.Builder
	switch {
	case t.Mode == statusStreaming:
		fmt.Fprintf(&b, "%s rows backfilled", formatCount(t.RowsDone))
		if t.RecordsPerSecond != nil {
			fmt.Fprintf(&b, ", %s records/s", formatRate(*t.RecordsPerSecond))
		}
		return b.String()
	case t.RowsEstimated != nil:
		fmt.Fprintf(&b, "%s / ~%s rows", formatCount(t.RowsDone), formatCount(*t.RowsEstimated))
	default:
		fmt.Fprintf(&b, "%s / ? rows (no estimate: ANALYZE the table)", formatCount(t.RowsDone))
	}
	switch t.Mode {
	case statusBackfill:
		if t.RowsPerSecond != nil {
			fmt.Fprintf(&b, "  %s rows/s", formatRate(*t.RowsPerSecond))
			if t.ETASeconds != nil {
				fmt.Fprintf(&b, "  ETA %s", formatSeconds(*t.ETASeconds))
			}
		} else {
			b.WriteString("  rate: measuring")
		}
	case statusPending:
		b.WriteString("  (backfill not started)")
	}
	return b.String()
}

// progressBar draws p (nil: unknown) in width cells, with a percentage.
func progressBar(p *float64, width int) string {
	if p == nil {
		return "[" + strings.Repeat("?", width) + "]    ?"
	}
	f := math.Min(math.Max(*p, 0), 1)
	full := int(f * float64(width))
	pct := int(f * 100)
	if pct == 100 && f < 1 {
		pct = 99
	}
	return fmt.Sprintf("[%s%s] %3d%%", strings.Repeat("#", full), strings.Repeat(".", width-full), pct)
}

// formatCount prints n with thousands separators.
func formatCount(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// formatRate prints a per-second rate.
func formatRate(r float64) string {
	if r >= 100 {
		return formatCount(int64(math.Round(r)))
	}
	return fmt.Sprintf("%.1f", r)
}

// formatBytes prints n bytes in binary units.
func formatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	v, i := float64(n), -1
	for v >= unit && i < 4 {
		v /= unit
		i++
	}
	return fmt.Sprintf("%.1f %ciB", v, "KMGTP"[i])
}

// formatSeconds prints a duration in seconds for people: 0.4s, 42s,
// 11m05s, 2h03m.
func formatSeconds(s float64) string {
	switch {
	case s < 10:
		return fmt.Sprintf("%.1fs", s)
	case s < 60:
		return fmt.Sprintf("%ds", int(math.Round(s)))
	case s < 3600:
		n := int(math.Round(s))
		return fmt.Sprintf("%dm%02ds", n/60, n%60)
	}
	n := int(math.Round(s / 60))
	return fmt.Sprintf("%dh%02dm", n/60, n%60)
}

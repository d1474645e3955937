package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

func ptr[T any](v T) *T { return &v }

var statusAt = time.Date(2026, 11, 30, 4, 0, 0, 0, time.UTC)

// statusFixture is a report with one table backfilling, one streaming.
func statusFixture() *statusReport {
	return &statusReport{
		Capture: "flow_slot", CheckpointTopic: "pg2kafka.checkpoints", Time: statusAt, Checkpoint: true,
		Cursor: "0/1A2B3C8", LastCommit: ptr(statusAt.Add(-12 * time.Second)),
		Tables: []statusTable{
			{Table: "public.customers", Mode: statusStreaming, StateMode: "Active", RowsDone: 1204,
				RowsEstimated: ptr(int64(1204)), Progress: ptr(1.0), RecordsPerSecond: ptr(3.5)},
			{Table: "public.orders", Mode: statusBackfill, StateMode: "Backfill", RowsDone: 410000,
				RowsEstimated: ptr(int64(1000000)), Progress: ptr(0.41), RowsPerSecond: ptr(52300.0), ETASeconds: ptr(11.3)},
		},
		Slot: &statusSlot{Name: "flow_slot", Exists: true, ActivePID: 4242, ConfirmedFlush: "0/1A2B3C8",
			RestartLSN: "0/19000000", ServerWAL: "0/1B000000", RetainedBytes: 48 << 20, WALStatus: "reserved"},
		LagBytes: ptr(int64(1258291)), LagSeconds: ptr(0.4), Instance: "active",
		Metrics: statusMetrics{URL: "http://127.0.0.1:9187/metrics", Reachable: true, Up: ptr(true)},
	}
}

func TestRenderStatus(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*statusReport)
		want   []string
		not    []string
	}{
		{"backfill and streaming", func(*statusReport) {}, []string{
			"public.orders     backfill   [########............]  41%  410,000 / ~1,000,000 rows  52,300 rows/s  ETA 11s",
			"public.customers  streaming  [####################] 100%  1,204 rows backfilled, 3.5 records/s",
			"replication lag   1.2 MiB, 0.4s (checkpoint at 0/1A2B3C8, server at 0/1B000000)",
			`WAL retained      48.0 MiB by slot "flow_slot" (restart_lsn 0/19000000, confirmed_flush_lsn 0/1A2B3C8, wal_status reserved)`,
			"last commit       2026-11-30 03:59:48 UTC (12s ago) at 0/1A2B3C8",
			`instance          active: walsender PID 4242 streams slot "flow_slot"`,
			"metrics           http://127.0.0.1:9187/metrics (streaming)",
		}, []string{"no checkpoint yet"}},
		{"rate not measured yet", func(r *statusReport) {
			r.Tables[1].RowsPerSecond, r.Tables[1].ETASeconds = nil, nil
		}, []string{"410,000 / ~1,000,000 rows  rate: measuring"}, []string{"ETA"}},
		{"no estimate", func(r *statusReport) {
			r.Tables[1].RowsEstimated, r.Tables[1].Progress, r.Tables[1].RowsPerSecond = nil, nil, nil
		}, []string{"[????????????????????]    ?  410,000 / ? rows (no estimate: ANALYZE the table)"}, nil},
		{"pending", func(r *statusReport) {
			r.Tables[1] = statusTable{Table: "public.orders", Mode: statusPending, StateMode: "Pending", RowsEstimated: ptr(int64(5000)), Progress: ptr(0.0)}
		}, []string{"pending    [....................]   0%  0 / ~5,000 rows  (backfill not started)"}, nil},
		{"standby", func(r *statusReport) {
			r.Slot.ActivePID, r.Instance, r.Metrics.Up, r.LagSeconds = 0, "standby", ptr(false), nil
		}, []string{"instance          standing by", "(not streaming: standing by or recovering)", "replication lag   1.2 MiB (checkpoint"}, nil},
		{"stopped, no metrics", func(r *statusReport) {
			r.Slot.ActivePID, r.Instance, r.LagSeconds = 0, "none", nil
			r.Metrics = statusMetrics{URL: "http://127.0.0.1:9187/metrics", Error: "metrics endpoint not reachable: connection refused"}
		}, []string{"instance          none: no process streams the slot", "metrics           unreachable: metrics endpoint not reachable"}, nil},
		{"no checkpoint, no slot", func(r *statusReport) {
			r.Checkpoint, r.Cursor, r.LastCommit, r.Tables = false, "", nil, nil
			r.Slot = &statusSlot{Name: "flow_slot", ServerWAL: "0/1B000000"}
			r.LagBytes, r.LagSeconds, r.Instance = nil, nil, "none"
		}, []string{"no checkpoint yet", `slot "flow_slot" does not exist`, "last commit       none yet", "replication lag   unknown"}, nil},
		{"PostgreSQL unreachable", func(r *statusReport) {
			r.Slot, r.SlotError, r.LagBytes = nil, "connection refused", nil
		}, []string{"slot              unknown: connection refused", "replication lag   0.4s"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := statusFixture()
			tt.mutate(rep)
			var b bytes.Buffer
			renderStatus(&b, rep, 0)
			out := b.String()
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("missing %q in:\n%s", w, out)
				}
			}
			for _, w := range tt.not {
				if strings.Contains(out, w) {
					t.Errorf("unexpected %q in:\n%s", w, out)
				}
			}
		})
	}
}

func TestStatusFormats(t *testing.T) {
	for _, tt := range []struct{ got, want string }{
		{formatCount(0), "0"}, {formatCount(999), "999"}, {formatCount(1000), "1,000"},
		{formatCount(1234567), "1,234,567"}, {formatCount(-1234), "-1,234"},
		{formatBytes(512), "512 B"}, {formatBytes(1536), "1.5 KiB"}, {formatBytes(500 << 20), "500.0 MiB"},
		{formatBytes(3 << 30), "3.0 GiB"},
		{formatSeconds(0.42), "0.4s"}, {formatSeconds(42), "42s"}, {formatSeconds(665), "11m05s"},
		{formatSeconds(7380), "2h03m"},
		{formatRate(3.25), "3.2"}, {formatRate(52300.4), "52,300"},
		{progressBar(ptr(0.999), 10), "[#########.]  99%"}, {progressBar(ptr(1.5), 4), "[####] 100%"},
		{progressBar(nil, 3), "[???]    ?"},
	} {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}

func TestStatusRates(t *testing.T) {
	earlier := statusFixture()
	earlier.Tables[1].RowsDone, earlier.Tables[1].RowsPerSecond, earlier.Tables[1].ETASeconds = 300000, nil, nil
	earlier.Tables[0].Records = ptr(int64(100))
	later := statusFixture()
	later.Time = statusAt.Add(2 * time.Second)
	later.Tables[1].RowsPerSecond, later.Tables[1].ETASeconds = nil, nil
	later.Tables[0].Records, later.Tables[0].RecordsPerSecond = ptr(int64(110)), nil
	later.rates(earlier)
	o := later.Tables[1]
	if o.RowsPerSecond == nil || *o.RowsPerSecond != 55000 || o.ETASeconds == nil || int(*o.ETASeconds) != 10 {
		t.Errorf("orders rate %v, eta %v; want 55000 rows/s, 10.7s", o.RowsPerSecond, o.ETASeconds)
	}
	if c := later.Tables[0]; c.RecordsPerSecond == nil || *c.RecordsPerSecond != 5 || c.RowsPerSecond != nil {
		t.Errorf("customers: %+v", c)
	}
}

// TestStatusJSON: the documented field names.
func TestStatusJSON(t *testing.T) {
	b, err := json.Marshal(statusFixture())
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"capture", "checkpointTopic", "time", "checkpoint", "cursor", "lastCommit", "tables", "slot", "lagBytes", "lagSeconds", "instance", "metrics"} {
		if _, ok := m[k]; !ok {
			t.Errorf("JSON lacks %q: %s", k, b)
		}
	}
	tab := m["tables"].([]any)[1].(map[string]any)
	for _, k := range []string{"table", "mode", "stateMode", "rowsDone", "rowsEstimated", "progress", "rowsPerSecond", "etaSeconds", "records", "recordsPerSecond"} {
		if _, ok := tab[k]; !ok {
			t.Errorf("table JSON lacks %q: %v", k, tab)
		}
	}
	slot := m["slot"].(map[string]any)
	for _, k := range []string{"name", "exists", "activePid", "confirmedFlushLsn", "restartLsn", "serverWalLsn", "retainedWalBytes", "walStatus"} {
		if _, ok := slot[k]; !ok {
			t.Errorf("slot JSON lacks %q: %v", k, slot)
		}
	}
}

func TestParseScraped(t *testing.T) {
	text := `# TYPE pg2kafka_backfill_rows gauge
pg2kafka_backfill_rows{table="public.orders"} 410000
# TYPE pg2kafka_backfill_rows_estimated gauge
pg2kafka_backfill_rows_estimated{table="public.orders"} 1e+06
# TYPE pg2kafka_records_total counter
pg2kafka_records_total{op="c",table="public.orders"} 410000
pg2kafka_records_total{op="u",table="public.orders"} 5
# TYPE pg2kafka_up gauge
pg2kafka_up 1
# TYPE pg2kafka_replication_lag_seconds gauge
pg2kafka_replication_lag_seconds 0.25
`
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	out := scraped{byTable: map[string]map[string]float64{}, single: map[string]float64{}, records: map[string]int64{}}
	parseScraped(fams, &out)
	if out.byTable["pg2kafka_backfill_rows"]["public.orders"] != 410000 || out.byTable["pg2kafka_backfill_rows_estimated"]["public.orders"] != 1e6 ||
		out.records["public.orders"] != 410005 || out.single["pg2kafka_up"] != 1 || out.single["pg2kafka_replication_lag_seconds"] != 0.25 {
		t.Errorf("parsed %+v", out)
	}
}

func TestStatusUsage(t *testing.T) {
	if code, out, _ := cli("status", "--help"); code != exitOK || !strings.Contains(out, "-watch") || !strings.Contains(out, "-json") || strings.Contains(out, "-apply") {
		t.Errorf("status --help: exit %d\n%s", code, out)
	}
	if code, _, errOut := cli("status", "--interval", "0s", "--config", "x.yaml"); code != exitConfig || !strings.Contains(errOut, "--interval must be positive") {
		t.Errorf("status --interval 0s: exit %d, %s", code, errOut)
	}
	if code, _, errOut := cli("status", "--apply"); code != exitConfig || !strings.Contains(errOut, "does not apply") {
		t.Errorf("status --apply: exit %d, %s", code, errOut)
	}
}

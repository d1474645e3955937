package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// statusJSON is the part of `pg2kafka status --json` the test reads.
type statusJSON struct {
	Checkpoint bool       `json:"checkpoint"`
	Cursor     string     `json:"cursor"`
	LastCommit *time.Time `json:"lastCommit"`
	Tables     []struct {
		Table         string   `json:"table"`
		Mode          string   `json:"mode"`
		RowsDone      int64    `json:"rowsDone"`
		RowsEstimated *int64   `json:"rowsEstimated"`
		Progress      *float64 `json:"progress"`
		RowsPerSecond *float64 `json:"rowsPerSecond"`
		ETASeconds    *float64 `json:"etaSeconds"`
	} `json:"tables"`
	Slot *struct {
		Name          string `json:"name"`
		Exists        bool   `json:"exists"`
		ActivePID     int32  `json:"activePid"`
		RetainedBytes int64  `json:"retainedWalBytes"`
		ServerWAL     string `json:"serverWalLsn"`
	} `json:"slot"`
	LagBytes *int64 `json:"lagBytes"`
	Instance string `json:"instance"`
	Metrics  struct {
		Reachable bool  `json:"reachable"`
		Up        *bool `json:"up"`
	} `json:"metrics"`
}

// status runs `pg2kafka status` with args and the config at path; it
// must exit 0.
func status(t *testing.T, path string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, append(append([]string{"status"}, args...), "--config", path)...)
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	if err := cmd.Run(); err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			t.Fatalf("pg2kafka status %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), exit.ExitCode(), so.String(), se.String())
		}
		t.Fatal(err)
	}
	return so.String()
}

func statusOf(t *testing.T, path string) statusJSON {
	t.Helper()
	out := status(t, path, "--json", "--interval", "700ms")
	var s statusJSON
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatalf("status --json: %v\n%s", err, out)
	}
	return s
}

// TestStatus: `pg2kafka status` before the first run, during a backfill
// (the table with plausible progress against its reltuples estimate, the
// slot held), once streaming, and after the capture stopped.
func TestStatus(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const rows = 60000
	e.advanced = []string{"backfill_chunk_size: 300"}
	e.exec(`CREATE TABLE big (id integer PRIMARY KEY, pad text)`,
		fmt.Sprintf(`INSERT INTO big SELECT g, repeat('x', 200) FROM generate_series(1, %d) g`, rows),
		`ANALYZE big`,
		`ALTER PUBLICATION flow_publication ADD TABLE big`)
	// However fast the machine, status reads a backfill under way: it is
	// held at its middle row until status has seen the rows before it.
	gate, binding := e.gateBackfill("big", rows/2)
	defer gate.Open() // before the cleanup stops pg2kafka, should the test fail
	e.extra = "bindings:\n" + binding
	path, _ := e.configWithHTTP()

	before := statusOf(t, path)
	if before.Checkpoint || len(before.Tables) != 0 || before.Slot == nil || before.Slot.Exists || before.Instance != "none" || before.Metrics.Reachable {
		t.Fatalf("status before the first run: %+v", before)
	}

	p := launch(t, backfilled, nil, "run", "--config", path)
	deadline := time.Now().Add(120 * time.Second)
	sawBackfill := false
	for {
		if time.Now().After(deadline) {
			t.Fatalf("the backfill did not complete within 120s\n%s", p.output())
		}
		s := statusOf(t, path)
		if len(s.Tables) == 1 && s.Tables[0].Mode == "backfill" && s.Tables[0].RowsDone > 0 {
			tb := s.Tables[0]
			if tb.Table != "public.big" || tb.RowsEstimated == nil || *tb.RowsEstimated < rows*9/10 || *tb.RowsEstimated > rows*11/10 ||
				tb.RowsDone > *tb.RowsEstimated || tb.Progress == nil || *tb.Progress <= 0 || *tb.Progress > 1 {
				t.Fatalf("implausible backfill progress: %+v (estimate %v)", tb, tb.RowsEstimated)
			}
			if s.Slot == nil || !s.Slot.Exists || s.Slot.ActivePID == 0 || s.Instance != "active" || !s.Metrics.Reachable {
				t.Fatalf("during the backfill: slot %+v, instance %q, metrics %+v", s.Slot, s.Instance, s.Metrics)
			}
			if !sawBackfill {
				t.Logf("during the backfill: %d / %d rows, %v rows/s, eta %v s", tb.RowsDone, *tb.RowsEstimated, deref(tb.RowsPerSecond), deref(tb.ETASeconds))
				t.Logf("status:\n%s", status(t, path, "--interval", "700ms"))
			}
			sawBackfill = true
			gate.Open()
		}
		if len(s.Tables) == 1 && s.Tables[0].Mode == "streaming" {
			break
		}
	}
	gate.Open()
	if !sawBackfill {
		t.Errorf("status never showed the backfill in progress")
	}
	p.waitReady(t, 60*time.Second)

	s := statusOf(t, path)
	if tb := s.Tables[0]; tb.RowsDone != rows || tb.Progress == nil || *tb.Progress != 1 {
		t.Errorf("streaming: %+v, want %d rows done", tb, rows)
	}
	if s.LastCommit == nil || time.Since(*s.LastCommit) > time.Minute || s.Cursor == "" || s.LagBytes == nil ||
		s.Slot == nil || s.Slot.ActivePID == 0 || s.Slot.RetainedBytes < 0 || s.Instance != "active" || s.Metrics.Up == nil || !*s.Metrics.Up {
		t.Errorf("streaming: %+v", s)
	}
	t.Logf("status once streaming:\n%s", status(t, path))

	// --watch --json: one object per reading, until interrupted.
	wctx, cancel := context.WithTimeout(context.Background(), 4*time.Second)
	defer cancel()
	out, _ := exec.CommandContext(wctx, binary, "status", "--watch", "--json", "--interval", "300ms", "--config", path).Output()
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	for _, l := range lines {
		var w statusJSON
		if err := json.Unmarshal([]byte(l), &w); err != nil || len(w.Tables) != 1 || w.Instance != "active" {
			t.Errorf("status --watch --json line %q: %v", l, err)
		}
	}
	if len(lines) < 3 {
		t.Errorf("status --watch --json printed %d readings in 4s at a 300ms interval:\n%s", len(lines), out)
	}

	// A second instance stands by: the slot is the first one's, the
	// second's metrics say it does not stream.
	standbyPath, _ := e.configWithHTTP(configOpts{name: "standby.yaml"})
	standby := launch(t, readiness{"standing by", "stand by"}, nil, "run", "--config", standbyPath)
	standby.waitReady(t, 60*time.Second)
	out = []byte(status(t, standbyPath))
	if !strings.Contains(string(out), "walsender PID") || !strings.Contains(string(out), "the instance at the metrics URL stands by") {
		t.Errorf("status at the standby's metrics URL:\n%s", out)
	}
	t.Logf("status at the standby:\n%s", out)
	standby.stop(t)

	p.stop(t)
	s = statusOf(t, path)
	if s.Instance != "none" || s.Slot == nil || !s.Slot.Exists || s.Slot.ActivePID != 0 || s.Metrics.Reachable || s.Tables[0].Mode != "streaming" {
		t.Errorf("after stopping: %+v", s)
	}
}

func deref(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}

// TestStatusCatchUpLog: a capture restarted far behind the WAL logs how
// many MB it is behind, then that it caught up; status shows the lag
// before it starts.
func TestStatusCatchUpLog(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.exec(`CREATE TABLE wide (id integer PRIMARY KEY, pad text)`, `ALTER PUBLICATION flow_publication ADD TABLE wide`)
	p := e.start(true)
	p.stop(t)
	e.exec(`INSERT INTO wide SELECT g, repeat(md5(g::text), 8) FROM generate_series(1, 40000) g`)
	path := e.config()
	s := statusOf(t, path)
	if s.LagBytes == nil || *s.LagBytes < 4<<20 || s.Instance != "none" {
		t.Errorf("status of a stopped capture behind the WAL: lag %v, instance %q", s.LagBytes, s.Instance)
	}
	p = launch(t, streaming, nil, "run", "--config", path)
	p.waitReady(t, 120*time.Second)
	out := p.output()
	if !strings.Contains(out, "MB of WAL behind") || !strings.Contains(out, "caught up with the WAL") {
		t.Errorf("no catch-up progress in the log:\n%s", out)
	}
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "WAL behind") || strings.Contains(l, "caught up") {
			t.Log(l)
		}
	}
	p.stop(t)
}

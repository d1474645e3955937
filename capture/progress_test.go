package capture

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/pg2kafka/pg2kafka/checkpoint"
)

// The backfill progress line gives its ETA in whole seconds (eta_s), not a
// duration zerolog would print as unitless milliseconds.
func TestProgressLogsETAInSeconds(t *testing.T) {
	var buf bytes.Buffer
	c := &Capture{opts: Options{Observer: nopObserver{}}, log: zerolog.New(&buf)}
	b := &binding{
		Binding: Binding{Schema: "public", Table: "t"},
		state:   &checkpoint.TableState{Backfilled: 500},
		// 500 rows in 10 s: 50 rows/s, 500 rows to go.
		backfill: &backfill{estimate: 1000, started: time.Now().Add(-10 * time.Second)},
	}
	c.progress(b, false)
	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("%v: %q", err, buf.String())
	}
	if line["eta_s"] != float64(10) || line["percent"] != float64(50) || line["message"] != "backfilling" {
		t.Errorf("progress line %s", buf.String())
	}
	if _, ok := line["eta"]; ok {
		t.Errorf("unitless eta still logged: %s", buf.String())
	}
}

// A capture starting far behind the WAL logs how far, periodically, and
// when it has caught up; one close to it logs nothing.
func TestCatchUpProgress(t *testing.T) {
	var buf bytes.Buffer
	log := zerolog.New(&buf)
	if c := newCatchUp(log, 1000, 1000+catchUpLogMin-1); c.C() != nil || buf.Len() != 0 {
		t.Fatalf("logged a catch-up below the threshold: %s", buf.String())
	}
	c := newCatchUp(log, 0, 500_000_000)
	if c.C() == nil {
		t.Fatal("no ticker for 500 MB behind")
	}
	c.started = time.Now().Add(-10 * time.Second) // 10 s in
	c.line(100_000_000)
	c.done()
	var lines []map[string]any
	for _, l := range bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n")) {
		var m map[string]any
		if err := json.Unmarshal(l, &m); err != nil {
			t.Fatalf("%v: %q", err, l)
		}
		lines = append(lines, m)
	}
	if len(lines) != 3 || lines[0]["message"] != "catching up: 500 MB of WAL behind" ||
		lines[1]["message"] != "catching up: 400 MB of WAL behind" || lines[1]["mb_per_s"] != 10.0 || lines[1]["eta_s"] != 40.0 ||
		lines[2]["message"] != "caught up with the WAL (500 MB relayed in 10.0s)" {
		t.Errorf("catch-up lines:\n%s", buf.String())
	}
}

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

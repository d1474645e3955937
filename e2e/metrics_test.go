package e2e

import (
	"io"
	"net/http"
	"regexp"
	"strconv"
	"testing"
	"time"
)

// TestMetricsFromSlotReadings runs the capture with its HTTP listener and
// checks that the lag and slot gauges are fed by the source's readings of
// the slot (cmd/pg2kafka wires source.WatchSlot to the metrics): the
// first reading, taken at start, exports them, and none fails.
func TestMetricsFromSlotReadings(t *testing.T) {
	e := newEnv(t)
	e.exec(
		`CREATE TABLE m (id integer PRIMARY KEY, v text)`,
		`ALTER PUBLICATION flow_publication ADD TABLE m`,
		`INSERT INTO m SELECT i, repeat('x', 100) FROM generate_series(1, 1000) i`,
	)
	path, addr := e.configWithHTTP()
	p := launch(e.t, backfilled, nil, "run", "--config", path)
	p.waitReady(t, 120*time.Second)
	defer p.stop(t)

	gauge := func(body, name string) (float64, bool) {
		m := regexp.MustCompile(`(?m)^` + name + ` (\S+)$`).FindStringSubmatch(body)
		if m == nil {
			return 0, false
		}
		v, err := strconv.ParseFloat(m[1], 64)
		return v, err == nil
	}
	var body string
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/metrics")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			body = string(b)
			_, lag := gauge(body, "pg2kafka_replication_lag_bytes")
			retained, ok := gauge(body, "pg2kafka_slot_retained_wal_bytes")
			if lag && ok && retained > 0 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no slot reading reached the metrics within 30s; /metrics:\n%s\nlog:\n%s", body, p.output())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if v, _ := gauge(body, "pg2kafka_poll_errors_total"); v != 0 {
		t.Errorf("pg2kafka_poll_errors_total = %v; log:\n%s", v, p.output())
	}
	if v, _ := gauge(body, "pg2kafka_slot_lost"); v != 0 {
		t.Errorf("pg2kafka_slot_lost = %v", v)
	}
}

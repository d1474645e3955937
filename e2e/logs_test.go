package e2e

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// logsPassword is a distinctive source.password with characters that
// connection strings escape (a quote, a space, a dollar); logsPasswordCore
// is a fragment of it that no escaping changes, so it betrays the password
// in any encoding.
const (
	logsPassword     = `logs-pw'Kx4Qm8 Vd$3\z`
	logsPasswordCore = "Kx4Qm8"
)

// logsCheck checks that out holds no form of logsPassword and that every
// line is a JSON log record with a level, a time and a message; it returns
// the records.
func logsCheck(t *testing.T, out string) []map[string]any {
	t.Helper()
	forms := []string{logsPassword, logsPasswordCore, url.QueryEscape(logsPassword), url.PathEscape(logsPassword),
		strings.ReplaceAll(logsPassword, "'", `\'`)}
	for _, f := range forms {
		if strings.Contains(out, f) {
			t.Errorf("the output leaks source.password (as %q)", f)
		}
	}
	levels := map[string]bool{"trace": true, "debug": true, "info": true, "warn": true, "error": true, "fatal": true, "panic": true}
	var recs []map[string]any
	for _, line := range strings.Split(out, "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Errorf("not a JSON log line: %s", line)
			continue
		}
		if lvl, _ := rec["level"].(string); !levels[lvl] {
			t.Errorf("log line without a valid level: %s", line)
		}
		if ts, _ := rec["time"].(string); ts == "" {
			t.Errorf("log line without a time: %s", line)
		} else if _, err := time.Parse(time.RFC3339Nano, ts); err != nil {
			t.Errorf("log line time %q is not RFC 3339: %s", ts, line)
		}
		if msg, _ := rec["message"].(string); msg == "" {
			t.Errorf("log line without a message: %s", line)
		}
		recs = append(recs, rec)
	}
	if len(recs) == 0 {
		t.Error("no log lines at all")
	}
	if t.Failed() {
		t.Logf("output:\n%s", out)
	}
	return recs
}

// A capture's whole life (start, backfill, streaming, SIGTERM) logs JSON
// lines by default, at debug level too, and never the source password.
func TestLogsJSONWithoutPassword(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.exec(`CREATE TABLE logs_items (id integer PRIMARY KEY, v text)`,
		`INSERT INTO logs_items SELECT i, 'backfilled' FROM generate_series(1, 5) i`,
		`ALTER PUBLICATION flow_publication ADD TABLE logs_items`)
	// No log.format: stderr is a pipe, so the default is JSON.
	// Ready once the backfill is done: a write during it would replace its
	// row's backfill record, and the count below would depend on timing.
	p := launch(t, backfilled, nil, "run", "--config", e.config(configOpts{name: "logs.yaml", password: logsPassword, log: []string{"level: debug"}}))
	p.waitReady(t, 60*time.Second)
	e.exec(`INSERT INTO logs_items VALUES (6, 'streamed')`, `UPDATE logs_items SET v = 'changed' WHERE id = 1`,
		`DELETE FROM logs_items WHERE id = 2`)
	if got := e.consume(e.topic("logs_items"), 9, 30*time.Second); len(got) < 9 { // 5 + c + u + d + tombstone
		t.Errorf("got %d records, want 9", len(got))
	}
	p.stop(t)

	recs := logsCheck(t, p.output())
	seen := map[string]bool{}
	for _, r := range recs {
		msg, _ := r["message"].(string)
		seen[msg] = true
		if lvl := r["level"]; lvl == "error" || lvl == "fatal" || lvl == "panic" {
			t.Errorf("error logged by a healthy run: %v", r)
		}
	}
	for _, want := range []string{"starting capture", "capture is streaming", "stopped"} {
		if !seen[want] {
			t.Errorf("no %q log line", want)
		}
	}
}

// Failing starts report their error as a JSON log line with level error,
// without the source password.
func TestLogsFailingRunsWithoutPassword(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		config  func(e *env) string
		phrases []string
	}{
		{
			name: "wrong database name",
			config: func(e *env) string {
				return e.config(configOpts{name: "wrong-db.yaml", password: logsPassword, database: "no_such_db_logs",
					log: []string{"level: debug", "format: json"}})
			},
			phrases: []string{`database "no_such_db_logs" does not exist`, "source.database"},
		},
		{
			name: "nothing listening",
			config: func(e *env) string {
				cfg, err := pgx.ParseConfig(e.dbURL)
				if err != nil {
					t.Fatal(err)
				}
				// Port 1 refuses connections.
				refuse := func(s string) string { return strings.Replace(s, fmt.Sprintf(":%d\"", cfg.Port), ":1\"", 1) }
				return e.config(configOpts{name: "wrong-port.yaml", password: logsPassword, mutate: refuse,
					log: []string{"level: debug", "format: json"}})
			},
			phrases: []string{"connecting to PostgreSQL", "source.address"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			code, out := e.runToExit(c.config(e), 90*time.Second)
			if code != 1 {
				t.Errorf("exit status %d, want 1", code)
			}
			var errs []string
			for _, r := range logsCheck(t, out) {
				if r["level"] == "error" {
					msg, _ := r["message"].(string)
					errs = append(errs, msg)
				}
			}
			if len(errs) != 1 {
				t.Fatalf("%d error lines, want 1:\n%s", len(errs), out)
			}
			for _, ph := range c.phrases {
				if !strings.Contains(errs[0], ph) {
					t.Errorf("the error does not mention %q: %s", ph, errs[0])
				}
			}
		})
	}
}

package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/pg2kafka/pg2kafka/checkpoint"
	"github.com/pg2kafka/pg2kafka/internal/pgtest"
	"github.com/pg2kafka/pg2kafka/schema/rowkey"
)

// tool runs a pg2kafka tool command to completion and returns its stdout,
// stderr and exit code.
func (e *env) tool(args ...string) (stdout, stderr string, code int) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, append(args, "--config", e.config())...)
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		e.t.Fatalf("pg2kafka %s: %v", strings.Join(args, " "), err)
	}
	return so.String(), se.String(), code
}

// mustTool runs a tool command that must succeed and returns its stdout.
func (e *env) mustTool(args ...string) string {
	e.t.Helper()
	out, errOut, code := e.tool(args...)
	if code != 0 {
		e.t.Fatalf("pg2kafka %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// asRole returns a copy of e whose configuration connects as role.
func (e *env) asRole(role string) *env {
	e.t.Helper()
	u, err := url.Parse(e.dbURL)
	if err != nil {
		e.t.Fatal(err)
	}
	u.User = url.UserPassword(role, "pw")
	c := *e
	c.dbURL = u.String()
	return &c
}

// newRole returns a unique role name and registers dropping that role when
// the test ends. Call it before starting pg2kafka, so the role is dropped
// after pg2kafka is stopped and before the database is.
func newRole(t *testing.T, e *env) string {
	role := fmt.Sprintf("tools_%d", time.Now().UnixNano()%1e10)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for _, step := range []struct{ url, sql string }{
			{e.dbURL, `DROP OWNED BY ` + role},
			{pgtest.Shared(t).AdminURL, `DROP ROLE IF EXISTS ` + role},
		} {
			c, err := pgx.Connect(ctx, step.url)
			if err != nil {
				t.Logf("dropping role %s: %v", role, err)
				return
			}
			if _, err := c.Exec(ctx, step.sql); err != nil {
				t.Logf("dropping role %s: %s: %v", role, step.sql, err)
			}
			c.Close(ctx)
		}
	})
	return role
}

// TestToolsCheck: check passes on a good setup and, on a bad one, fails
// (exit 1) listing every problem at once, each with its fix.
func TestToolsCheck(t *testing.T) {
	t.Parallel()
	t.Run("good", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		e.useSlot("tools_check_good")
		e.exec(`CREATE TABLE items (id integer PRIMARY KEY)`, `ALTER PUBLICATION flow_publication ADD TABLE items`)
		out := e.mustTool("check")
		for _, want := range []string{"ok    wal_level", "ok    replication role", "ok    table public.items", "ok    brokers", "ok    transactions", "ready"} {
			if !strings.Contains(out, want) {
				t.Errorf("check output lacks %q:\n%s", want, out)
			}
		}
		if strings.Contains(out, "FAIL") {
			t.Errorf("check reported a failure on a good setup:\n%s", out)
		}
	})
	t.Run("bad", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		e.useSlot("tools_check_bad")
		role := newRole(t, e)
		e.exec(`CREATE ROLE `+role+` LOGIN`, `CREATE TABLE items (id integer PRIMARY KEY)`, `DROP PUBLICATION flow_publication`)
		// A checkpoint topic that retention would empty.
		cl, err := kgo.NewClient(kgo.SeedBrokers(e.brokers...))
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		if _, err := kadm.NewClient(cl).CreateTopics(context.Background(), 1, -1, map[string]*string{"cleanup.policy": kadm.StringPtr("delete")}, e.prefix+".checkpoints"); err != nil {
			t.Fatal(err)
		}
		bad := e.asRole(role)
		bad.extra = "bindings:\n  - resource: {namespace: public, stream: items}\n"
		out, errOut, code := bad.tool("check")
		t.Logf("check output:\n%s", out)
		if code != 1 {
			t.Fatalf("check exited %d, want 1\n%s%s", code, out, errOut)
		}
		for _, want := range []string{
			"FAIL  replication role", "ALTER ROLE",
			"FAIL  publication", "CREATE PUBLICATION",
			"FAIL  table public.items", "GRANT SELECT ON",
			"FAIL  checkpoint topic", "cleanup.policy=compact",
			"would not start",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("check output lacks %q:\n%s", want, out)
			}
		}
		if exists, _ := failSlot(t, e.dbURL, "tools_check_bad"); exists {
			t.Errorf("check created a slot")
		}
	})
}

// TestToolsSetup: setup prints the least-privilege SQL, and setup --apply
// (run twice: it is idempotent) makes a fresh database capturable by the
// created role.
func TestToolsSetup(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.useSlot("tools_setup")
	role := newRole(t, e)
	e.exec(`DROP PUBLICATION flow_publication`,
		`CREATE TABLE items (id integer PRIMARY KEY, note text)`,
		`INSERT INTO items VALUES (1, 'a'), (2, 'b')`)
	capt := e.asRole(role)

	script := capt.mustTool("setup", "--admin-url", e.dbURL)
	t.Logf("setup script:\n%s", script)
	wants := []string{`CREATE ROLE "` + role + `" WITH LOGIN PASSWORD 'CHANGE-ME'`, `ALTER ROLE "` + role + `" WITH LOGIN REPLICATION`,
		`CREATE TABLE IF NOT EXISTS "public"."flow_watermarks"`, `CREATE PUBLICATION "flow_publication"`, `ADD TABLE "public"."items"`}
	v := serverVersion(t, e)
	if v >= 140000 {
		wants = append(wants, `GRANT pg_read_all_data TO`)
	} else {
		wants = append(wants, `GRANT SELECT ON "public"."items" TO`)
	}
	if v >= 130000 {
		wants = append(wants, `publish_via_partition_root = true`)
	} else if strings.Contains(script, `publish_via_partition_root`) {
		t.Errorf("setup script for PostgreSQL %d sets publish_via_partition_root (13+)", v)
	}
	for _, want := range wants {
		if !strings.Contains(script, want) {
			t.Errorf("setup script lacks %q:\n%s", want, script)
		}
	}
	if _, _, code := capt.tool("check"); code != 1 {
		t.Errorf("check before setup exited %d, want 1", code)
	}
	for i := 0; i < 2; i++ {
		capt.mustTool("setup", "--apply", "--admin-url", e.dbURL)
	}
	if out, errOut, code := capt.tool("check"); code != 0 {
		t.Fatalf("check after setup --apply exited %d:\n%s%s", code, out, errOut)
	}
	p := capt.start(true)
	if got := e.consume(e.topic("items"), 2, 20*time.Second); len(got) != 2 {
		t.Errorf("capture as %s: %d records, want 2", role, len(got))
	}
	p.stop(t)
}

// TestToolsDiscover: discover prints a binding, schema and key per
// capturable table, as Flow's discovery does.
func TestToolsDiscover(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.exec(`CREATE TABLE orders (id integer PRIMARY KEY, code varchar(10), total numeric NOT NULL, big bigint GENERATED ALWAYS AS (id * 2) STORED)`,
		`COMMENT ON COLUMN orders.id IS 'The order'`,
		`CREATE TABLE events (payload jsonb)`,
		`CREATE TABLE hidden (id integer PRIMARY KEY)`,
		`ALTER PUBLICATION flow_publication ADD TABLE orders, events`)
	out := e.mustTool("discover")
	var got struct {
		Bindings []struct {
			RecommendedName string            `json:"recommendedName"`
			ResourceConfig  map[string]string `json:"resourceConfig"`
			DocumentSchema  map[string]any    `json:"documentSchema"`
			Key             []string          `json:"key"`
			ResourcePath    []string          `json:"resourcePath"`
			StateKey        string            `json:"stateKey"`
		} `json:"bindings"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("discover output is not JSON: %v\n%s", err, out)
	}
	if len(got.Bindings) != 2 {
		t.Fatalf("discover found %d bindings, want 2 (events, orders; hidden is unpublished):\n%s", len(got.Bindings), out)
	}
	ev, ord := got.Bindings[0], got.Bindings[1]
	if ord.RecommendedName != "public/orders" || !reflect.DeepEqual(ord.Key, []string{"/id"}) || ord.StateKey != "public%2Forders" ||
		!reflect.DeepEqual(ord.ResourcePath, []string{"public", "orders"}) || ord.ResourceConfig["mode"] != "" {
		t.Errorf("orders binding: %+v", ord)
	}
	row, _ := ord.DocumentSchema["$defs"].(map[string]any)["PublicOrders"].(map[string]any)
	if row == nil {
		t.Fatalf("orders schema has no $defs.PublicOrders:\n%s", out)
	}
	if req := fmt.Sprint(row["required"]); req != "[id]" {
		t.Errorf("orders required = %s, want [id]", req)
	}
	props := row["properties"].(map[string]any)
	want := map[string]string{
		"id":    "The order (source type: non-nullable int4)",
		"code":  "(source type: varchar)",
		"total": "(source type: non-nullable numeric)",
	}
	for col, desc := range want {
		p, _ := props[col].(map[string]any)
		if p == nil || p["description"] != desc {
			t.Errorf("orders.%s description = %v, want %q", col, p["description"], desc)
		}
	}
	if p := props["code"].(map[string]any); fmt.Sprint(p["maxLength"]) != "10" {
		t.Errorf("orders.code schema %v lacks maxLength 10", p)
	}
	if _, ok := props["big"]; ok {
		t.Errorf("generated column big is in the schema")
	}
	if ord.DocumentSchema["x-infer-schema"] != true || !strings.Contains(out, `"delete": true`) || !strings.Contains(out, `"firstWriteWins"`) {
		t.Errorf("orders schema lacks x-infer-schema or reduction annotations")
	}
	if ev.ResourceConfig["mode"] != "Without Primary Key" || !reflect.DeepEqual(ev.Key, []string{"/_meta/source/loc/0", "/_meta/source/loc/1", "/_meta/source/loc/2"}) {
		t.Errorf("keyless events binding: %+v", ev)
	}
	yml := e.mustTool("discover", "--format", "yaml")
	if !strings.Contains(yml, "bindings:\n  - resource:\n      mode: Without Primary Key\n      namespace: public\n      stream: events\n  - resource:\n      namespace: public\n      stream: orders\n") {
		t.Errorf("discover --format yaml lacks a pasteable bindings section:\n%s", yml)
	}
}

// showState runs `state show` and decodes it.
func showState(e *env) (cursor string, tables map[string]map[string]any) {
	e.t.Helper()
	out := e.mustTool("state", "show")
	var got struct {
		Cursor   string                    `json:"cursor"`
		Bindings map[string]map[string]any `json:"bindings"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		e.t.Fatalf("state show output is not JSON: %v\n%s", err, out)
	}
	return got.Cursor, got.Bindings
}

func slotCount(t *testing.T, e *env, slot string) int {
	var n int
	if err := e.conn().QueryRow(context.Background(), `SELECT count(*) FROM pg_replication_slots WHERE slot_name = $1`, slot).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestToolsState: state show and export after a capture ran; reset
// --table re-backfills one table; reset --yes drops the slot and
// re-backfills everything; both refuse while a capture runs.
func TestToolsState(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	slot := e.useSlot("tools_state")
	e.exec(`CREATE TABLE items (id integer PRIMARY KEY)`, `CREATE TABLE other (id integer PRIMARY KEY)`,
		`INSERT INTO items SELECT generate_series(1, 3)`, `INSERT INTO other VALUES (1)`,
		`ALTER PUBLICATION flow_publication ADD TABLE items, other`)
	p := e.start(true)
	if _, _, code := e.tool("state", "reset", "--yes"); code != 1 {
		t.Errorf("state reset while a capture runs exited %d, want 1", code)
	}
	p.stop(t)

	t.Logf("state show:\n%s", e.mustTool("state", "show"))
	cursor, tables := showState(e)
	items := tables["public%2Fitems"]
	if cursor == "" || items["mode"] != "Active" || items["backfilled"] != 3.0 || items["table"] != "public.items" {
		t.Fatalf("state show: cursor %q, items %v", cursor, items)
	}
	exported := strings.TrimSpace(e.mustTool("state", "export"))
	st, err := checkpoint.Parse([]byte(exported))
	if err != nil || st.Validate() != nil || st.Cursor != cursor || st.Bindings["public%2Fitems"].Backfilled != 3 {
		t.Fatalf("state export %s: %v", exported, err)
	}

	// One table again.
	e.mustTool("state", "reset", "--table", "public.items", "--yes")
	if _, tables := showState(e); tables["public%2Fitems"]["mode"] != "Pending" || tables["public%2Fother"]["mode"] != "Active" {
		t.Fatalf("after reset --table: %v", tables)
	}
	p = e.start(true)
	if got := e.consume(e.topic("items"), 6, 20*time.Second); len(got) != 6 {
		t.Errorf("items after reset --table: %d records, want 6 (3 backfilled twice)", len(got))
	}
	p.stop(t)
	if got := e.settle(e.topic("other"), 300*time.Millisecond); len(got) != 1 {
		t.Errorf("other after reset --table public.items: %d records, want 1 (not backfilled again)", len(got))
	}

	// Everything again.
	e.mustTool("state", "reset", "--yes")
	if n := slotCount(t, e, slot); n != 0 {
		t.Errorf("state reset left the slot behind")
	}
	if out := strings.TrimSpace(e.mustTool("state", "export")); out != "{}" {
		t.Errorf("state export after reset: %s, want {}", out)
	}
	p = e.start(true)
	if got := e.consume(e.topic("items"), 9, 20*time.Second); len(got) != 9 {
		t.Errorf("items after reset: %d records, want 9", len(got))
	}
	if got := e.consume(e.topic("other"), 2, 20*time.Second); len(got) != 2 {
		t.Errorf("other after reset: %d records, want 2", len(got))
	}
	p.stop(t)
	if n := slotCount(t, e, slot); n != 1 {
		t.Errorf("the run after state reset did not recreate the slot")
	}
}

// TestToolsImport: a Flow-style state (one table streaming, one halfway
// through its backfill) imported into a new capture resumes exactly there.
func TestToolsImport(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	slot := e.useSlot("tools_import")
	e.exec(`CREATE TABLE done (id integer PRIMARY KEY)`, `CREATE TABLE half (id integer PRIMARY KEY)`,
		`INSERT INTO done SELECT generate_series(1, 3)`, `INSERT INTO half SELECT generate_series(1, 5)`,
		`ALTER PUBLICATION flow_publication ADD TABLE done, half`)
	var lsn string
	if err := e.conn().QueryRow(context.Background(), `SELECT lsn::text FROM pg_create_logical_replication_slot($1, 'pgoutput')`, slot).Scan(&lsn); err != nil {
		t.Fatal(err)
	}
	e.exec(`INSERT INTO done VALUES (4)`)
	scanned, err := rowkey.AppendTuple(nil, int64(2))
	if err != nil {
		t.Fatal(err)
	}
	state := fmt.Sprintf(`{"cursor":%q,"bindingStateV1":{
  "public%%2Fdone":{"mode":"Active","key_columns":["id"],"backfilled":3},
  "public%%2Fhalf":{"mode":"Backfill","key_columns":["id"],"scanned":%q,"backfilled":2}}}`, lsn, base64.StdEncoding.EncodeToString(scanned))
	file := filepath.Join(t.TempDir(), "flow-state.json")
	if err := os.WriteFile(file, []byte(state), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, code := e.tool("state", "import", filepath.Join(t.TempDir(), "missing.json"), "--yes"); code != 1 {
		t.Errorf("importing a missing file exited %d, want 1", code)
	}
	e.mustTool("state", "import", file, "--yes")
	if cursor, tables := showState(e); cursor != lsn || fmt.Sprint(tables["public%2Fhalf"]["scannedDecoded"]) != "[2]" {
		t.Fatalf("state show after import: cursor %s, %v", cursor, tables)
	}

	p := e.start(true)
	half := e.consume(e.topic("half"), 3, 20*time.Second)
	p.stop(t)
	done := e.settle(e.topic("done"), 300*time.Millisecond)
	if len(done) != 1 || withoutMeta(decode(t, done[0]))["id"] != 4.0 {
		t.Errorf("done: want only the change after the cursor (id 4), got %d records", len(done))
	}
	if len(done) == 1 && source(decode(t, done[0]))["snapshot"] == true {
		t.Errorf("done: the row after the cursor came as a backfill row")
	}
	var ids []string
	for _, r := range half {
		ids = append(ids, fmt.Sprint(withoutMeta(decode(t, r))["id"]))
	}
	if strings.Join(ids, ",") != "3,4,5" {
		t.Errorf("half: backfill resumed with ids %v, want 3,4,5 (after the imported scanned key 2)", ids)
	}
}

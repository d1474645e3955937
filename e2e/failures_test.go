package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/pg2kafka/pg2kafka/internal/kafkatest"
	"github.com/pg2kafka/pg2kafka/internal/pgtest"
)

// Distinctive secrets: no output of pg2kafka may ever contain them.
const (
	failSourcePassword = "src-pw-Qx7Lm2Vz9Kd"
	failSASLPassword   = "sasl-pw-Rt4Jw8Hn1Pb"
	failWrongPassword  = "sasl-wrong-Gy5Fc3Ms6Te"
)

var failSecrets = []string{failSourcePassword, failSASLPassword, failWrongPassword}

// failConfig writes the configuration file of a failure case,
// pg2kafka-failure.yaml, with o's knobs and source.password the distinctive
// failSourcePassword, and returns its path.
func failConfig(e *env, o configOpts) string {
	e.t.Helper()
	o.name, o.password = "pg2kafka-failure.yaml", failSourcePassword
	return e.config(o)
}

// failCheckOutput checks the exit status, that the output holds no panic
// and no secret, and that it holds wantErrs errors, which together contain
// every phrase; it returns the errors. Exit status 2 (configuration) prints
// plain lines, one per problem, each naming the file; any other logs JSON,
// whose error-level lines are counted.
func failCheckOutput(t *testing.T, code, wantCode, wantErrs int, out string, phrases ...string) string {
	t.Helper()
	if code != wantCode {
		t.Errorf("exit status %d, want %d", code, wantCode)
	}
	for _, bad := range []string{"panic:", "goroutine "} {
		if strings.Contains(out, bad) {
			t.Errorf("output contains %q", bad)
		}
	}
	for _, s := range failSecrets {
		if strings.Contains(out, s) {
			t.Errorf("output leaks the password %q", s)
		}
	}
	var errs []string
	for _, line := range strings.Split(out, "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		if wantCode == 2 {
			if !strings.Contains(line, ".yaml:") {
				t.Errorf("a configuration error line does not name the file and line: %s", line)
			}
			errs = append(errs, line)
			continue
		}
		var rec struct {
			Level   string `json:"level"`
			Message string `json:"message"`
			Error   string `json:"error"`
		}
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Errorf("output line is not a JSON log record: %s", line)
			continue
		}
		if rec.Level == "error" || rec.Level == "fatal" || rec.Level == "panic" {
			errs = append(errs, rec.Message)
		}
	}
	if len(errs) != wantErrs {
		t.Errorf("got %d error lines, want %d", len(errs), wantErrs)
	}
	msg := strings.Join(errs, "\n")
	for _, ph := range phrases {
		if !strings.Contains(msg, ph) {
			t.Errorf("the error does not mention %q", ph)
		}
	}
	if t.Failed() {
		t.Logf("output:\n%s", out)
	} else if msg != "" {
		t.Logf("error: %s", msg)
	}
	return msg
}

// failSlot reads the capture's slot: whether it exists and its
// confirmed_flush_lsn.
func failSlot(t *testing.T, url, slot string) (bool, uint64) {
	t.Helper()
	var s *string
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	err = conn.QueryRow(ctx, `SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = $1 AND database = current_database()`, slot).Scan(&s)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, 0
	}
	if err != nil {
		t.Fatal(err)
	}
	if s == nil {
		return true, 0
	}
	l, err := pglogrepl.ParseLSN(*s)
	if err != nil {
		t.Fatal(err)
	}
	return true, uint64(l)
}

// failNoSlot checks that a capture that failed before streaming left no
// slot behind, so nothing was confirmed to PostgreSQL.
func failNoSlot(t *testing.T, e *env) {
	t.Helper()
	if exists, lsn := failSlot(t, e.dbURL, e.slot); exists {
		t.Errorf("a failed start left slot %s behind (confirmed_flush_lsn %s)", e.slot, pglogrepl.LSN(lsn))
	}
}

// failConfirmedDurable checks that the slot confirms nothing past the last
// committed checkpoint.
func failConfirmedDurable(t *testing.T, e *env, slot string) {
	t.Helper()
	exists, confirmed := failSlot(t, e.dbURL, slot)
	if !exists {
		return
	}
	if cp := checkpointCursor(t, e); confirmed > cp {
		t.Errorf("slot confirmed %s, past the last committed checkpoint's cursor %s", pglogrepl.LSN(confirmed), pglogrepl.LSN(cp))
	}
}

// A database that cannot be captured stops pg2kafka at once (exit 1) with
// one error that names the cause and the SQL that fixes it; no slot is
// created.
func TestFailurePrerequisites(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		// setup prepares the database and returns the configuration.
		setup   func(t *testing.T) (*env, configOpts)
		phrases []string
	}{
		{
			name: "wal_level replica",
			setup: func(t *testing.T) (*env, configOpts) {
				srv, err := pgtest.Start("wal_level = replica")
				if err != nil {
					t.Skipf("cannot start a separate PostgreSQL server: %v", err)
				}
				t.Cleanup(srv.Stop)
				url := srv.NewDatabase(t)
				pgtest.Exec(t, url,
					`CREATE TABLE items (id integer PRIMARY KEY)`,
					`CREATE PUBLICATION flow_publication FOR TABLE items`)
				e := &env{t: t, dbURL: url, brokers: kafkatest.Brokers(t), dir: t.TempDir(), prefix: failPrefix()}
				return e, configOpts{}
			},
			phrases: []string{"wal_level", `"replica"`, "logical", "ALTER SYSTEM SET wal_level = logical", "restart"},
		},
		{
			name: "role without REPLICATION",
			setup: func(t *testing.T) (*env, configOpts) {
				e := newEnv(t)
				role := fmt.Sprintf("capt_%d", time.Now().UnixNano()%1e9)
				e.exec(`CREATE ROLE `+role+` LOGIN PASSWORD 'x'`,
					`CREATE TABLE items (id integer PRIMARY KEY)`,
					`CREATE TABLE flow_watermarks (slot TEXT PRIMARY KEY, watermark TEXT)`,
					`ALTER PUBLICATION flow_publication ADD TABLE items, flow_watermarks`,
					`GRANT SELECT ON items TO `+role,
					`GRANT ALL ON flow_watermarks TO `+role)
				t.Cleanup(func() {
					pgtest.Exec(t, e.dbURL, `DROP OWNED BY `+role)
					pgtest.Exec(t, pgtest.Shared(t).AdminURL, `DROP ROLE IF EXISTS `+role)
				})
				return e, configOpts{user: role}
			},
			phrases: []string{"user \"capt_", "REPLICATION", "ALTER ROLE"},
		},
		{
			// Fails while runCapture resolves bindings before db.Check: it
			// then reports "no tables to capture: publication ... has none
			// (ALTER PUBLICATION ...)", whose fix cannot work.
			name: "missing publication",
			setup: func(t *testing.T) (*env, configOpts) {
				e := newEnv(t)
				e.exec(`CREATE TABLE items (id integer PRIMARY KEY)`, `DROP PUBLICATION flow_publication`)
				return e, configOpts{}
			},
			phrases: []string{`publication "flow_publication"`, "does not exist", "CREATE PUBLICATION"},
		},
		{
			name: "missing publication with bindings",
			setup: func(t *testing.T) (*env, configOpts) {
				e := newEnv(t)
				e.exec(`CREATE TABLE items (id integer PRIMARY KEY)`, `DROP PUBLICATION flow_publication`)
				return e, configOpts{mutate: func(s string) string {
					return s + "bindings:\n  - resource: {namespace: public, stream: items}\n"
				}}
			},
			phrases: []string{`publication "flow_publication"`, "does not exist", "CREATE PUBLICATION"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e, fc := c.setup(t)
			code, out := e.runToExit(failConfig(e, fc), 60*time.Second)
			failCheckOutput(t, code, 1, 1, out, c.phrases...)
			failNoSlot(t, e)
		})
	}
}

func failPrefix() string { return uniquePrefix() }

// An unreachable Kafka cluster, a topic pg2kafka may not use and wrong SASL
// credentials each end pg2kafka (exit 1) with one error naming the cause
// and the setting to fix, and leave no slot.
func TestFailureKafka(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		setup   func(t *testing.T, e *env) configOpts
		timeout time.Duration
		phrases []string
	}{
		{
			name: "broker unreachable",
			setup: func(t *testing.T, e *env) configOpts {
				l, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				addr := l.Addr().String()
				l.Close()
				return configOpts{brokers: []string{addr}, kafka: []string{"connect_timeout: 5s"}}
			},
			// The sink retries for kafka.connect_timeout before giving up.
			timeout: 40 * time.Second,
			phrases: []string{"127.0.0.1:", "unreachable", "kafka.brokers"},
		},
		{
			name: "topic not authorized",
			setup: func(t *testing.T, e *env) configOpts {
				return configOpts{brokers: failACLCluster(t, e), kafka: []string{
					"sasl: {mechanism: SCRAM-SHA-256, username: capture, password: " + failSASLPassword + "}",
				}}
			},
			timeout: 60 * time.Second,
			phrases: []string{`topic "{items}"`, "not authorized"}, // {items}: the test's topic
		},
		{
			name: "wrong SASL password",
			setup: func(t *testing.T, e *env) configOpts {
				return configOpts{brokers: failACLCluster(t, e), kafka: []string{
					"sasl: {mechanism: SCRAM-SHA-256, username: capture, password: " + failWrongPassword + "}",
					"connect_timeout: 5s",
				}}
			},
			// kfake closes the connection on a failed SCRAM exchange instead
			// of answering SASL_AUTHENTICATION_FAILED, so pg2kafka cannot
			// tell it from an unreachable cluster and retries for
			// kafka.connect_timeout; the error must still point at the
			// credentials.
			timeout: 40 * time.Second,
			phrases: []string{"kafka.sasl", "SASL", "password"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.exec(`CREATE TABLE items (id integer PRIMARY KEY)`,
				`ALTER PUBLICATION flow_publication ADD TABLE items`,
				`INSERT INTO items VALUES (1)`)
			fc := c.setup(t, e)
			code, out := e.runToExit(failConfig(e, fc), c.timeout)
			var phrases []string
			for _, p := range c.phrases {
				phrases = append(phrases, strings.ReplaceAll(p, "{items}", e.topic("items")))
			}
			failCheckOutput(t, code, 1, 1, out, phrases...)
			failNoSlot(t, e)
		})
	}
}

// failACLCluster starts a kfake cluster with SASL and ACLs, whose user
// "capture" (SCRAM-SHA-256, failSASLPassword) may use the checkpoint topic,
// the capture's transactional ID and idempotent writes, but no other topic.
func failACLCluster(t *testing.T, e *env) []string {
	t.Helper()
	if kafkatest.External() {
		t.Skip("needs kfake's ACLs")
	}
	allow := func(res kmsg.ACLResourceType, name string, pattern kmsg.ACLResourcePatternType, op kmsg.ACLOperation) kfake.ACL {
		return kfake.ACL{Resource: res, Name: name, Pattern: pattern, Operation: op, Allow: true}
	}
	lit, pre := kmsg.ACLResourcePatternTypeLiteral, kmsg.ACLResourcePatternTypePrefixed
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.EnableSASL(), kfake.EnableACLs(),
		kfake.Superuser("SCRAM-SHA-256", "admin", "admin"),
		kfake.User("SCRAM-SHA-256", "capture", failSASLPassword,
			allow(kmsg.ACLResourceTypeTopic, e.prefix+".checkpoints", lit, kmsg.ACLOperationAll),
			allow(kmsg.ACLResourceTypeTransactionalId, "pg2kafka-", pre, kmsg.ACLOperationAll),
			allow(kmsg.ACLResourceTypeCluster, "kafka-cluster", lit, kmsg.ACLOperationIdempotentWrite),
			allow(kmsg.ACLResourceTypeCluster, "kafka-cluster", lit, kmsg.ACLOperationDescribe),
		))
	if err != nil {
		t.Fatalf("starting kfake with ACLs: %v", err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()
}

// A configuration error is reported before anything connects: exit 2, one
// line naming the file, line and key with a suggestion, and no secret.
func TestFailureConfig(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		mutate  func(string) string
		errs    int
		phrases []string
	}{
		{
			name: "unknown kafka key",
			mutate: func(s string) string {
				return strings.Replace(s, "  topic_prefix:", "  broker: [b:9092]\n  topic_prefix:", 1)
			},
			errs:    1,
			phrases: []string{"pg2kafka: ", "pg2kafka-failure.yaml:10: kafka.broker: unknown field", `did you mean "brokers"`},
		},
		{
			// The typo also leaves the required brokers missing: two
			// problems, both reported at once.
			name:    "misspelt required key",
			mutate:  func(s string) string { return strings.Replace(s, "  brokers:", "  broker:", 1) },
			errs:    2,
			phrases: []string{"pg2kafka-failure.yaml:9: kafka.broker: unknown field", `did you mean "brokers"`, "missing 'brokers'"},
		},
		{
			name: "password under an unknown key",
			mutate: func(s string) string {
				return strings.Replace(s, "    sslmode: disable\n", "    sslmode: disable\n    passwd: "+failSourcePassword+"\n", 1)
			},
			errs:    1,
			phrases: []string{"pg2kafka-failure.yaml:8: source.advanced.passwd: unknown field"},
		},
		{
			// A YAML syntax error on the password's line must not quote it.
			name:    "unclosed list on the password's line",
			mutate:  func(s string) string { return strings.Replace(s, "  password: ", "  password: [", 1) },
			errs:    1,
			phrases: []string{"pg2kafka-failure.yaml:"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := &env{t: t, dbURL: "postgres://postgres@127.0.0.1:1/nodb", brokers: []string{"127.0.0.1:1"}, dir: t.TempDir(), prefix: "pg2kafka"}
			code, out := e.runToExit(failConfig(e, configOpts{mutate: c.mutate}), 30*time.Second)
			failCheckOutput(t, code, 2, c.errs, out, c.phrases...)
		})
	}
}

// failHoldSlot opens a replication connection that streams slot, as
// another capture would; close the returned connection to let go.
func failHoldSlot(t *testing.T, url, slot string) *pgconn.PgConn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	pc, err := pgconn.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	pc.RuntimeParams["replication"] = "database"
	conn, err := pgconn.ConnectConfig(ctx, pc)
	if err != nil {
		t.Fatal(err)
	}
	err = pglogrepl.StartReplication(ctx, conn, slot, 0, pglogrepl.StartReplicationOptions{
		Mode:       pglogrepl.LogicalReplication,
		PluginArgs: []string{`"proto_version" '1'`, `"publication_names" 'flow_publication'`},
	})
	if err != nil {
		conn.Close(context.Background())
		t.Fatalf("holding slot %s: %v", slot, err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// While another process streams the slot, pg2kafka with
// kafka.slot_busy_retries: 2 gives up with one clear error (exit 1); with the
// default it stands by and starts streaming once the slot is released.
// The slot never confirms past the last committed checkpoint.
func TestFailureSlotBusy(t *testing.T) {
	t.Parallel()
	// Slots are per server: a name of its own keeps this test's slot out of
	// the prerequisite checks of the tests running beside it.
	const slot = "flow_slot_busy"
	e := newEnv(t)
	e.useSlot(slot)
	e.exec(`CREATE TABLE items (id integer PRIMARY KEY)`,
		`ALTER PUBLICATION flow_publication ADD TABLE items`)
	// A first run creates the slot and checkpoints a cursor in it, so the
	// next start resumes the slot instead of recreating it.
	p := e.start(true)
	e.exec(`INSERT INTO items VALUES (1)`)
	if got := e.consume(e.topic("items"), 1, 30*time.Second); len(got) != 1 {
		t.Fatalf("got %d records, want 1", len(got))
	}
	p.stop(t)
	failConfirmedDurable(t, e, slot)

	holder := failHoldSlot(t, e.dbURL, slot)

	// Bounded retries: two warnings, then one error, exit 1.
	code, out := e.runToExit(failConfig(e, configOpts{kafka: []string{"slot_busy_retries: 2"}}), 60*time.Second)
	if n := strings.Count(out, "another capture holds the slot; retrying"); n != 2 {
		t.Errorf("logged %d retries, want 2", n)
	}
	failCheckOutput(t, code, 1, 1, out, `another capture holds replication slot "`+slot+`"`, "source.advanced.slotName", "active_pid")
	failConfirmedDurable(t, e, slot)

	// With the default, pg2kafka stands by until the slot is free.
	p = e.run(failConfig(e, configOpts{}))
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(p.output(), "standing by") {
		if time.Now().After(deadline) {
			t.Fatalf("pg2kafka did not report the busy slot within 30s\n%s", p.output())
		}
		select {
		case <-p.exited:
			t.Fatalf("pg2kafka exited while the slot was busy: %v\n%s", p.err, p.output())
		case <-time.After(100 * time.Millisecond):
		}
	}
	select {
	case <-p.ready:
		t.Fatalf("pg2kafka streams while another process holds the slot\n%s", p.output())
	case <-time.After(time.Second):
	}
	holder.Close(context.Background())
	select {
	case <-p.ready:
	case <-p.exited:
		t.Fatalf("pg2kafka exited instead of taking the released slot: %v\n%s", p.err, p.output())
	case <-time.After(30 * time.Second):
		t.Fatalf("pg2kafka did not stream within 30s of the slot's release\n%s", p.output())
	}
	e.exec(`INSERT INTO items VALUES (2)`)
	if got := e.consume(e.topic("items"), 2, 30*time.Second); len(got) != 2 {
		t.Fatalf("got %d records, want 2", len(got))
	}
	p.stop(t)
	failCheckOutput(t, p.cmd.ProcessState.ExitCode(), 0, 0, p.output())
	failConfirmedDurable(t, e, slot)
}

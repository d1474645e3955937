package pgtest_test

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/pg2kafka/pg2kafka/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// The harness must give a logical-decoding-capable server and isolated databases.
func TestServerIsLogicalAndDatabasesAreFresh(t *testing.T) {
	srv := pgtest.Shared(t)
	a, b := srv.NewDatabase(t), srv.NewDatabase(t)
	if a == b {
		t.Fatalf("two databases share one URL: %s", a)
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var level string
	if err := conn.QueryRow(ctx, "SHOW wal_level").Scan(&level); err != nil {
		t.Fatal(err)
	}
	if level != "logical" {
		t.Fatalf("wal_level = %q, want logical", level)
	}
	pgtest.Exec(t, a, "CREATE TABLE x (id int primary key)")
	pgtest.Exec(t, b, "CREATE TABLE x (id int primary key)") // would fail if a and b were one database
}

// PG2KAFKA_TEST_PG_VERSION must give a server of that major version.
func TestServerVersionIsTheRequestedOne(t *testing.T) {
	want := os.Getenv(pgtest.EnvVersion)
	if want == "" || os.Getenv(pgtest.EnvURL) != "" || os.Getenv(pgtest.EnvBinDir) != "" {
		t.Skip(pgtest.EnvVersion + " not set (or overridden)")
	}
	srv := pgtest.Shared(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, srv.AdminURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var num int
	if err := conn.QueryRow(ctx, "SELECT current_setting('server_version_num')::int").Scan(&num); err != nil {
		t.Fatal(err)
	}
	if got := strconv.Itoa(num / 10000); got != want {
		t.Fatalf("server_version_num = %d, want major %s", num, want)
	}
}

// A server that cannot start (here: a setting it does not know) is
// reported at once, with its log, not after the connection timeout.
func TestStartReportsAServerThatExits(t *testing.T) {
	begin := time.Now()
	srv, err := pgtest.Start("no_such_setting = 1")
	if err == nil {
		srv.Stop()
		t.Fatal("Start succeeded with an unknown setting")
	}
	if d := time.Since(begin); d > 30*time.Second {
		t.Errorf("Start took %s to report the failure", d)
	}
	if !strings.Contains(err.Error(), "no_such_setting") {
		t.Errorf("the error lacks the server's log: %v", err)
	}
}

// Restart closes every connection (a fast shutdown) and brings the server
// back on the same port with its data; the shared server refuses it only
// by convention, so the test starts one of its own.
func TestRestartKeepsDataAndPort(t *testing.T) {
	srv, err := pgtest.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	url := srv.NewDatabase(t)
	pgtest.Exec(t, url, "CREATE TABLE x (id int primary key)", "INSERT INTO x VALUES (1)")
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	if err := conn.Ping(ctx); err == nil {
		t.Error("a connection from before the restart still works")
	}
	var n int
	conn2, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn2.Close(ctx)
	if err := conn2.QueryRow(ctx, "SELECT count(*) FROM x").Scan(&n); err != nil || n != 1 {
		t.Fatalf("after the restart: %d rows, %v", n, err)
	}
}

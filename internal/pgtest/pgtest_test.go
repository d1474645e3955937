package pgtest_test

import (
	"context"
	"testing"

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

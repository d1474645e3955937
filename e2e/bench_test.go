package e2e

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"

	"github.com/pg2kafka/pg2kafka/checkpoint"
	"github.com/pg2kafka/pg2kafka/internal/pgtest"
)

// benchRows is the table size of the benchmarks (PG2KAFKA_BENCH_ROWS).
func benchRows() int {
	if n, err := strconv.Atoi(os.Getenv("PG2KAFKA_BENCH_ROWS")); err == nil && n > 0 {
		return n
	}
	return 1_000_000
}

const benchTable = `CREATE TABLE bench (id bigint PRIMARY KEY, a integer, b text, c timestamptz, d numeric(10,2))`

func benchFill(e *env, from, to int) {
	e.exec(fmt.Sprintf(`INSERT INTO bench SELECT g, g %% 1000, md5(g::text), '2024-01-01'::timestamptz + g * interval '1 second', (g %% 100000) / 100.0 FROM generate_series(%d, %d) g`, from, to))
}

// waitCheckpoint polls the capture's checkpoint until done says so.
func waitCheckpoint(b *testing.B, e *env, d time.Duration, done func(*checkpoint.State) bool) {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if st := currentCheckpoint(e.t, e); st != nil && done(st) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	b.Fatalf("not done within %s", d)
}

// BenchmarkBackfillVsCOPY reports pg2kafka's backfill throughput as a
// fraction of `COPY table TO STDOUT` on the same table in the same run.
func BenchmarkBackfillVsCOPY(b *testing.B) {
	e := newEnv(b)
	n := benchRows()
	e.exec(benchTable)
	benchFill(e, 1, n)
	e.exec(`VACUUM ANALYZE bench`, `ALTER PUBLICATION flow_publication ADD TABLE bench`)

	conn, err := pgx.Connect(context.Background(), e.dbURL)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(context.Background())
	start := time.Now()
	if _, err := conn.PgConn().CopyTo(context.Background(), io.Discard, `COPY bench TO STDOUT`); err != nil {
		b.Fatal(err)
	}
	copyDur := time.Since(start)

	b.ResetTimer()
	start = time.Now()
	p := e.start(false)
	waitCheckpoint(b, e, 10*time.Minute, func(st *checkpoint.State) bool {
		ts := st.Bindings["public%2Fbench"]
		return ts != nil && ts.Mode == checkpoint.ModeActive
	})
	bfDur := time.Since(start)
	b.StopTimer()
	p.stop(e.t)
	copyRate, bfRate := float64(n)/copyDur.Seconds(), float64(n)/bfDur.Seconds()
	b.ReportMetric(copyRate, "copy_rows/s")
	b.ReportMetric(bfRate, "backfill_rows/s")
	b.ReportMetric(bfRate/copyRate, "ratio_vs_copy")
	b.Logf("%d rows: COPY %s (%.0f rows/s); pg2kafka backfill to Kafka %s (%.0f rows/s, %.2f of COPY)",
		n, copyDur.Round(time.Millisecond), copyRate, bfDur.Round(time.Millisecond), bfRate, bfRate/copyRate)
}

// BenchmarkReplicationVsRecvlogical reports pg2kafka's catch-up
// throughput on a backlog of committed changes as a fraction of
// pg_recvlogical decoding the same backlog (pgoutput, to /dev/null).
func BenchmarkReplicationVsRecvlogical(b *testing.B) {
	e := newEnv(b)
	srv := pgtest.Shared(e.t)
	if srv.BinDir == "" {
		b.Skip("pg_recvlogical needs the local server binaries (PG2KAFKA_TEST_PG_URL is set)")
	}
	recvlogical, err := srv.Tool("pg_recvlogical")
	if err != nil {
		b.Skip(err)
	}
	n := benchRows()
	e.exec(benchTable, `ALTER PUBLICATION flow_publication ADD TABLE bench`)
	e.advanced = []string{"skip_backfills: public.bench"}
	p := e.start(true)
	p.stop(e.t)
	e.exec(`SELECT pg_create_logical_replication_slot('bench_recv', 'pgoutput')`)
	for from := 1; from <= n; from += 10_000 {
		benchFill(e, from, min(from+9_999, n))
	}
	var target string
	conn, err := pgx.Connect(context.Background(), e.dbURL)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(context.Background())
	if err := conn.QueryRow(context.Background(), `SELECT pg_current_wal_insert_lsn()::text`).Scan(&target); err != nil {
		b.Fatal(err)
	}
	targetLSN, _ := pglogrepl.ParseLSN(target)

	start := time.Now()
	cmd := exec.Command(recvlogical, "-d", e.dbURL, "--slot", "bench_recv", "--start",
		"--endpos", target, "-o", "proto_version=1", "-o", "publication_names=flow_publication", "-f", "/dev/null", "--no-loop")
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("pg_recvlogical: %v\n%s", err, out)
	}
	recvDur := time.Since(start)
	e.exec(`SELECT pg_drop_replication_slot('bench_recv')`)

	b.ResetTimer()
	start = time.Now()
	p = e.start(false)
	waitCheckpoint(b, e, 10*time.Minute, func(st *checkpoint.State) bool {
		l, ok, _ := st.CursorLSN()
		return ok && uint64(l) >= uint64(targetLSN)
	})
	capDur := time.Since(start)
	b.StopTimer()
	p.stop(e.t)
	recvRate, capRate := float64(n)/recvDur.Seconds(), float64(n)/capDur.Seconds()
	b.ReportMetric(recvRate, "recvlogical_rows/s")
	b.ReportMetric(capRate, "capture_rows/s")
	b.ReportMetric(capRate/recvRate, "ratio_vs_recvlogical")
	b.Logf("%d changes: pg_recvlogical %s (%.0f rows/s); pg2kafka to Kafka %s (%.0f rows/s, %.2f of pg_recvlogical)",
		n, recvDur.Round(time.Millisecond), recvRate, capDur.Round(time.Millisecond), capRate, capRate/recvRate)
}

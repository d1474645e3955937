package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kgo"

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

// BenchmarkHugeTransactionDuringBackfill reports pg2kafka's peak RSS while
// one transaction of PG2KAFKA_BENCH_TXN_ROWS rows (default 5,000,000)
// arrives during the backfill of a table of benchRows()/10 rows: the
// window keeps only its chunk's keys, the transaction is split across
// Kafka transactions, and memory stays bounded by the chunk and the
// producer's buffer, not by the transaction.
func BenchmarkHugeTransactionDuringBackfill(b *testing.B) {
	e := newEnv(b)
	txnRows := 5_000_000
	if n, err := strconv.Atoi(os.Getenv("PG2KAFKA_BENCH_TXN_ROWS")); err == nil && n > 0 {
		txnRows = n
	}
	e.exec(benchTable, `CREATE TABLE bulk (id bigint PRIMARY KEY, payload text)`)
	benchFill(e, 1, benchRows()/10)
	e.exec(`VACUUM ANALYZE bench`, `ALTER PUBLICATION flow_publication ADD TABLE bench, bulk`)
	e.advanced = []string{"backfill_chunk_size: 1000"}
	b.ResetTimer()
	start := time.Now()
	p := e.start(false)
	waitCheckpoint(b, e, time.Minute, func(st *checkpoint.State) bool {
		ts := st.Bindings["public%2Fbench"]
		return ts != nil && ts.Backfilled > 0
	})
	conn := e.conn() // no statement deadline: 5,000,000 rows take minutes
	if _, err := conn.Exec(context.Background(), fmt.Sprintf(`INSERT INTO bulk SELECT g, md5(g::text) FROM generate_series(1, %d) g`, txnRows)); err != nil {
		b.Fatal(err)
	}
	conn.Close(context.Background())
	committed := time.Since(start)
	// Done when the backfill is and the transaction's last row is in Kafka.
	last := fmt.Sprintf(`{"id":%d}`, txnRows)
	waitCheckpoint(b, e, 30*time.Minute, func(st *checkpoint.State) bool {
		ts := st.Bindings["public%2Fbench"]
		return ts != nil && ts.Mode == checkpoint.ModeActive
	})
	cl := readCommitted(e.t, e.brokers, e.topic("bulk"))
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	seen := 0
	for found := false; !found && ctx.Err() == nil; {
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
			seen++
			found = found || string(r.Key) == last
		})
	}
	total := time.Since(start)
	b.StopTimer()
	peak := peakRSS(e.t, p.cmd.Process.Pid)
	p.stop(e.t)
	b.ReportMetric(float64(peak>>20), "peak_rss_MiB")
	b.Logf("%d-row transaction (committed after %s) during a %d-row backfill: relayed in %s; %d records read; peak RSS of pg2kafka %d MiB",
		txnRows, committed.Round(time.Second), benchRows()/10, total.Round(time.Second), seen, peak>>20)
}

// BenchmarkStreamingLatency writes single-row transactions at a steady
// rate (PG2KAFKA_BENCH_RATES, default 1000 and 5000 per second) for
// PG2KAFKA_BENCH_SECONDS (default 60), into one table and then spread over
// 20 tables, and reports the latency from each PostgreSQL commit to a
// read_committed consumer (p50, p99, max) and whether every change arrived.
func BenchmarkStreamingLatency(b *testing.B) {
	rates := []int{1000, 5000}
	if s := os.Getenv("PG2KAFKA_BENCH_RATES"); s != "" {
		rates = nil
		for _, f := range strings.Split(s, ",") {
			if n, err := strconv.Atoi(f); err == nil && n > 0 {
				rates = append(rates, n)
			}
		}
	}
	seconds := 60
	if n, err := strconv.Atoi(os.Getenv("PG2KAFKA_BENCH_SECONDS")); err == nil && n > 0 {
		seconds = n
	}
	for _, tables := range []int{1, 20} {
		for _, rate := range rates {
			b.Run(fmt.Sprintf("tables=%d/rate=%d", tables, rate), func(b *testing.B) {
				benchLatency(b, tables, rate, time.Duration(seconds)*time.Second)
			})
		}
	}
}

func benchLatency(b *testing.B, tables, rate int, d time.Duration) {
	e := newEnv(b)
	var names []string
	for i := range tables {
		name := fmt.Sprintf("lat%d", i)
		names = append(names, name)
		e.exec(fmt.Sprintf(`CREATE TABLE %s (id bigint PRIMARY KEY, at timestamptz NOT NULL DEFAULT clock_timestamp())`, name),
			fmt.Sprintf(`ALTER PUBLICATION flow_publication ADD TABLE %s`, name))
	}
	p := e.start(true)
	defer p.stop(e.t)

	// Consumers: one client reading every table read_committed.
	topics := make([]string, len(names))
	for i, n := range names {
		topics[i] = e.topic(n)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.brokers...), kgo.ConsumeTopics(topics...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.FetchMaxWait(10*time.Millisecond))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	total := int(d.Seconds()) * rate
	lat := make([]time.Duration, 0, total)
	got := make(chan struct{})
	go func() {
		defer close(got)
		ctx, cancel := context.WithTimeout(context.Background(), d+2*time.Minute)
		defer cancel()
		for len(lat) < total && ctx.Err() == nil {
			fs := cl.PollFetches(ctx)
			now := time.Now()
			fs.EachRecord(func(r *kgo.Record) {
				if r.Value == nil {
					return
				}
				var doc struct {
					Meta struct {
						Source struct {
							TSMillis int64 `json:"ts_ms"`
						} `json:"source"`
					} `json:"_meta"`
				}
				if json.Unmarshal(r.Value, &doc) == nil {
					lat = append(lat, now.Sub(time.UnixMilli(doc.Meta.Source.TSMillis)))
				}
			})
		}
	}()

	// Writers: 4 connections, each paced to rate/4 single-row transactions
	// a second. synchronous_commit on: logical decoding sends only flushed
	// WAL, and the test server's default (off) would add the WAL writer's
	// 200 ms delay to every change (fsync is off there, so flushing is cheap).
	const writers = 4
	var wg sync.WaitGroup
	start := time.Now()
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := pgx.Connect(context.Background(), e.dbURL)
			if err != nil {
				b.Error(err)
				return
			}
			defer conn.Close(context.Background())
			if _, err := conn.Exec(context.Background(), `SET synchronous_commit = on`); err != nil {
				b.Error(err)
				return
			}
			per := total / writers
			interval := time.Duration(float64(time.Second) * writers / float64(rate))
			next := time.Now()
			for i := range per {
				id := int64(w*per + i)
				table := names[int(id)%len(names)]
				if _, err := conn.Exec(context.Background(), `INSERT INTO `+table+` (id) VALUES ($1)`, id); err != nil {
					b.Error(err)
					return
				}
				next = next.Add(interval)
				if wait := time.Until(next); wait > 0 {
					time.Sleep(wait)
				}
			}
		}()
	}
	wg.Wait()
	wrote := time.Since(start)
	<-got
	slices.Sort(lat)
	pct := func(p float64) time.Duration {
		if len(lat) == 0 {
			return 0
		}
		return lat[min(len(lat)-1, int(p*float64(len(lat))))]
	}
	b.ReportMetric(float64(total)/wrote.Seconds(), "written_txn/s")
	b.ReportMetric(float64(pct(0.5).Microseconds())/1000, "p50_ms")
	b.ReportMetric(float64(pct(0.99).Microseconds())/1000, "p99_ms")
	b.ReportMetric(float64(len(lat)), "delivered")
	peak := peakRSS(e.t, p.cmd.Process.Pid)
	b.Logf("%d tables, %d single-row transactions at %.0f/s over %s: %d delivered read_committed; commit→consumer p50 %s, p99 %s, max %s; peak RSS %d MiB",
		tables, total, float64(total)/wrote.Seconds(), wrote.Round(time.Second), len(lat), pct(0.5), pct(0.99), pct(1), peak>>20)
	if len(lat) != total {
		b.Errorf("%d of %d changes delivered", len(lat), total)
	}
}

package e2e

import (
	"cmp"
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
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/pg2kafka/pg2kafka/checkpoint"
	"github.com/pg2kafka/pg2kafka/internal/kafkatest"
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

// eventsTable is the table of the throughput benchmarks: a bigint key,
// an integer, text, numeric(12,2), jsonb, text and timestamptz, about 280
// bytes a row.
const eventsTable = `CREATE TABLE events (id bigint PRIMARY KEY, kind integer NOT NULL, name text NOT NULL,
	amount numeric(12,2), attrs jsonb, note text, at timestamptz NOT NULL)`

// eventsRows is the SELECT list of one events row numbered g.
const eventsRows = `g, g %% 97, 'customer-' || g, (g %% 100000) / 100.0,
	jsonb_build_object('sku', 'SKU-' || (g %% 5000), 'qty', g %% 7, 'tags', jsonb_build_array('a', 'b', g %% 3)),
	md5(g::text) || md5((g * 7)::text) || md5((g * 13)::text), '2024-01-01'::timestamptz + g * interval '1 second'`

func eventsFill(e *env, from, to int) {
	e.exec(fmt.Sprintf(`INSERT INTO events SELECT `+eventsRows+` FROM generate_series(%d, %d) g`, from, to))
}

// waitCheckpoint polls the capture's checkpoint until done says so.
func waitCheckpoint(b *testing.B, e *env, d time.Duration, done func(*checkpoint.State) bool) {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if st := currentCheckpoint(e.t, e); st != nil && done(st) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	b.Fatalf("not done within %s", d)
}

// cpuSeconds is the CPU time (user and system) process pid has used.
func cpuSeconds(t testing.TB, pid int) float64 {
	t.Helper()
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		t.Fatalf("reading CPU time: %v", err)
	}
	// Fields after the command (which may hold spaces) start at state;
	// utime and stime are the 14th and 15th fields, in clock ticks (100/s).
	f := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+2:]))
	utime, _ := strconv.ParseFloat(f[11], 64)
	stime, _ := strconv.ParseFloat(f[12], 64)
	return (utime + stime) / 100
}

// summary appends one figure to the file PG2KAFKA_BENCH_SUMMARY names (make
// bench prints it as a table): the figure, its value, what it is compared
// with, the ratio, and the target.
func summary(b *testing.B, figure, value, reference string, ratio float64, target string, met bool) {
	path := os.Getenv("PG2KAFKA_BENCH_SUMMARY")
	if path == "" {
		return
	}
	broker := "kfake"
	if os.Getenv(kafkatest.EnvKafka) != "kfake" && !kafkatest.External() {
		broker = "Kafka " + kafkatest.Version()
	}
	verdict := "met"
	if !met {
		verdict = "MISSED"
	}
	if target == "" {
		verdict = ""
	}
	r := ""
	if ratio > 0 {
		r = fmt.Sprintf("%.2f", ratio)
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		b.Logf("summary: %v", err)
		return
	}
	defer f.Close()
	fmt.Fprintf(f, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", broker, figure, value, reference, r, target, verdict)
}

// versionText is the benchmark server's PostgreSQL version.
func versionText(e *env) string {
	conn := e.conn()
	defer conn.Close(context.Background())
	var v string
	_ = conn.QueryRow(context.Background(), `SHOW server_version`).Scan(&v)
	return v
}

// benchBackfillRate is the backfill rate of the BenchmarkBackfillVsCOPY run,
// the reference of the large backfill.
var benchBackfillRate float64

// BenchmarkBackfillVsCOPY reports pg2kafka's backfill throughput of the
// events table (PG2KAFKA_BENCH_ROWS rows) as a fraction of `COPY events TO
// STDOUT` in the same run, with pg2kafka's peak RSS and CPU seconds per
// million rows.
func BenchmarkBackfillVsCOPY(b *testing.B) {
	rate := benchBackfill(b, benchRows())
	benchBackfillRate = rate
}

// BenchmarkBackfillLarge backfills PG2KAFKA_BENCH_LARGE_ROWS rows (e.g.
// 10,000,000; skipped when unset) and compares its rate with the
// 1,000,000-row run's: a large table must hold its rate and its memory.
func BenchmarkBackfillLarge(b *testing.B) {
	n, err := strconv.Atoi(os.Getenv("PG2KAFKA_BENCH_LARGE_ROWS"))
	if err != nil || n <= 0 {
		b.Skip("set PG2KAFKA_BENCH_LARGE_ROWS (e.g. 10000000) to run it")
	}
	rate := benchBackfill(b, n)
	if benchBackfillRate > 0 {
		ratio := rate / benchBackfillRate
		summary(b, fmt.Sprintf("backfill %d rows vs %d rows", n, benchRows()), fmt.Sprintf("%.0f rows/s", rate),
			fmt.Sprintf("%.0f rows/s", benchBackfillRate), ratio, ">= 0.90", ratio >= 0.9)
	}
}

// benchCompression applies PG2KAFKA_BENCH_COMPRESSION (kafka.compression:
// none, lz4, zstd, snappy, gzip) to the run, for choosing the default.
func benchCompression(e *env) {
	if c := os.Getenv("PG2KAFKA_BENCH_COMPRESSION"); c != "" {
		e.kafka = append(e.kafka, "compression: "+c)
	}
}

func benchBackfill(b *testing.B, n int) float64 {
	e := newEnv(b)
	benchCompression(e)
	e.exec(eventsTable)
	for from := 1; from <= n; from += 1_000_000 {
		eventsFill(e, from, min(from+999_999, n))
	}
	e.exec(`VACUUM ANALYZE events`, `ALTER PUBLICATION flow_publication ADD TABLE events`)
	version := versionText(e)

	beforeMeasuring(b)
	conn, err := pgx.Connect(context.Background(), e.dbURL)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(context.Background())
	start := time.Now()
	if _, err := conn.PgConn().CopyTo(context.Background(), io.Discard, `COPY events TO STDOUT`); err != nil {
		b.Fatal(err)
	}
	copyDur := time.Since(start)

	b.ResetTimer()
	meter := newCPUMeter(b)
	start = time.Now()
	p := e.start(false)
	waitCheckpoint(b, e, 30*time.Minute, func(st *checkpoint.State) bool {
		ts := st.Bindings["public%2Fevents"]
		return ts != nil && ts.Mode == checkpoint.ModeActive
	})
	bfDur := time.Since(start)
	b.StopTimer()
	cpu, peak := cpuSeconds(e.t, p.cmd.Process.Pid), peakRSS(e.t, p.cmd.Process.Pid)
	split := meter.report(cpu, n)
	p.stop(e.t)
	dropTopic(b, e, e.topic("events"))
	copyRate, bfRate := float64(n)/copyDur.Seconds(), float64(n)/bfDur.Seconds()
	b.ReportMetric(copyRate, "copy_rows/s")
	b.ReportMetric(bfRate, "backfill_rows/s")
	b.ReportMetric(bfRate/copyRate, "ratio_vs_copy")
	b.ReportMetric(float64(peak>>20), "peak_rss_MiB")
	b.ReportMetric(cpu/float64(n)*1e6, "cpu_s/Mrows")
	b.Logf("%d rows (PostgreSQL %s): COPY %s (%.0f rows/s); pg2kafka backfill to Kafka %s (%.0f rows/s, %.2f of COPY); peak RSS %d MiB; %s",
		n, version, copyDur.Round(time.Millisecond), copyRate, bfDur.Round(time.Millisecond), bfRate, bfRate/copyRate, peak>>20, split)
	summary(b, fmt.Sprintf("backfill, %d rows (PostgreSQL %s)", n, version), fmt.Sprintf("%.0f rows/s", bfRate),
		fmt.Sprintf("COPY %.0f rows/s", copyRate), bfRate/copyRate, ">= 0.60", bfRate/copyRate >= 0.6)
	summary(b, fmt.Sprintf("backfill, %d rows: peak RSS", n), fmt.Sprintf("%d MiB", peak>>20), "", 0, "< 128 MiB", peak < 128<<20)
	summary(b, fmt.Sprintf("backfill, %d rows: CPU", n), split, "", 0, "", true)
	return bfRate
}

// beforeMeasuring brings the machine to the same state before every
// measurement: the broker warm (warmBroker), and the page cache's dirty
// pages written back (filling the 10,000,000-row table leaves 1.3-2.3 GB
// dirty), so that the write-back does not land on the measurement.
func beforeMeasuring(b *testing.B) {
	b.Helper()
	warmBroker(b)
	start := time.Now()
	syscall.Sync()
	if d := time.Since(start); d > time.Second {
		b.Logf("wrote back dirty pages first (%s)", d.Round(100*time.Millisecond))
	}
}

// dropTopic deletes a measured benchmark's topic from a broker the
// benchmarks share, so that its log (gigabytes after a 10,000,000-row
// backfill) is neither written back to disk nor held in the page cache
// while the next benchmark runs.
func dropTopic(b *testing.B, e *env, topic string) {
	b.Helper()
	if !kafkatest.Shared() || kafkatest.External() {
		return
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.brokers...))
	if err != nil {
		b.Fatalf("deleting topic %s: %v", topic, err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := kadm.NewClient(cl).DeleteTopic(ctx, topic); err != nil {
		b.Fatalf("deleting topic %s: %v", topic, err)
	}
}

// BenchmarkDrainVsRecvlogical reports how fast pg2kafka drains a backlog of
// committed transactions (of 1,000 rows, then of one row) as a fraction of
// pg_recvlogical decoding the same backlog (pgoutput, to /dev/null; the
// faster of a read before pg2kafka's and one after), on a settled server
// (vacuumed, checkpointed), in transactions a second, with pg2kafka's peak
// RSS and CPU seconds per million rows.
func BenchmarkDrainVsRecvlogical(b *testing.B) {
	for _, tc := range []struct {
		name      string
		txnRows   int
		rows      int
		target    float64
		targetTxt string
	}{
		{"txn=1000", 1000, benchRows(), 1.2, ">= 1.20"},
		{"txn=1", 1, benchTxns(), 1.0, ">= 1.00"},
	} {
		b.Run(tc.name, func(b *testing.B) { benchDrain(b, tc.txnRows, tc.rows, tc.target, tc.targetTxt) })
	}
}

// benchTxns is the single-row transactions of the drain benchmark
// (PG2KAFKA_BENCH_TXNS, default 100,000).
func benchTxns() int {
	if n, err := strconv.Atoi(os.Getenv("PG2KAFKA_BENCH_TXNS")); err == nil && n > 0 {
		return n
	}
	return 100_000
}

func benchDrain(b *testing.B, txnRows, rows int, target float64, targetTxt string) {
	e := newEnv(b)
	benchCompression(e)
	srv := pgtest.Shared(e.t)
	if srv.BinDir == "" {
		b.Skip("pg_recvlogical needs the local server binaries (PG2KAFKA_TEST_PG_URL is set)")
	}
	recvlogical, err := srv.Tool("pg_recvlogical")
	if err != nil {
		b.Skip(err)
	}
	e.exec(eventsTable, `ALTER PUBLICATION flow_publication ADD TABLE events`)
	e.advanced = []string{"skip_backfills: public.events"}
	p := e.start(true)
	p.stop(e.t)
	// pg_recvlogical reads the backlog before pg2kafka and again after it,
	// each time through a slot of its own, and the faster read is the
	// reference: neither reader gains from going second (caches warm) or
	// loses from going first.
	recvSlots := []string{e.slot + "_recv_before", e.slot + "_recv_after"}
	for _, slot := range recvSlots {
		e.exec(fmt.Sprintf(`SELECT pg_create_logical_replication_slot('%s', 'pgoutput')`, slot))
	}
	// The backlog: transactions of txnRows rows, committed server-side.
	e.exec(fmt.Sprintf(`DO $$
BEGIN
  FOR t IN 0..%d LOOP
    INSERT INTO events SELECT `+eventsRows+` FROM generate_series(t * %d + 1, least((t + 1) * %d, %d)) g;
    COMMIT;
  END LOOP;
END $$`, (rows-1)/txnRows, txnRows, txnRows, rows))
	txns := (rows + txnRows - 1) / txnRows
	var end string
	conn := e.conn()
	err = conn.QueryRow(context.Background(), `SELECT pg_current_wal_insert_lsn()::text`).Scan(&end)
	conn.Close(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	// The server settles before either reader: the backlog's vacuum and
	// analyze (autovacuum's, else, would run beside the first reader, and
	// slow it) and its dirty pages written out. The WAL they write comes
	// after end, which neither reader is measured on.
	e.exec(`VACUUM (ANALYZE) events`)
	e.exec(`CHECKPOINT`)
	targetLSN, _ := pglogrepl.ParseLSN(end)

	beforeMeasuring(b)
	recvDur, recvSplit := drainRecvlogical(b, recvlogical, e, recvSlots[0], end, rows)

	b.ResetTimer()
	meter := newCPUMeter(b)
	start := time.Now()
	p = e.start(false)
	waitCheckpoint(b, e, 30*time.Minute, func(st *checkpoint.State) bool {
		l, ok, _ := st.CursorLSN()
		return ok && uint64(l) >= uint64(targetLSN)
	})
	capDur := time.Since(start)
	b.StopTimer()
	cpu, peak := cpuSeconds(e.t, p.cmd.Process.Pid), peakRSS(e.t, p.cmd.Process.Pid)
	split := meter.report(cpu, rows)
	p.stop(e.t)
	if d, split := drainRecvlogical(b, recvlogical, e, recvSlots[1], end, rows); d < recvDur {
		recvDur, recvSplit = d, split
	}
	recvRate, capRate := float64(txns)/recvDur.Seconds(), float64(txns)/capDur.Seconds()
	ratio := capRate / recvRate
	b.ReportMetric(recvRate, "recvlogical_txn/s")
	b.ReportMetric(capRate, "capture_txn/s")
	b.ReportMetric(ratio, "ratio_vs_recvlogical")
	b.ReportMetric(float64(peak>>20), "peak_rss_MiB")
	b.Logf("%d transactions of %d rows: pg_recvlogical %s (%.0f txn/s; %s); pg2kafka to Kafka %s (%.0f txn/s, %.2f of pg_recvlogical); peak RSS %d MiB; %s",
		txns, txnRows, recvDur.Round(time.Millisecond), recvRate, recvSplit, capDur.Round(time.Millisecond), capRate, ratio, peak>>20, split)
	summary(b, fmt.Sprintf("drain, %d transactions of %d rows", txns, txnRows), fmt.Sprintf("%.0f txn/s", capRate),
		fmt.Sprintf("pg_recvlogical %.0f txn/s", recvRate), ratio, targetTxt, ratio >= target)
	summary(b, fmt.Sprintf("drain, %d-row transactions: peak RSS", txnRows), fmt.Sprintf("%d MiB", peak>>20), "", 0, "< 128 MiB", peak < 128<<20)
	summary(b, fmt.Sprintf("drain, %d-row transactions: CPU", txnRows), split, recvSplit, 0, "", true)
}

// drainRecvlogical reads the backlog up to end through slot with
// pg_recvlogical (pgoutput, to /dev/null), drops the slot, and returns how
// long it took and its CPU split.
func drainRecvlogical(b *testing.B, recvlogical string, e *env, slot, end string, rows int) (time.Duration, string) {
	b.Helper()
	meter := newCPUMeter(b)
	start := time.Now()
	cmd := exec.Command(recvlogical, "-d", e.dbURL, "--slot", slot, "--start",
		"--endpos", end, "-o", "proto_version=1", "-o", "publication_names=flow_publication", "-f", "/dev/null", "--no-loop")
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("pg_recvlogical: %v\n%s", err, out)
	}
	dur := time.Since(start)
	cpu := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	split := strings.Replace(meter.report(cpu.Seconds(), rows), "pg2kafka", "pg_recvlogical", 1)
	e.exec(fmt.Sprintf(`SELECT pg_drop_replication_slot('%s')`, slot))
	return dur, split
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
	summary(b, fmt.Sprintf("%d-row transaction during a %d-row backfill: peak RSS", txnRows, benchRows()/10),
		fmt.Sprintf("%d MiB", peak>>20), fmt.Sprintf("relayed in %s", total.Round(time.Second)), 0, "< 256 MiB", peak < 256<<20)
}

// BenchmarkStreamingLatency writes single-row transactions at a steady
// rate for PG2KAFKA_BENCH_SECONDS (default 60), into one table and then
// spread over 20 tables, and reports the latency from each PostgreSQL
// commit to a read_committed consumer (p50, p99, max) and whether every
// change arrived. The rates are 1,000 and 5,000 per second into one table
// and 1,000 over 20 tables, or PG2KAFKA_BENCH_RATES (e.g. 1000,5000) for
// both.
func BenchmarkStreamingLatency(b *testing.B) {
	rates := map[int][]int{1: {1000, 5000}, 20: {1000}}
	if s := os.Getenv("PG2KAFKA_BENCH_RATES"); s != "" {
		var list []int
		for _, f := range strings.Split(s, ",") {
			if n, err := strconv.Atoi(f); err == nil && n > 0 {
				list = append(list, n)
			}
		}
		rates = map[int][]int{1: list, 20: list}
	}
	seconds := 60
	if n, err := strconv.Atoi(os.Getenv("PG2KAFKA_BENCH_SECONDS")); err == nil && n > 0 {
		seconds = n
	}
	for _, tables := range []int{1, 20} {
		for _, rate := range rates[tables] {
			b.Run(fmt.Sprintf("tables=%d/rate=%d", tables, rate), func(b *testing.B) {
				benchLatency(b, tables, rate, time.Duration(seconds)*time.Second)
			})
		}
	}
}

func benchLatency(b *testing.B, tables, rate int, d time.Duration) {
	e := newEnv(b)
	beforeMeasuring(b)
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
		kgo.FetchMaxWait(benchFetchWait()))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	total := int(d.Seconds()) * rate
	// Each latency splits at the record's Kafka timestamp, which the
	// producer stamps when pg2kafka hands it over: PostgreSQL commit →
	// produce (walsender, decoding, the loop) and produce → consumer
	// (batching, the Kafka commit, its markers, the fetch).
	type split struct {
		total, toProduce, toConsumer time.Duration
		committed                    time.Time
	}
	splits := make([]split, 0, total)
	got := make(chan struct{})
	go func() {
		defer close(got)
		ctx, cancel := context.WithTimeout(context.Background(), d+2*time.Minute)
		defer cancel()
		for len(splits) < total && ctx.Err() == nil {
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
					committed := time.UnixMilli(doc.Meta.Source.TSMillis)
					splits = append(splits, split{now.Sub(committed), r.Timestamp.Sub(committed), now.Sub(r.Timestamp), committed})
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
	lat := make([]time.Duration, len(splits))
	for i, sp := range splits {
		lat[i] = sp.total
	}
	slices.Sort(lat)
	if len(splits) > 0 {
		// Where the time goes: each part's own p99, and the parts' means
		// over the slowest 1% of changes; and when those were committed,
		// in seconds from the first commit (a start-up stall reads
		// differently from a steady tail).
		first := slices.MinFunc(splits, func(a, b split) int { return a.committed.Compare(b.committed) }).committed
		slices.SortFunc(splits, func(a, b split) int { return cmp.Compare(b.total, a.total) })
		tail := splits[:max(1, len(splits)/100)]
		secs := map[int]int{}
		for _, sp := range tail {
			secs[int(sp.committed.Sub(first).Seconds())]++
		}
		part := func(f func(split) time.Duration) (p99, tailMean time.Duration) {
			d := make([]time.Duration, len(splits))
			for i, sp := range splits {
				d[i] = f(sp)
			}
			slices.Sort(d)
			for _, sp := range tail {
				tailMean += f(sp)
			}
			return d[len(d)*99/100], tailMean / time.Duration(len(tail))
		}
		p1, t1 := part(func(sp split) time.Duration { return sp.toProduce })
		p2, t2 := part(func(sp split) time.Duration { return sp.toConsumer })
		b.Logf("slowest 1%% by second of commit: %v", secs)
		b.Logf("parts: PostgreSQL commit → produce p99 %s (slowest 1%%: mean %s); produce → read_committed consumer p99 %s (slowest 1%%: mean %s)",
			p1.Round(100*time.Microsecond), t1.Round(100*time.Microsecond), p2.Round(100*time.Microsecond), t2.Round(100*time.Microsecond))
	}
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
	summary(b, fmt.Sprintf("latency, %d table(s), %.0f txn/s for %s: p99 (p50)", tables, float64(total)/wrote.Seconds(), wrote.Round(time.Second)),
		fmt.Sprintf("%s (%s)", pct(0.99).Round(100*time.Microsecond), pct(0.5).Round(100*time.Microsecond)), fmt.Sprintf("%d of %d delivered", len(lat), total), 0, "< 50 ms", pct(0.99) < 50*time.Millisecond && len(lat) == total)
	summary(b, fmt.Sprintf("latency, %d table(s): peak RSS", tables), fmt.Sprintf("%d MiB", peak>>20), "", 0, "< 128 MiB", peak < 128<<20)
	if len(lat) != total {
		b.Errorf("%d of %d changes delivered", len(lat), total)
	}
}

// benchFetchWait is the latency consumer's fetch max wait: the client's
// default (5 s; a fetch returns as soon as committed records arrive), or
// PG2KAFKA_BENCH_FETCH_WAIT. A short wait measured worse (10 ms: p50 12 ms,
// p99 71 ms against 7 ms and 52 ms), as every idle fetch returns empty and
// a record arriving meanwhile waits for the next one.
func benchFetchWait() time.Duration {
	if d, err := time.ParseDuration(os.Getenv("PG2KAFKA_BENCH_FETCH_WAIT")); err == nil && d > 0 {
		return d
	}
	return 5 * time.Second
}

package e2e

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kgo"
)

// change is one committed write to a key, as the writer saw it commit.
type change struct {
	op string
	v  int64
}

// writer commits random inserts, updates and deletes in small transactions
// and records each key's committed history.
type writer struct {
	mu      sync.Mutex
	history map[int][]change
	stop    chan struct{}
	done    chan error
	commits int
}

func startWriter(t *testing.T, url string, keys int) *writer {
	t.Helper()
	w := &writer{history: map[int][]change{}, stop: make(chan struct{}), done: make(chan error, 1)}
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		defer conn.Close(context.Background())
		rng := rand.New(rand.NewSource(time.Now().UnixNano()))
		live := map[int]bool{}
		var v int64
		for {
			select {
			case <-w.stop:
				w.done <- nil
				return
			default:
			}
			ctx := context.Background()
			tx, err := conn.Begin(ctx)
			if err != nil {
				w.done <- err
				return
			}
			var pending []func()
			n := 1 + rng.Intn(4)
			for i := 0; i < n; i++ {
				k := rng.Intn(keys)
				v++
				var op, q string
				switch {
				case !live[k]:
					op, q = "c", `INSERT INTO hist (k, v) VALUES ($1, $2)`
				case rng.Intn(4) == 0:
					op, q = "d", `DELETE FROM hist WHERE k = $1 AND $2::bigint IS NOT NULL`
				default:
					op, q = "u", `UPDATE hist SET v = $2 WHERE k = $1`
				}
				if _, err := tx.Exec(ctx, q, k, v); err != nil {
					_ = tx.Rollback(ctx)
					w.done <- fmt.Errorf("writer %s on key %d: %w", op, k, err)
					return
				}
				live[k] = op != "d"
				kk, c := k, change{op: op, v: v}
				if op == "d" {
					c.v = 0
				}
				pending = append(pending, func() { w.history[kk] = append(w.history[kk], c) })
			}
			if err := tx.Commit(ctx); err != nil {
				w.done <- fmt.Errorf("writer commit: %w", err)
				return
			}
			w.mu.Lock()
			for _, f := range pending {
				f()
			}
			w.commits++
			w.mu.Unlock()
			time.Sleep(time.Duration(rng.Intn(3)) * time.Millisecond)
		}
	}()
	return w
}

func (w *writer) finish(t *testing.T) {
	t.Helper()
	close(w.stop)
	if err := <-w.done; err != nil {
		t.Fatal(err)
	}
}

// changes counts the committed changes of a history.
func changes(history map[int][]change) int {
	n := 0
	for _, h := range history {
		n += len(h)
	}
	return n
}

// records counts the records a history makes in Kafka: one per change and
// a tombstone after each delete.
func records(history map[int][]change) int {
	n := 0
	for _, h := range history {
		for _, c := range h {
			n++
			if c.op == "d" {
				n++
			}
		}
	}
	return n
}

// keyHistories groups a topic's records into each key's sequence of
// changes, checking that every delete is followed by its tombstone.
func keyHistories(t *testing.T, recs []*kgo.Record) (map[int][]change, int) {
	t.Helper()
	got := map[int][]change{}
	tombstoneWanted := map[string]bool{}
	changes := 0
	for _, r := range recs {
		if r.Value == nil {
			if !tombstoneWanted[string(r.Key)] {
				t.Errorf("unexpected tombstone for %s", r.Key)
			}
			tombstoneWanted[string(r.Key)] = false
			continue
		}
		d := decode(t, r)
		k := int(d["k"].(float64))
		c := change{op: meta(d)["op"].(string)}
		if c.op != "d" {
			c.v = int64(d["v"].(float64))
		}
		if c.op == "d" {
			tombstoneWanted[string(r.Key)] = true
		}
		if want := `{"k":` + strconv.Itoa(k) + `}`; string(r.Key) != want {
			t.Errorf("record key %s, want %s", r.Key, want)
		}
		got[k] = append(got[k], c)
		changes++
	}
	return got, changes
}

// compareHistories checks each key's changes in Kafka against its committed
// history and returns the keys missing changes and the keys holding extra
// ones (duplicates or changes never committed).
func compareHistories(t *testing.T, got, want map[int][]change) (lost, dup int) {
	t.Helper()
	bad := 0
	for k, w := range want {
		g := got[k]
		if fmt.Sprint(g) != fmt.Sprint(w) {
			if len(g) < len(w) {
				lost++
			} else {
				dup++
			}
			if bad++; bad <= 5 {
				t.Errorf("key %d: Kafka holds %v, committed history is %v", k, g, w)
			}
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			dup++
			t.Errorf("key %d: Kafka holds %v, but it was never written", k, g)
		}
	}
	if bad > 5 {
		t.Errorf("... and %d more keys differ", bad-5)
	}
	return lost, dup
}

// interrupt stops p the way round of a crash test asks: "SIGKILL",
// "SIGTERM" (which must exit 0 within the transaction timeout), or
// "mixed" (SIGKILL in even rounds, SIGTERM in odd ones: any two rounds
// try both; where each lands is left to the rounds' random timing).
func interrupt(t *testing.T, p *proc, how string, round int) {
	t.Helper()
	if how == "mixed" {
		how = [...]string{"SIGKILL", "SIGTERM"}[round%2]
	}
	if how == "SIGKILL" {
		p.kill()
		return
	}
	// A process not yet started to the point of catching signals dies by
	// SIGTERM's default action (nothing captured, nothing to lose): on a
	// loaded machine the round waits for its first log line.
	for start := time.Now(); p.output() == "" && time.Since(start) < 30*time.Second; {
		time.Sleep(10 * time.Millisecond)
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	if code := p.wait(t, 90*time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGTERM, want 0\n%s", code, p.output())
	}
}

// crashRounds returns the rounds of a crash test and how each stops:
// PG2KAFKA_CRASH_ROUNDS and PG2KAFKA_CRASH_SIGNAL override them (make
// chaos).
func crashRounds(def int, how string) (int, string) {
	if n, err := strconv.Atoi(os.Getenv("PG2KAFKA_CRASH_ROUNDS")); err == nil && n > 0 {
		def = n
	}
	if s := os.Getenv("PG2KAFKA_CRASH_SIGNAL"); s != "" {
		how = s
	}
	return def, how
}

// crashUnderWriter creates table hist, starts pg2kafka and a writer of 200
// keys, then stops pg2kafka (interrupt with how) once it streamed and
// rounds times more, each after 0.3-1.8 s, and returns the finished writer.
func crashUnderWriter(t *testing.T, e *env, rounds int, how string) *writer {
	t.Helper()
	e.exec(`CREATE TABLE hist (k integer PRIMARY KEY, v bigint NOT NULL)`,
		`ALTER PUBLICATION flow_publication ADD TABLE hist`)
	first := e.start(true)
	w := startWriter(t, e.dbURL, 200)
	rng := rand.New(rand.NewSource(time.Now().UnixNano()))
	interrupt(t, first, how, 0)
	for i := 1; i <= rounds; i++ {
		p := e.start(false)
		time.Sleep(time.Duration(300+rng.Intn(1500)) * time.Millisecond)
		interrupt(t, p, how, i)
	}
	w.finish(t)
	return w
}

// Stopping pg2kafka at random moments while a writer commits — by SIGKILL,
// or by SIGTERM as Kubernetes and systemd do on every rollout — loses no
// change and duplicates none: after catch-up each key's sequence of
// changes in Kafka equals its committed history (read_committed).
func TestCrashRoundsLoseNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("crash rounds take ~30s")
	}
	for _, how := range []string{"SIGKILL", "SIGTERM"} {
		t.Run(how, func(t *testing.T) {
			rounds, how := crashRounds(12, how)
			e := newEnv(t)
			w := crashUnderWriter(t, e, rounds, how)
			last := e.start(true)
			w.mu.Lock()
			want := w.history
			commits := w.commits
			w.mu.Unlock()
			total := changes(want)
			recs := e.consume(e.topic("hist"), records(want), 90*time.Second)
			last.stop(t)
			got, n := keyHistories(t, recs)
			lost, dup := compareHistories(t, got, want)
			t.Logf("%d rounds (%s), %d writer transactions, %d changes to %d keys; Kafka holds %d changes; keys with lost changes %d, with duplicated changes %d",
				rounds+1, how, commits, total, len(want), n, lost, dup)
		})
	}
}

// With kafka.delivery at-least-once, stopping pg2kafka at random moments
// under a writer loses no change: a restart may repeat what was written
// after the last checkpoint, but each key's records hold its committed
// history in order, nothing never committed, and end with its last change.
func TestCrashRoundsAtLeastOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("crash rounds take ~15s")
	}
	rounds, how := crashRounds(8, "mixed")
	e := newEnv(t)
	e.kafka = []string{"delivery: at-least-once"}
	w := crashUnderWriter(t, e, rounds, how)
	last := e.start(true)
	defer last.stop(t)
	want := w.history // the writer is done
	// Repeats make the record count no measure of completeness: a marker
	// row committed after the writer's last change reaches the topic after
	// all of them (the last run relays in commit order), so read to it.
	const marker = `{"k":-1}`
	e.exec(`INSERT INTO hist VALUES (-1, -1)`)
	cl := readCommitted(t, e.brokers, e.topic("hist"))
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var recs []*kgo.Record
	for seen := false; !seen && ctx.Err() == nil; {
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
			if string(r.Key) == marker {
				seen = true
				return
			}
			recs = append(recs, r)
		})
	}
	if ctx.Err() != nil {
		t.Fatalf("the marker row committed after the writer never reached the topic (%d records read)", len(recs))
	}
	got, _ := keyHistories(t, recs)
	lost, extra, repeated := 0, 0, 0
	for k, h := range want {
		g := got[k]
		switch {
		case !isSubsequence(h, g):
			lost++
			t.Errorf("key %d: Kafka holds %v, committed history is %v (a change is missing or out of order)", k, g, h)
		case g[len(g)-1] != h[len(h)-1]:
			t.Errorf("key %d: Kafka's last change is %v, the last committed one %v", k, g[len(g)-1], h[len(h)-1])
		case len(g) > len(h):
			repeated++
		}
		for _, c := range g {
			if !slices.Contains(h, c) {
				extra++
				t.Errorf("key %d: Kafka holds %v, never committed (history %v)", k, c, h)
			}
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("key %d: Kafka holds %v, but it was never written", k, g)
		}
	}
	t.Logf("%d rounds (%s), %d changes to %d keys; %d records; keys with lost changes %d, with repeats %d (allowed), with changes never committed %d",
		rounds+1, how, changes(want), len(want), len(recs), lost, repeated, extra)
}

// isSubsequence reports whether sub's changes all appear in seq, in order.
func isSubsequence(sub, seq []change) bool {
	i := 0
	for _, c := range seq {
		if i < len(sub) && c == sub[i] {
			i++
		}
	}
	return i == len(sub)
}

// SIGTERM mid-stream commits what is whole, and a restart resumes without
// losing or repeating a change; over three partitions, each key's changes
// stay in order.
func TestSIGTERMRestartResumes(t *testing.T) {
	e := newEnv(t)
	e.kafka = []string{"partitions: 3"}
	e.exec(`CREATE TABLE hist (k integer PRIMARY KEY, v bigint NOT NULL)`,
		`ALTER PUBLICATION flow_publication ADD TABLE hist`)
	p := e.start(true)
	w := startWriter(t, e.dbURL, 50)
	time.Sleep(1500 * time.Millisecond)
	p.stop(t) // clean exit (status 0) while the writer keeps committing
	time.Sleep(500 * time.Millisecond)
	p = e.start(true)
	time.Sleep(1000 * time.Millisecond)
	w.finish(t)
	recs := e.consume(e.topic("hist"), records(w.history), 60*time.Second)
	p.stop(t)
	partitions := map[int32]bool{}
	keyPartition := map[string]int32{}
	for _, r := range recs {
		partitions[r.Partition] = true
		if p, ok := keyPartition[string(r.Key)]; ok && p != r.Partition {
			t.Errorf("key %s in partitions %d and %d", r.Key, p, r.Partition)
		}
		keyPartition[string(r.Key)] = r.Partition
	}
	if len(partitions) != 3 {
		t.Errorf("records in %d partitions, want 3", len(partitions))
	}
	got, _ := keyHistories(t, recs)
	compareHistories(t, got, w.history)
}

// A second SIGTERM exits at once (status 1) even while the first is being
// handled, and the next start resumes: nothing committed is lost.
func TestSecondSignalExitsAtOnce(t *testing.T) {
	e := newEnv(t)
	e.exec(`CREATE TABLE sig (id integer PRIMARY KEY)`, `ALTER PUBLICATION flow_publication ADD TABLE sig`)
	p := e.start(true)
	e.exec(`INSERT INTO sig VALUES (1)`)
	e.consume(e.topic("sig"), 1, 30*time.Second)
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	if code := p.wait(t, 10*time.Second); code != 0 && code != 1 {
		t.Fatalf("exit code %d after two signals, want 0 (finished first) or 1 (second signal)\n%s", code, p.output())
	}
	e.exec(`INSERT INTO sig VALUES (2)`)
	p = e.start(true)
	recs := e.consume(e.topic("sig"), 2, 30*time.Second)
	p.stop(t)
	if len(recs) != 2 || string(recs[1].Key) != `{"id":2}` {
		t.Fatalf("after the restart the topic holds %d records, want ids 1 and 2", len(recs))
	}
}

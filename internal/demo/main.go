// Command demo shows pg2kafka end to end on one machine, with nothing but Go
// and the PostgreSQL server binaries installed (no Docker, no Kafka):
//
//  1. it starts a throwaway PostgreSQL (internal/pgtest) and creates
//     public.orders and the publication flow_publication;
//  2. it builds pg2kafka and runs it with the embedded Kafka broker on a free
//     port, streaming its log to stderr, until it says "backfills complete; streaming changes";
//  3. it inserts, updates and deletes a few orders, then reads the topic
//     pg2kafka.public.orders (read_committed, from the start) and the
//     checkpoint topic, and prints their records;
//  4. it stops pg2kafka (SIGTERM) and PostgreSQL and removes its temporary
//     files.
//
// Run it with `make demo` (or `go run ./internal/demo` from the module root).
// Every step is bounded in time; any failure exits 1 with what went wrong.
package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/pg2kafka/pg2kafka/internal/launch"
	"github.com/pg2kafka/pg2kafka/internal/pgtest"
)

const (
	topic           = "pg2kafka.public.orders"
	checkpointTopic = "pg2kafka.checkpoints"
	// wantRecords: 3 inserts, 1 update, 1 delete and its tombstone.
	wantRecords = 6

	buildTimeout  = 5 * time.Minute // a fresh machine may download modules
	startTimeout  = 60 * time.Second
	sqlTimeout    = 30 * time.Second
	consumeTimout = 30 * time.Second
	stopTimeout   = 30 * time.Second
)

func main() {
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	if err := run(ctx); err != nil {
		if ctx.Err() != nil {
			fmt.Fprintf(os.Stderr, "\ndemo: interrupted (%v); cleaned up\n", err)
			os.Exit(1)
		}
		fmt.Fprintf(os.Stderr, "\ndemo FAILED: %v\n", err)
		cancel()
		os.Exit(1)
	}
	fmt.Fprintln(os.Stderr, "\ndemo: done.")
}

func step(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "\n==> "+format+"\n", args...)
}

func run(ctx context.Context) (err error) {
	tmp, err := os.MkdirTemp("", "pg2kafka-demo-")
	if err != nil {
		return fmt.Errorf("creating a temporary directory: %w", err)
	}
	defer os.RemoveAll(tmp)

	// 1. PostgreSQL.
	step("starting a throwaway PostgreSQL (wal_level=logical) from the installed binaries")
	srv, err := pgtest.Start()
	if err != nil {
		return fmt.Errorf("starting PostgreSQL: %w", err)
	}
	defer func() {
		step("stopping PostgreSQL")
		srv.Stop()
	}()
	pc, err := pgx.ParseConfig(srv.AdminURL)
	if err != nil {
		return fmt.Errorf("parsing %s: %w", srv.AdminURL, err)
	}
	fmt.Fprintf(os.Stderr, "    PostgreSQL is listening on %s:%d (binaries in %s)\n", pc.Host, pc.Port, srv.BinDir)
	if err := execSQL(ctx, srv.AdminURL,
		`CREATE TABLE public.orders (id int PRIMARY KEY, customer text, total numeric(10,2), created_at timestamptz DEFAULT now())`,
		`CREATE PUBLICATION flow_publication FOR TABLE public.orders`,
	); err != nil {
		return err
	}

	// 2. pg2kafka with the embedded broker.
	step("building pg2kafka")
	bin := filepath.Join(tmp, "pg2kafka")
	if err := build(ctx, bin); err != nil {
		return err
	}
	port, err := launch.FreePort()
	if err != nil {
		return err
	}
	cfgPath := filepath.Join(tmp, "demo.yaml")
	cfg := fmt.Sprintf(`# pg2kafka demo configuration
source:
  address: "%s:%d"
  user: %s
  password: demo            # the demo server trusts local connections; any value works
  database: %s
  advanced:
    sslmode: disable
kafka:
  brokers: ["embedded:%d"]  # the in-process broker: for trying out only, keeps nothing
  batch: {max_delay: 50ms}
http:
  listen: ""
log:
  format: console
`, pc.Host, pc.Port, pc.User, pc.Database, port)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return fmt.Errorf("writing %s: %w", cfgPath, err)
	}
	step("running: pg2kafka run --config %s\n%s", cfgPath, indent(cfg, "    | "))
	p, err := startPg2kafka(bin, cfgPath)
	if err != nil {
		return err
	}
	defer func() {
		if stopErr := p.stop(); stopErr != nil && err == nil {
			err = stopErr
		}
	}()
	select {
	case <-p.ready:
	case <-p.exited:
		return fmt.Errorf("pg2kafka exited before streaming: %v (see its log above)", p.err)
	case <-time.After(startTimeout):
		return fmt.Errorf("pg2kafka did not log \"backfills complete; streaming changes\" within %s (see its log above)", startTimeout)
	case <-ctx.Done():
		return ctx.Err()
	}

	// 3. Changes, then the records they became.
	step("changing public.orders")
	changes := []string{
		`BEGIN`,
		`INSERT INTO public.orders (id, customer, total) VALUES (5001, 'globex', 250.00)`,
		`INSERT INTO public.orders (id, customer, total) VALUES (5002, 'initech', 99.90)`,
		`INSERT INTO public.orders (id, customer, total) VALUES (5003, 'umbrella', 12.34)`,
		`COMMIT`,
		`UPDATE public.orders SET total = 275.00 WHERE id = 5001`,
		`DELETE FROM public.orders WHERE id = 5002`,
	}
	for _, s := range changes {
		fmt.Fprintf(os.Stderr, "    sql> %s\n", s)
	}
	if err := execSQL(ctx, srv.AdminURL, changes...); err != nil {
		return err
	}

	brokers := []string{fmt.Sprintf("127.0.0.1:%d", port)}
	step("records of topic %s (read_committed, from the start)", topic)
	n, err := consume(ctx, brokers, topic, wantRecords, consumeTimout, func(r *kgo.Record) {
		value := string(r.Value)
		if r.Value == nil {
			value = "<tombstone>"
		}
		fmt.Printf("op=%s key=%s value=%s\n", header(r, "pg2kafka.op"), r.Key, value)
	})
	if err != nil {
		return err
	}
	if n < wantRecords {
		return fmt.Errorf("got %d of the %d expected records of %s within %s (see pg2kafka's log above)", n, wantRecords, topic, consumeTimout)
	}

	step("checkpoint in %s (latest record)", checkpointTopic)
	var last *kgo.Record
	if _, err := consume(ctx, brokers, checkpointTopic, 0, 3*time.Second, func(r *kgo.Record) { last = r }); err != nil {
		return err
	}
	if last == nil {
		return fmt.Errorf("no checkpoint record in %s", checkpointTopic)
	}
	fmt.Printf("checkpoint key=%s value=%s\n", last.Key, last.Value)

	// 4. Stop (deferred): pg2kafka first, then PostgreSQL, then the files.
	return nil
}

// execSQL runs statements in order on one connection.
func execSQL(ctx context.Context, url string, stmts ...string) error {
	ctx, cancel := context.WithTimeout(ctx, sqlTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return fmt.Errorf("connecting to PostgreSQL: %w", err)
	}
	defer conn.Close(context.Background())
	for _, s := range stmts {
		if _, err := conn.Exec(ctx, s); err != nil {
			return fmt.Errorf("running %q: %w", s, err)
		}
	}
	return nil
}

// build compiles ./cmd/pg2kafka of this module into bin.
func build(ctx context.Context, bin string) error {
	ctx, cancel := context.WithTimeout(ctx, buildTimeout)
	defer cancel()
	root, err := moduleRoot(ctx)
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/pg2kafka")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		if len(bytes.TrimSpace(out)) == 0 {
			return fmt.Errorf("go build ./cmd/pg2kafka: %w", err)
		}
		return fmt.Errorf("go build ./cmd/pg2kafka: %w\n%s", err, bytes.TrimSpace(out))
	}
	return nil
}

func moduleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("not inside the pg2kafka module: run the demo from the repository (make demo)")
	}
	return filepath.Dir(gomod), nil
}

// proc is the running pg2kafka.
type proc struct {
	cmd    *exec.Cmd
	ready  chan struct{} // closed at "backfills complete; streaming changes"
	exited chan struct{} // closed once the process has exited
	err    error         // its exit error, valid after exited
}

// startPg2kafka runs `pg2kafka run`, copying its log lines to stderr with a
// prefix.
func startPg2kafka(bin, cfgPath string) (*proc, error) {
	p := &proc{cmd: exec.Command(bin, "run", "--config", cfgPath), ready: make(chan struct{}), exited: make(chan struct{})}
	p.cmd.Stdout = os.Stderr
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	// Its own process group: a Ctrl-C in the terminal reaches the demo only,
	// which then stops pg2kafka in order.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting pg2kafka: %w", err)
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		streaming := false
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintf(os.Stderr, "    pg2kafka | %s\n", line)
			if !streaming && strings.Contains(line, "backfills complete; streaming changes") {
				streaming = true
				close(p.ready)
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
		p.err = p.cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

// stop sends SIGTERM and waits for a clean exit (SIGKILL after stopTimeout).
func (p *proc) stop() error {
	select {
	case <-p.exited:
		if p.err != nil {
			return fmt.Errorf("pg2kafka exited early: %w", p.err)
		}
		return nil
	default:
	}
	step("stopping pg2kafka (SIGTERM)")
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		if p.err != nil {
			return fmt.Errorf("pg2kafka exited with %v after SIGTERM (see its log above)", p.err)
		}
		return nil
	case <-time.After(stopTimeout):
		_ = p.cmd.Process.Kill()
		<-p.exited
		return fmt.Errorf("pg2kafka did not exit within %s of SIGTERM; killed it", stopTimeout)
	}
}

// consume reads topic from the start, read_committed, calling each for every
// record. It returns after want records (want > 0), or when timeout passes,
// or (want == 0) once nothing new has arrived for a second after the first
// record.
func consume(ctx context.Context, brokers []string, topic string, want int, timeout time.Duration, each func(*kgo.Record)) (int, error) {
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(brokers...),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
	)
	if err != nil {
		return 0, fmt.Errorf("creating the Kafka consumer: %w", err)
	}
	defer cl.Close()
	deadline := time.Now().Add(timeout)
	n := 0
	for want == 0 || n < want {
		wait := time.Until(deadline)
		if want == 0 && n > 0 {
			wait = min(wait, time.Second)
		}
		if wait <= 0 {
			break
		}
		pctx, cancel := context.WithTimeout(ctx, wait)
		fs := cl.PollFetches(pctx)
		cancel()
		if ctx.Err() != nil {
			return n, ctx.Err()
		}
		got := 0
		fs.EachRecord(func(r *kgo.Record) {
			if want == 0 || n < want {
				each(r)
				n++
				got++
			}
		})
		if got == 0 && pctx.Err() != nil {
			if want == 0 && n > 0 {
				break // quiet for a second
			}
			if time.Now().After(deadline) {
				break
			}
		}
		fs.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
				fmt.Fprintf(os.Stderr, "    consumer: %s[%d]: %v\n", t, p, err)
			}
		})
	}
	return n, nil
}

func header(r *kgo.Record, key string) string {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

func indent(s, prefix string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return prefix + strings.Join(lines, "\n"+prefix)
}

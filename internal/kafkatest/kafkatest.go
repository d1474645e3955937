// Package kafkatest gives tests a Kafka cluster: a real Apache Kafka broker
// (kafka.sh fetches a pinned release from Maven Central into a cache outside
// the repository and starts it as a single KRaft node on loopback), shared by
// every test of one test binary; or franz-go's kfake broker in process, fresh
// per test; or the external cluster named by PG2KAFKA_TEST_KAFKA_BROKERS.
//
// Brokers picks one for a test: the external cluster when EnvBrokers is set,
// else the shared real broker unless PG2KAFKA_TEST_KAFKA=kfake, falling back
// to kfake (with a log line saying so) when Java or Maven is missing, unless
// PG2KAFKA_TEST_KAFKA=real demands the real broker. Fake always gives kfake;
// unit tests and tests of kfake-only features (its TLS, SASL, ACLs) use it.
//
// PG2KAFKA_TEST_KAFKA_VERSION (EnvVersion) picks the release of the real
// broker (DefaultVersion when unset); kafka.sh caches each version apart.
//
// On a shared cluster (see Shared) tests must name their topics,
// transactional IDs and checkpoint topics uniquely.
package kafkatest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/pg2kafka/pg2kafka/internal/launch"
)

// EnvBrokers names the environment variable listing external brokers
// (comma-separated) for the tests to use instead of kfake.
const EnvBrokers = "PG2KAFKA_TEST_KAFKA_BROKERS"

// EnvKafka names the environment variable choosing the broker Brokers
// gives: "real" (the shared real broker; fail without Java and Maven),
// "kfake" (kfake for every test), or "auto"/empty (real when Java and Maven
// are there, else kfake).
const EnvKafka = "PG2KAFKA_TEST_KAFKA"

// EnvVersion names the environment variable choosing the Apache Kafka
// release of the real broker (a Maven Central version of
// org.apache.kafka:kafka_2.13, e.g. 3.9.1); DefaultVersion when unset.
const EnvVersion = "PG2KAFKA_TEST_KAFKA_VERSION"

// DefaultVersion is the release of the real broker unless EnvVersion says
// otherwise.
const DefaultVersion = "4.4.0"

// Version returns the release of the real broker Start starts.
func Version() string {
	if v := os.Getenv(EnvVersion); v != "" {
		return v
	}
	return DefaultVersion
}

// External reports whether the tests run against an external cluster.
func External() bool { return os.Getenv(EnvBrokers) != "" }

// Shared reports whether the brokers Brokers gave are shared with other
// tests (an external cluster or the shared real broker), so that a test must
// use topic names, transactional IDs and capture names of its own. Call it
// after Brokers.
func Shared() bool {
	if External() {
		return true
	}
	mu.Lock()
	defer mu.Unlock()
	return shared != nil
}

// Brokers returns seed brokers for the test: the external cluster's, the
// shared real broker's, or (with kfake options, with
// PG2KAFKA_TEST_KAFKA=kfake, or when the real broker cannot be had and
// PG2KAFKA_TEST_KAFKA is not "real") a fresh kfake cluster's, closed when
// the test ends.
func Brokers(t testing.TB, opts ...kfake.Opt) []string {
	t.Helper()
	if env := os.Getenv(EnvBrokers); env != "" {
		return strings.Split(env, ",")
	}
	if len(opts) > 0 {
		return Fake(t, opts...)
	}
	switch mode := os.Getenv(EnvKafka); mode {
	case "kfake":
		return Fake(t)
	case "", "auto", "real":
		b, err := startShared()
		if err == nil {
			return []string{b.Addr}
		}
		var missing *missingTools
		if mode != "real" && errors.As(err, &missing) {
			fallbackOnce.Do(func() {
				fmt.Fprintf(os.Stderr, "kafkatest: no real Kafka broker (%v); using kfake (set %s=real to require one)\n", err, EnvKafka)
			})
			t.Logf("kafkatest: using kfake, not a real Kafka broker: %v", err)
			return Fake(t)
		}
		t.Fatalf("kafkatest: %v", err)
	default:
		t.Fatalf("kafkatest: %s=%q: want real, kfake or auto", EnvKafka, mode)
	}
	return nil
}

// Fake returns the seed brokers of a fresh in-process kfake cluster (one
// broker, with opts) that is closed when the test ends.
func Fake(t testing.TB, opts ...kfake.Opt) []string {
	t.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1)}, opts...)...)
	if err != nil {
		t.Fatalf("kafkatest: starting kfake: %v", err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()
}

// Broker is a real Kafka broker (combined broker and KRaft controller)
// started by kafka.sh.
type Broker struct {
	// Addr is the broker's PLAINTEXT listener, 127.0.0.1:port.
	Addr string
	// Version is the broker's Apache Kafka release.
	Version string
	// Process is the broker's JVM; its Dir holds server.properties, the
	// log directory and kafka.log.
	*launch.Process

	mu     sync.Mutex
	paused bool
}

var (
	mu           sync.Mutex
	shared       *Broker
	sharedErr    error
	fallbackOnce sync.Once
)

// Real returns the real broker shared by this test binary, starting it on
// first use. It fails the test when none can be had (Java or Maven missing,
// no network for the first download, a broker that does not start).
func Real(t testing.TB) *Broker {
	t.Helper()
	b, err := startShared()
	if err != nil {
		t.Fatalf("kafkatest: %v", err)
	}
	return b
}

func startShared() (*Broker, error) {
	mu.Lock()
	defer mu.Unlock()
	if shared != nil || sharedErr != nil {
		return shared, sharedErr
	}
	shared, sharedErr = Start()
	return shared, sharedErr
}

// Main runs the tests of a package and then stops the shared broker, if one
// was started. Call it from TestMain, or call StopShared after m.Run.
func Main(m *testing.M) {
	code := m.Run()
	StopShared()
	os.Exit(code)
}

// StopShared stops the shared broker, if one was started.
func StopShared() {
	mu.Lock()
	defer mu.Unlock()
	if shared != nil {
		shared.Stop()
		shared = nil
	}
}

// missingTools is the error of a machine without Java or Maven.
type missingTools = launch.MissingTools

// Script returns the path of kafka.sh, next to this file.
func Script() (string, error) { return launch.Script("kafkatest", "kafka.sh") }

// Start fetches Kafka (once per machine, into the cache of kafka.sh) and
// starts a new broker in a temporary directory on free loopback ports; it
// returns once the broker answers a metadata request. The caller must Stop
// it.
func Start() (*Broker, error) {
	script, err := Script()
	if err != nil {
		return nil, err
	}
	for _, tool := range []string{"java", "bash"} {
		if _, err := exec.LookPath(tool); err != nil {
			return nil, &missingTools{Msg: tool + " not found (apt-get install -y openjdk-17-jre-headless)"}
		}
	}
	version := Version()
	env := append(os.Environ(), EnvVersion+"="+version)
	if err := launch.Fetch(script, env, "Kafka "+version); err != nil {
		return nil, err
	}
	return launch.Retry(func() (*Broker, error) { return start(script, version, env) })
}

func start(script, version string, env []string) (*Broker, error) {
	started := time.Now()
	// kafka.sh start DIR PORT CONTROLLER_PORT execs java.
	proc, ports, err := launch.StartProcess(script, "kafkatest", env)
	if err != nil {
		return nil, err
	}
	b := &Broker{Process: proc, Addr: fmt.Sprintf("127.0.0.1:%d", ports[0]), Version: version}
	what := "the Kafka " + version + " broker"
	if err := proc.WaitReady(what, started, 120*time.Second, 200*time.Millisecond, func() error { return ping(b.Addr, 0, 2*time.Second) }, b.logs); err != nil {
		return nil, err
	}
	return b, nil
}

// ping asks the broker at addr for the cluster's metadata and wants a
// controller and, when brokers > 0, that many brokers (at least one else).
func ping(addr string, brokers int, timeout time.Duration) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RetryTimeout(timeout), kgo.DialTimeout(timeout))
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	m, err := kadm.NewClient(cl).BrokerMetadata(ctx)
	if err != nil {
		return fmt.Errorf("%s: %w", addr, err)
	}
	if len(m.Brokers) == 0 || (brokers > 0 && len(m.Brokers) != brokers) || m.Controller < 0 {
		return fmt.Errorf("%s: metadata names %d brokers, controller %d", addr, len(m.Brokers), m.Controller)
	}
	return nil
}

// logs returns the script's output and the broker's log, for an error.
func (b *Broker) logs() string {
	return b.Tail("stdout.log", "format.log", "kafka.log", "zookeeper.out", "zookeeper.log")
}

// Pause stops the broker process (SIGSTOP): it holds its connections but
// answers nothing until Resume. The test's cleanup resumes it, so that a
// test cannot leave the broker paused. Pausing the shared broker (Real)
// stalls every test using it: a test that pauses it must not run in
// parallel with others, or should Start a broker of its own.
func (b *Broker) Pause(t testing.TB) {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := syscall.Kill(b.PID(), syscall.SIGSTOP); err != nil {
		t.Fatalf("kafkatest: pausing the broker (pid %d): %v", b.PID(), err)
	}
	// The stop reaches every thread of the JVM asynchronously: wait until
	// the kernel reports the process stopped, so that a test's next
	// request meets a paused broker.
	stat := fmt.Sprintf("/proc/%d/stat", b.PID())
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		raw, err := os.ReadFile(stat)
		if err != nil {
			break // not Linux, or gone: nothing to wait for
		}
		if i := bytes.LastIndexByte(raw, ')'); i >= 0 && i+2 < len(raw) && raw[i+2] == 'T' {
			break
		}
	}
	if !b.paused {
		b.paused = true
		t.Cleanup(func() { b.Resume(t) })
	}
}

// Resume continues a paused broker (SIGCONT).
func (b *Broker) Resume(t testing.TB) {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.paused {
		return
	}
	if err := syscall.Kill(b.PID(), syscall.SIGCONT); err != nil {
		t.Errorf("kafkatest: resuming the broker (pid %d): %v", b.PID(), err)
	}
	b.paused = false
}

// Stop kills the broker (and, for a 2.x broker, its ZooKeeper server: the
// process group) and removes its directory. The data is throwaway, so
// there is no controlled shutdown to wait for.
func (b *Broker) Stop() { b.Process.Stop() }

// Package registrytest gives tests a Confluent-compatible schema registry:
// a real one, Apicurio Registry (registry.sh fetches a pinned release from
// Maven Central into a cache outside the repository and starts it with
// in-memory storage on loopback), shared by every test of one test binary;
// or franz-go's srfake in process, fresh per test.
//
// URL picks one for a test, after PG2KAFKA_TEST_REGISTRY (EnvRegistry):
//   - "real": the shared Apicurio Registry; the test fails when it cannot
//     be had (no Java 21+, no Maven, no network for the first download, a
//     registry that does not start). make test-registry sets it.
//   - "auto": the real registry when the machine has what it needs, else
//     srfake, with a log line saying why.
//   - "srfake" or unset: srfake, with a log line saying that a real
//     registry was not asked for. A real registry takes 10-60 s to start
//     on the project's 2-core machines, so make test leaves it out.
//
// srfake does not check compatibility: it registers any schema under any
// compatibility level. Tests of compatibility enforcement ask Enforces and
// skip (saying so) without a real registry.
//
// On the shared registry tests must use subjects of their own (topic names
// unique to the test) and must not change the global configuration.
package registrytest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/pg2kafka/pg2kafka/internal/launch"
)

// EnvRegistry names the environment variable choosing the registry URL
// gives: "real", "auto" or "srfake" (the default).
const EnvRegistry = "PG2KAFKA_TEST_REGISTRY"

// EnvVersion names the environment variable choosing the Apicurio Registry
// release (a Maven Central version of io.apicurio:apicurio-registry-app);
// DefaultVersion when unset.
const EnvVersion = "PG2KAFKA_TEST_REGISTRY_VERSION"

// DefaultVersion is the Apicurio Registry release Start starts unless
// EnvVersion says otherwise.
const DefaultVersion = "3.3.3"

// CompatPath is where Apicurio Registry serves the Confluent-compatible
// API; a Registry's URL includes it.
const CompatPath = "/apis/ccompat/v7"

// Version returns the Apicurio Registry release Start starts.
func Version() string {
	if v := os.Getenv(EnvVersion); v != "" {
		return v
	}
	return DefaultVersion
}

// Registry is a real schema registry (Apicurio Registry) started by
// registry.sh.
type Registry struct {
	// URL is the Confluent-compatible API's base URL,
	// http://127.0.0.1:PORT/apis/ccompat/v7.
	URL string
	// Version is the Apicurio Registry release.
	Version string
	// Process is the registry's JVM; its Dir holds registry.log.
	*launch.Process
	// Took is how long the registry took to answer after its start.
	Took time.Duration
}

var (
	mu           sync.Mutex
	shared       *Registry
	sharedErr    error
	fallbackOnce sync.Once
)

// URL returns the base URL of a schema registry for the test: the shared
// real registry or a fresh srfake, as EnvRegistry says (see the package
// comment). It logs which one it gives.
func URL(t testing.TB) string {
	t.Helper()
	switch mode := os.Getenv(EnvRegistry); mode {
	case "", "srfake":
		t.Logf("registrytest: using franz-go's srfake, which enforces no compatibility (%s=real or make test-registry for Apicurio Registry)", EnvRegistry)
		return Fake(t)
	case "auto", "real":
		r, err := startShared()
		if err == nil {
			t.Logf("registrytest: using Apicurio Registry %s at %s", r.Version, r.URL)
			return r.URL
		}
		var missing *missingTools
		if mode == "auto" && errors.As(err, &missing) {
			fallbackOnce.Do(func() {
				fmt.Fprintf(os.Stderr, "registrytest: no real schema registry (%v); using srfake (set %s=real to require one)\n", err, EnvRegistry)
			})
			t.Logf("registrytest: using srfake, not a real schema registry: %v", err)
			return Fake(t)
		}
		t.Fatalf("registrytest: %v", err)
	default:
		t.Fatalf("registrytest: %s=%q: want real, auto or srfake", EnvRegistry, mode)
	}
	return ""
}

// Enforces reports whether the registry at url checks compatibility: true
// for the shared real registry, false for srfake.
func Enforces(url string) bool {
	mu.Lock()
	defer mu.Unlock()
	return shared != nil && shared.URL == url
}

// Prestart starts the shared real registry in the background when
// EnvRegistry asks for one, so that it comes up while the caller starts
// other things (a Kafka broker, PostgreSQL); URL then waits for it. Call it
// from TestMain.
func Prestart() {
	if mode := os.Getenv(EnvRegistry); mode == "real" || mode == "auto" {
		go func() { _, _ = startShared() }()
	}
}

// Fake returns the URL of a fresh srfake registry, closed when the test
// ends.
func Fake(t testing.TB) string {
	t.Helper()
	reg := srfake.New()
	t.Cleanup(reg.Close)
	return reg.URL()
}

// Real returns the real registry shared by this test binary, starting it
// on first use; the test fails when none can be had.
func Real(t testing.TB) *Registry {
	t.Helper()
	r, err := startShared()
	if err != nil {
		t.Fatalf("registrytest: %v", err)
	}
	return r
}

func startShared() (*Registry, error) {
	mu.Lock()
	defer mu.Unlock()
	if shared != nil || sharedErr != nil {
		return shared, sharedErr
	}
	shared, sharedErr = Start()
	return shared, sharedErr
}

// StopShared stops the shared registry, if one was started. Call it from
// TestMain after m.Run.
func StopShared() {
	mu.Lock()
	defer mu.Unlock()
	if shared != nil {
		shared.Stop()
		shared = nil
	}
}

// missingTools is the error of a machine without Java 21+ or Maven.
type missingTools = launch.MissingTools

// Script returns the path of registry.sh, next to this file.
func Script() (string, error) { return launch.Script("registrytest", "registry.sh") }

// Start fetches Apicurio Registry (once per machine, into the cache of
// registry.sh) and starts a new one on free loopback ports; it returns once
// the Confluent-compatible API answers. The caller must Stop it.
func Start() (*Registry, error) {
	script, err := Script()
	if err != nil {
		return nil, err
	}
	if _, err := exec.LookPath("bash"); err != nil {
		return nil, &missingTools{Msg: "bash not found"}
	}
	version := Version()
	env := append(os.Environ(), EnvVersion+"="+version)
	if err := launch.Fetch(script, env, "Apicurio Registry "+version); err != nil {
		return nil, err
	}
	return launch.Retry(func() (*Registry, error) { return start(script, version, env) })
}

func start(script, version string, env []string) (*Registry, error) {
	started := time.Now()
	// registry.sh start DIR PORT MANAGEMENT_PORT execs java.
	proc, ports, err := launch.StartProcess(script, "registrytest", env)
	if err != nil {
		return nil, err
	}
	r := &Registry{Process: proc, URL: fmt.Sprintf("http://127.0.0.1:%d%s", ports[0], CompatPath), Version: version}
	what := "registrytest: Apicurio Registry " + version
	if err := proc.WaitReady(what, started, 180*time.Second, 250*time.Millisecond, func() error { return r.ping(2 * time.Second) }, r.logs); err != nil {
		return nil, err
	}
	r.Took = time.Since(started)
	if err := r.warm(); err != nil {
		logs := r.logs()
		r.Stop()
		return nil, fmt.Errorf("%s answered but failed its warm-up: %w\n%s", what, err, logs)
	}
	return r, nil
}

// ping asks the Confluent-compatible API for the global configuration.
func (r *Registry) ping(timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.URL+"/config", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s/config: %s %s", r.URL, resp.Status, body)
	}
	return nil
}

// warm takes a fresh registry once through the requests pg2kafka makes
// (a subject's compatibility level set before its first version, two
// versions checked against each other, a schema read by ID) on a subject of
// its own: the first of them, run cold by a JVM limited to its C1
// compiler, is slow on a loaded machine, and would otherwise count against
// the 30 s that pg2kafka gives a registry request.
func (r *Registry) warm() error {
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	cl, err := sr.NewClient(sr.URLs(r.URL))
	if err != nil {
		return err
	}
	const subject = "registrytest-warm-up-value"
	if res := cl.SetCompatibility(ctx, sr.SetCompatibility{Level: sr.CompatBackward}, subject); len(res) != 1 || res[0].Err != nil {
		return fmt.Errorf("setting the compatibility of %s: %+v", subject, res)
	}
	var id int
	for _, fields := range []string{`{"name":"a","type":"int"}`, `{"name":"a","type":"long"},{"name":"b","type":["null","string"],"default":null}`} {
		s := sr.Schema{Type: sr.TypeAvro, Schema: `{"type":"record","name":"WarmUp","fields":[` + fields + `]}`}
		if id, err = cl.RegisterSchema(ctx, subject, s, -1, -1); err != nil {
			return fmt.Errorf("registering under %s: %w", subject, err)
		}
	}
	if _, err := cl.SchemaByID(ctx, id); err != nil {
		return fmt.Errorf("reading schema %d: %w", id, err)
	}
	return nil
}

// logs returns the script's output and the registry's log, for an error.
func (r *Registry) logs() string { return r.Tail("stdout.log", "registry.log") }

// Stop kills the registry and removes its directory; its storage is in
// memory and throwaway.
func (r *Registry) Stop() { r.Process.Stop() }

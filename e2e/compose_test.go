package e2e

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.yaml.in/yaml/v3"

	"github.com/pg2kafka/pg2kafka/config"
	"github.com/pg2kafka/pg2kafka/internal/kafkatest"
	"github.com/pg2kafka/pg2kafka/internal/pgtest"
)

// composeFile is the part of docker-compose.yml these tests read.
type composeFile struct {
	// Name is the top-level name, which Compose v1 rejects.
	Name     *string                   `yaml:"name"`
	Services map[string]composeService `yaml:"services"`
}

type composeService struct {
	Image       string            `yaml:"image"`
	Build       any               `yaml:"build"`
	Command     []string          `yaml:"command"`
	Environment map[string]string `yaml:"environment"`
	Ports       []string          `yaml:"ports"`
	Volumes     []string          `yaml:"volumes"`
	DependsOn   map[string]struct {
		Condition string `yaml:"condition"`
	} `yaml:"depends_on"`
	Healthcheck *struct {
		Test []string `yaml:"test"`
	} `yaml:"healthcheck"`
}

// composeRead parses ../docker-compose.yml.
func composeRead(t *testing.T) composeFile {
	t.Helper()
	data, err := os.ReadFile("../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var f composeFile
	if err := yaml.Unmarshal(data, &f); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	return f
}

// composeInterpolate applies Compose's interpolation to s as `docker
// compose up` does in a shell that sets none of the variables: ${VAR:-d}
// and ${VAR-d} yield d, ${VAR} and $VAR yield "", $$ yields $.
func composeInterpolate(s string) string {
	return os.Expand(s, func(name string) string {
		if name == "$" {
			return "$"
		}
		if _, def, ok := strings.Cut(name, ":-"); ok {
			return def
		}
		if _, def, ok := strings.Cut(name, "-"); ok {
			return def
		}
		return ""
	})
}

// env returns the service's environment after interpolation.
func (s composeService) env() map[string]string {
	out := map[string]string{}
	for k, v := range s.Environment {
		out[k] = composeInterpolate(v)
	}
	return out
}

// mount returns the source of the bind mount at target, or "".
func (s composeService) mount(target string) string {
	for _, v := range s.Volumes {
		parts := strings.Split(v, ":")
		if len(parts) >= 2 && parts[1] == target {
			return parts[0]
		}
	}
	return ""
}

// publishes reports whether the service publishes container port on the
// host port.
func (s composeService) publishes(host, container string) bool {
	for _, p := range s.Ports {
		if composeInterpolate(p) == host+":"+container {
			return true
		}
	}
	return false
}

// composeListeners parses a Kafka listener list ("NAME://host:port,...")
// into name -> host:port.
func composeListeners(t *testing.T, s string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, l := range strings.Split(s, ",") {
		name, addr, ok := strings.Cut(strings.TrimSpace(l), "://")
		if !ok {
			t.Fatalf("listener %q is not NAME://host:port", l)
		}
		out[name] = addr
	}
	return out
}

// composeConfig parses deploy/pg2kafka.yaml with config.Parse in the
// environment the compose file gives the pg2kafka service.
func composeConfig(t *testing.T, svc composeService) *config.Config {
	t.Helper()
	data, err := os.ReadFile("../deploy/pg2kafka.yaml")
	if err != nil {
		t.Fatal(err)
	}
	env := svc.env()
	// Variables the file references but the compose file does not set
	// must not leak in from the test's environment.
	for _, m := range regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)`).FindAllStringSubmatch(string(data), -1) {
		if _, ok := env[m[1]]; !ok {
			t.Setenv(m[1], "")
		}
	}
	for k, v := range env {
		t.Setenv(k, v)
	}
	cfg, err := config.Parse(data, "deploy/pg2kafka.yaml")
	if err != nil {
		t.Fatalf("deploy/pg2kafka.yaml does not parse in the compose environment:\n%v", err)
	}
	return cfg
}

// docker-compose.yml agrees with the configuration reference and with
// itself: pg2kafka's configuration parses in the environment compose gives
// it and names the postgres service and the kafka service's in-network
// listener; PostgreSQL runs with wal_level=logical and its init script
// creates the role, watermarks table and publication the configuration
// names; the UI browses the same listener. No Docker needed.
func TestComposeFile(t *testing.T) {
	f := composeRead(t)
	for _, name := range []string{"postgres", "kafka", "pg2kafka", "kafka-ui"} {
		if _, ok := f.Services[name]; !ok {
			t.Fatalf("docker-compose.yml has no service %q", name)
		}
	}
	pg, kafka, p2k, ui := f.Services["postgres"], f.Services["kafka"], f.Services["pg2kafka"], f.Services["kafka-ui"]

	// Compose v1 and v2: no top-level name (v1 rejects it).
	if f.Name != nil {
		t.Errorf("docker-compose.yml has a top-level name %q, which Compose v1 rejects", *f.Name)
	}
	// Every image is pinned to a release: a tag with a version, not
	// latest, main or a bare major.
	for name, svc := range f.Services {
		if svc.Image == "" || svc.Build != nil {
			continue
		}
		_, tag, ok := strings.Cut(svc.Image, ":")
		if !ok || !regexp.MustCompile(`^v?\d+\.\d+(\.\d+)?$`).MatchString(tag) {
			t.Errorf("service %s: image %q is not pinned to a release (want name:MAJOR.MINOR[.PATCH])", name, svc.Image)
		}
	}

	// PostgreSQL.
	if !regexp.MustCompile(`^postgres:16\.\d+$`).MatchString(pg.Image) {
		t.Errorf("postgres image %q, want postgres:16.N (a pinned minor)", pg.Image)
	}
	if !strings.Contains(strings.Join(pg.Command, " "), "wal_level=logical") {
		t.Errorf("postgres command %q does not set wal_level=logical", pg.Command)
	}
	if !pg.publishes("5432", "5432") {
		t.Errorf("postgres does not publish port 5432: %v", pg.Ports)
	}
	initSrc := pg.mount("/docker-entrypoint-initdb.d/init.sql")
	if initSrc != "./deploy/postgres/init.sql" {
		t.Fatalf("postgres mounts %q as its init script, want ./deploy/postgres/init.sql", initSrc)
	}
	initSQL, err := os.ReadFile(filepath.Join("..", initSrc))
	if err != nil {
		t.Fatal(err)
	}
	pgEnv := pg.env()

	// Kafka: KRaft, one node, an in-network and a host listener.
	if !strings.HasPrefix(kafka.Image, "apache/kafka:") {
		t.Errorf("kafka image %q, want apache/kafka", kafka.Image)
	}
	kEnv := kafka.env()
	if roles := kEnv["KAFKA_PROCESS_ROLES"]; !strings.Contains(roles, "broker") || !strings.Contains(roles, "controller") {
		t.Errorf("KAFKA_PROCESS_ROLES %q: want broker,controller (KRaft)", roles)
	}
	for _, k := range []string{"KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR", "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR", "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"} {
		if kEnv[k] != "1" {
			t.Errorf("kafka %s = %q: one broker needs 1 (exactly-once needs transactions)", k, kEnv[k])
		}
	}
	listeners := composeListeners(t, kEnv["KAFKA_LISTENERS"])
	advertised := composeListeners(t, kEnv["KAFKA_ADVERTISED_LISTENERS"])
	internal, host := "", ""
	for name, addr := range advertised {
		h, port, err := net.SplitHostPort(addr)
		if err != nil {
			t.Fatalf("advertised listener %s: %v", name, err)
		}
		if _, lport, _ := net.SplitHostPort(listeners[name]); lport != port {
			t.Errorf("advertised listener %s://%s has no listener on port %s: %s", name, addr, port, kEnv["KAFKA_LISTENERS"])
		}
		switch h {
		case "kafka":
			internal = addr
		case "localhost":
			host = addr
			if !kafka.publishes(port, port) {
				t.Errorf("listener %s://%s: port %s is not published: %v", name, addr, port, kafka.Ports)
			}
		}
	}
	if internal == "" {
		t.Fatalf("no listener is advertised as the kafka service: %s", kEnv["KAFKA_ADVERTISED_LISTENERS"])
	}
	if host != "localhost:9092" {
		t.Errorf("host listener %q, want localhost:9092", host)
	}

	// pg2kafka.
	if p2k.Build != "." {
		t.Errorf("pg2kafka build %v, want \".\"", p2k.Build)
	}
	env := p2k.env()
	if env[config.EnvConfigPath] != "/etc/pg2kafka/pg2kafka.yaml" {
		t.Errorf("pg2kafka %s = %q", config.EnvConfigPath, env[config.EnvConfigPath])
	}
	if src := p2k.mount(env[config.EnvConfigPath]); src != "./deploy/pg2kafka.yaml" {
		t.Errorf("pg2kafka mounts %q at %s, want ./deploy/pg2kafka.yaml", src, env[config.EnvConfigPath])
	}
	for _, dep := range []string{"postgres", "kafka"} {
		if c := p2k.DependsOn[dep].Condition; c != "service_healthy" {
			t.Errorf("pg2kafka depends on %s with condition %q, want service_healthy", dep, c)
		}
		if f.Services[dep].Healthcheck == nil || len(f.Services[dep].Healthcheck.Test) == 0 {
			t.Errorf("service %s has no healthcheck", dep)
		}
	}
	cfg := composeConfig(t, p2k)
	if h, port := cfg.Source.HostPort(); h != "postgres" || port != "5432" {
		t.Errorf("source.address %q, want the postgres service, postgres:5432", cfg.Source.Address)
	}
	if cfg.Source.Database != pgEnv["POSTGRES_DB"] {
		t.Errorf("source.database %q, but the postgres service creates %q", cfg.Source.Database, pgEnv["POSTGRES_DB"])
	}
	if cfg.Source.EffectivePassword() != pgEnv["FLOW_CAPTURE_PASSWORD"] || cfg.Source.EffectivePassword() == "" {
		t.Errorf("source.password does not match the password init.sql gives %s (FLOW_CAPTURE_PASSWORD)", cfg.Source.User)
	}
	if len(cfg.Kafka.Brokers) != 1 || cfg.Kafka.Brokers[0] != internal {
		t.Errorf("kafka.brokers %v, want [%s], the kafka service's in-network listener", cfg.Kafka.Brokers, internal)
	}
	if _, ok := cfg.Embedded(); ok {
		t.Errorf("kafka.brokers asks for the embedded broker")
	}
	// Metrics on, published, and a healthcheck the distroless image can
	// run (no shell, no curl): pg2kafka's own healthcheck command.
	if _, port, err := net.SplitHostPort(cfg.HTTP.Listen); err != nil || port != "9187" || strings.HasPrefix(cfg.HTTP.Listen, "127.") {
		t.Errorf("http.listen %q, want :9187 (every interface of the container)", cfg.HTTP.Listen)
	}
	if !p2k.publishes("9187", "9187") {
		t.Errorf("pg2kafka does not publish its metrics port 9187: %v", p2k.Ports)
	}
	if p2k.Healthcheck == nil || strings.Join(p2k.Healthcheck.Test, " ") != "CMD /pg2kafka healthcheck" {
		t.Errorf("pg2kafka healthcheck %v, want [CMD /pg2kafka healthcheck]", p2k.Healthcheck)
	}
	if out, err := exec.Command(binary, "healthcheck", "--help").CombinedOutput(); err != nil {
		t.Errorf("pg2kafka healthcheck --help: %v\n%s", err, out)
	}

	// The init script creates what the configuration names.
	// The statements, without comments.
	sql := strings.ToLower(regexp.MustCompile(`--[^\n]*`).ReplaceAllString(string(initSQL), ""))
	ws, wt := cfg.WatermarksTable()
	pub := strings.ToLower(cfg.Source.Advanced.PublicationName)
	for _, want := range []string{
		"create user " + strings.ToLower(cfg.Source.User) + " ",
		"create table " + strings.ToLower(ws+"."+wt) + " ",
		"create publication " + pub + ";",
		"alter publication " + pub + " set (publish_via_partition_root = true)",
		"alter publication " + pub + " add table " + strings.ToLower(ws+"."+wt),
	} {
		if !strings.Contains(sql, want) {
			t.Errorf("init.sql does not contain %q", want)
		}
	}
	if !regexp.MustCompile(`create user ` + strings.ToLower(cfg.Source.User) + ` [^;]*\breplication\b`).MatchString(sql) {
		t.Errorf("init.sql does not give %s REPLICATION", cfg.Source.User)
	}
	if regexp.MustCompile(`\bsuperuser\b|pg_read_all_data|\bcreaterole\b|\bcreatedb\b|grant all[^;]* on (all tables|schema|database)`).MatchString(sql) {
		t.Errorf("init.sql grants %s more than it needs", cfg.Source.User)
	}
	if !strings.Contains(sql, "flow_capture_password") {
		t.Errorf("init.sql does not take the capture role's password from FLOW_CAPTURE_PASSWORD")
	}

	// The UI, the maintained fork, browses the kafka service's
	// in-network listener.
	if !strings.HasPrefix(ui.Image, "kafbat/kafka-ui:") {
		t.Errorf("kafka-ui image %q, want kafbat/kafka-ui (provectuslabs/kafka-ui is unmaintained)", ui.Image)
	}
	if got := ui.env()["KAFKA_CLUSTERS_0_BOOTSTRAPSERVERS"]; got != internal {
		t.Errorf("kafka-ui bootstrap servers %q, want %s", got, internal)
	}
	if !ui.publishes("8080", "8080") {
		t.Errorf("kafka-ui does not publish port 8080: %v", ui.Ports)
	}
}

// The Dockerfile builds a static binary and runs it as a non-root user
// with `run` as the default command.
func TestComposeDockerfile(t *testing.T) {
	data, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	s := string(data)
	for _, want := range []string{
		"CGO_ENABLED=0",
		"./cmd/pg2kafka",
		"FROM gcr.io/distroless/static-debian12:nonroot",
		"USER nonroot",
		`ENTRYPOINT ["/pg2kafka"]`,
		`CMD ["run"]`,
	} {
		if !strings.Contains(s, want) {
			t.Errorf("Dockerfile does not contain %q", want)
		}
	}
	if n := strings.Count(s, "\nFROM "); n < 2 {
		t.Errorf("Dockerfile has %d stages, want a build stage and a final stage", n)
	}
}

// The demo without Docker: init.sql on a fresh PostgreSQL (as the image's
// entrypoint runs it, with psql), then pg2kafka with deploy/pg2kafka.yaml,
// named by PG2KAFKA_CONFIG as in the container, as the least-privilege
// role init.sql creates. It captures a change of a demo table.
func TestComposeDemoWithoutDocker(t *testing.T) {
	t.Parallel()
	srv, err := pgtest.Start()
	if err != nil {
		t.Skipf("cannot start a separate PostgreSQL server: %v", err)
	}
	t.Cleanup(srv.Stop)
	pgtest.Exec(t, srv.AdminURL, `CREATE DATABASE demo`)
	demoURL := pgtest.WithDatabase(srv.AdminURL, "demo")
	psqlPath, err := srv.Tool("psql")
	if err != nil {
		t.Fatal(err)
	}
	psql := exec.Command(psqlPath, "-v", "ON_ERROR_STOP=1", "--no-psqlrc", "-q",
		"-f", "../deploy/postgres/init.sql", demoURL)
	psql.Env = append(os.Environ(), "FLOW_CAPTURE_PASSWORD=demo-secret")
	if out, err := psql.CombinedOutput(); err != nil {
		t.Fatalf("psql -f deploy/postgres/init.sql: %v\n%s", err, out)
	}

	pc, err := pgx.ParseConfig(demoURL)
	if err != nil {
		t.Fatal(err)
	}
	// kfake of its own: the topic prefix and capture name are
	// deploy/pg2kafka.yaml's, not unique to the test.
	brokers := kafkatest.Fake(t)
	// The metrics listener on a free loopback port, not the file's :9187.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	listen := ln.Addr().String()
	ln.Close()
	environ := append(os.Environ(),
		config.EnvConfigPath+"=../deploy/pg2kafka.yaml",
		"PGHOST="+pc.Host, fmt.Sprintf("PGPORT=%d", pc.Port), "PGDATABASE=demo", "PGUSER=flow_capture",
		"PGPASSWORD=demo-secret", "PGSSLMODE=disable", "PGSSLROOTCERT=",
		"KAFKA_BROKERS="+strings.Join(brokers, ","), "KAFKA_TOPIC_PREFIX=", "LOG_LEVEL=info",
		"HTTP_LISTEN="+listen)
	p := launch(t, streaming, environ, "run")
	p.waitReady(t, 60*time.Second)

	// The compose healthcheck's command, as the container runs it.
	hc := exec.Command(binary, "healthcheck")
	hc.Env = environ
	if out, err := hc.CombinedOutput(); err != nil || !strings.Contains(string(out), "/healthz") {
		t.Errorf("pg2kafka healthcheck beside a running capture: %v\n%s", err, out)
	}

	pgtest.Exec(t, demoURL, `INSERT INTO customers (name, email) VALUES ('Linus', 'linus@example.com')`)
	deadline := time.Now().Add(30 * time.Second)
	for {
		var found bool
		for _, r := range consumeFrom(t, brokers, "pg2kafka.public.customers", 1, 2*time.Second) {
			d := decode(t, r)
			if d != nil && d["email"] == "linus@example.com" && meta(d)["op"] == "c" {
				found = true
			}
		}
		if found {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the insert did not reach pg2kafka.public.customers within 30s\n%s", p.output())
		}
	}
	p.stop(t)
}

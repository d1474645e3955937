package e2e

import (
	"context"
	"fmt"
	"os/exec"
	"testing"
	"time"

	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/wait"
)

// Images of the container test; the same as docker-compose.yml's.
const (
	containersPostgresImage = "postgres:16"
	containersKafkaImage    = "apache/kafka:3.9.1"
)

// containersNeedDocker skips the test under -short and when no Docker
// engine answers. The check is bounded: without an engine it never hangs.
func containersNeedDocker(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: skipping the test that needs a Docker engine")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				done <- fmt.Errorf("testcontainers: %v", r)
			}
		}()
		p, err := testcontainers.NewDockerProvider()
		if err != nil {
			done <- err
			return
		}
		done <- p.Health(ctx) // closes p
	}()
	select {
	case err := <-done:
		if err != nil {
			detail := ""
			if out, derr := exec.CommandContext(ctx, "docker", "info", "--format", "{{.ServerVersion}}").CombinedOutput(); derr != nil {
				detail = fmt.Sprintf("; docker info: %v: %s", derr, out)
			}
			t.Skipf("no Docker engine: %v%s", err, detail)
		}
	case <-ctx.Done():
		t.Skip("no Docker engine: no answer within 15s")
	}
}

// containersKafkaStarter is run by the Kafka container once the host port
// of its PLAINTEXT listener is known, which it must advertise.
const containersKafkaStarter = "/tmp/pg2kafka_start.sh"

// containersKafka starts apache/kafka in KRaft mode and returns its
// bootstrap address on the Docker host. The PLAINTEXT listener (9093) is
// advertised at its mapped host port, BROKER (9092) is the inter-broker
// listener, CONTROLLER (9094) the controller's.
func containersKafka(ctx context.Context, t *testing.T) string {
	t.Helper()
	c, err := testcontainers.Run(ctx, containersKafkaImage,
		testcontainers.WithExposedPorts("9093/tcp"),
		testcontainers.WithEnv(map[string]string{
			"KAFKA_NODE_ID":                                  "1",
			"KAFKA_PROCESS_ROLES":                            "broker,controller",
			"KAFKA_LISTENERS":                                "PLAINTEXT://0.0.0.0:9093,BROKER://0.0.0.0:9092,CONTROLLER://0.0.0.0:9094",
			"KAFKA_LISTENER_SECURITY_PROTOCOL_MAP":           "BROKER:PLAINTEXT,PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
			"KAFKA_INTER_BROKER_LISTENER_NAME":               "BROKER",
			"KAFKA_CONTROLLER_LISTENER_NAMES":                "CONTROLLER",
			"KAFKA_CONTROLLER_QUORUM_VOTERS":                 "1@localhost:9094",
			"KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR":         "1",
			"KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR": "1",
			"KAFKA_TRANSACTION_STATE_LOG_MIN_ISR":            "1",
			"KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS":         "0",
		}),
		testcontainers.WithEntrypoint("sh"),
		testcontainers.WithCmd("-c", "while [ ! -f "+containersKafkaStarter+" ]; do sleep 0.1; done; exec sh "+containersKafkaStarter),
		testcontainers.WithLifecycleHooks(testcontainers.ContainerLifecycleHooks{
			PostStarts: []testcontainers.ContainerHook{func(ctx context.Context, c testcontainers.Container) error {
				if err := wait.ForMappedPort("9093/tcp").WaitUntilReady(ctx, c); err != nil {
					return fmt.Errorf("waiting for the mapped port: %w", err)
				}
				endpoint, err := c.PortEndpoint(ctx, "9093/tcp", "PLAINTEXT")
				if err != nil {
					return err
				}
				inspect, err := c.Inspect(ctx)
				if err != nil {
					return err
				}
				script := fmt.Sprintf("export KAFKA_ADVERTISED_LISTENERS=%s,BROKER://%s:9092\nexec /etc/kafka/docker/run\n", endpoint, inspect.Config.Hostname)
				if err := c.CopyToContainer(ctx, []byte(script), containersKafkaStarter, 0o755); err != nil {
					return fmt.Errorf("copying the starter script: %w", err)
				}
				return wait.ForLog("Kafka Server started").WithStartupTimeout(2*time.Minute).WaitUntilReady(ctx, c)
			}},
		}),
	)
	testcontainers.CleanupContainer(t, c)
	if err != nil {
		t.Fatalf("starting %s: %v", containersKafkaImage, err)
	}
	addr, err := c.PortEndpoint(ctx, "9093/tcp", "")
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

// containersPostgres starts postgres:16 with wal_level=logical and returns
// a superuser URL. Trust authentication lets the harness's configuration
// (whose password is a placeholder) connect.
func containersPostgres(ctx context.Context, t *testing.T) string {
	t.Helper()
	c, err := testcontainers.Run(ctx, containersPostgresImage,
		testcontainers.WithExposedPorts("5432/tcp"),
		testcontainers.WithEnv(map[string]string{
			"POSTGRES_PASSWORD":         "postgres",
			"POSTGRES_HOST_AUTH_METHOD": "trust",
		}),
		testcontainers.WithCmd("postgres", "-c", "wal_level=logical"),
		// The entrypoint's initialisation server says it once too.
		testcontainers.WithWaitStrategy(wait.ForAll(
			wait.ForLog("database system is ready to accept connections").WithOccurrence(2),
			wait.ForListeningPort("5432/tcp"),
		).WithDeadline(2*time.Minute)),
	)
	testcontainers.CleanupContainer(t, c)
	if err != nil {
		t.Fatalf("starting %s: %v", containersPostgresImage, err)
	}
	hostPort, err := c.PortEndpoint(ctx, "5432/tcp", "")
	if err != nil {
		t.Fatal(err)
	}
	return "postgres://postgres@" + hostPort + "/postgres?sslmode=disable"
}

// The core end-to-end assertions against real servers, the images of
// docker-compose.yml: inserts, updates and deletes arrive as exactly these
// records, read_committed with franz-go, through real Kafka transactions.
// Skipped without a Docker engine.
func TestContainers(t *testing.T) {
	containersNeedDocker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	e := &env{t: t, dbURL: containersPostgres(ctx, t), brokers: []string{containersKafka(ctx, t)}, dir: t.TempDir(), prefix: "pg2kafka"}
	e.exec(`CREATE TABLE orders (id integer PRIMARY KEY, customer text, total numeric(10,2))`,
		`CREATE TABLE users (email text PRIMARY KEY, name text)`,
		`CREATE PUBLICATION flow_publication FOR TABLE orders, users`)
	p := e.start(true)
	e.exec(
		`INSERT INTO orders VALUES (1, 'globex', 250.00)`,
		`INSERT INTO users VALUES ('alice@example.com', 'Alice')`,
		`UPDATE orders SET total = 275.00 WHERE id = 1`,
		`UPDATE users SET name = 'Alice B' WHERE email = 'alice@example.com'`,
		`DELETE FROM orders WHERE id = 1`,
	)
	orders := e.consume(e.topic("orders"), 4, 60*time.Second)
	users := e.consume(e.topic("users"), 2, 60*time.Second)
	p.stop(t)

	checkRecords(t, "orders", orders, []want{
		{`{"id":1}`, "c", doc{"id": 1.0, "customer": "globex", "total": "250.00"}},
		{`{"id":1}`, "u", doc{"id": 1.0, "customer": "globex", "total": "275.00"}},
		{`{"id":1}`, "d", doc{"id": 1.0}},
		{`{"id":1}`, "", nil},
	})
	checkRecords(t, "users", users, []want{
		{`{"email":"alice@example.com"}`, "c", doc{"email": "alice@example.com", "name": "Alice"}},
		{`{"email":"alice@example.com"}`, "u", doc{"email": "alice@example.com", "name": "Alice B"}},
	})

	// The checkpoint topic holds the capture's committed state.
	var cps int
	for _, r := range e.settle(e.prefix+".checkpoints", time.Second) {
		if string(r.Key) == e.capture() && r.Value != nil {
			cps++
		}
	}
	if cps == 0 {
		t.Errorf("no checkpoint of capture %s in %s.checkpoints", e.capture(), e.prefix)
	}
}

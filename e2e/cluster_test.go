package e2e

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/pg2kafka/pg2kafka/internal/kafkatest"
	"github.com/pg2kafka/pg2kafka/internal/pgtest"
)

// EnvCluster runs TestBrokerFailover (make test-cluster): it starts a
// 3-node Kafka cluster of its own, three JVMs, for a few minutes.
const EnvCluster = "PG2KAFKA_TEST_CLUSTER"

// On a 3-node cluster (topics replicated to all three, min.insync.replicas
// 2), the node coordinating the capture's first transactional ID, then the
// leader of its topic, then the coordinator of its second ID are killed in
// turn (SIGKILL) and restarted, while a writer commits: pg2kafka stays up,
// and each key's changes in Kafka equal its committed history, read
// read_committed. PG2KAFKA_CLUSTER_ROUNDS sets the kills (default 3).
func TestBrokerFailover(t *testing.T) {
	if os.Getenv(EnvCluster) == "" {
		t.Skipf("starts a 3-node Kafka cluster of its own: %s=1 (make test-cluster)", EnvCluster)
	}
	rounds := 3
	if n, err := strconv.Atoi(os.Getenv("PG2KAFKA_CLUSTER_ROUNDS")); err == nil && n > 0 {
		rounds = n
	}
	const down = 10 * time.Second
	c, err := kafkatest.StartCluster(3)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Stop)
	e := &env{t: t, dbURL: pgtest.Shared(t).NewDatabase(t), brokers: c.Addrs, dir: t.TempDir()}
	e.prefix = fmt.Sprintf("t%d", time.Now().UnixNano())
	e.slot = fmt.Sprintf("pg2kafka_cluster_%d", slots.Add(1))
	e.kafka = []string{"capture: " + e.prefix}
	ids := []string{"pg2kafka-" + e.prefix, "pg2kafka-" + e.prefix + "#2"}
	e.exec(`CREATE PUBLICATION flow_publication`,
		`CREATE TABLE hist (k integer PRIMARY KEY, v bigint NOT NULL)`,
		`ALTER PUBLICATION flow_publication ADD TABLE hist`)
	topic := e.topic("hist")
	p := e.start(true)
	col := collect(t, e.brokers, topic)
	w := startResilientWriter(t, e.dbURL, 200)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Addrs...), kgo.RetryTimeout(20*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	// The first kill lands while changes are being relayed.
	for deadline := time.Now().Add(60 * time.Second); col.count() == 0; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no change reached the topic within 60 s\n%s", p.output())
		}
	}
	for i := range rounds {
		waitFullISR(t, adm, 2*time.Minute)
		var victim int32
		var what string
		switch i % 3 {
		case 0:
			what, victim = "the coordinator of "+ids[0], txnCoordinator(t, cl, ids[0])
		case 2:
			what, victim = "the coordinator of "+ids[1], txnCoordinator(t, cl, ids[1])
		case 1:
			what = "the leader of " + topic
			victim = partitionLeader(t, adm, topic)
		}
		before := col.count()
		c.Kill(victim)
		time.Sleep(down)
		t.Logf("round %d: node %d (%s) down for %s: %d records arrived meanwhile", i+1, victim, what, down, col.count()-before)
		if err := c.Restart(victim); err != nil {
			t.Fatal(err)
		}
		select {
		case <-p.exited:
			t.Fatalf("pg2kafka exited after node %d (%s) was killed:\n%s", victim, what, tail(p.output(), 30))
		default:
		}
	}
	waitFullISR(t, adm, 2*time.Minute)
	time.Sleep(2 * time.Second)
	w.finish(t)
	want := expected(w.history)
	recs := col.waitFor(t, want, 180*time.Second, 3*time.Second)
	select {
	case <-p.exited:
		t.Fatalf("pg2kafka exited:\n%s", tail(p.output(), 30))
	default:
	}
	p.stop(t)
	got, _ := keyHistories(t, recs)
	lost, dup := compareHistories(t, got, w.history)
	t.Logf("%d kills of 3 nodes, %d changes to %d keys; keys with lost changes %d, with duplicated changes %d", rounds, changesIn(w.history), len(w.history), lost, dup)
}

// txnCoordinator returns the node coordinating transactional ID id.
func txnCoordinator(t *testing.T, cl *kgo.Client, id string) int32 {
	t.Helper()
	req := kmsg.NewPtrFindCoordinatorRequest()
	req.CoordinatorType = 1 // transaction
	req.CoordinatorKey = id
	req.CoordinatorKeys = []string{id}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatalf("finding the coordinator of %s: %v", id, err)
	}
	node, code := resp.NodeID, resp.ErrorCode
	if len(resp.Coordinators) > 0 {
		node, code = resp.Coordinators[0].NodeID, resp.Coordinators[0].ErrorCode
	}
	if code != 0 || node < 1 {
		t.Fatalf("finding the coordinator of %s: error code %d, node %d", id, code, node)
	}
	return node
}

// partitionLeader returns the leader of topic's partition 0.
func partitionLeader(t *testing.T, adm *kadm.Client, topic string) int32 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	td, err := adm.ListTopics(ctx, topic)
	if err != nil || td[topic].Err != nil {
		t.Fatalf("describing %s: %v %v", topic, err, td[topic].Err)
	}
	return td[topic].Partitions[0].Leader
}

// waitFullISR waits until every partition of every topic, the internal
// ones included, has a leader and all its replicas in sync.
func waitFullISR(t *testing.T, adm *kadm.Client, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		td, err := adm.ListTopicsWithInternal(ctx)
		cancel()
		full := err == nil && len(td) > 0
		for _, tp := range td {
			for _, p := range tp.Partitions {
				if p.Leader < 0 || len(p.ISR) < len(p.Replicas) {
					full = false
				}
			}
		}
		if full {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the cluster's partitions are not all fully in sync after %s (%v)", timeout, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

package kafkatest

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pg2kafka/pg2kafka/internal/launch"
)

// Cluster is a KRaft cluster of real brokers on loopback, each node a
// combined broker and controller started by `kafka.sh node`. Topics and the
// internal ones are replicated to every node, with min.insync.replicas one
// less: one node may be down at a time.
type Cluster struct {
	// Addrs are the nodes' PLAINTEXT listeners, node i+1 at Addrs[i].
	Addrs []string
	// Version is the brokers' Apache Kafka release.
	Version string

	script, dir, voters, id string
	env                     []string
	ports                   [][2]int

	mu    sync.Mutex
	nodes []*launch.Process // nil while a node is killed
}

// StartCluster fetches Kafka (as Start does) and starts a cluster of n
// nodes in a temporary directory on free loopback ports; it returns once
// every node answers and the metadata names them all. The caller must Stop
// it.
func StartCluster(n int) (*Cluster, error) {
	script, err := Script()
	if err != nil {
		return nil, err
	}
	version := Version()
	env := append(os.Environ(), EnvVersion+"="+version)
	if err := launch.Fetch(script, env, "Kafka "+version); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "pg2kafka-kafkacluster-")
	if err != nil {
		return nil, fmt.Errorf("creating the cluster's directory: %w", err)
	}
	// A cluster ID as `kafka-storage.sh random-uuid` prints it.
	raw := make([]byte, 16)
	_, _ = rand.Read(raw)
	id := "A" + base64.RawURLEncoding.EncodeToString(raw)[1:]
	c := &Cluster{Version: version, script: script, dir: dir, id: id, env: env, nodes: make([]*launch.Process, n)}
	var voters []string
	for i := range n {
		var p [2]int
		for j := range p {
			if p[j], err = launch.FreePort(); err != nil {
				c.Stop()
				return nil, err
			}
		}
		c.ports = append(c.ports, p)
		c.Addrs = append(c.Addrs, fmt.Sprintf("127.0.0.1:%d", p[0]))
		voters = append(voters, fmt.Sprintf("%d@127.0.0.1:%d", i+1, p[1]))
		if err := os.MkdirAll(c.nodeDir(i), 0o755); err != nil {
			c.Stop()
			return nil, err
		}
	}
	c.voters = strings.Join(voters, ",")
	for i := range n {
		if err := c.start(i); err != nil {
			c.Stop()
			return nil, err
		}
	}
	if err := c.WaitAll(2 * time.Minute); err != nil {
		c.Stop()
		return nil, err
	}
	return c, nil
}

func (c *Cluster) nodeDir(i int) string { return filepath.Join(c.dir, "node"+strconv.Itoa(i+1)) }

func (c *Cluster) start(i int) error {
	p, err := launch.StartIn(c.nodeDir(i), c.env, c.script, "node", c.nodeDir(i),
		strconv.Itoa(c.ports[i][0]), strconv.Itoa(c.ports[i][1]), strconv.Itoa(i+1), c.voters, c.id)
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.nodes[i] = p
	c.mu.Unlock()
	return nil
}

// Kill kills node (1-based, as its node.id) with SIGKILL; its data stays
// for Restart.
func (c *Cluster) Kill(node int32) {
	c.mu.Lock()
	p := c.nodes[node-1]
	c.nodes[node-1] = nil
	c.mu.Unlock()
	if p != nil {
		p.Kill()
	}
}

// Restart starts a killed node again on its data and waits until the
// metadata names every node again.
func (c *Cluster) Restart(node int32) error {
	if err := c.start(int(node - 1)); err != nil {
		return err
	}
	return c.WaitAll(2 * time.Minute)
}

// WaitAll waits until every node's listener answers a metadata request
// naming all the nodes and a controller.
func (c *Cluster) WaitAll(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		err := c.ping()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the Kafka %s cluster did not answer within %s: %w\n%s", c.Version, timeout, err, c.logs())
		}
		time.Sleep(300 * time.Millisecond)
	}
}

func (c *Cluster) ping() error {
	for _, addr := range c.Addrs {
		if err := ping(addr, len(c.Addrs), 3*time.Second); err != nil {
			return err
		}
	}
	return nil
}

// logs returns each node's output and log, for an error.
func (c *Cluster) logs() string {
	var b strings.Builder
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, p := range c.nodes {
		if p != nil {
			fmt.Fprintf(&b, "=== node %d\n%s", i+1, p.Tail("stdout.log", "format.log", "kafka.log"))
		}
	}
	return b.String()
}

// Stop kills every node and removes the cluster's directory.
func (c *Cluster) Stop() {
	c.mu.Lock()
	nodes := c.nodes
	c.nodes = make([]*launch.Process, len(nodes))
	c.mu.Unlock()
	for _, p := range nodes {
		if p != nil {
			p.Kill()
		}
	}
	_ = os.RemoveAll(c.dir)
}

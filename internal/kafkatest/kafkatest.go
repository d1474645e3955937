// Package kafkatest gives tests a Kafka cluster: franz-go's kfake broker in
// process (it speaks the real wire protocol, transactions included), or the
// external cluster named by PG2KAFKA_TEST_KAFKA_BROKERS.
package kafkatest

import (
	"os"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"
)

// EnvBrokers names the environment variable listing external brokers
// (comma-separated) for the tests to use instead of kfake.
const EnvBrokers = "PG2KAFKA_TEST_KAFKA_BROKERS"

// External reports whether the tests run against an external cluster.
func External() bool { return os.Getenv(EnvBrokers) != "" }

// Brokers returns seed brokers for the test: the external cluster's, or a
// fresh in-process kfake cluster's that is closed when the test ends.
func Brokers(t testing.TB, opts ...kfake.Opt) []string {
	t.Helper()
	if env := os.Getenv(EnvBrokers); env != "" {
		return strings.Split(env, ",")
	}
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1)}, opts...)...)
	if err != nil {
		t.Fatalf("kafkatest: starting kfake: %v", err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()
}

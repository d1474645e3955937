package config

import (
	"strings"
	"testing"
	"time"
)

func TestSideChannels(t *testing.T) {
	c := mustParse(t, minimal)
	if k := c.Kafka; k.HeartbeatInterval != 0 || k.HeartbeatActionQuery != "" || k.TransactionMetadata || k.SignalTable != "" {
		t.Errorf("side channels on by default: %+v", k)
	}
	if c.HeartbeatTopic() != "pg2kafka.heartbeat" || c.TransactionTopic() != "pg2kafka.transaction" {
		t.Errorf("topics %s %s", c.HeartbeatTopic(), c.TransactionTopic())
	}
	c = mustParse(t, minimal+"  topic_prefix: shop\n  heartbeat_interval: 10s\n  heartbeat_action_query: UPDATE hb SET at = now()\n  transaction_metadata: true\n  signal_table: public.debezium_signal\n  signal_topic: shop.signals\n")
	if k := c.Kafka; k.HeartbeatInterval != 10*time.Second || k.HeartbeatActionQuery == "" || !k.TransactionMetadata || k.SignalTable != "public.debezium_signal" {
		t.Errorf("not read: %+v", k)
	}
	if c.HeartbeatTopic() != "shop.heartbeat" || c.TransactionTopic() != "shop.transaction" || c.Kafka.SignalTopic != "shop.signals" {
		t.Errorf("topics %s %s", c.HeartbeatTopic(), c.TransactionTopic())
	}
	for _, tc := range []struct{ src, want string }{
		{"  heartbeat_interval: 10ms\n", "kafka.heartbeat_interval: must be at least 100ms"},
		{"  heartbeat_action_query: SELECT 1\n", "kafka.heartbeat_action_query: runs at each heartbeat: set kafka.heartbeat_interval"},
		{"  signal_table: debezium_signal\n", `kafka.signal_table: "debezium_signal" is not schema.table`},
		{"  signal_topic: bad/topic\n", "kafka.signal_topic"},
	} {
		_, err := Parse([]byte(minimal+tc.src), "t.yaml")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want %q", tc.src, err, tc.want)
		}
	}
}

package config

import (
	"strconv"
	"strings"
	"time"
)

// Debezium's side channels: heartbeats, transaction metadata and the
// signal table (kafka.heartbeat_interval, kafka.heartbeat_action_query,
// kafka.transaction_metadata, kafka.signal_table).

// HeartbeatTopic is the topic of heartbeat records: <prefix>.heartbeat.
func (c *Config) HeartbeatTopic() string { return c.sideTopic("heartbeat") }

// SignalGroup is the consumer group whose offsets say how far the signal
// topic was acted on: pg2kafka-<capture>-signals.
func (c *Config) SignalGroup() string { return "pg2kafka-" + c.CaptureName() + "-signals" }

// TransactionTopic is the topic of transaction metadata records:
// <prefix>.transaction, as Debezium's <topic.prefix>.transaction.
func (c *Config) TransactionTopic() string { return c.sideTopic("transaction") }

func (c *Config) sideTopic(name string) string {
	prefix := c.Kafka.TopicPrefix
	if prefix == "" {
		prefix = DefaultTopicPrefix
	}
	return prefix + "." + name
}

func (d *decoder) validateSideChannels(c *Config) {
	k := &c.Kafka
	if k.HeartbeatInterval < 0 {
		d.at("kafka.heartbeat_interval", "must not be negative (0 turns heartbeats off), got %s", k.HeartbeatInterval)
	} else if k.HeartbeatInterval > 0 && k.HeartbeatInterval < 100*time.Millisecond {
		d.at("kafka.heartbeat_interval", "must be at least 100ms (each heartbeat is a Kafka transaction), got %s", k.HeartbeatInterval)
	}
	if strings.TrimSpace(k.HeartbeatActionQuery) != "" && k.HeartbeatInterval == 0 {
		d.at("kafka.heartbeat_action_query", "runs at each heartbeat: set kafka.heartbeat_interval too (10s, say)")
	}
	if t := k.SignalTable; t != "" {
		schema, table, ok := strings.Cut(t, ".")
		if !ok || schema == "" || table == "" || strings.Contains(table, ".") {
			d.at("kafka.signal_table", "%q is not schema.table (public.debezium_signal, say)", t)
		}
	}
	if k.SignalTopic != "" {
		d.topicName("kafka.signal_topic", k.SignalTopic)
	}
	for i, b := range c.Bindings {
		if b.Topic != "" && (b.Topic == c.HeartbeatTopic() && k.HeartbeatInterval > 0 || b.Topic == c.TransactionTopic() && k.TransactionMetadata) {
			d.at("bindings["+strconv.Itoa(i)+"].topic", "topic %q receives heartbeats or transaction metadata; choose another", b.Topic)
		}
	}
}

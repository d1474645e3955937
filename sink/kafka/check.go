package kafka

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/pg2kafka/pg2kafka/event"
)

// Status is the outcome of one Kafka prerequisite check.
type Status int

// The statuses; only StatusFail stops a capture.
const (
	StatusOK Status = iota
	StatusWarn
	StatusFail
)

// Finding is the outcome of one Kafka prerequisite check.
type Finding struct {
	// Check names what was checked ("brokers", "checkpoint topic", ...).
	Check string
	// Status is the outcome.
	Status Status
	// Detail says what was found.
	Detail string
	// Fix says how to fix a failure or warning.
	Fix string
}

// Diagnose checks, without creating or writing anything, what Init and the
// first commit of a capture need: the brokers answer; the checkpoint topic
// exists and is compacted, or may be created; every topic in topics exists
// or may be created (a validate-only CreateTopics); and, when probeID is
// not empty, the principal may initialize a transactional producer. The
// probe uses probeID, never the capture's own transactional ID, so a
// running capture is not fenced. All findings are returned together; when
// the brokers cannot be reached that is the only one.
func (s *Sink) Diagnose(ctx context.Context, topics []string, probeID string) []Finding {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.connectTimeout)
	defer cancel()
	var out []Finding
	add := func(check string, st Status, fix, format string, args ...any) {
		out = append(out, Finding{Check: check, Status: st, Detail: fmt.Sprintf(format, args...), Fix: fix})
	}

	md, err := s.adm.BrokerMetadata(ctx)
	if err != nil {
		add("brokers", StatusFail, "check kafka.brokers, the network, kafka.tls and kafka.sasl", "%v", s.unreachable("connecting", err))
		return out
	}
	add("brokers", StatusOK, "", "%d broker(s) reachable at %s (cluster %s)", len(md.Brokers), strings.Join(s.cfg.brokers, ","), orNone(md.Cluster))

	// The checkpoint topic.
	cp := s.cfg.checkpointTopic
	const cpCheck = "checkpoint topic"
	exists, err := s.topicsExist(ctx, []string{cp})
	switch {
	case err != nil:
		add(cpCheck, StatusFail, "grant DESCRIBE on the topic to pg2kafka's principal", "%v", topicError("describing", cp, err))
	case exists[cp]:
		policy, err := s.cleanupPolicy(ctx, cp)
		switch {
		case err != nil:
			add(cpCheck, StatusFail, "grant DESCRIBE_CONFIGS on the topic to pg2kafka's principal", "%v", topicError("describing the configuration of", cp, err))
		case !strings.Contains(policy, "compact"):
			add(cpCheck, StatusFail,
				fmt.Sprintf("kafka-configs.sh --bootstrap-server %s --alter --entity-type topics --entity-name %s --add-config cleanup.policy=compact", s.cfg.brokers[0], cp),
				"%q has cleanup.policy=%s: checkpoints would be deleted by retention, and a restart would re-backfill everything", cp, policy)
		default:
			add(cpCheck, StatusOK, "", "%q exists (cleanup.policy=%s)", cp, policy)
		}
	default:
		if err := s.validateCreate(ctx, []string{cp}, map[string]*string{"cleanup.policy": kadm.StringPtr("compact")}, 1); err != nil {
			add(cpCheck, StatusFail, "grant CREATE on the topic (or the cluster) to pg2kafka's principal, or create it with cleanup.policy=compact", "%v", err)
		} else {
			add(cpCheck, StatusOK, "", "%q is missing and may be created (compacted)", cp)
		}
	}

	// The table topics.
	if len(topics) > 0 {
		exists, err := s.topicsExist(ctx, topics)
		if err != nil {
			add("topics", StatusFail, "grant DESCRIBE on the topics to pg2kafka's principal", "%v", topicError("describing", strings.Join(topics, ","), err))
		} else {
			var missing []string
			for _, t := range topics {
				if !exists[t] {
					missing = append(missing, t)
				}
			}
			if err := s.validateCreate(ctx, missing, nil, s.cfg.partitions); err != nil {
				add("topics", StatusFail, "grant CREATE on the topics (or the cluster) to pg2kafka's principal, or create them beforehand", "%v", err)
			} else {
				add("topics", StatusOK, "", "%d present, %d may be created", len(topics)-len(missing), len(missing))
			}
		}
	}

	// Transactions.
	if probeID != "" {
		if err := s.probeTransactions(ctx, probeID); err != nil {
			fix := "grant WRITE and DESCRIBE on transactional IDs with prefix \"pg2kafka-\" to pg2kafka's principal (the probe used " + probeID + "), or set kafka.delivery: at-least-once"
			switch {
			case errors.Is(err, context.DeadlineExceeded):
				fix = "a broker without transactions needs kafka.delivery: at-least-once"
			case errors.Is(err, kerr.InvalidTransactionTimeout):
				fix = s.transactionTimeoutFix()
			}
			add("transactions", StatusFail, fix, "initializing a transactional producer (probe ID %q) failed: %v", probeID, err)
		} else {
			add("transactions", StatusOK, "", "transactional producers permitted (probed with ID %q)", probeID)
		}
	}
	return out
}

// CheckpointTopicExists reports whether the checkpoint topic exists, for
// tools that must not create it.
func (s *Sink) CheckpointTopicExists(ctx context.Context) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.connectTimeout)
	defer cancel()
	exists, err := s.topicsExist(ctx, []string{s.cfg.checkpointTopic})
	if err != nil {
		return false, s.unreachable("describing topic "+s.cfg.checkpointTopic, err)
	}
	return exists[s.cfg.checkpointTopic], nil
}

func (s *Sink) topicsExist(ctx context.Context, topics []string) (map[string]bool, error) {
	got, err := s.adm.ListTopics(ctx, topics...)
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, t := range topics {
		d, ok := got[t]
		switch {
		case !ok || errors.Is(d.Err, kerr.UnknownTopicOrPartition):
		case d.Err != nil:
			return nil, d.Err
		default:
			out[t] = true
		}
	}
	return out, nil
}

func (s *Sink) cleanupPolicy(ctx context.Context, topic string) (string, error) {
	rcs, err := s.adm.DescribeTopicConfigs(ctx, topic)
	if err != nil {
		return "", err
	}
	rc, err := rcs.On(topic, nil)
	if err != nil {
		return "", err
	}
	if rc.Err != nil {
		return "", rc.Err
	}
	for _, c := range rc.Configs {
		if c.Key == "cleanup.policy" && c.Value != nil {
			return *c.Value, nil
		}
	}
	return "delete", nil // Kafka's default
}

func (s *Sink) validateCreate(ctx context.Context, topics []string, configs map[string]*string, partitions int32) error {
	if len(topics) == 0 {
		return nil
	}
	resp, err := s.adm.ValidateCreateTopics(ctx, partitions, s.cfg.replication, configs, topics...)
	if err != nil {
		return topicError("creating", strings.Join(topics, ","), err)
	}
	var errs []string
	for _, r := range resp.Sorted() {
		if r.Err != nil && !errors.Is(r.Err, kerr.TopicAlreadyExists) {
			errs = append(errs, topicError("creating", r.Topic, r.Err).Error())
		}
	}
	sort.Strings(errs)
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "; "))
	}
	return nil
}

// probeTransactions initializes a producer ID under id with a client of its
// own, then closes it.
func (s *Sink) probeTransactions(ctx context.Context, id string) error {
	opts := []kgo.Opt{
		kgo.SeedBrokers(s.cfg.brokers...),
		kgo.ClientID(s.cfg.clientID),
		kgo.TransactionalID(id),
		kgo.TransactionTimeout(s.cfg.txnTimeout),
	}
	if s.cfg.tls != nil {
		opts = append(opts, kgo.DialTLSConfig(s.cfg.tls))
	}
	if s.cfg.sasl != nil {
		opts = append(opts, kgo.SASL(s.cfg.sasl))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("creating the probe client: %w", err)
	}
	defer cl.Close()
	_, _, err = cl.ProducerID(ctx)
	return err
}

// WriteCheckpoint replaces the capture's checkpoint with cp, whose State is
// a reduced state document; Within and Sweeps, when not nil, are written
// beside it as a capture's commit writes them. In transactional mode it is
// written in a transaction of its own under the sink's transactional ID,
// after Init has fenced any predecessor (so it must not be used while a
// capture runs: it would fence that capture). Without a transactional ID it
// is a plain idempotent write.
func (s *Sink) WriteCheckpoint(ctx context.Context, cp event.Checkpoint) error {
	if cp.State == nil {
		return errors.New("kafka: refusing to write a null checkpoint (it would be a tombstone)")
	}
	if err := s.Commit(ctx, cp); err != nil {
		return fmt.Errorf("writing the checkpoint of capture %q to %s: %w", s.cfg.capture, s.cfg.checkpointTopic, err)
	}
	return nil
}

func orNone(s string) string {
	if s == "" {
		return "id unknown"
	}
	return s
}

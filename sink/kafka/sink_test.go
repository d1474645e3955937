package kafka

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/pg2kafka/pg2kafka/event"
	"github.com/pg2kafka/pg2kafka/internal/kafkatest"
)

func newSink(t *testing.T, brokers []string, topic string, txn bool) *Sink {
	t.Helper()
	opts := []Opt{Checkpoints(topic+".checkpoints", "cap"), ConnectTimeout(20 * time.Second)}
	if txn {
		opts = append(opts, Transactional("pg2kafka-test-"+topic))
	}
	s, err := New(brokers, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	if err := s.Init(context.Background(), []string{topic}); err != nil {
		t.Fatal(err)
	}
	return s
}

func readCommitted(t *testing.T, brokers []string, topic string) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var out []*kgo.Record
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		fs := cl.PollFetches(ctx)
		cancel()
		n := 0
		fs.EachRecord(func(r *kgo.Record) { out = append(out, r); n++ })
		if n == 0 {
			return out
		}
	}
}

// Records and their checkpoint commit together; the checkpoint read back
// at start is the last committed one, whatever the mode.
func TestCommitAndReadCheckpoint(t *testing.T) {
	for _, txn := range []bool{true, false} {
		t.Run(fmt.Sprintf("transactional=%v", txn), func(t *testing.T) {
			brokers := kafkatest.Fake(t)
			s := newSink(t, brokers, "t1", txn)
			ctx := context.Background()
			if cp, err := s.ReadCheckpoint(ctx); err != nil || cp.State != nil {
				t.Fatalf("fresh topic: checkpoint %q, %v; want none", cp, err)
			}
			for i := 1; i <= 3; i++ {
				if err := s.Begin(); err != nil {
					t.Fatal(err)
				}
				s.Write(ctx, event.Record{Topic: "t1", Key: []byte(fmt.Sprint(i)), Value: []byte("v"), Op: []byte("c"), LSN: []byte("0/1")})
				if err := s.Commit(ctx, event.Checkpoint{State: []byte(fmt.Sprintf(`{"cursor":"0/%d"}`, i))}); err != nil {
					t.Fatal(err)
				}
			}
			cp, err := s.ReadCheckpoint(ctx)
			if err != nil || string(cp.State) != `{"cursor":"0/3"}` {
				t.Fatalf("checkpoint %q, %v; want the third", cp.State, err)
			}
			if recs := readCommitted(t, brokers, "t1"); len(recs) != 3 {
				t.Fatalf("got %d records, want 3", len(recs))
			}
		})
	}
}

// A successor with the same transactional ID fences its predecessor on
// both IDs of the pair, whichever holds the open transaction: that
// transaction is aborted (read_committed consumers never see it), its
// commit fails, and the successor reads the last committed checkpoint.
func TestSuccessorFencesPredecessor(t *testing.T) {
	for committed := 1; committed <= 2; committed++ {
		t.Run(fmt.Sprintf("committed=%d", committed), func(t *testing.T) {
			brokers := kafkatest.Fake(t)
			ctx := context.Background()
			topic := fmt.Sprintf("t2-%d", committed)
			old := newSink(t, brokers, topic, true)
			for i := 1; i <= committed; i++ {
				if err := old.Begin(); err != nil {
					t.Fatal(err)
				}
				old.Write(ctx, event.Record{Topic: topic, Key: []byte(fmt.Sprint(i)), Value: []byte("committed")})
				if err := old.Commit(ctx, event.Checkpoint{State: []byte(fmt.Sprintf(`{"cursor":"0/%d"}`, i))}); err != nil {
					t.Fatal(err)
				}
			}
			if err := old.Begin(); err != nil {
				t.Fatal(err)
			}
			old.Write(ctx, event.Record{Topic: topic, Key: []byte("open"), Value: []byte("in flight")})
			if err := old.cur.cl.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			inFlight := old.cur.id

			successor := newSink(t, brokers, topic, true) // Init loads both producer IDs: fences
			want := fmt.Sprintf(`{"cursor":"0/%d"}`, committed)
			cp, err := successor.ReadCheckpoint(ctx)
			if err != nil || string(cp.State) != want {
				t.Fatalf("successor read checkpoint %q, %v; want the last committed one", cp.State, err)
			}
			if err := old.Commit(ctx, event.Checkpoint{State: []byte(`{"cursor":"0/9"}`)}); err == nil {
				t.Fatalf("the fenced predecessor committed on %q", inFlight)
			}
			// Its other producer is fenced too: a further transaction fails.
			old.failed = nil
			if err := old.Begin(); err == nil {
				old.Write(ctx, event.Record{Topic: topic, Key: []byte("late"), Value: []byte("zombie")})
				if err := old.Commit(ctx, event.Checkpoint{State: []byte(`{"cursor":"0/10"}`)}); err == nil {
					t.Fatalf("the fenced predecessor committed on %q", old.cur.id)
				}
			}
			recs := readCommitted(t, brokers, topic)
			if len(recs) != committed {
				t.Fatalf("read_committed sees %d records; want only the %d committed", len(recs), committed)
			}
			for _, r := range recs {
				if string(r.Value) != "committed" {
					t.Fatalf("read_committed sees %q", r.Value)
				}
			}
			if cp, _ := successor.ReadCheckpoint(ctx); string(cp.State) != want {
				t.Fatalf("after the fenced commits the checkpoint is %q", cp)
			}
		})
	}
}

// Transactions alternate between the pair's producers, one at a time:
// each transaction's records come from the other producer than the last
// one's, and read_committed consumers see them in commit order.
func TestTransactionsAlternateProducers(t *testing.T) {
	brokers := kafkatest.Fake(t)
	ctx := context.Background()
	s := newSink(t, brokers, "t5", true)
	for i := range 4 {
		if err := s.Begin(); err != nil {
			t.Fatal(err)
		}
		for j := range 2 {
			s.Write(ctx, event.Record{Topic: "t5", Key: []byte(fmt.Sprint(2*i + j)), Value: []byte("v")})
		}
		if err := s.Commit(ctx, event.Checkpoint{State: []byte(fmt.Sprintf(`{"cursor":"0/%d"}`, i+1))}); err != nil {
			t.Fatal(err)
		}
	}
	recs := readCommitted(t, brokers, "t5")
	if len(recs) != 8 {
		t.Fatalf("read_committed sees %d records; want 8", len(recs))
	}
	for i, r := range recs {
		if string(r.Key) != fmt.Sprint(i) {
			t.Fatalf("record %d has key %q: out of commit order", i, r.Key)
		}
		if i%2 == 1 && r.ProducerID != recs[i-1].ProducerID {
			t.Fatalf("one transaction's records came from producers %d and %d", recs[i-1].ProducerID, r.ProducerID)
		}
		if i >= 2 && i%2 == 0 && r.ProducerID == recs[i-1].ProducerID {
			t.Fatalf("transactions %d and %d both came from producer %d", i/2-1, i/2, r.ProducerID)
		}
	}
}

// A record larger than the producer accepts fails the commit with an error
// naming the topic and key, and nothing of the batch is committed.
func TestOversizedRecordFailsClearly(t *testing.T) {
	brokers := kafkatest.Fake(t)
	s, err := New(brokers, Checkpoints("t3.checkpoints", "cap"), Transactional("pg2kafka-test-t3"), MaxRecordBytes(64<<10))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	if err := s.Init(ctx, []string{"t3"}); err != nil {
		t.Fatal(err)
	}
	_ = s.Begin()
	s.Write(ctx, event.Record{Topic: "t3", Key: []byte(`{"id":7}`), Value: make([]byte, 128<<10)})
	err = s.Commit(ctx, event.Checkpoint{State: []byte(`{"cursor":"0/9"}`)})
	if err == nil {
		t.Fatal("oversized record committed")
	}
	for _, want := range []string{`"t3"`, `{"id":7}`, "bytes", "kafka.max_message_bytes (65536)", "kafka.oversize: truncate"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
	if cp, _ := s.ReadCheckpoint(ctx); cp.State != nil {
		t.Fatalf("checkpoint %q committed with a failed batch", cp)
	}
}

// A commit cut short (SIGTERM cancels its context mid-flush) aborts its
// batch, and a later Commit must not write a checkpoint that covers the
// aborted records: the shutdown path commits "the open batch" once more,
// which after the abort held just the checkpoint (records lost; found by
// the e2e SIGTERM test on a real broker, where flushing takes long enough
// to be interrupted).
func TestCommitAfterFailedCommitFails(t *testing.T) {
	brokers := kafkatest.Fake(t)
	s := newSink(t, brokers, "t6", true)
	if err := s.Begin(); err != nil {
		t.Fatal(err)
	}
	s.Write(context.Background(), event.Record{Topic: "t6", Key: []byte("1"), Value: []byte("lost")})
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Commit(cancelled, event.Checkpoint{State: []byte(`{"cursor":"0/1"}`)}); err == nil {
		t.Fatal("Commit with a cancelled context succeeded")
	}
	err := s.Commit(context.Background(), event.Checkpoint{State: []byte(`{"cursor":"0/1"}`)})
	if err == nil || !errors.Is(err, context.Canceled) {
		t.Fatalf("the Commit after a failed one: %v; want an error wrapping the first", err)
	}
	if cp, err := newSink(t, brokers, "t6", true).ReadCheckpoint(context.Background()); err != nil || cp.State != nil {
		t.Fatalf("checkpoint after the failed commits: %q, %v; want none", cp.State, err)
	}
	if recs := readCommitted(t, brokers, "t6"); len(recs) != 0 {
		t.Fatalf("read_committed sees %d records; want none", len(recs))
	}
}

// A broker older than Kafka 2.4 refuses replication factor -1 ("the
// broker's default"): the sink reads default.replication.factor from the
// broker and creates the topics with it.
func TestCreateTopicsOnBrokerWithoutDefaultReplication(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.BrokerConfigs(map[string]string{"default.replication.factor": "1"}))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var asked []int16
	c.ControlKey(int16(kmsg.CreateTopics), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		req := kreq.(*kmsg.CreateTopicsRequest)
		asked = append(asked, req.Topics[0].ReplicationFactor)
		if req.Topics[0].ReplicationFactor != -1 {
			return nil, nil, false // the real handler creates it
		}
		resp := req.ResponseKind().(*kmsg.CreateTopicsResponse)
		for _, tp := range req.Topics {
			rt := kmsg.NewCreateTopicsResponseTopic()
			rt.Topic, rt.ErrorCode = tp.Topic, kerr.InvalidReplicationFactor.Code
			resp.Topics = append(resp.Topics, rt)
		}
		return resp, nil, true
	})
	s := newSink(t, c.ListenAddrs(), "old-broker", true)
	if len(asked) < 2 || asked[0] != -1 || asked[len(asked)-1] != 1 {
		t.Fatalf("replication factors asked: %v; want -1, then the broker's default 1", asked)
	}
	if err := s.EnsureTopics(context.Background(), []string{"old-broker-2"}); err != nil {
		t.Fatal(err)
	}
}

// A principal granted only the first transactional ID (a literal ACL, as
// before the pair) is refused at Init, with an error naming the second ID
// and the grant, before anything is read or written: one ID alone would
// leave a predecessor's transaction on the other unfenced.
func TestSecondTransactionalIDNotAuthorized(t *testing.T) {
	allow := func(res kmsg.ACLResourceType, name string, op kmsg.ACLOperation) kfake.ACL {
		return kfake.ACL{Resource: res, Name: name, Pattern: kmsg.ACLResourcePatternTypeLiteral, Operation: op, Allow: true}
	}
	const id = "pg2kafka-test-t6"
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.EnableSASL(), kfake.EnableACLs(),
		kfake.Superuser("SCRAM-SHA-256", "admin", "admin"),
		kfake.User("SCRAM-SHA-256", "capture", "secret",
			allow(kmsg.ACLResourceTypeTopic, "t6", kmsg.ACLOperationAll),
			allow(kmsg.ACLResourceTypeTopic, "t6.checkpoints", kmsg.ACLOperationAll),
			allow(kmsg.ACLResourceTypeTransactionalId, id, kmsg.ACLOperationAll),
			allow(kmsg.ACLResourceTypeCluster, "kafka-cluster", kmsg.ACLOperationIdempotentWrite),
			allow(kmsg.ACLResourceTypeCluster, "kafka-cluster", kmsg.ACLOperationDescribe),
			allow(kmsg.ACLResourceTypeCluster, "kafka-cluster", kmsg.ACLOperationCreate),
		))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	s, err := New(c.ListenAddrs(), Checkpoints("t6.checkpoints", "cap"), Transactional(id), ConnectTimeout(20*time.Second),
		SASL(scram.Auth{User: "capture", Pass: "secret"}.AsSha256Mechanism()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	err = s.Init(context.Background(), []string{"t6"})
	if !errors.Is(err, kerr.TransactionalIDAuthorizationFailed) {
		t.Fatalf("Init with only %q granted: %v; want TRANSACTIONAL_ID_AUTHORIZATION_FAILED", id, err)
	}
	for _, want := range []string{`"` + id + PairSuffix + `"`, "WRITE and DESCRIBE", `prefix "pg2kafka-"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
}

// TestTransactionTimeoutAboveBrokerLimit checks that a transaction timeout
// the broker refuses fails Init with an error naming the setting to lower.
func TestTransactionTimeoutAboveBrokerLimit(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.BrokerConfigs(map[string]string{
		"transaction.max.timeout.ms": "5000",
	}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	s, err := New(c.ListenAddrs(), Checkpoints("t7.checkpoints", "cap"), Transactional("pg2kafka-test-t7"),
		TransactionTimeout(time.Minute), ConnectTimeout(20*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	err = s.Init(context.Background(), []string{"t7"})
	if !errors.Is(err, kerr.InvalidTransactionTimeout) {
		t.Fatalf("Init with a timeout above the broker's limit: %v; want INVALID_TRANSACTION_TIMEOUT", err)
	}
	for _, want := range []string{"kafka.transaction_timeout (1m0s)", "transaction.max.timeout.ms"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
	// check says the same, not that an ACL is missing.
	var found bool
	for _, f := range s.Diagnose(context.Background(), []string{"t7"}, "pg2kafka-check-probe") {
		if f.Check != "transactions" {
			continue
		}
		found = true
		if f.Status != StatusFail || !strings.Contains(f.Fix, "kafka.transaction_timeout (1m0s)") || strings.Contains(f.Fix, "grant") {
			t.Errorf("check's transactions finding: %+v; want a failure whose fix is to lower kafka.transaction_timeout", f)
		}
	}
	if !found {
		t.Error("check has no transactions finding")
	}
}

// TestTooLargeNamesTheLargestRecord: the broker refuses a whole batch that
// is too large, so each of its records fails, small ones too, in any
// order; the error names the largest, and an earlier error of another kind
// stays the one returned.
func TestTooLargeNamesTheLargestRecord(t *testing.T) {
	rec := func(key string, size int) *kgo.Record {
		return &kgo.Record{Topic: "t", Key: []byte(key), Value: make([]byte, size)}
	}
	small, large := rec(`{"id":6}`, 200), rec(`{"id":7}`, 2<<20)
	tooLarge := kerr.MessageTooLarge
	for _, tc := range []struct {
		name  string
		recs  []*kgo.Record
		errs  []error
		wants string
	}{
		{"small first", []*kgo.Record{small, large}, []error{tooLarge, tooLarge}, `{"id":7}`},
		{"large first", []*kgo.Record{large, small}, []error{tooLarge, tooLarge}, `{"id":7}`},
		{"other error first", []*kgo.Record{small, large}, []error{kerr.TopicAuthorizationFailed, tooLarge}, "TOPIC_AUTHORIZATION_FAILED"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &Sink{cfg: cfg{maxRecordBytes: 4 << 20, checkpointTopic: "t.checkpoints"}}
			for i, r := range tc.recs {
				s.promise(r, tc.errs[i])
			}
			err := s.takeErr()
			if err == nil || !strings.Contains(err.Error(), tc.wants) {
				t.Errorf("error %v; want it to name %s", err, tc.wants)
			}
			// Taken: the next batch starts clean, however large the last.
			s.promise(small, tooLarge)
			if err := s.takeErr(); err == nil || !strings.Contains(err.Error(), `{"id":6}`) {
				t.Errorf("the next batch's error %v; want it to name its own record", err)
			}
		})
	}
}

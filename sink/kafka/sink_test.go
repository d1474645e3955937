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

// A successor with the same transactional ID fences its predecessor: the
// predecessor's open transaction is aborted (read_committed consumers never
// see it), its commit fails, and the successor reads the last committed
// checkpoint.
func TestSuccessorFencesPredecessor(t *testing.T) {
	brokers := kafkatest.Fake(t)
	ctx := context.Background()
	old := newSink(t, brokers, "t2", true)
	if err := old.Begin(); err != nil {
		t.Fatal(err)
	}
	old.Write(ctx, event.Record{Topic: "t2", Key: []byte("1"), Value: []byte("committed")})
	if err := old.Commit(ctx, event.Checkpoint{State: []byte(`{"cursor":"0/1"}`)}); err != nil {
		t.Fatal(err)
	}
	if err := old.Begin(); err != nil {
		t.Fatal(err)
	}
	old.Write(ctx, event.Record{Topic: "t2", Key: []byte("2"), Value: []byte("in flight")})
	if err := old.cl.Flush(ctx); err != nil {
		t.Fatal(err)
	}

	successor := newSink(t, brokers, "t2", true) // Init loads the producer ID: fences
	cp, err := successor.ReadCheckpoint(ctx)
	if err != nil || string(cp.State) != `{"cursor":"0/1"}` {
		t.Fatalf("successor read checkpoint %q, %v; want the last committed one", cp.State, err)
	}
	if err := old.Commit(ctx, event.Checkpoint{State: []byte(`{"cursor":"0/2"}`)}); err == nil {
		t.Fatal("the fenced predecessor committed")
	}
	recs := readCommitted(t, brokers, "t2")
	if len(recs) != 1 || string(recs[0].Value) != "committed" {
		t.Fatalf("read_committed sees %d records; want only the committed one", len(recs))
	}
	if cp, _ := successor.ReadCheckpoint(ctx); string(cp.State) != `{"cursor":"0/1"}` {
		t.Fatalf("after the fenced commit the checkpoint is %q", cp)
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

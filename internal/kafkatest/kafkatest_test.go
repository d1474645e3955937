package kafkatest_test

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/pg2kafka/pg2kafka/internal/kafkatest"
)

func TestMain(m *testing.M) { kafkatest.Main(m) }

// The shared real broker takes a transaction, serves it read_committed,
// and, paused, answers nothing until resumed.
func TestRealBroker(t *testing.T) {
	if os.Getenv(kafkatest.EnvKafka) == "kfake" || kafkatest.External() {
		t.Skip("a real broker is not wanted here")
	}
	if os.Getenv(kafkatest.EnvKafka) != "real" {
		if _, err := kafkatest.Script(); err != nil {
			t.Skip(err)
		}
	}
	b := kafkatest.Real(t)
	if got := kafkatest.Brokers(t); len(got) != 1 || got[0] != b.Addr {
		t.Fatalf("Brokers = %v, want the shared broker %s", got, b.Addr)
	}
	if !kafkatest.Shared() {
		t.Errorf("Shared() = false with the shared broker running")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	topic := "kafkatest-" + time.Now().Format("150405.000000000")

	adm, err := kgo.NewClient(kgo.SeedBrokers(b.Addr))
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()
	if _, err := kadm.NewClient(adm).CreateTopic(ctx, 1, 1, nil, topic); err != nil {
		t.Fatal(err)
	}

	p, err := kgo.NewClient(kgo.SeedBrokers(b.Addr), kgo.TransactionalID(topic), kgo.DefaultProduceTopic(topic))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	for _, commit := range []bool{false, true} {
		if err := p.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		v := "aborted"
		if commit {
			v = "committed"
		}
		if err := p.ProduceSync(ctx, kgo.StringRecord(v)).FirstErr(); err != nil {
			t.Fatal(err)
		}
		if err := p.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
			t.Fatal(err)
		}
	}

	c, err := kgo.NewClient(kgo.SeedBrokers(b.Addr), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fs := c.PollFetches(ctx)
	if err := fs.Err(); err != nil {
		t.Fatal(err)
	}
	var got []string
	fs.EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
	if len(got) != 1 || got[0] != "committed" {
		t.Fatalf("read_committed read %q, want just the committed record", got)
	}

	t.Logf("Kafka %s: finalized features %s", b.Version, features(ctx, t, p))

	b.Pause(t)
	if err := metadata(b.Addr, 3*time.Second); err == nil {
		t.Fatalf("a paused broker answered a metadata request")
	}
	b.Resume(t)
	if err := metadata(b.Addr, 30*time.Second); err != nil {
		t.Fatalf("after Resume: %v", err)
	}
}

// features lists the cluster's finalized feature levels (metadata.version,
// transaction.version: 2 is KIP-890's transactions v2, on from 4.0).
func features(ctx context.Context, t *testing.T, cl *kgo.Client) string {
	t.Helper()
	resp, err := kmsg.NewPtrApiVersionsRequest().RequestWith(ctx, cl)
	if err != nil {
		t.Fatalf("ApiVersions: %v", err)
	}
	var fs []string
	for _, f := range resp.FinalizedFeatures {
		fs = append(fs, fmt.Sprintf("%s=%d", f.Name, f.MaxVersionLevel))
	}
	sort.Strings(fs)
	return "[" + strings.Join(fs, " ") + "]"
}

// metadata asks a fresh client for the brokers' metadata.
func metadata(addr string, timeout time.Duration) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	_, err = kadm.NewClient(cl).BrokerMetadata(ctx)
	return err
}

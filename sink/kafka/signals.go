package kafka

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// SignalRecord is one record of a signal topic (Debezium's Kafka signal
// channel).
type SignalRecord struct {
	Key, Value []byte
	// Partition and Offset place it in the topic (SignalReader.Commit).
	Partition int32
	Offset    int64
}

// SignalReader reads a signal topic with offsets committed for a consumer
// group (without joining it), on a client of its own that outlives the
// sink it was made from.
type SignalReader struct {
	topic, group string
	base         []kgo.Opt // the sink's connection options
	cl           *kgo.Client
	adm          *kadm.Client
}

// SignalReader makes the reader of topic for group, connected as the sink.
func (s *Sink) SignalReader(topic, group string) (*SignalReader, error) {
	base := s.clientOpts()
	cl, err := kgo.NewClient(base...)
	if err != nil {
		return nil, fmt.Errorf("creating the reader of %s: %w", topic, err)
	}
	return &SignalReader{topic: topic, group: group, base: base, cl: cl, adm: kadm.NewClient(cl)}, nil
}

// clientOpts are the connection options of the sink's clients.
func (s *Sink) clientOpts() []kgo.Opt {
	opts := []kgo.Opt{kgo.SeedBrokers(s.cfg.brokers...), kgo.ClientID(s.cfg.clientID)}
	if s.cfg.tls != nil {
		opts = append(opts, kgo.DialTLSConfig(s.cfg.tls))
	}
	if s.cfg.sasl != nil {
		opts = append(opts, kgo.SASL(s.cfg.sasl))
	}
	return opts
}

// Close releases the reader's client.
func (r *SignalReader) Close() { r.cl.Close() }

// Read reads the topic from where the group's committed offsets are and
// calls fn with each committed record, until ctx ends. A group without
// offsets gets the topic's end committed first (signals sent before the
// first start are not acted on; those after are, whatever fails later).
// The caller commits a record's offset (Commit) once the signal is acted
// on durably: a signal read and not acted on before a crash is read again
// at the next start. positioned is called when the read starts (with the
// offsets it starts at); a failed read is reported to logf and retried.
func (r *SignalReader) Read(ctx context.Context, fn func(SignalRecord), positioned func(map[int32]int64), logf func(err error, msg string)) {
	for ctx.Err() == nil {
		err := r.read(ctx, fn, positioned)
		if ctx.Err() != nil {
			return
		}
		logf(err, fmt.Sprintf("reading signal topic %s failed; retrying in 5s (the topic must exist, and pg2kafka's principal needs READ on it and on consumer group %s)", r.topic, r.group))
		select {
		case <-ctx.Done():
		case <-time.After(5 * time.Second):
		}
	}
}

func (r *SignalReader) read(ctx context.Context, fn func(SignalRecord), positioned func(map[int32]int64)) error {
	committed, err := r.adm.FetchOffsets(ctx, r.group)
	if err != nil {
		return err
	}
	ends, err := r.adm.ListEndOffsets(ctx, r.topic)
	if err != nil {
		return err
	}
	if err := ends.Error(); err != nil {
		return err
	}
	start := map[int32]kgo.Offset{}
	at := map[int32]int64{}
	var fresh kadm.Offsets
	ends.Each(func(o kadm.ListedOffset) {
		if c, ok := committed.Lookup(r.topic, o.Partition); ok && c.Err == nil && c.At >= 0 {
			at[o.Partition] = c.At
		} else {
			at[o.Partition] = o.Offset
			fresh.AddOffset(r.topic, o.Partition, o.Offset, -1)
		}
		start[o.Partition] = kgo.NewOffset().At(at[o.Partition])
	})
	if len(fresh) > 0 {
		resp, err := r.adm.CommitOffsets(ctx, r.group, fresh)
		if err == nil {
			err = resp.Error()
		}
		if err != nil {
			return err
		}
	}
	positioned(at)
	opts := append(append([]kgo.Opt{}, r.base...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{r.topic: start}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	cons, err := kgo.NewClient(opts...)
	if err != nil {
		return err
	}
	defer cons.Close()
	for {
		fs := cons.PollFetches(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var ferr error
		fs.EachError(func(_ string, _ int32, err error) { ferr = err })
		if ferr != nil {
			return topicError("reading", r.topic, ferr)
		}
		fs.EachRecord(func(rec *kgo.Record) {
			fn(SignalRecord{Key: rec.Key, Value: rec.Value, Partition: rec.Partition, Offset: rec.Offset})
		})
	}
}

// Commit commits the group's offset of a partition: the next record to
// act on.
func (r *SignalReader) Commit(ctx context.Context, partition int32, next int64) error {
	var os kadm.Offsets
	os.AddOffset(r.topic, partition, next, -1)
	resp, err := r.adm.CommitOffsets(ctx, r.group, os)
	if err != nil {
		return err
	}
	return resp.Error()
}

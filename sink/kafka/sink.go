// Package kafka is pg2kafka's sink: it creates topics, writes records in
// Kafka transactions (or idempotently, for brokers without transactions)
// together with the checkpoint that covers them, and reads the last
// checkpoint back at start. It knows nothing of PostgreSQL.
package kafka

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl"

	"github.com/pg2kafka/pg2kafka/event"
	"github.com/pg2kafka/pg2kafka/internal/slab"
)

// Header keys written on every change record.
const (
	HeaderOp  = "pg2kafka.op"
	HeaderLSN = "pg2kafka.lsn"
	// HeaderWithin carries event.Checkpoint.Within on a checkpoint record.
	HeaderWithin = "pg2kafka.within"
	// HeaderSweeps carries event.Checkpoint.Sweeps on a checkpoint record.
	HeaderSweeps = "pg2kafka.sweeps"
)

type cfg struct {
	brokers         []string
	transactionalID string
	compression     []kgo.CompressionCodec
	checkpointTopic string
	capture         string
	partitions      int32
	replication     int16
	clientID        string
	tls             *tls.Config
	sasl            sasl.Mechanism
	txnTimeout      time.Duration
	connectTimeout  time.Duration
	maxRecordBytes  int32
	logger          kgo.Logger
	topicProgress   func(done, total int)
}

// Opt configures a Sink.
type Opt func(*cfg)

// Transactional makes the sink write each batch and its checkpoint in one
// Kafka transaction (exactly-once for read_committed consumers), under
// transactional IDs id and id+PairSuffix in turn (see Sink). Without it,
// the sink is idempotent and at-least-once.
func Transactional(id string) Opt { return func(c *cfg) { c.transactionalID = id } }

// PairSuffix ends the second transactional ID of a transactional sink. '#'
// is in no replication slot's or Flow task's name, and the configuration
// refuses it in kafka.capture, so no capture's first ID is another's second.
const PairSuffix = "#2"

// Compression sets the producer's compression codec by name: none, gzip,
// snappy, lz4 or zstd.
func Compression(name string) Opt {
	return func(c *cfg) {
		switch strings.ToLower(name) {
		case "gzip":
			c.compression = []kgo.CompressionCodec{kgo.GzipCompression()}
		case "snappy":
			c.compression = []kgo.CompressionCodec{kgo.SnappyCompression()}
		case "lz4":
			c.compression = []kgo.CompressionCodec{kgo.Lz4Compression()}
		case "zstd":
			c.compression = []kgo.CompressionCodec{kgo.ZstdCompression()}
		case "none", "":
			c.compression = []kgo.CompressionCodec{kgo.NoCompression()}
		}
	}
}

// Checkpoints sets the compacted checkpoint topic and the capture's key in it.
func Checkpoints(topic, capture string) Opt {
	return func(c *cfg) { c.checkpointTopic, c.capture = topic, capture }
}

// TopicDefaults sets partitions and replication factor for created topics
// (-1: the broker's default).
func TopicDefaults(partitions int32, replicationFactor int16) Opt {
	return func(c *cfg) { c.partitions, c.replication = partitions, replicationFactor }
}

// ClientID sets the Kafka client ID.
func ClientID(id string) Opt { return func(c *cfg) { c.clientID = id } }

// TLS enables TLS with this configuration.
func TLS(t *tls.Config) Opt { return func(c *cfg) { c.tls = t } }

// SASL enables SASL authentication with this mechanism.
func SASL(m sasl.Mechanism) Opt { return func(c *cfg) { c.sasl = m } }

// TransactionTimeout sets the broker-side transaction timeout.
func TransactionTimeout(d time.Duration) Opt { return func(c *cfg) { c.txnTimeout = d } }

// ConnectTimeout bounds how long start-up operations retry an unreachable
// cluster before failing with one clear error.
func ConnectTimeout(d time.Duration) Opt { return func(c *cfg) { c.connectTimeout = d } }

// MaxRecordBytes sets the largest record batch the producer sends.
func MaxRecordBytes(n int32) Opt { return func(c *cfg) { c.maxRecordBytes = n } }

// TopicProgress is told, while topics are checked and created topicBatch
// at a time, how many of how many are done (only when there are more than
// one batch).
func TopicProgress(fn func(done, total int)) Opt { return func(c *cfg) { c.topicProgress = fn } }

// Logger routes the client's logs.
func Logger(l kgo.Logger) Opt { return func(c *cfg) { c.logger = l } }

// Sink writes records and checkpoints to Kafka. Write, Commit and Abort
// are called from one goroutine.
//
// A transactional sink writes through two producers, one transaction each
// in turn. A broker refuses to add a partition to a producer's transaction
// while the markers of that producer's previous transaction are still
// being written (CONCURRENT_TRANSACTIONS), and the add is retried after
// 20 ms: by the broker under transactions v2
// (add.partitions.to.txn.retry.backoff.ms), by the client under v1 (kgo's
// ConcurrentTransactionsBackoff). Streaming under load begins each
// transaction the instant the last one committed; the other producer's
// previous transaction ended a whole commit earlier, so its markers are
// written. Transactions still run one at a time, in order: each begins
// only after the last one's commit returned, so the pair changes nothing
// about what commits or in which order. It replaced an adaptive pause
// before each transaction, which read a slow first produce as a hold: on a
// saturated machine it paused when nothing was held.
type Sink struct {
	cfg cfg
	// producers are the transactional pair (one in at-least-once mode);
	// cur is the one in use.
	producers []*producer
	cur       *producer
	adm       *kadm.Client
	inTxn     bool

	mu       sync.Mutex
	firstErr error
	// tooLarge is the size of the record firstErr names when the broker
	// refused it as too large, else 0.
	tooLarge int
	records  int
	bytes    int64

	// written holds the records Write hands to the client, released once
	// produced: a batch's are released together, so they are carved from
	// shared blocks. Only small ones (carvedRecordBytes): a block lives
	// until its last record is produced, and keeps every record of it
	// alive until then, whose values a large record would make costly.
	written *slab.Slab[recordWithHeaders]
	// produced is s.promise, bound once: a method value made at each
	// Produce would be an allocation a record.
	produced func(*kgo.Record, error)

	// failed is the error of a Commit that failed: its batch's records are
	// aborted or of unknown fate, so no later Commit may write a checkpoint
	// that covers them.
	failed error
	// parts are the table states the checkpoint topic holds for this
	// capture, by state key (layout.go); nil until read.
	parts map[string][]byte
}

// New connects a sink to brokers. Nothing is sent until Init.
func New(brokers []string, opts ...Opt) (*Sink, error) {
	c := cfg{
		brokers: brokers, partitions: 1, replication: -1, clientID: "pg2kafka",
		txnTimeout: time.Minute, connectTimeout: time.Minute, maxRecordBytes: 1 << 20,
		compression: []kgo.CompressionCodec{kgo.Lz4Compression()},
	}
	for _, o := range opts {
		o(&c)
	}
	if c.checkpointTopic == "" || c.capture == "" {
		return nil, errors.New("kafka sink: the checkpoint topic and capture name are required")
	}
	kopts := []kgo.Opt{
		kgo.SeedBrokers(brokers...),
		kgo.ClientID(c.clientID),
		kgo.ProducerBatchCompression(c.compression...),
		kgo.ProducerBatchMaxBytes(c.maxRecordBytes),
		kgo.ProducerLinger(5 * time.Millisecond),
		kgo.MaxBufferedRecords(50_000),
		kgo.MaxBufferedBytes(64 << 20),
		kgo.RecordDeliveryTimeout(2 * time.Minute),
		kgo.RequiredAcks(kgo.AllISRAcks()), // idempotent writes stay on (the default)
	}
	if c.tls != nil {
		kopts = append(kopts, kgo.DialTLSConfig(c.tls))
	}
	if c.sasl != nil {
		kopts = append(kopts, kgo.SASL(c.sasl))
	}
	if c.logger != nil {
		kopts = append(kopts, kgo.WithLogger(c.logger))
	}
	s := &Sink{cfg: c, written: slab.New[recordWithHeaders](256)}
	s.produced = s.promise
	ids := []string{""}
	if c.transactionalID != "" {
		ids = []string{c.transactionalID, c.transactionalID + PairSuffix}
	}
	for _, id := range ids {
		opts := kopts
		if id != "" {
			opts = append(slices.Clip(kopts), kgo.TransactionalID(id), kgo.TransactionTimeout(c.txnTimeout))
		}
		cl, err := kgo.NewClient(opts...)
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("creating the Kafka client: %w", err)
		}
		s.producers = append(s.producers, &producer{id: id, cl: cl})
	}
	s.cur = s.producers[0]
	s.adm = kadm.NewClient(s.cur.cl)
	return s, nil
}

// producer is one producer of a sink, with its transactional ID.
type producer struct {
	id string
	cl *kgo.Client
}

// Close releases the clients. An open transaction is left to the broker,
// which aborts it when the next process with the same ID starts (fencing).
func (s *Sink) Close() {
	for _, p := range s.producers {
		p.cl.Close()
	}
}

// unreachable turns a start-up timeout into the error that names the fix.
func (s *Sink) unreachable(doing string, err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("kafka: %s: brokers %s unreachable for %s (check kafka.brokers, the network, kafka.tls, and the credentials in kafka.sasl: some brokers just close the connection on a wrong SASL username or password): %w",
			doing, strings.Join(s.cfg.brokers, ","), s.cfg.connectTimeout, err)
	}
	if errors.Is(err, kerr.SaslAuthenticationFailed) || strings.Contains(err.Error(), "SASL") {
		return fmt.Errorf("kafka: %s: SASL authentication failed (check kafka.sasl.username and kafka.sasl.password): %w", doing, err)
	}
	return fmt.Errorf("kafka: %s: %w", doing, err)
}

// Init makes the sink ready to write: it ensures the checkpoint topic
// (compacted) and the given topics exist, and in transactional mode loads
// the producer ID, which fences any predecessor with the same transactional
// ID and aborts its open transaction — so the checkpoint read afterwards is
// the last one that committed.
func (s *Sink) Init(ctx context.Context, topics []string) error {
	// The connect timeout bounds each step, not their sum: a cluster
	// creating thousands of topics takes longer, and is not unreachable.
	cctx, cancel := context.WithTimeout(ctx, s.cfg.connectTimeout)
	err := s.ensureTopics(cctx, []string{s.cfg.checkpointTopic}, map[string]*string{
		"cleanup.policy": kadm.StringPtr("compact"),
	}, 1)
	cancel()
	if err != nil {
		return err
	}
	if err := s.ensureTopicsInBatches(ctx, topics); err != nil {
		return err
	}
	if s.cfg.transactionalID == "" {
		return nil
	}
	// Both IDs are initialized before anything is read or written, so a
	// predecessor is fenced on both: the checkpoint read next is the last
	// one it committed on either. There is no falling back to one ID when
	// the second is not authorized: a predecessor's transaction on it would
	// stay unfenced, and could commit after this checkpoint read.
	for _, p := range s.producers {
		if err := s.initProducer(ctx, p); err != nil {
			return err
		}
	}
	return nil
}

// initProducer loads p's producer ID, which fences any predecessor with
// the same transactional ID and aborts its open transaction.
func (s *Sink) initProducer(ctx context.Context, p *producer) error {
	// A timeout of its own: the IDs may have different coordinators.
	ctx, cancel := context.WithTimeout(ctx, s.cfg.connectTimeout)
	defer cancel()
	_, _, err := p.cl.ProducerID(ctx)
	var loading error // the coordinator's last answer while it loads
	for err != nil && kerr.IsRetriable(err) && ctx.Err() == nil {
		loading = err
		// A broker busy (creating thousands of topics, say) may still be
		// loading the transaction coordinator: wait for it.
		select {
		case <-ctx.Done():
		case <-time.After(500 * time.Millisecond):
			_, _, err = p.cl.ProducerID(ctx)
		}
	}
	if err != nil && loading != nil && errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("kafka: initializing transactional producer %q: the transaction coordinator was still not available after kafka.connect_timeout (%s): a broker busy (creating many topics, or starting) loads it late; start again, or raise kafka.connect_timeout: %w",
			p.id, s.cfg.connectTimeout, loading)
	}
	if err != nil {
		if errors.Is(err, kerr.TransactionalIDAuthorizationFailed) || errors.Is(err, kerr.ClusterAuthorizationFailed) {
			return fmt.Errorf("kafka: initializing transactional producer %q: not authorized (grant WRITE and DESCRIBE on transactional IDs %q and %q, or on the prefix \"pg2kafka-\"; or set kafka.delivery: at-least-once): %w",
				p.id, s.producers[0].id, s.producers[len(s.producers)-1].id, err)
		}
		if errors.Is(err, kerr.InvalidTransactionTimeout) {
			return fmt.Errorf("kafka: initializing transactional producer %q: %s: %w", p.id, s.transactionTimeoutFix(), err)
		}
		return s.unreachable(fmt.Sprintf("initializing transactional producer %q (a broker without transactions needs kafka.delivery: at-least-once)", p.id), err)
	}
	return nil
}

// transactionTimeoutFix says what to do when the broker refuses
// kafka.transaction_timeout (INVALID_TRANSACTION_TIMEOUT).
func (s *Sink) transactionTimeoutFix() string {
	return fmt.Sprintf("kafka.transaction_timeout (%s) is longer than the broker allows (its transaction.max.timeout.ms): lower kafka.transaction_timeout, or raise the broker's limit", s.cfg.txnTimeout)
}

// EnsureTopics creates the given topics if they are missing.
func (s *Sink) EnsureTopics(ctx context.Context, topics []string) error {
	return s.ensureTopicsInBatches(ctx, topics)
}

// topicBatch bounds the topics of one CreateTopics request: a broker
// creating thousands at once may take longer than a request's timeout.
const topicBatch = 1000

// ensureTopicsInBatches is ensureTopics of the table topics, topicBatch at
// a time, each within the connect timeout; the progress option hears of
// each batch.
func (s *Sink) ensureTopicsInBatches(ctx context.Context, topics []string) error {
	total := len(topics)
	for done := 0; done < total; {
		n := min(total-done, topicBatch)
		bctx, cancel := context.WithTimeout(ctx, s.cfg.connectTimeout)
		err := s.ensureTopics(bctx, topics[done:done+n], s.topicConfigs(), s.cfg.partitions)
		cancel()
		if err != nil {
			return err
		}
		done += n
		if s.cfg.topicProgress != nil && total > topicBatch {
			s.cfg.topicProgress(done, total)
		}
	}
	return nil
}

// topicConfigs are the settings of created table topics: they accept the
// records the producer may send.
func (s *Sink) topicConfigs() map[string]*string {
	if s.cfg.maxRecordBytes <= 1<<20 {
		return nil // the broker's default (about 1 MiB) fits
	}
	return map[string]*string{"max.message.bytes": kadm.StringPtr(fmt.Sprint(s.cfg.maxRecordBytes + 1024))}
}

func (s *Sink) ensureTopics(ctx context.Context, topics []string, configs map[string]*string, partitions int32) error {
	if len(topics) == 0 {
		return nil
	}
	for {
		existing, err := s.adm.ListTopics(ctx, topics...)
		if err == nil {
			var missing []string
			for _, t := range topics {
				if d, ok := existing[t]; !ok || errors.Is(d.Err, kerr.UnknownTopicOrPartition) {
					missing = append(missing, t)
				} else if d.Err != nil {
					return topicError("describing", t, d.Err)
				}
			}
			if len(missing) == 0 {
				return nil
			}
			resp, err := s.adm.CreateTopics(ctx, partitions, s.cfg.replication, configs, missing...)
			if err == nil && s.cfg.replication == -1 && slices.ContainsFunc(resp.Sorted(), func(r kadm.CreateTopicResponse) bool {
				return errors.Is(r.Err, kerr.InvalidReplicationFactor)
			}) {
				// Brokers before Kafka 2.4 take no "broker default" (-1): ask
				// them for it, and create the topics with it.
				rf, derr := s.defaultReplication(ctx)
				if derr != nil {
					return fmt.Errorf("kafka: the broker refused replication factor -1 (Kafka < 2.4) and its default.replication.factor could not be read (set kafka.replication_factor): %w", derr)
				}
				resp, err = s.adm.CreateTopics(ctx, partitions, rf, configs, missing...)
			}
			if err == nil {
				for _, r := range resp.Sorted() {
					if r.Err != nil && !errors.Is(r.Err, kerr.TopicAlreadyExists) {
						return topicError("creating", r.Topic, r.Err)
					}
				}
				return s.awaitLeaders(ctx, missing)
			}
		}
		if ctx.Err() != nil {
			return s.unreachable("creating topics", ctx.Err())
		}
		var ke *kerr.Error
		if errors.As(err, &ke) {
			return topicError("creating", strings.Join(topics, ","), err)
		}
		select {
		case <-ctx.Done():
			return s.unreachable("creating topics", ctx.Err())
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// awaitLeaders waits until every partition of the created topics has a
// leader: a broker creating thousands of topics creates their partitions
// after it answers, and records produced before fail with
// UNKNOWN_TOPIC_OR_PARTITION.
func (s *Sink) awaitLeaders(ctx context.Context, topics []string) error {
	for {
		// A metadata request of its own: the client's cached metadata
		// would not show the new topics for seconds.
		req := kmsg.NewPtrMetadataRequest()
		for _, t := range topics {
			rt := kmsg.NewMetadataRequestTopic()
			rt.Topic = kmsg.StringPtr(t)
			req.Topics = append(req.Topics, rt)
		}
		resp, err := req.RequestWith(ctx, s.cur.cl)
		if err == nil {
			ready := len(resp.Topics) == len(topics)
			for _, t := range resp.Topics {
				if t.ErrorCode != 0 || len(t.Partitions) == 0 {
					ready = false
				}
				for _, p := range t.Partitions {
					if p.ErrorCode != 0 || p.Leader < 0 {
						ready = false
					}
				}
			}
			if ready {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return s.unreachable(fmt.Sprintf("waiting for the partitions of %d created topics to have leaders", len(topics)), ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// defaultReplication reads a broker's default.replication.factor.
func (s *Sink) defaultReplication(ctx context.Context) (int16, error) {
	meta, err := s.adm.BrokerMetadata(ctx)
	if err != nil || len(meta.Brokers) == 0 {
		return 0, fmt.Errorf("listing brokers: %w", err)
	}
	id := meta.Brokers[0].NodeID
	cfgs, err := s.adm.DescribeBrokerConfigs(ctx, id)
	if err != nil {
		return 0, err
	}
	rc, err := cfgs.On(strconv.Itoa(int(id)), nil)
	if err != nil {
		return 0, err
	}
	for _, c := range rc.Configs {
		if c.Key == "default.replication.factor" && c.Value != nil {
			n, err := strconv.ParseInt(*c.Value, 10, 16)
			if err != nil || n < 1 {
				return 0, fmt.Errorf("default.replication.factor %q", *c.Value)
			}
			return int16(n), nil
		}
	}
	return 0, errors.New("default.replication.factor not reported")
}

func topicError(doing, topic string, err error) error {
	if errors.Is(err, kerr.SaslAuthenticationFailed) {
		return fmt.Errorf("kafka: %s topic %q: SASL authentication failed (check kafka.sasl.mechanism, kafka.sasl.username and kafka.sasl.password): %w", doing, topic, err)
	}
	if errors.Is(err, kerr.TopicAuthorizationFailed) || errors.Is(err, kerr.ClusterAuthorizationFailed) {
		return fmt.Errorf("kafka: %s topic %q: not authorized (grant CREATE, DESCRIBE and WRITE on the topic to pg2kafka's principal, or create it beforehand): %w", doing, topic, err)
	}
	return fmt.Errorf("kafka: %s topic %q: %w", doing, topic, err)
}

// ReadCheckpoint returns the capture's last committed checkpoint; its State
// is nil if it has none. Call it after Init, so no predecessor's transaction is open.
func (s *Sink) ReadCheckpoint(ctx context.Context) (event.Checkpoint, error) {
	cp, _, err := s.ReadCheckpointWithTime(ctx)
	return cp, err
}

// ReadCheckpointWithTime is ReadCheckpoint that also returns the Kafka
// timestamp of the checkpoint record: when the last batch was committed
// (zero when there is no checkpoint). It reads committed records only and
// fences no one.
func (s *Sink) ReadCheckpointWithTime(ctx context.Context) (event.Checkpoint, time.Time, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.connectTimeout)
	defer cancel()
	rd := NewCheckpointReader(s.cfg.capture)
	err := s.readTopic(ctx, s.cfg.checkpointTopic, func(r *kgo.Record) error {
		rd.Add(r)
		return nil
	})
	var last event.Checkpoint
	var at time.Time
	if err == nil {
		var parts map[string][]byte
		if last, at, parts, err = rd.Checkpoint(); err == nil {
			s.parts = parts
		}
	}
	if err != nil && errors.Is(err, context.DeadlineExceeded) {
		return last, at, s.unreachable("reading checkpoints from "+s.cfg.checkpointTopic, err)
	}
	return last, at, err
}

// Holds reports whether topic holds any record (event.Topics): a partition
// whose end offset is past its start offset. A topic that does not exist
// holds none.
func (s *Sink) Holds(ctx context.Context, topic string) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.connectTimeout)
	defer cancel()
	starts, err := s.adm.ListStartOffsets(ctx, topic)
	if err != nil {
		return false, s.unreachable("listing the offsets of "+topic, err)
	}
	ends, err := s.adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return false, s.unreachable("listing the offsets of "+topic, err)
	}
	holds := false
	var lerr error
	ends.Each(func(o kadm.ListedOffset) {
		if errors.Is(o.Err, kerr.UnknownTopicOrPartition) {
			return
		}
		if o.Err != nil {
			lerr = o.Err
			return
		}
		if st, ok := starts.Lookup(topic, o.Partition); ok && st.Err == nil && o.Offset > st.Offset {
			holds = true
		}
	})
	if lerr != nil {
		return false, topicError("listing the offsets of", topic, lerr)
	}
	return holds, nil
}

// HoldsEach is Holds of many topics in two requests (capture.TopicsHolder).
func (s *Sink) HoldsEach(ctx context.Context, topics []string) (map[string]bool, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.connectTimeout)
	defer cancel()
	starts, err := s.adm.ListStartOffsets(ctx, topics...)
	if err != nil {
		return nil, s.unreachable("listing the offsets of the captured topics", err)
	}
	ends, err := s.adm.ListEndOffsets(ctx, topics...)
	if err != nil {
		return nil, s.unreachable("listing the offsets of the captured topics", err)
	}
	out := make(map[string]bool, len(topics))
	for _, t := range topics {
		out[t] = false
	}
	var lerr error
	ends.Each(func(o kadm.ListedOffset) {
		if errors.Is(o.Err, kerr.UnknownTopicOrPartition) {
			return
		}
		if o.Err != nil {
			lerr = topicError("listing the offsets of", o.Topic, o.Err)
			return
		}
		if st, ok := starts.Lookup(o.Topic, o.Partition); ok && st.Err == nil && o.Offset > st.Offset {
			out[o.Topic] = true
		}
	})
	if lerr != nil {
		return nil, lerr
	}
	return out, nil
}

// ReadKeys reads topic from its start to its last stable offset at the call,
// read_committed, calling fn with each record's key (event.Topics). It
// reads for as long as ctx allows, failing if the cluster gives nothing for
// the connect timeout.
func (s *Sink) ReadKeys(ctx context.Context, topic string, fn func(key []byte, live bool) error) error {
	return s.readTopic(ctx, topic, func(r *kgo.Record) error { return fn(r.Key, r.Value != nil) })
}

// readTopic calls fn with each committed record of topic, from its start to
// its last stable offset when the read begins.
func (s *Sink) readTopic(ctx context.Context, topic string, fn func(*kgo.Record) error) error {
	ends, err := s.adm.ListCommittedOffsets(ctx, topic)
	if err != nil {
		return s.unreachable("listing the offsets of "+topic, err)
	}
	want := map[int32]kgo.Offset{}
	stops := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err == nil && o.Offset > 0 {
			want[o.Partition] = kgo.NewOffset().AtStart()
			stops[o.Partition] = o.Offset
		}
	})
	if len(want) == 0 {
		return nil
	}
	opts := []kgo.Opt{
		kgo.SeedBrokers(s.cfg.brokers...),
		kgo.ClientID(s.cfg.clientID),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: want}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(),
	}
	if s.cfg.tls != nil {
		opts = append(opts, kgo.DialTLSConfig(s.cfg.tls))
	}
	if s.cfg.sasl != nil {
		opts = append(opts, kgo.SASL(s.cfg.sasl))
	}
	cons, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("creating the reader of %s: %w", topic, err)
	}
	defer cons.Close()
	for len(stops) > 0 {
		// Each poll must bring something within the connect timeout: a
		// cluster gone quiet fails the read instead of hanging it.
		pctx, cancel := context.WithTimeout(ctx, s.cfg.connectTimeout)
		fs := cons.PollFetches(pctx)
		quiet := pctx.Err()
		cancel()
		if err := ctx.Err(); err != nil {
			return err
		}
		if quiet != nil {
			return s.unreachable("reading "+topic, quiet)
		}
		var ferr error
		fs.EachError(func(_ string, _ int32, err error) { ferr = err })
		if ferr != nil {
			return topicError("reading", topic, ferr)
		}
		var cerr error
		fs.EachRecord(func(r *kgo.Record) {
			// Control records (transaction markers) are kept so that the
			// last offset before the stable offset is always seen.
			if cerr == nil && !r.Attrs.IsControl() {
				cerr = fn(r)
			}
			if stop, ok := stops[r.Partition]; ok && r.Offset+1 >= stop {
				delete(stops, r.Partition)
			}
		})
		if cerr != nil {
			return cerr
		}
	}
	return nil
}

// Begin opens a transaction (transactional mode) on the producer whose
// turn it is; writes follow.
func (s *Sink) Begin() error {
	if s.cfg.transactionalID == "" || s.inTxn {
		return nil
	}
	// The last transaction is committed or aborted (inTxn is false), and
	// nothing is buffered in its producer: the turn may pass.
	s.cur = s.producers[(slices.Index(s.producers, s.cur)+1)%len(s.producers)]
	if err := s.cur.cl.BeginTransaction(); err != nil {
		return fmt.Errorf("kafka: beginning a transaction on %q: %w", s.cur.id, err)
	}
	s.inTxn = true
	return nil
}

// InTxn reports whether a transaction is open.
func (s *Sink) InTxn() bool { return s.inTxn }

// Write buffers a record for the open batch. Failures surface at Commit.
func (s *Sink) Write(ctx context.Context, r event.Record) {
	// One element of a block holds the record and its two headers.
	var w *recordWithHeaders
	if len(r.Key)+len(r.Value) <= carvedRecordBytes {
		w = &s.written.Make(1)[0]
	} else {
		w = new(recordWithHeaders)
	}
	w.Record = kgo.Record{Topic: r.Topic, Key: r.Key, Value: r.Value}
	kr := &w.Record
	if r.Op != nil {
		w.headers = [2]kgo.RecordHeader{{Key: HeaderOp, Value: r.Op}, {Key: HeaderLSN, Value: r.LSN}}
		kr.Headers = w.headers[:]
	}
	s.records++
	s.bytes += int64(len(r.Key) + len(r.Value))
	s.cur.cl.Produce(ctx, kr, s.produced)
}

// carvedRecordBytes is the largest record (key and value) carved from a
// block of the sink's: a block of 256 then keeps at most 4 MiB of records
// alive however long it takes to fill.
const carvedRecordBytes = 16 << 10

type recordWithHeaders struct {
	kgo.Record
	headers [2]kgo.RecordHeader
}

func (s *Sink) promise(r *kgo.Record, err error) {
	if err == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	tooLarge := errors.Is(err, kerr.MessageTooLarge) || errors.Is(err, kerr.RecordListTooLarge)
	size := 0
	if tooLarge {
		size = len(r.Key) + len(r.Value)
		for _, h := range r.Headers {
			size += len(h.Key) + len(h.Value)
		}
	}
	// The broker refuses a whole batch that is too large: each of its
	// records fails, the small ones too. The error names the largest.
	if s.firstErr != nil && (s.tooLarge == 0 || size <= s.tooLarge) {
		return
	}
	s.tooLarge = size
	switch {
	case tooLarge:
		if r.Topic == s.cfg.checkpointTopic {
			// Table states are records of their own (layout.go): only a
			// table state with a huge backfill cursor, or a document written
			// whole, gets here.
			s.firstErr = fmt.Errorf("kafka: checkpoint record of capture %q (key %q) is %d bytes, more than the checkpoint topic %q or kafka.max_message_bytes (%d) accepts: a table state this large holds the backfill cursor of a very large key; raise kafka.max_message_bytes and the max.message.bytes of topic %q, or give the table a smaller key: %w",
				s.cfg.capture, r.Key, size, r.Topic, s.cfg.maxRecordBytes, r.Topic, err)
			return
		}
		if int64(size) > int64(s.cfg.maxRecordBytes) {
			s.firstErr = fmt.Errorf("kafka: record for topic %q with key %s is %d bytes, more than kafka.max_message_bytes (%d) allows: raise kafka.max_message_bytes (pg2kafka creates new topics to match; raise max.message.bytes of existing topics too), or set kafka.oversize: truncate: %w",
				r.Topic, r.Key, size, s.cfg.maxRecordBytes, err)
		} else {
			s.firstErr = fmt.Errorf("kafka: the broker refused the batch holding the record for topic %q with key %s (%d bytes, the largest of the batch) as more than it accepts for this topic, though within kafka.max_message_bytes (%d): raise the topic's max.message.bytes (or the broker's message.max.bytes) to at least kafka.max_message_bytes, or set kafka.oversize: truncate: %w",
				r.Topic, r.Key, size, s.cfg.maxRecordBytes, err)
		}
	case errors.Is(err, kerr.TopicAuthorizationFailed):
		s.firstErr = topicError("writing to", r.Topic, err)
	default:
		s.firstErr = fmt.Errorf("kafka: writing to topic %q: %w", r.Topic, err)
	}
}

// Pending returns the records and bytes written since the last Commit.
func (s *Sink) Pending() (records int, bytes int64) { return s.records, s.bytes }

func (s *Sink) takeErr() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	err := s.firstErr
	s.firstErr, s.tooLarge = nil, 0
	return err
}

// Commit makes the batch durable together with checkpoint, the capture's
// new reduced state. In transactional mode the records and the checkpoint
// commit atomically; otherwise the checkpoint is written only after every
// record is acknowledged. When Commit returns nil the checkpoint is durable
// and its cursor may be confirmed to PostgreSQL; on error nothing of the
// batch may be assumed written and the caller must stop: every later Commit
// fails too (wrapping the first error), as its checkpoint would cover the
// lost records.
func (s *Sink) Commit(ctx context.Context, checkpoint event.Checkpoint) (err error) {
	defer func() { s.records, s.bytes = 0, 0 }()
	if s.failed != nil {
		return fmt.Errorf("kafka: not committing a checkpoint after a failed commit, whose records it would skip: %w", s.failed)
	}
	defer func() {
		if err != nil {
			s.failed = err
		}
	}()
	if s.parts == nil {
		// The parts the topic holds are known from the checkpoint read at
		// start; a sink that writes without reading first (state import)
		// reads them now, so that parts it no longer has are tombstoned.
		if _, err := s.ReadCheckpoint(ctx); err != nil {
			return err
		}
	}
	cps, parts := CheckpointRecords(s.cfg.checkpointTopic, s.cfg.capture, s.parts, checkpoint)
	defer func() {
		if err == nil {
			s.parts = parts
		}
	}()
	if s.cfg.transactionalID == "" {
		if err := s.cur.cl.Flush(ctx); err != nil {
			return fmt.Errorf("kafka: flushing records: %w", err)
		}
		if err := s.takeErr(); err != nil {
			return err
		}
		// Parts first, the base last: a crash between them leaves parts of
		// a newer checkpoint beside an older cursor, whose replay only
		// writes again what these parts already cover (at-least-once).
		for _, cp := range cps {
			s.cur.cl.Produce(ctx, cp, s.produced)
		}
		if err := s.cur.cl.Flush(ctx); err != nil {
			return fmt.Errorf("kafka: flushing the checkpoint: %w", err)
		}
		return s.takeErr()
	}
	if !s.inTxn {
		if err := s.Begin(); err != nil {
			return err
		}
	}
	for _, cp := range cps {
		s.cur.cl.Produce(ctx, cp, s.produced)
	}
	if err := s.cur.cl.Flush(ctx); err != nil {
		s.abort()
		return fmt.Errorf("kafka: flushing the transaction did not finish within kafka.transaction_timeout (%s): %w", s.cfg.txnTimeout, err)
	}
	if err := s.takeErr(); err != nil {
		s.abort()
		if errors.Is(err, kerr.InvalidProducerEpoch) || errors.Is(err, kerr.ProducerFenced) {
			return s.commitError(err)
		}
		return err
	}
	s.inTxn = false
	// The context is not cancelled mid-commit: the outcome would be unknown.
	if err := s.cur.cl.EndTransaction(context.WithoutCancel(ctx), kgo.TryCommit); err != nil {
		return s.commitError(err)
	}
	return nil
}

// commitError names what most often makes a broker refuse a commit: a
// transaction open longer than its timeout (the broker aborts it and bumps
// the producer epoch, which then reads like fencing), or a successor
// started with the same transactional ID.
func (s *Sink) commitError(err error) error {
	if errors.Is(err, kerr.InvalidProducerEpoch) || errors.Is(err, kerr.ProducerFenced) ||
		errors.Is(err, kerr.InvalidTxnState) || errors.Is(err, kerr.ConcurrentTransactions) {
		return fmt.Errorf("kafka: committing the transaction: the broker aborted it; either it stayed open longer than kafka.transaction_timeout (%s; raise it, within the broker's transaction.max.timeout.ms, or lower kafka.batch limits), or another process took over transactional ID %q: %w",
			s.cfg.txnTimeout, s.cur.id, err)
	}
	return fmt.Errorf("kafka: committing the transaction: %w", err)
}

// Abort discards the open batch: in transactional mode its records are
// aborted and never seen by read_committed consumers.
func (s *Sink) Abort(ctx context.Context) error {
	s.records, s.bytes = 0, 0
	if s.cfg.transactionalID == "" || !s.inTxn {
		return nil
	}
	return s.abort()
}

func (s *Sink) abort() error {
	s.inTxn = false
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.cur.cl.AbortBufferedRecords(ctx); err != nil {
		return fmt.Errorf("kafka: aborting buffered records: %w", err)
	}
	if err := s.cur.cl.EndTransaction(ctx, kgo.TryAbort); err != nil {
		return fmt.Errorf("kafka: aborting the transaction: %w", err)
	}
	_ = s.takeErr()
	return nil
}

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/pg2kafka/pg2kafka/capture"
	"github.com/pg2kafka/pg2kafka/config"
	"github.com/pg2kafka/pg2kafka/sink/kafka"
	"github.com/pg2kafka/pg2kafka/source"
)

// Debezium's side channels as the command wires them (capture/sidechannels.go
// writes them): the heartbeat and transaction topics, the heartbeat action
// query, and the signal table's execute-snapshot, which ends a run with a
// RediscoverError; the next run, in this process, backfills the named
// tables anew from the last checkpoint.

// sideTopics are the topics the side channels write to.
func sideTopics(cfg *config.Config) []string {
	var topics []string
	if cfg.Kafka.HeartbeatInterval > 0 {
		topics = append(topics, cfg.HeartbeatTopic())
	}
	if cfg.Kafka.TransactionMetadata {
		topics = append(topics, cfg.TransactionTopic())
	}
	if cfg.Kafka.SignalTopic != "" {
		topics = append(topics, cfg.Kafka.SignalTopic)
	}
	return topics
}

// isSignalTable reports whether t is the signal table, which is read for
// signals and never captured.
func isSignalTable(cfg *config.Config, t *source.DiscoveredTable) bool {
	return cfg.Kafka.SignalTable != "" && t.Schema+"."+t.Name == cfg.Kafka.SignalTable
}

// checkSignalTable checks that the signal table is published (its inserts
// reach the stream) and has Debezium's id, type and data columns.
func checkSignalTable(cfg *config.Config, tables []*source.DiscoveredTable) error {
	name := cfg.Kafka.SignalTable
	if name == "" {
		return nil
	}
	pub := cfg.Source.Advanced.PublicationName
	i := slices.IndexFunc(tables, func(t *source.DiscoveredTable) bool { return isSignalTable(cfg, t) })
	if i < 0 || !tables[i].Published {
		return fmt.Errorf("kafka.signal_table %s: not in publication %q, so no signal would arrive (CREATE TABLE %s (id varchar(42) PRIMARY KEY, type varchar(32) NOT NULL, data varchar(2048)); ALTER PUBLICATION %s ADD TABLE %s;)",
			name, pub, name, pub, name)
	}
	for _, col := range []string{"id", "type", "data"} {
		if !hasColumn(tables[i], col) {
			return fmt.Errorf("kafka.signal_table %s: has no column %q (a signal table has Debezium's columns: id varchar(42) PRIMARY KEY, type varchar(32) NOT NULL, data varchar(2048))", name, col)
		}
	}
	return nil
}

// signals is what the runs of one process know of the signals: those
// acted on (their replay is ignored), and the tables a signal asked to
// backfill anew, until a run has made that durable.
type signals struct {
	done       map[string]bool
	rebackfill map[string]string // "schema.table" → why
	// topic delivers the signal topic's signals to the runs.
	topic chan capture.Signal
	// open are the signal topic records read and not yet acted on
	// durably, by signal key; awaiting those acted on, whose re-backfill no
	// checkpoint holds yet.
	mu       sync.Mutex
	reader   *kafka.SignalReader
	open     map[string]kafka.SignalRecord
	awaiting []string
	log      zerolog.Logger
}

func newSignals() *signals {
	return &signals{done: map[string]bool{}, rebackfill: map[string]string{},
		topic: make(chan capture.Signal, 16), open: map[string]kafka.SignalRecord{}}
}

// received records an execute-snapshot signal that ended a run.
func (s *signals) received(rd *capture.RediscoverError) {
	if rd.Signal == "" {
		return
	}
	s.done[rd.Signal] = true
	for _, t := range rd.Rebackfill {
		s.rebackfill[t] = "execute-snapshot signal"
	}
	s.awaiting = append(s.awaiting, rd.Signal)
}

// finish marks a signal topic record (if key is one) acted on, and
// commits its partition's offset up to the first record still open: a
// crash re-reads every signal not acted on durably, and only those after.
func (s *signals) finish(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, ok := s.open[key]
	if !ok {
		return
	}
	delete(s.open, key)
	next := rec.Offset + 1
	for _, o := range s.open {
		if o.Partition == rec.Partition && o.Offset < next {
			next = o.Offset
		}
	}
	if next <= rec.Offset {
		return // an earlier record is still open: its finish commits
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.reader.Commit(ctx, rec.Partition, next); err != nil {
		s.log.Warn().Err(err).Str("signal", key).Msg("committing the signal topic's offset failed: the signal may be acted on again after a restart")
	}
}

// apply marks the bindings a signal asks to backfill anew; a table that
// would otherwise skip its backfill (mode Only Changes, skip_backfills)
// is backfilled too, as a signal asks for it by name.
func (s *signals) apply(binds []capture.Binding) []capture.Binding {
	if len(s.rebackfill) == 0 {
		return binds
	}
	out := slices.Clone(binds)
	for i := range out {
		b := &out[i]
		if why, ok := s.rebackfill[b.Schema+"."+b.Table]; ok {
			b.Rebackfill = why
			b.SkipBackfill = false
			if b.Mode == "Only Changes" {
				b.Mode = ""
			}
		}
	}
	return out
}

// ran is told whether a run committed a checkpoint: its first one holds
// the tables to backfill anew, so they are no longer this process's to
// remember.
func (s *signals) ran(committed bool) {
	if committed {
		clear(s.rebackfill)
		for _, key := range s.awaiting {
			s.finish(key)
		}
		s.awaiting = s.awaiting[:0]
	}
}

// readSignalTopic reads kafka.signal_topic and hands its signals to the
// runs. A record is Debezium's: key the topic prefix, value
// {"type": "execute-snapshot", "data": {"data-collections": [...]}}. Its
// offset is committed once the signal is acted on durably (or ignored), so
// a crash before re-reads it.
func readSignalTopic(ctx context.Context, cfg *config.Config, log zerolog.Logger, sink *kafka.Sink, sig *signals) error {
	topic := cfg.Kafka.SignalTopic
	if topic == "" {
		return nil
	}
	r, err := sink.SignalReader(topic, cfg.SignalGroup())
	if err != nil {
		return err
	}
	sig.reader, sig.log = r, log
	go func() {
		defer r.Close()
		r.Read(ctx, func(rec kafka.SignalRecord) {
			key := fmt.Sprintf("kafka:%s:%d:%d", topic, rec.Partition, rec.Offset)
			sig.mu.Lock()
			sig.open[key] = rec
			sig.mu.Unlock()
			var v struct {
				ID   string          `json:"id"`
				Type string          `json:"type"`
				Data json.RawMessage `json:"data"`
			}
			if err := json.Unmarshal(rec.Value, &v); err != nil || v.Type == "" {
				log.Warn().Str("signal", key).Bytes("value", rec.Value).
					Msg(`signal topic record ignored: its value is not like {"type": "execute-snapshot", "data": {"data-collections": ["public.t"]}}`)
				sig.finish(key)
				return
			}
			if p := cfg.Kafka.TopicPrefix; len(rec.Key) > 0 && string(rec.Key) != p {
				log.Warn().Str("signal", key).Bytes("key", rec.Key).
					Msgf("signal topic record ignored: its key is not the topic prefix %q (Debezium's rule: the key names the connector)", p)
				sig.finish(key)
				return
			}
			data := string(v.Data)
			var text string
			if json.Unmarshal(v.Data, &text) == nil {
				data = text // data given as a JSON string, as in the signal table
			}
			if v.ID == "" {
				v.ID = key
			}
			select {
			case sig.topic <- capture.SignalOf(key, v.ID, v.Type, data, func() { sig.finish(key) }):
			case <-ctx.Done():
			}
		}, func(at map[int32]int64) {
			log.Info().Str("topic", topic).Str("group", cfg.SignalGroup()).Interface("offsets", at).Msg("reading signals from the signal topic")
		}, func(err error, msg string) { log.Warn().Err(err).Msg(msg) })
	}()
	return nil
}

// side configures the capture's side channels.
func (s *signals) side(cfg *config.Config) capture.SideChannels {
	k := cfg.Kafka
	side := capture.SideChannels{SignalTable: k.SignalTable, SignalsDone: s.done, Signals: s.topic}
	if k.HeartbeatInterval > 0 {
		side.Heartbeat, side.HeartbeatTopic = k.HeartbeatInterval, cfg.HeartbeatTopic()
		side.HeartbeatKey = fmt.Appendf(nil, `{"serverName":%q}`, k.TopicPrefix)
	}
	if k.TransactionMetadata {
		side.TransactionTopic = cfg.TransactionTopic()
	}
	return side
}

// heartbeatAction runs kafka.heartbeat_action_query every heartbeat
// interval on a connection of its own (Debezium's heartbeat.action.query):
// a write to a published table keeps the slot's position moving when the
// captured tables are idle and others are not.
func heartbeatAction(ctx context.Context, cfg *config.Config, log zerolog.Logger) {
	q := strings.TrimSpace(cfg.Kafka.HeartbeatActionQuery)
	if q == "" || cfg.Kafka.HeartbeatInterval <= 0 {
		return
	}
	tick := time.NewTicker(cfg.Kafka.HeartbeatInterval)
	defer tick.Stop()
	var db *source.Database
	defer func() {
		if db != nil {
			db.Close()
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if db == nil {
			var err error
			if db, err = source.Connect(ctx, sourceConfig(cfg)); err != nil {
				log.Warn().Err(err).Msg("kafka.heartbeat_action_query: connecting failed; trying again at the next heartbeat")
				db = nil
				continue
			}
		}
		qctx, cancel := context.WithTimeout(ctx, cfg.Kafka.HeartbeatInterval)
		_, err := db.Conn().Exec(qctx, q)
		cancel()
		if err != nil && ctx.Err() == nil {
			log.Warn().Err(err).Msg("kafka.heartbeat_action_query failed (check the statement and the capture role's privileges); trying again at the next heartbeat")
			db.Close()
			db = nil
		}
	}
}

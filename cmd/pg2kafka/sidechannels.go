package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/pg2kafka/pg2kafka/capture"
	"github.com/pg2kafka/pg2kafka/config"
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
}

func newSignals() *signals {
	return &signals{done: map[string]bool{}, rebackfill: map[string]string{}}
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
	}
}

// side configures the capture's side channels.
func (s *signals) side(cfg *config.Config) capture.SideChannels {
	k := cfg.Kafka
	side := capture.SideChannels{SignalTable: k.SignalTable, SignalsDone: s.done}
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

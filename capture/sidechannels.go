package capture

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pg2kafka/pg2kafka/checkpoint"
	"github.com/pg2kafka/pg2kafka/event"
)

// Debezium's side channels (issue 13, item 6), each off by default:
//
//   - a heartbeat: a record written every interval while the capture
//     streams, in a Kafka transaction of its own that also carries the
//     checkpoint, so an idle capture still commits (and confirms its slot's
//     position) and consumers see it alive;
//   - transaction metadata: a BEGIN and an END record for each PostgreSQL
//     transaction with captured changes, written in the Kafka transactions
//     of the transaction's records, and each record's place in its
//     transaction (event.Change.Txn: Debezium's transaction block);
//   - a signal table: rows inserted into it arrive through the replication
//     stream, ordered with the changes; an execute-snapshot signal ends the
//     run with a RediscoverError naming the tables to backfill anew, and
//     the caller resumes from the last checkpoint with those tables
//     Rebackfill (no restart of the process, no state reset).
//
// Every record they write goes through the open batch like a change's: an
// aborted batch takes them with it, a committed one commits them with the
// checkpoint that covers them.

// SideChannels configures Debezium's side channels; the zero value turns
// them all off.
type SideChannels struct {
	// Heartbeat is the interval of heartbeat records (0: none).
	Heartbeat time.Duration
	// HeartbeatTopic and HeartbeatKey are where heartbeat records go and
	// their key.
	HeartbeatTopic string
	HeartbeatKey   []byte
	// TransactionTopic, when set, receives a BEGIN and an END record per
	// PostgreSQL transaction with captured changes, and every change of
	// the stream carries its place in its transaction (event.Change.Txn).
	TransactionTopic string
	// SignalTable ("schema.table"), when set, is the signal table: its
	// inserts are read as signals (columns id, type, data), not captured.
	SignalTable string
	// SignalsDone holds the signals (by SignalID) a previous run of this
	// process acted on: replayed after the restart they caused, they are
	// ignored.
	SignalsDone map[string]bool
	// Signals delivers signals from elsewhere (a Kafka signal topic); the
	// loop takes them between stream batches and backfill chunks.
	Signals <-chan Signal
}

// txnMeta counts the records of the PostgreSQL transaction being relayed.
type txnMeta struct {
	begun  bool // its BEGIN record is written (in this run or, split, before)
	total  int64
	tables []string // data collections in order of first record
	counts map[string]int64
}

// reset forgets the transaction.
func (m *txnMeta) reset() {
	m.begun, m.total, m.tables = false, 0, m.tables[:0]
	clear(m.counts)
}

// count adds one record of table and returns its orders.
func (m *txnMeta) count(table string) (total, inTable int64) {
	if m.counts == nil {
		m.counts = map[string]int64{}
	}
	if _, ok := m.counts[table]; !ok {
		m.tables = append(m.tables, table)
	}
	m.total++
	m.counts[table]++
	return m.total, m.counts[table]
}

// txnID is Debezium's PostgreSQL transaction ID: "<xid>:<commit LSN>".
func txnID(xid uint32, commit uint64) string {
	return strconv.FormatUint(uint64(xid), 10) + ":" + strconv.FormatUint(commit, 10)
}

// txnRecord counts a record of the stream in its transaction's metadata,
// writes the transaction's BEGIN record before its first one, and gives
// the change its place (event.Change.Txn). The sink is in a transaction.
func (c *Capture) txnRecord(b *binding, ch *event.Change) {
	m := &c.txnMeta
	id := txnID(ch.XID, uint64(ch.Loc[2]))
	if !m.begun {
		m.begun = true
		value := fmt.Appendf(nil, `{"status":"BEGIN","id":%q,"event_count":null,"data_collections":null,"ts_ms":%d}`, id, ch.TSMillis)
		c.sink.Write(c.work, event.Record{Topic: c.opts.Side.TransactionTopic, Key: txnKey(id), Value: value})
	}
	total, inTable := m.count(b.Schema + "." + b.Table)
	ch.Txn = &event.TxnOrder{ID: id, TotalOrder: total, CollectionOrder: inTable}
}

// txnSkipped counts a change that a previous run committed inside a split
// transaction: its records (and the transaction's BEGIN) are in Kafka, and
// the END record counts them. A change counts when its table is captured
// and streaming, as the previous run wrote it (a key change written as a
// delete and a create counts once here: the END's counts are then low by
// one for it).
func (c *Capture) txnSkipped(ch *event.Change) {
	if c.opts.Side.TransactionTopic == "" || ch.Table == nil {
		return
	}
	b := c.bindings[ch.Table.Schema+"."+ch.Table.Name]
	if b == nil || b.state == nil || b.state.Mode != checkpoint.ModeActive {
		return
	}
	c.txnMeta.begun = true
	c.txnMeta.count(b.Schema + "." + b.Table)
}

// txnEnd writes the END record of the transaction that commits at commit,
// if its BEGIN was written, and forgets it.
func (c *Capture) txnEnd(xid uint32, tsMillis int64) error {
	m := &c.txnMeta
	if c.opts.Side.TransactionTopic == "" || !m.begun {
		m.reset()
		return nil
	}
	if !c.sink.InTxn() {
		if err := c.sink.Begin(); err != nil {
			return err
		}
	}
	id := txnID(xid, c.txnCommit)
	v := fmt.Appendf(nil, `{"status":"END","id":%q,"event_count":%d,"data_collections":[`, id, m.total)
	for i, t := range m.tables {
		if i > 0 {
			v = append(v, ',')
		}
		v = fmt.Appendf(v, `{"data_collection":%q,"event_count":%d}`, t, m.counts[t])
	}
	v = fmt.Appendf(v, `],"ts_ms":%d}`, tsMillis)
	c.sink.Write(c.work, event.Record{Topic: c.opts.Side.TransactionTopic, Key: txnKey(id), Value: v})
	c.markDirty()
	m.reset()
	return nil
}

// txnKey is the key of a transaction record: {"id":"…"}, as Debezium's.
func txnKey(id string) []byte { return fmt.Appendf(nil, `{"id":%q}`, id) }

// heartbeatTicker ticks at the heartbeat interval (never when off).
func (c *Capture) heartbeatTicker() (<-chan time.Time, func()) {
	if c.opts.Side.Heartbeat <= 0 || c.opts.Side.HeartbeatTopic == "" {
		return nil, func() {}
	}
	t := time.NewTicker(c.opts.Side.Heartbeat)
	return t.C, t.Stop
}

// heartbeat writes a heartbeat record carrying the position of the
// checkpoint it commits with, and commits. Inside a PostgreSQL transaction
// (one being relayed across several batches) it waits for the next tick.
func (c *Capture) heartbeat() error {
	if c.inTxn {
		return nil
	}
	if !c.sink.InTxn() {
		if err := c.sink.Begin(); err != nil {
			return err
		}
	}
	v := fmt.Appendf(nil, `{"ts_ms":%d,"lsn":%d,"cursor":%q}`, time.Now().UnixMilli(), c.cursor, checkpoint.LSN(c.cursor).String())
	c.sink.Write(c.work, event.Record{Topic: c.opts.Side.HeartbeatTopic, Key: c.opts.Side.HeartbeatKey, Value: v})
	c.markDirty()
	return c.commit()
}

// Signal is one row of the signal table, as Debezium's
// signal.data.collection has it.
type Signal struct {
	// ID is the row's id column; Type its type ("execute-snapshot", "log",
	// ...); Data its data column (JSON).
	ID, Type, Data string
	// Ignored, when set, is called if the signal is not acted on (logged
	// only, or refused): it needs no durable effect.
	Ignored func()
	// key is the signal's position (SignalID) or the caller's ID for it.
	key string
}

// SignalOf is a signal from elsewhere than the signal table; key names it
// in RediscoverError.Signal.
func SignalOf(key, id, typ, data string, ignored func()) Signal {
	return Signal{ID: id, Type: typ, Data: data, Ignored: ignored, key: key}
}

// SignalID names a signal row by its position in the WAL: "<commit
// LSN>:<change LSN>" (both decimal), the same on every replay.
func SignalID(ch *event.Change) string {
	return strconv.FormatInt(ch.Loc[2], 10) + ":" + strconv.FormatInt(ch.Loc[1], 10)
}

// snapshotData is the data of an execute-snapshot signal.
type snapshotData struct {
	DataCollections      []string          `json:"data-collections"`
	Type                 string            `json:"type"`
	AdditionalConditions []json.RawMessage `json:"additional-conditions"`
}

// signalRow acts on a change of a table the capture does not capture: an
// insert into the signal table is a signal. An execute-snapshot signal
// ends the run with a RediscoverError whose Rebackfill names its tables.
func (c *Capture) signalRow(ch *event.Change) error {
	side := &c.opts.Side
	if side.SignalTable == "" || ch.Table == nil || ch.Table.Schema+"."+ch.Table.Name != side.SignalTable || ch.Op != event.OpCreate {
		return nil
	}
	id := SignalID(ch)
	if side.SignalsDone[id] {
		return nil
	}
	s := Signal{key: id}
	for i, col := range ch.Table.Columns {
		if i >= len(ch.New) || ch.New[i].Marker != event.MarkerText {
			continue
		}
		switch col.Name {
		case "id":
			s.ID = string(ch.New[i].Data)
		case "type":
			s.Type = string(ch.New[i].Data)
		case "data":
			s.Data = string(ch.New[i].Data)
		}
	}
	return c.signal(s)
}

// signal acts on a signal: an execute-snapshot is a RediscoverError
// naming its tables; a log signal is logged; any other is ignored.
func (c *Capture) signal(s Signal) error {
	ignored := func() error {
		if s.Ignored != nil {
			s.Ignored()
		}
		return nil
	}
	log := c.log.With().Str("signal", s.ID).Str("type", s.Type).Logger()
	switch s.Type {
	case "log":
		var d struct {
			Message string `json:"message"`
		}
		_ = json.Unmarshal([]byte(s.Data), &d)
		log.Info().Str("message", d.Message).Msg("signal: log")
		return ignored()
	case "execute-snapshot":
	default:
		log.Warn().Str("data", s.Data).Msg("signal ignored: pg2kafka acts on execute-snapshot and log signals only")
		return ignored()
	}
	tables, err := c.snapshotTables(s)
	if err != nil {
		log.Warn().Err(err).Msg("execute-snapshot signal ignored")
		return ignored()
	}
	log.Info().Strs("tables", tables).Msg("execute-snapshot signal: backfilling the tables anew from the last checkpoint (progress in the backfill log lines and pg2kafka status)")
	return &RediscoverError{Reason: fmt.Sprintf("execute-snapshot signal %q: backfilling %s anew", s.ID, strings.Join(tables, ", ")),
		Rebackfill: tables, Signal: s.key}
}

// snapshotTables reads the tables an execute-snapshot signal names, each
// a captured "schema.table".
func (c *Capture) snapshotTables(s Signal) ([]string, error) {
	var d snapshotData
	if err := json.Unmarshal([]byte(s.Data), &d); err != nil {
		return nil, fmt.Errorf(`data %q is not JSON like {"data-collections": ["public.t"], "type": "incremental"}: %w`, s.Data, err)
	}
	switch strings.ToLower(d.Type) {
	case "", "incremental", "blocking":
	default:
		return nil, fmt.Errorf("snapshot type %q is not supported (use incremental)", d.Type)
	}
	if len(d.AdditionalConditions) > 0 {
		return nil, fmt.Errorf("additional-conditions are not supported: a re-backfill reads whole tables (leave them out)")
	}
	var tables []string
	for _, name := range d.DataCollections {
		if c.bindings[name] == nil {
			return nil, fmt.Errorf("data collection %q is not a captured table (name it schema.table, as the capture's tables are: %s)", name, c.tableNames())
		}
		if !slices.Contains(tables, name) {
			tables = append(tables, name)
		}
	}
	if len(tables) == 0 {
		return nil, fmt.Errorf(`no data-collections: name the tables to backfill, as in {"data-collections": ["public.t"]}`)
	}
	return tables, nil
}

// tableNames lists a few captured tables, for an error.
func (c *Capture) tableNames() string {
	var names []string
	for n := range c.bindings {
		names = append(names, n)
	}
	slices.Sort(names)
	if len(names) > 5 {
		names = append(names[:5], "...")
	}
	return strings.Join(names, ", ")
}

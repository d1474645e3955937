package capture

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pg2kafka/pg2kafka/checkpoint"
	"github.com/pg2kafka/pg2kafka/event"
)

// checkTxns verifies the transaction metadata of the committed log (when
// on): each transaction's BEGIN and END at most once (exactly once, when
// every change is owed), the BEGIN before the transaction's records and
// the END after them, and the END's counts equal to the records of the
// transaction in the table's topic.
func (w *world) checkTxns(t *testing.T, exactlyOnce bool, scenario string) {
	t.Helper()
	topic := w.side.TransactionTopic
	if topic == "" {
		return
	}
	type txnRec struct {
		Status          string `json:"status"`
		ID              string `json:"id"`
		EventCount      *int64 `json:"event_count"`
		DataCollections []struct {
			DataCollection string `json:"data_collection"`
			EventCount     int64  `json:"event_count"`
		} `json:"data_collections"`
	}
	begins, ends := map[string]int{}, map[string]int{}
	counts := map[string]int64{} // records of each transaction seen so far
	for i, r := range w.log {
		if r.topic != topic {
			if r.topic != "t" || r.value == nil {
				continue
			}
			var d struct {
				Meta struct {
					Source struct {
						Snapshot bool     `json:"snapshot"`
						Loc      [3]int64 `json:"loc"`
					} `json:"source"`
				} `json:"_meta"`
			}
			if err := json.Unmarshal(r.value, &d); err != nil || d.Meta.Source.Snapshot {
				continue
			}
			commit := strconv.FormatInt(d.Meta.Source.Loc[2], 10)
			counts[commit]++
			if begins[commit] == 0 {
				t.Errorf("%s: record %d (commit %s) before its transaction's BEGIN", scenario, i, commit)
			}
			if ends[commit] > 0 {
				t.Errorf("%s: record %d (commit %s) after its transaction's END", scenario, i, commit)
			}
			continue
		}
		var m txnRec
		if err := json.Unmarshal(r.value, &m); err != nil {
			t.Fatalf("%s: transaction record %s: %v", scenario, r.value, err)
		}
		if want := fmt.Sprintf(`{"id":%q}`, m.ID); string(r.key) != want {
			t.Errorf("%s: transaction record key %s, want %s", scenario, r.key, want)
		}
		_, commit, _ := strings.Cut(m.ID, ":")
		switch m.Status {
		case "BEGIN":
			begins[commit]++
			if begins[commit] > 1 {
				t.Errorf("%s: BEGIN of %s written twice", scenario, m.ID)
			}
			if m.EventCount != nil || m.DataCollections != nil {
				t.Errorf("%s: BEGIN with counts: %s", scenario, r.value)
			}
		case "END":
			ends[commit]++
			if ends[commit] > 1 {
				t.Errorf("%s: END of %s written twice", scenario, m.ID)
			}
			if m.EventCount == nil || len(m.DataCollections) != 1 || m.DataCollections[0].DataCollection != "public.t" ||
				m.DataCollections[0].EventCount != *m.EventCount {
				t.Errorf("%s: END %s", scenario, r.value)
				continue
			}
			if exactlyOnce && *m.EventCount != counts[commit] {
				t.Errorf("%s: END of %s counts %d records, the topic has %d", scenario, m.ID, *m.EventCount, counts[commit])
			}
		default:
			t.Errorf("%s: transaction record %s", scenario, r.value)
		}
	}
	if len(ends) == 0 {
		t.Errorf("%s: no END record", scenario)
	}
	if !exactlyOnce {
		return
	}
	for _, txn := range w.wal {
		commit := strconv.FormatUint(txn.end, 10)
		if txn.end <= w.activeAt || counts[commit] == 0 {
			continue
		}
		if begins[commit] != 1 || ends[commit] != 1 {
			t.Errorf("%s: transaction %s has %d BEGIN and %d END records, want one each", scenario, commit, begins[commit], ends[commit])
		}
	}
}

// signalTable is a Debezium signal table (id, type, data).
var signalTable = &event.Table{Schema: "public", Name: "signals", Columns: []event.Column{
	{Name: "id", Type: event.Type{Name: "varchar", Kind: event.KindText}},
	{Name: "type", Type: event.Type{Name: "varchar", Kind: event.KindText}},
	{Name: "data", Type: event.Type{Name: "varchar", Kind: event.KindText}},
}}

func signalRow(id, typ, data string) event.Item {
	txt := func(s string) event.Value { return event.Value{Marker: event.MarkerText, Data: []byte(s)} }
	return event.Item{Kind: event.ItemChange, Change: event.Change{Op: event.OpCreate, Table: signalTable,
		New: []event.Value{txt(id), txt(typ), txt(data)}}}
}

// runSide runs one capture of the world's table with side channels until
// it ends or the timeout passes.
func runSide(t *testing.T, w *world, side SideChannels, rebackfill string, timeout time.Duration) (*Capture, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	w.mu.Lock()
	w.cancel, w.open, w.inTxn = cancel, nil, false
	state, err := checkpoint.Parse(w.checkpoint)
	w.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	b := Binding{Schema: "public", Table: "t", StateKey: "public%2Ft", Topic: "t",
		KeyColumns: []string{"id"}, Columns: crashTable.Columns, Rebackfill: rebackfill}
	sink := &fakeSink{w: w}
	c := New(fakeDB{w}, sink, state, []Binding{b}, testOptions(Options{Tombstones: true, MaxDelay: time.Millisecond,
		Topics: sink, SlotBusyRetries: 0, Logger: testLogger(), Side: side}))
	return c, c.Run(ctx)
}

// An execute-snapshot signal ends the run with a RediscoverError naming
// its tables and the signal; replayed once acted on, it is ignored. Other
// signals are logged or ignored, never captured.
func TestSignalTable(t *testing.T) {
	w := newWorld(5, 0, 3, 2)
	side := SideChannels{SignalTable: "public.signals", SignalsDone: map[string]bool{}}
	if _, err := runSide(t, w, side, "", 200*time.Millisecond); err != nil { // creates the slot, streams the script
		t.Fatal(err)
	}
	w.appendTxn([]event.Item{signalRow("1", "log", `{"message":"hello"}`)})
	w.appendTxn([]event.Item{signalRow("2", "pause-snapshot", `{}`)})
	w.appendTxn([]event.Item{signalRow("3", "execute-snapshot", `{"data-collections":["public.nope"]}`)})
	w.appendTxn([]event.Item{signalRow("4", "execute-snapshot", `{"data-collections": ["public.t"], "type": "incremental"}`)})
	_, err := runSide(t, w, side, "", 5*time.Second)
	var rd *RediscoverError
	if !errors.As(err, &rd) || len(rd.Rebackfill) != 1 || rd.Rebackfill[0] != "public.t" || rd.Signal == "" {
		t.Fatalf("run ended with %v (%+v), want an execute-snapshot of public.t", err, rd)
	}
	for _, r := range w.log {
		if r.topic != "t" {
			t.Errorf("record for topic %q", r.topic)
		}
	}
	// The next run, with the table to backfill anew: the signal's replay
	// is ignored, and the table is backfilled.
	side.SignalsDone[rd.Signal] = true
	before := len(w.log)
	c, err := runSide(t, w, side, "execute-snapshot signal", 300*time.Millisecond)
	if err != nil {
		t.Fatalf("second run: %v", err)
	}
	if st := c.State().Bindings["public%2Ft"]; st == nil || st.Mode != checkpoint.ModeActive {
		t.Errorf("after the re-backfill: %+v", st)
	}
	snapshots := 0
	for _, r := range w.log[before:] {
		if strings.Contains(string(r.value), `"snapshot":true`) {
			snapshots++
		}
	}
	if snapshots != len(w.rows) || snapshots == 0 {
		t.Errorf("%d backfilled records, want the table's %d rows", snapshots, len(w.rows))
	}
}

// Heartbeats are committed while the capture idles, each carrying the
// position of the checkpoint it commits with.
func TestHeartbeat(t *testing.T) {
	w := newWorld(3, 0, 2, 2)
	side := SideChannels{Heartbeat: 20 * time.Millisecond, HeartbeatTopic: "hb", HeartbeatKey: []byte(`{"serverName":"p"}`)}
	if _, err := runSide(t, w, side, "", 300*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	beats := make([]struct {
		TS  int64  `json:"ts_ms"`
		LSN uint64 `json:"lsn"`
		Cur string `json:"cursor"`
	}, 0, 1000)
	for _, r := range w.log {
		if r.topic != "hb" {
			continue
		}
		if string(r.key) != `{"serverName":"p"}` {
			t.Errorf("heartbeat key %s", r.key)
		}
		beats = beats[:len(beats)+1]
		if err := json.Unmarshal(r.value, &beats[len(beats)-1]); err != nil {
			t.Fatalf("heartbeat %s: %v", r.value, err)
		}
	}
	if len(beats) < 3 {
		t.Fatalf("%d heartbeats in 300ms at 20ms", len(beats))
	}
	last := beats[len(beats)-1]
	if end := w.wal[len(w.wal)-1].end; last.LSN != end || last.Cur != checkpoint.LSN(end).String() || w.durableCursor() != end {
		t.Errorf("last heartbeat at %d (%s), WAL ends at %d, checkpoint at %d", last.LSN, last.Cur, end, w.durableCursor())
	}
}

// Signals from elsewhere (a Kafka signal topic) are taken between stream
// batches: an execute-snapshot ends the run naming its key; a log signal,
// or one naming no captured table, is reported as ignored.
func TestSignalsChannel(t *testing.T) {
	w := newWorld(9, 0, 2, 2)
	signals := make(chan Signal, 4)
	ignored := 0
	signals <- SignalOf("k1", "1", "log", `{"message":"hi"}`, func() { ignored++ })
	signals <- SignalOf("k2", "2", "execute-snapshot", `{"data-collections":["public.nope"]}`, func() { ignored++ })
	signals <- SignalOf("k3", "3", "execute-snapshot", `{"data-collections":["public.t"],"type":"INCREMENTAL"}`, func() { ignored++ })
	_, err := runSide(t, w, SideChannels{Signals: signals}, "", 5*time.Second)
	var rd *RediscoverError
	if !errors.As(err, &rd) || rd.Signal != "k3" || len(rd.Rebackfill) != 1 || rd.Rebackfill[0] != "public.t" {
		t.Fatalf("run ended with %v (%+v), want the execute-snapshot of k3", err, rd)
	}
	if ignored != 2 {
		t.Errorf("%d signals reported ignored, want 2", ignored)
	}
}

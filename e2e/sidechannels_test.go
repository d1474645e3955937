package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// kafka.transaction_metadata writes a BEGIN and an END record per
// PostgreSQL transaction to <prefix>.transaction (END with the event count
// per table) and the transaction block of Debezium-envelope records, each
// in the Kafka transaction of the records it describes.
func TestTransactionMetadata(t *testing.T) {
	e := newEnv(t)
	e.kafka = []string{"envelope: debezium", "transaction_metadata: true"}
	e.exec(`CREATE TABLE a (id integer PRIMARY KEY)`, `CREATE TABLE b (id integer PRIMARY KEY)`,
		`INSERT INTO a VALUES (0)`,
		`ALTER PUBLICATION flow_publication ADD TABLE a, b`)
	p := e.start(true)
	e.exec(`BEGIN; INSERT INTO a VALUES (1); INSERT INTO b VALUES (1); INSERT INTO a VALUES (2); COMMIT`)
	txns := e.consume(e.prefix+".transaction", 2, 30*time.Second)
	as := e.consume(e.topic("a"), 3, 30*time.Second)
	bs := e.consume(e.topic("b"), 1, 30*time.Second)
	p.stop(t)
	if len(txns) != 2 || len(as) != 3 || len(bs) != 1 {
		t.Fatalf("got %d transaction records, %d of a, %d of b; want 2, 3, 1\n%s", len(txns), len(as), len(bs), p.output())
	}
	type txnRec struct {
		Status          string `json:"status"`
		ID              string `json:"id"`
		EventCount      *int   `json:"event_count"`
		DataCollections []struct {
			DataCollection string `json:"data_collection"`
			EventCount     int    `json:"event_count"`
		} `json:"data_collections"`
		TS int64 `json:"ts_ms"`
	}
	var begin, end txnRec
	if err := json.Unmarshal(txns[0].Value, &begin); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(txns[1].Value, &end); err != nil {
		t.Fatal(err)
	}
	t.Logf("BEGIN %s\nEND %s", txns[0].Value, txns[1].Value)
	if begin.Status != "BEGIN" || begin.EventCount != nil || begin.DataCollections != nil || begin.TS == 0 {
		t.Errorf("BEGIN record %s", txns[0].Value)
	}
	if end.Status != "END" || end.ID != begin.ID || end.EventCount == nil || *end.EventCount != 3 || len(end.DataCollections) != 2 ||
		end.DataCollections[0].DataCollection != "public.a" || end.DataCollections[0].EventCount != 2 ||
		end.DataCollections[1].DataCollection != "public.b" || end.DataCollections[1].EventCount != 1 {
		t.Errorf("END record %s", txns[1].Value)
	}
	if want := fmt.Sprintf(`{"id":%q}`, begin.ID); string(txns[0].Key) != want || string(txns[1].Key) != want {
		t.Errorf("keys %s %s, want %s", txns[0].Key, txns[1].Key, want)
	}
	type block struct {
		Transaction *struct {
			ID         string `json:"id"`
			Total      int    `json:"total_order"`
			Collection int    `json:"data_collection_order"`
		} `json:"transaction"`
		Op string `json:"op"`
	}
	blocks := func(recs []string) []block {
		var out []block
		for _, v := range recs {
			var b block
			if err := json.Unmarshal([]byte(v), &b); err != nil {
				t.Fatal(err)
			}
			out = append(out, b)
		}
		return out
	}
	ab := blocks([]string{string(as[0].Value), string(as[1].Value), string(as[2].Value)})
	bb := blocks([]string{string(bs[0].Value)})
	if ab[0].Op != "r" || ab[0].Transaction != nil {
		t.Errorf("backfilled row: op %s transaction %+v, want r and null", ab[0].Op, ab[0].Transaction)
	}
	for i, w := range []struct {
		b                 block
		total, collection int
	}{{ab[1], 1, 1}, {bb[0], 2, 1}, {ab[2], 3, 2}} {
		if tx := w.b.Transaction; tx == nil || tx.ID != begin.ID || tx.Total != w.total || tx.Collection != w.collection {
			t.Errorf("change %d: transaction %+v, want id %s total_order %d data_collection_order %d", i, tx, begin.ID, w.total, w.collection)
		}
	}
}

// kafka.heartbeat_interval writes heartbeat records carrying the
// checkpoint's position while the capture idles; the heartbeat action
// query runs on the source, and its writes to tables outside the capture
// move the slot's confirmed position.
func TestHeartbeat(t *testing.T) {
	e := newEnv(t)
	e.kafka = []string{"heartbeat_interval: 300ms", "heartbeat_action_query: INSERT INTO beats DEFAULT VALUES"}
	e.exec(`CREATE TABLE items (id integer PRIMARY KEY)`, `CREATE TABLE beats (n serial PRIMARY KEY, at timestamptz DEFAULT now())`,
		`ALTER PUBLICATION flow_publication ADD TABLE items`)
	p := e.start(true)
	defer p.stop(t)
	confirmed := func() uint64 {
		var lsn string
		if err := e.conn().QueryRow(context.Background(),
			`SELECT coalesce(confirmed_flush_lsn::text, '0/0') FROM pg_replication_slots WHERE slot_name = $1`, e.slot).Scan(&lsn); err != nil {
			t.Fatal(err)
		}
		l, err := pglogrepl.ParseLSN(lsn)
		if err != nil {
			t.Fatal(err)
		}
		return uint64(l)
	}
	start := confirmed()
	beats := e.consume(e.prefix+".heartbeat", 4, 30*time.Second)
	if len(beats) < 4 {
		t.Fatalf("%d heartbeats in 30s at 300ms\n%s", len(beats), p.output())
	}
	var last struct {
		TS     int64  `json:"ts_ms"`
		LSN    uint64 `json:"lsn"`
		Cursor string `json:"cursor"`
	}
	for _, b := range beats {
		if want := fmt.Sprintf(`{"serverName":%q}`, e.prefix); string(b.Key) != want {
			t.Errorf("heartbeat key %s, want %s", b.Key, want)
		}
		if err := json.Unmarshal(b.Value, &last); err != nil || last.LSN == 0 || last.TS == 0 {
			t.Errorf("heartbeat %s (%v)", b.Value, err)
		}
	}
	t.Logf("last heartbeat %s", beats[len(beats)-1].Value)
	var n int
	if err := e.conn().QueryRow(context.Background(), `SELECT count(*) FROM beats`).Scan(&n); err != nil || n == 0 {
		t.Errorf("the heartbeat action query ran %d times (%v)", n, err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for confirmed() <= start {
		if time.Now().After(deadline) {
			t.Fatalf("the slot's confirmed position stayed at %X while the action query wrote", start)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// An execute-snapshot signal inserted into the signal table backfills the
// named table anew while the capture runs (no restart, no state reset):
// every row again as a backfill record, then the topic swept; the signal
// table is not captured, and the signal is acted on once.
func TestSignalTable(t *testing.T) {
	e := newEnv(t)
	e.kafka = []string{"signal_table: public.debezium_signal"}
	e.exec(`CREATE TABLE items (id integer PRIMARY KEY, v integer NOT NULL, note text)`,
		`INSERT INTO items SELECT g, 1, 'v' FROM generate_series(1, 50) g`,
		`CREATE TABLE debezium_signal (id varchar(42) PRIMARY KEY, type varchar(32) NOT NULL, data varchar(2048))`,
		`ALTER PUBLICATION flow_publication ADD TABLE items, debezium_signal`)
	p := e.start(true)
	waitBackfilled(t, e, []string{"items"}, 60*time.Second)
	e.exec(`INSERT INTO debezium_signal VALUES ('s1', 'log', '{"message": "hello from the signal table"}')`,
		`INSERT INTO debezium_signal VALUES ('s2', 'execute-snapshot', '{"data-collections": ["public.items"], "type": "incremental"}')`,
		`INSERT INTO items VALUES (51, 1, 'after the signal')`)
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(p.output(), "swept the topic") {
		if time.Now().After(deadline) {
			t.Fatalf("no sweep after the signal's re-backfill:\n%s", p.output())
		}
		time.Sleep(100 * time.Millisecond)
	}
	e.exec(`INSERT INTO items VALUES (52, 1, 'marker')`)
	waitForRecord(t, e, e.topic("items"), 30*time.Second, func(d doc) bool { return d["note"] == "marker" })
	p.stop(t)
	out := p.output()
	for _, want := range []string{"hello from the signal table", "execute-snapshot signal: backfilling the tables anew"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q", want)
		}
	}
	if n := strings.Count(out, "execute-snapshot signal: backfilling the tables anew"); n != 1 {
		t.Errorf("the signal was acted on %d times", n)
	}
	recs := e.settle(e.topic("items"), time.Second)
	backfilled := lastPerKey(t, e, "items", recs, `SELECT json_build_object('id', id)::text, json_build_object('id', id, 'v', v, 'note', note)::text FROM items`)
	if backfilled < 100 {
		t.Errorf("%d backfill records, want the 50 rows twice at least", backfilled)
	}
	if strings.Contains(out, "debezium_signal\",\"topic") {
		t.Error("the signal table joined the capture")
	}
}

// An execute-snapshot signal produced to kafka.signal_topic (Debezium's
// Kafka signal channel: key the topic prefix) backfills the named table
// anew while the capture runs; the signal's offset is committed for the
// capture's signal group once the re-backfill is in a checkpoint, and a
// record that is no signal is skipped.
func TestSignalTopic(t *testing.T) {
	e := newEnv(t)
	topic := e.prefix + ".signals"
	e.kafka = []string{"signal_topic: " + topic}
	e.exec(`CREATE TABLE items (id integer PRIMARY KEY, v integer NOT NULL)`,
		`INSERT INTO items SELECT g, 1 FROM generate_series(1, 30) g`,
		`ALTER PUBLICATION flow_publication ADD TABLE items`)
	p := e.start(true)
	defer p.stop(t)
	waitBackfilled(t, e, []string{"items"}, 60*time.Second)
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(p.output(), "reading signals from the signal topic") {
		if time.Now().After(deadline) {
			t.Fatalf("the signal topic is not read:\n%s", p.output())
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(time.Second) // the reader starts at the topic's end
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx,
		&kgo.Record{Topic: topic, Key: []byte(e.prefix), Value: []byte(`not a signal`)},
		&kgo.Record{Topic: topic, Key: []byte(e.prefix), Value: []byte(`{"type":"execute-snapshot","data":{"data-collections":["public.items"],"type":"INCREMENTAL"}}`)},
	).FirstErr(); err != nil {
		t.Fatal(err)
	}
	for !strings.Contains(p.output(), "swept the topic") {
		if time.Now().After(deadline.Add(30 * time.Second)) {
			t.Fatalf("no re-backfill after the signal:\n%s", p.output())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !strings.Contains(p.output(), "signal topic record ignored") {
		t.Error("the record that is no signal was not reported")
	}
	group := "pg2kafka-" + e.capture() + "-signals"
	adm := kadm.NewClient(cl)
	ctx, cancel = context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		offs, err := adm.FetchOffsets(ctx, group)
		if err != nil {
			t.Fatalf("%v\n%s", err, p.output())
		}
		if o, ok := offs.Lookup(topic, 0); ok && o.At == 2 {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("group %s offsets %v, want 2 on partition 0\n%s", group, offs, p.output())
		}
		time.Sleep(200 * time.Millisecond)
	}
	recs := e.settle(e.topic("items"), time.Second)
	if n := lastPerKey(t, e, "items", recs, `SELECT json_build_object('id', id)::text, json_build_object('id', id, 'v', v)::text FROM items`); n != 60 {
		t.Errorf("%d backfill records, want the 30 rows twice", n)
	}
}

package e2e

import (
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// finalRows reduces a topic of (id, v) rows to its final state per key,
// deletes and tombstones honoured: id → v.
func finalRows(t *testing.T, recs []*kgo.Record) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, r := range recs {
		k := string(r.Key)
		if r.Value == nil {
			delete(out, k)
			continue
		}
		d := decode(t, r)
		if meta(d)["op"] == "d" {
			delete(out, k)
			continue
		}
		out[k] = fmt.Sprint(d["v"])
	}
	return out
}

// waitRows waits until the topic's final state equals want (with
// subset, until it holds want).
func (e *env) waitRows(topic string, want map[string]string, subset bool, d time.Duration) {
	e.t.Helper()
	deadline := time.Now().Add(d)
	var got map[string]string
	for time.Now().Before(deadline) {
		got = finalRows(e.t.(*testing.T), e.consume(topic, 1<<30, 300*time.Millisecond))
		if subset {
			held := maps.Clone(got)
			maps.DeleteFunc(held, func(k, _ string) bool { _, ok := want[k]; return !ok })
			if maps.Equal(held, want) {
				return
			}
		} else if maps.Equal(got, want) {
			return
		}
	}
	e.t.Fatalf("topic %s ends at %v, want %v", topic, got, want)
}

// A table renamed, a table joining the publication, and a table dropped
// and created again while pg2kafka runs: each is followed without a
// restart and without losing a row — the renamed table moves to its new
// name's topic (backfilled there), the joining table is backfilled, and the
// recreated table is backfilled anew.
func TestSchemaChangesWhileRunning(t *testing.T) {
	e := newEnv(t)
	e.exec(
		`CREATE TABLE before_rename (id integer PRIMARY KEY, v text)`,
		`CREATE TABLE recreated (id integer PRIMARY KEY, v text)`,
		`ALTER PUBLICATION flow_publication ADD TABLE before_rename, recreated`,
		`INSERT INTO before_rename VALUES (1, 'a')`,
		`INSERT INTO recreated VALUES (1, 'old')`,
	)
	p := e.start(true)
	e.waitRows(e.topic("before_rename"), map[string]string{`{"id":1}`: "a"}, false, 30*time.Second)

	// Rename: the next change names the table by its new name.
	e.exec(
		`ALTER TABLE before_rename RENAME TO after_rename`,
		`INSERT INTO after_rename VALUES (2, 'b')`,
		`UPDATE after_rename SET v = 'a2' WHERE id = 1`,
	)
	e.waitRows(e.topic("after_rename"), map[string]string{`{"id":1}`: "a2", `{"id":2}`: "b"}, false, 60*time.Second)

	// A table with rows joins the publication; its first change shows it.
	e.exec(
		`CREATE TABLE joined (id integer PRIMARY KEY, v text)`,
		`INSERT INTO joined SELECT g, 'j' || g FROM generate_series(1, 3) g`,
		`ALTER PUBLICATION flow_publication ADD TABLE joined`,
		`UPDATE joined SET v = 'j1b' WHERE id = 1`,
	)
	e.waitRows(e.topic("joined"), map[string]string{`{"id":1}`: "j1b", `{"id":2}`: "j2", `{"id":3}`: "j3"}, false, 60*time.Second)

	// Dropped and created again, with rows copied in before it is published.
	e.exec(
		`DROP TABLE recreated`,
		`CREATE TABLE recreated (id integer PRIMARY KEY, v text)`,
		`INSERT INTO recreated VALUES (5, 'new5'), (6, 'new6')`,
		`ALTER PUBLICATION flow_publication ADD TABLE recreated`,
		`INSERT INTO recreated VALUES (7, 'new7')`,
	)
	// The dropped table's rows stay in the topic (DROP TABLE is not
	// replicated); the new table's rows are all there.
	e.waitRows(e.topic("recreated"), map[string]string{`{"id":5}`: "new5", `{"id":6}`: "new6", `{"id":7}`: "new7"}, true, 60*time.Second)
	p.stop(t)
	out := p.output()
	for _, phrase := range []string{"is now named public.after_rename", "joined the publication", "dropped and created again"} {
		if !strings.Contains(out, phrase) {
			t.Errorf("log lacks %q", phrase)
		}
	}
}

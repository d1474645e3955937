package e2e

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// REPLICA IDENTITY FULL updates carry the whole old row in _meta.before and
// deletes carry the whole row; an update that leaves a TOASTed column
// unchanged omits it under the default identity and fills it under FULL.
func TestReplicaIdentityAndToast(t *testing.T) {
	e := newEnv(t)
	e.exec(
		`CREATE TABLE full_rows (id integer PRIMARY KEY, note text, big text)`,
		`ALTER TABLE full_rows REPLICA IDENTITY FULL`,
		`ALTER TABLE full_rows ALTER COLUMN big SET STORAGE EXTERNAL`,
		`CREATE TABLE toasty (id integer PRIMARY KEY, note text, big text)`,
		`ALTER TABLE toasty ALTER COLUMN big SET STORAGE EXTERNAL`,
		`ALTER PUBLICATION flow_publication ADD TABLE full_rows, toasty`,
	)
	p := e.start(true)
	big := `(SELECT string_agg(md5(i::text), '') FROM generate_series(1, 2000) i)` // 64 kB, stored out of line
	e.exec(
		`INSERT INTO full_rows VALUES (1, 'a', `+big+`)`,
		`UPDATE full_rows SET note = 'b' WHERE id = 1`,
		`DELETE FROM full_rows WHERE id = 1`,
		`INSERT INTO toasty VALUES (1, 'a', `+big+`)`,
		`UPDATE toasty SET note = 'b' WHERE id = 1`,
	)
	full := e.consume(e.topic("full_rows"), 4, 30*time.Second)
	toasty := e.consume(e.topic("toasty"), 2, 30*time.Second)
	p.stop(t)
	if len(full) != 4 || len(toasty) != 2 {
		t.Fatalf("got %d full_rows and %d toasty records, want 4 and 2", len(full), len(toasty))
	}
	var bigValue string
	{
		d := decode(t, full[0])
		bigValue, _ = d["big"].(string)
		if len(bigValue) != 64000 || !strings.HasPrefix(bigValue, "c4ca4238") {
			t.Fatalf("insert's big column is %d bytes, want the 64000-byte value", len(bigValue))
		}
	}
	upd := decode(t, full[1])
	before, ok := meta(upd)["before"].(map[string]any)
	if !ok {
		t.Fatalf("FULL identity update has no before: %s", full[1].Value)
	}
	if want := map[string]any{"id": 1.0, "note": "a", "big": bigValue}; !reflect.DeepEqual(before, want) {
		t.Errorf("before = %v, want the whole old row", shorten(before))
	}
	if upd["big"] != bigValue || upd["note"] != "b" {
		t.Errorf("FULL identity update lost the unchanged TOASTed value or the new note: %v", shorten(withoutMeta(upd)))
	}
	del := decode(t, full[2])
	if want := (doc{"id": 1.0, "note": "b", "big": bigValue}); meta(del)["op"] != "d" || !reflect.DeepEqual(withoutMeta(del), want) {
		t.Errorf("FULL identity delete = %v, want the whole row", shorten(withoutMeta(del)))
	}
	if _, ok := meta(del)["before"]; ok {
		t.Errorf("delete carries before")
	}

	tu := decode(t, toasty[1])
	if _, ok := tu["big"]; ok {
		t.Errorf("default identity update carries the unchanged TOASTed column")
	}
	if want := (doc{"id": 1.0, "note": "b"}); !reflect.DeepEqual(withoutMeta(tu), want) {
		t.Errorf("default identity update = %v, want %v", withoutMeta(tu), want)
	}
}

func shorten(m map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		if s, ok := v.(string); ok && len(s) > 20 {
			v = s[:20] + "…"
		}
		out[k] = v
	}
	return out
}

// A row larger than Kafka's default message size is captured once
// kafka.max_message_bytes allows it (topics are created to match).
func TestLargeValueWithMaxMessageBytes(t *testing.T) {
	e := newEnv(t)
	e.kafka = []string{"max_message_bytes: 4194304"}
	e.exec(`CREATE TABLE blobs (id integer PRIMARY KEY, data bytea)`,
		`ALTER PUBLICATION flow_publication ADD TABLE blobs`)
	p := e.start(true)
	e.exec(`INSERT INTO blobs SELECT 1, decode(string_agg(md5(g::text), ''), 'hex') FROM generate_series(1, 131072) g`) // 2 MiB
	recs := e.consume(e.topic("blobs"), 1, 30*time.Second)
	p.stop(t)
	if len(recs) != 1 {
		t.Fatalf("got %d records, want the 2 MiB row", len(recs))
	}
	if d := decode(t, recs[0]); len(d["data"].(string)) < 2<<20 {
		t.Errorf("data is %d base64 bytes, want the whole 2 MiB value", len(d["data"].(string)))
	}
}

// A row over kafka.max_message_bytes stops the capture with an error naming
// the topic, key and size (kafka.oversize: fail), or arrives with its large
// values cut as Flow cuts them (kafka.oversize: truncate).
func TestOversizedRow(t *testing.T) {
	for _, mode := range []string{"fail", "truncate"} {
		t.Run(mode, func(t *testing.T) {
			e := newEnv(t)
			e.kafka = []string{"oversize: " + mode}
			e.exec(`CREATE TABLE docs (id integer PRIMARY KEY, body text, j jsonb)`,
				`ALTER PUBLICATION flow_publication ADD TABLE docs`)
			p := e.start(true)
			big := `INSERT INTO docs SELECT 7, string_agg(md5(g::text), ''), '{"a":1}' FROM generate_series(1, 65536) g` // 2 MiB of text
			if mode == "fail" {
				// The oversized row shares its transaction with a small one;
				// transactions before and after it are small too.
				e.exec(`INSERT INTO docs VALUES (5, 'before', '{}')`)
				e.exec(`BEGIN`+"; INSERT INTO docs VALUES (6, 'beside', '{}'); "+big+"; COMMIT", `INSERT INTO docs VALUES (8, 'after', '{}')`)
				if code := p.wait(t, 60*time.Second); code != 1 {
					t.Fatalf("exit code %d, want 1\n%s", code, p.output())
				}
				out := p.output()
				for _, want := range []string{e.topic("docs"), `{\"id\":7}`, "bytes", "kafka.oversize", "kafka.max_message_bytes"} {
					if !strings.Contains(out, want) {
						t.Errorf("error does not name %s:\n%s", want, out)
					}
				}
				// Nothing past the oversized row was confirmed: with a limit
				// that takes it, the next run relays it, its transaction and
				// the one after, each once.
				e.kafka = []string{"oversize: fail", "max_message_bytes: 4194304"}
				p = e.start(false)
				// The topic, created before, still takes 1 MiB: the broker
				// refuses the batch, whose error names the largest record
				// and the topic's setting.
				if code := p.wait(t, 60*time.Second); code != 1 {
					t.Fatalf("with the topic's max.message.bytes still 1 MiB: exit code %d, want 1\n%s", code, p.output())
				}
				for _, want := range []string{`{\"id\":7}`, "the largest of the batch", "max.message.bytes"} {
					if !strings.Contains(p.output(), want) {
						t.Errorf("error does not name %s:\n%s", want, p.output())
					}
				}
				cl, err := kgo.NewClient(kgo.SeedBrokers(e.brokers...))
				if err != nil {
					t.Fatal(err)
				}
				defer cl.Close()
				adm := kadm.NewClient(cl)
				v := "4194304"
				if _, err := adm.AlterTopicConfigs(context.Background(), []kadm.AlterConfig{{Name: "max.message.bytes", Value: &v}}, e.topic("docs")); err != nil {
					t.Fatal(err)
				}
				p = e.start(true)
				recs := e.consume(e.topic("docs"), 4, 60*time.Second)
				p.stop(t)
				var ids []string
				for _, r := range recs {
					ids = append(ids, string(r.Key))
				}
				if got := strings.Join(ids, " "); got != `{"id":5} {"id":6} {"id":7} {"id":8}` {
					t.Errorf("after raising kafka.max_message_bytes the topic holds %s, want ids 5, 6, 7, 8 once each\n%s", got, p.output())
				}
				return
			}
			e.exec(big)
			recs := e.consume(e.topic("docs"), 1, 30*time.Second)
			p.stop(t)
			if len(recs) != 1 {
				t.Fatalf("got %d records, want the truncated row", len(recs))
			}
			d := decode(t, recs[0])
			body, _ := d["body"].(string)
			if len(recs[0].Value) > 1<<20 || len(body) < 1024 || !strings.HasPrefix(body, "c4ca4238") {
				t.Errorf("record is %d bytes with a %d-byte body; want it under 1 MiB with the body's beginning kept", len(recs[0].Value), len(body))
			}
			if d["id"] != 7.0 || d["j"] == nil {
				t.Errorf("small columns lost: %v", withoutMeta(d))
			}
		})
	}
}

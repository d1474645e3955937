package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"math/rand"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Exactly-once checked by a client that is not franz-go: after SIGKILL
// rounds under a writer, kcat (librdkafka) reads the table's topic
// read_committed, and each key's sequence of changes equals its committed
// history, as franz-go reads it too. Without kcat only the franz-go read
// is checked.
func TestKcatReadsEachChangeOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("crash rounds take ~10s")
	}
	e := newEnv(t)
	e.exec(`CREATE TABLE hist (k integer PRIMARY KEY, v bigint NOT NULL)`,
		`ALTER PUBLICATION flow_publication ADD TABLE hist`)
	first := e.start(true)
	w := startWriter(t, e.dbURL, 100)
	rng := rand.New(rand.NewSource(time.Now().UnixNano()))
	time.Sleep(500 * time.Millisecond)
	first.kill()
	for i := 0; i < 4; i++ {
		p := e.start(false)
		time.Sleep(time.Duration(500+rng.Intn(1500)) * time.Millisecond)
		p.kill()
	}
	w.finish(t)
	last := e.start(true)
	want := w.history // the writer is done: no lock needed
	total := 0
	for _, h := range want {
		for _, c := range h {
			total++
			if c.op == "d" {
				total++ // and its tombstone
			}
		}
	}
	recs := e.consume(e.topic("hist"), total, 90*time.Second)
	last.stop(t)
	got, _ := keyHistories(t, recs)
	compareHistories(t, got, want)

	kcat, err := exec.LookPath("kcat")
	if err != nil {
		t.Skipf("kcat not found (apt-get install -y kcat): the independent read_committed check is skipped; franz-go's read passed")
	}
	byKcat := kcatRead(t, kcat, e.brokers, e.topic("hist"))
	if len(byKcat) != len(recs) {
		t.Errorf("kcat read %d records read_committed, franz-go %d", len(byKcat), len(recs))
	}
	got, n := keyHistories(t, byKcat)
	t.Logf("kcat read %d records (%d changes to %d keys) read_committed", len(byKcat), n, len(got))
	compareHistories(t, got, want)
}

// kcatRead reads topic from the start to its end with kcat, read_committed,
// one JSON envelope a record (-J: tombstones have a null payload).
func kcatRead(t *testing.T, kcat string, brokers []string, topic string) []*kgo.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, kcat, "-C", "-b", strings.Join(brokers, ","), "-t", topic,
		"-X", "isolation.level=read_committed", "-o", "beginning", "-e", "-q", "-J")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(cmd.Args, " "), err, stderr.String())
	}
	var recs []*kgo.Record
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m struct {
			Key     *string `json:"key"`
			Payload *string `json:"payload"`
		}
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("kcat -J line %q: %v", sc.Text(), err)
		}
		r := &kgo.Record{Topic: topic}
		if m.Key != nil {
			r.Key = []byte(*m.Key)
		}
		if m.Payload != nil {
			r.Value = []byte(*m.Payload)
		}
		recs = append(recs, r)
	}
	return recs
}

package main

import (
	"testing"
	"time"

	"github.com/pg2kafka/pg2kafka/config"
)

// TestLoopTakesSettingsAsConfigured checks that the values validation
// accepts reach the capture loop unchanged: kafka.batch.max_delay: 0 stays
// 0 (a batch per PostgreSQL commit) instead of becoming a default.
func TestLoopTakesSettingsAsConfigured(t *testing.T) {
	cfg, err := config.Parse([]byte(`
source: {address: db, password: pw}
kafka:
  brokers: [localhost]
  batch: {max_delay: 0s, max_records: 1, max_bytes: 1, split_records: 1, split_bytes: 1}
  transaction_timeout: 1s
  slot_busy_retries: 0
  tombstones: false
`), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	o := loopSettings(cfg)
	for _, c := range []struct {
		name      string
		got, want any
	}{
		{"MaxDelay", o.MaxDelay, time.Duration(0)},
		{"MaxRecords", o.MaxRecords, 1},
		{"MaxBytes", o.MaxBytes, int64(1)},
		{"SplitRecords", o.SplitRecords, 1},
		{"SplitBytes", o.SplitBytes, int64(1)},
		{"CommitTimeout", o.CommitTimeout, time.Second},
		{"SlotBusyRetries", o.SlotBusyRetries, 0},
		{"Tombstones", o.Tombstones, false},
		{"ChunkSize", o.ChunkSize, config.DefaultBackfillChunkSize},
	} {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}

	def, err := config.Parse([]byte("source: {address: db, password: pw}\nkafka: {brokers: [localhost]}\n"), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if o := loopSettings(def); o.MaxDelay != 100*time.Millisecond || o.MaxRecords != 50000 || o.CommitTimeout != time.Minute {
		t.Errorf("defaults reach the loop as %v, %d, %v", o.MaxDelay, o.MaxRecords, o.CommitTimeout)
	}
}

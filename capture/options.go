package capture

import (
	"fmt"
	"time"
)

// check reports the first option the loop cannot run with. The loop takes
// its settings as given: every value comes from the caller (cmd/pg2kafka
// passes the configuration's, whose defaults live in config/settings.go),
// so a value is never replaced here by a default of the loop's own. A zero
// MaxDelay is valid: the batch then closes at every PostgreSQL commit.
func (o *Options) check() error {
	for _, f := range []struct {
		name string
		v    int64
	}{
		{"MaxRecords (kafka.batch.max_records)", int64(o.MaxRecords)},
		{"MaxBytes (kafka.batch.max_bytes)", o.MaxBytes},
		{"SplitRecords (kafka.batch.split_records)", int64(o.SplitRecords)},
		{"SplitBytes (kafka.batch.split_bytes)", o.SplitBytes},
		{"ChunkSize (source.advanced.backfill_chunk_size)", int64(o.ChunkSize)},
	} {
		if f.v < 1 {
			return fmt.Errorf("capture: option %s is %d; it must be at least 1", f.name, f.v)
		}
	}
	if o.Encoder == nil {
		return fmt.Errorf("capture: option Encoder is nil; build it with schema/format.NewEncoder")
	}
	if o.MaxDelay < 0 {
		return fmt.Errorf("capture: option MaxDelay (kafka.batch.max_delay) is %s; it must not be negative", o.MaxDelay)
	}
	if o.CommitTimeout < time.Second {
		return fmt.Errorf("capture: option CommitTimeout (kafka.transaction_timeout) is %s; it must be at least 1s", o.CommitTimeout)
	}
	return nil
}

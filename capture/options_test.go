package capture

import (
	"strings"
	"testing"
	"time"

	"github.com/pg2kafka/pg2kafka/checkpoint"
	"github.com/rs/zerolog"
)

// testOptions fills the options a test leaves zero with the values of a
// small test run: the loop itself has no defaults.
func testOptions(o Options) Options {
	if o.Encoder == nil {
		o.Encoder = flowEncoder
	}
	if o.MaxRecords == 0 {
		o.MaxRecords = 50_000
	}
	if o.MaxBytes == 0 {
		o.MaxBytes = 16 << 20
	}
	if o.SplitRecords == 0 {
		o.SplitRecords = 200_000
	}
	if o.SplitBytes == 0 {
		o.SplitBytes = 128 << 20
	}
	if o.ChunkSize == 0 {
		o.ChunkSize = 50_000
	}
	if o.CommitTimeout == 0 {
		o.CommitTimeout = time.Minute
	}
	return o
}

// TestOptionsTakenAsGiven checks that New keeps every option as given (a
// zero MaxDelay stays zero) and that Run refuses options it cannot run
// with, naming the option and its setting.
func TestOptionsTakenAsGiven(t *testing.T) {
	opts := testOptions(Options{MaxDelay: 0, Logger: zerolog.Nop()})
	c := New(nil, nil, &checkpoint.State{}, nil, opts)
	if c.opts.MaxDelay != 0 || c.opts.MaxRecords != opts.MaxRecords || c.opts.ChunkSize != opts.ChunkSize {
		t.Errorf("New changed the options: %+v", c.opts)
	}
	if err := c.opts.check(); err != nil {
		t.Errorf("MaxDelay 0 refused: %v", err)
	}
	for _, tc := range []struct {
		edit func(*Options)
		want string
	}{
		{func(o *Options) { o.MaxRecords = 0 }, "MaxRecords (kafka.batch.max_records) is 0"},
		{func(o *Options) { o.SplitBytes = 0 }, "SplitBytes (kafka.batch.split_bytes) is 0"},
		{func(o *Options) { o.ChunkSize = 0 }, "ChunkSize (source.advanced.backfill_chunk_size) is 0"},
		{func(o *Options) { o.MaxDelay = -time.Second }, "MaxDelay (kafka.batch.max_delay) is -1s"},
		{func(o *Options) { o.CommitTimeout = 0 }, "CommitTimeout (kafka.transaction_timeout) is 0s"},
	} {
		o := opts
		tc.edit(&o)
		c := New(nil, nil, &checkpoint.State{}, nil, o)
		err := c.Run(t.Context())
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Run = %v, want an error containing %q", err, tc.want)
		}
	}
}

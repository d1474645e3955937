package capture

import (
	"math"
	"time"

	"github.com/rs/zerolog"

	"github.com/pg2kafka/pg2kafka/checkpoint"
)

// Catch-up progress: a capture that starts far behind the server's WAL
// says so, and how far it still is, until it has caught up.
var (
	// catchUpLogMin is the WAL behind at start from which the catch-up is
	// logged.
	catchUpLogMin uint64 = 1 << 20
	// catchUpLogEvery is how often the catch-up progress is logged.
	catchUpLogEvery = 5 * time.Second
)

// catchUp logs the progress of relaying the WAL up to a fence.
type catchUp struct {
	log     zerolog.Logger
	fence   uint64
	start   uint64
	started time.Time
	ticker  *time.Ticker // nil when not logged (too little WAL behind)
}

// newCatchUp logs, when the capture at cursor is far enough behind fence,
// the first catch-up line and starts the ticker of the next ones.
func newCatchUp(log zerolog.Logger, cursor, fence uint64) *catchUp {
	c := &catchUp{log: log, fence: fence, start: cursor, started: time.Now()}
	if fence > cursor && fence-cursor >= catchUpLogMin {
		c.line(cursor)
		c.ticker = time.NewTicker(catchUpLogEvery)
	}
	return c
}

// C is the ticker's channel; nil (never ready) when not logged.
func (c *catchUp) C() <-chan time.Time {
	if c.ticker == nil {
		return nil
	}
	return c.ticker.C
}

// line logs how far behind the capture at cursor still is.
func (c *catchUp) line(cursor uint64) {
	var behind uint64
	if c.fence > cursor {
		behind = c.fence - cursor
	}
	ev := c.log.Info().Uint64("behind_bytes", behind).Str("target_lsn", checkpoint.LSN(c.fence).String())
	if el := time.Since(c.started).Seconds(); el >= 1 && cursor > c.start {
		rate := float64(cursor-c.start) / el
		ev = ev.Float64("mb_per_s", math.Round(rate/1e5)/10).Int64("eta_s", int64(float64(behind)/rate+0.5))
	}
	ev.Msgf("catching up: %d MB of WAL behind", (behind+500_000)/1_000_000)
}

// done logs the end of a logged catch-up and stops its ticker.
func (c *catchUp) done() {
	if c.ticker == nil {
		return
	}
	c.ticker.Stop()
	c.log.Info().Float64("took_s", math.Round(time.Since(c.started).Seconds()*10)/10).Uint64("relayed_bytes", c.fence-c.start).
		Msgf("caught up with the WAL (%d MB relayed in %.1fs)", (c.fence-c.start+500_000)/1_000_000, time.Since(c.started).Seconds())
}

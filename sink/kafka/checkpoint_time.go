package kafka

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/pg2kafka/pg2kafka/event"
)

// ReadCheckpointWithTime is ReadCheckpoint that also returns the Kafka
// timestamp of the checkpoint record: when the last batch was committed
// (zero when there is no checkpoint). Like ReadCheckpoint it reads
// committed records only and fences no one.
func (s *Sink) ReadCheckpointWithTime(ctx context.Context) (event.Checkpoint, time.Time, error) {
	var last event.Checkpoint
	var at time.Time
	err := s.readCheckpoint(ctx, func(r *kgo.Record) {
		last, at = event.Checkpoint{State: r.Value}, r.Timestamp
		for _, h := range r.Headers {
			if h.Key == HeaderWithin {
				last.Within = h.Value
			}
		}
	})
	return last, at, err
}

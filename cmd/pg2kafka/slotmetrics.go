package main

import (
	"context"

	"github.com/pg2kafka/pg2kafka/metrics"
	"github.com/pg2kafka/pg2kafka/source"
)

// watchSlot feeds m's lag and slot gauges from the source's readings of
// the replication slot (source.WatchSlot, every metrics.DefaultPollInterval)
// until the returned stop is called; stop waits for the watcher to end.
func watchSlot(cfg source.Config, m *metrics.Metrics) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		source.WatchSlot(ctx, cfg, metrics.DefaultPollInterval, slotReport(m))
	}()
	return func() {
		cancel()
		<-done
	}
}

// slotReport hands the source's slot readings to m.
func slotReport(m *metrics.Metrics) func(source.SlotReading, error) {
	return func(r source.SlotReading, err error) {
		if err != nil {
			m.SlotReadFailed(err)
			return
		}
		m.ObserveSlot(metrics.SlotReading{
			At:                r.At,
			WALInsert:         r.WALInsert,
			WALWrite:          r.WALWrite,
			SlotExists:        r.Slot.Exists,
			RestartLSN:        r.Slot.RestartLSN,
			ConfirmedFlushLSN: r.Slot.ConfirmedFlushLSN,
			WALStatus:         r.Slot.WALStatus,
			Invalidated:       r.Slot.Invalidated,
		})
	}
}

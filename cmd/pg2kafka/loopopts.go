package main

import (
	"github.com/pg2kafka/pg2kafka/capture"
	"github.com/pg2kafka/pg2kafka/config"
)

// loopSettings returns the capture loop's options that come from the
// configuration, every one passed as configured: the loop has no defaults
// of its own (config/settings.go holds them all), so a value that
// validation accepts, such as kafka.batch.max_delay: 0, reaches the loop
// unchanged. The caller adds the run's own options (encoder, observer,
// checkpoint position, discovery).
func loopSettings(cfg *config.Config) capture.Options {
	return capture.Options{
		KeyChangeAsDeleteCreate: cfg.Kafka.Envelope == "debezium",     // as Debezium: delete + tombstone + create
		MaxRecordBytes:          int(cfg.Kafka.MaxMessageBytes) - 512, // headers and batch overhead
		TruncateOversize:        cfg.Kafka.Oversize == "truncate",
		Truncates:               cfg.Kafka.Truncates,
		Tombstones:              cfg.Kafka.Tombstones,
		MaxDelay:                cfg.Kafka.Batch.MaxDelay,
		MaxRecords:              cfg.Kafka.Batch.MaxRecords,
		MaxBytes:                cfg.Kafka.Batch.MaxBytes,
		SplitRecords:            cfg.Kafka.Batch.SplitRecords,
		SplitBytes:              cfg.Kafka.Batch.SplitBytes,
		SlotBusyRetries:         cfg.Kafka.SlotBusyRetries,
		ChunkSize:               cfg.ChunkSize(),
		CommitTimeout:           cfg.Kafka.TransactionTimeout,
	}
}

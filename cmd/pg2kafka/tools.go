package main

import (
	"context"
	"fmt"

	"github.com/rs/zerolog"

	"github.com/pg2kafka/pg2kafka/config"
	"github.com/pg2kafka/pg2kafka/sink/kafka"
	"github.com/pg2kafka/pg2kafka/source"
)

func runCheck(ctx context.Context, cfg *config.Config, log zerolog.Logger) error {
	db, err := source.Connect(ctx, sourceConfig(cfg))
	if err != nil {
		return err
	}
	defer db.Close()
	tables, err := db.Discover(ctx)
	if err != nil {
		return err
	}
	binds, err := bindings(cfg, db, tables)
	if err != nil {
		if cerr := db.Check(ctx, nil); cerr != nil {
			return cerr
		}
		return err
	}
	refs := make([]source.TableRef, len(binds))
	for i, b := range binds {
		refs[i] = source.TableRef{Schema: b.Schema, Name: b.Table}
	}
	if err := db.Check(ctx, refs); err != nil {
		return err
	}
	fmt.Printf("PostgreSQL: ready (%d tables)\n", len(binds))
	return nil
}

func runDiscover(ctx context.Context, cfg *config.Config) error {
	db, err := source.Connect(ctx, sourceConfig(cfg))
	if err != nil {
		return err
	}
	defer db.Close()
	tables, err := db.Discover(ctx)
	if err != nil {
		return err
	}
	fmt.Println("bindings:")
	for _, t := range tables {
		if db.IsWatermarks(t.Schema, t.Name) {
			continue
		}
		mode := ""
		if len(t.Key) == 0 {
			mode = "Without Primary Key"
		}
		fmt.Printf("  - resource: {namespace: %q, stream: %q, mode: %q}\n", t.Schema, t.Name, mode)
	}
	return nil
}

func runStateShow(ctx context.Context, cfg *config.Config, log zerolog.Logger) error {
	seeds, stopBroker, err := brokers(cfg, log)
	if err != nil {
		return err
	}
	defer stopBroker()
	opts, err := sinkOptions(cfg, false)
	if err != nil {
		return err
	}
	sink, err := kafka.New(seeds, opts...)
	if err != nil {
		return err
	}
	defer sink.Close()
	if err := sink.Init(ctx, nil); err != nil {
		return err
	}
	raw, err := sink.ReadCheckpoint(ctx)
	if err != nil {
		return err
	}
	if raw == nil {
		fmt.Println("{}")
		return nil
	}
	fmt.Println(string(raw))
	return nil
}

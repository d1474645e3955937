package main

import (
	"context"
	"fmt"
	"os"

	"github.com/pg2kafka/pg2kafka/config"
	"github.com/pg2kafka/pg2kafka/source"
)

// runSetup prints the least-privilege setup SQL for the configured tables
// or, with --apply, runs it (idempotently) as the admin of --admin-url.
//
// It learns the server's version, platform and tables from the admin
// connection, or else from the configured one; when neither connects it
// prints a generic script. Without configured bindings the tables are every
// capturable table discovery finds.
func runSetup(ctx context.Context, cfg *config.Config, tf toolFlags) error {
	if tf.apply && tf.adminURL == "" {
		return fmt.Errorf("setup --apply needs --admin-url postgres://ADMIN:PASSWORD@HOST:PORT/%s (a superuser, or on RDS/Aurora the master user; source.user is usually not allowed to create roles and publications)", cfg.Source.Database)
	}
	sc := sourceConfig(cfg)
	if tf.adminURL != "" {
		sc.ConnString = tf.adminURL
	}
	opts := source.SetupOptions{
		Role:            cfg.Source.User,
		Database:        cfg.Source.Database,
		Publication:     cfg.Source.Advanced.PublicationName,
		WatermarksTable: cfg.Source.Advanced.WatermarksTable,
		ReadOnly:        cfg.Source.Advanced.ReadOnlyCapture,
		PerTableGrants:  tf.perTableGrants,
	}
	if tf.apply {
		opts.Password = cfg.Source.EffectivePassword()
		opts.NoPassword = opts.Password == ""
	}
	for _, b := range cfg.Bindings {
		opts.Tables = append(opts.Tables, source.TableRef{Schema: b.Resource.Namespace, Name: b.Resource.Stream})
	}

	db, err := source.Connect(ctx, sc)
	if err != nil {
		if tf.apply {
			return fmt.Errorf("setup --apply: connecting with --admin-url: %w", err)
		}
		fmt.Fprintf(os.Stderr, "pg2kafka setup: cannot connect (%v); printing a generic script: check the server version and table list it assumes\n", err)
	} else {
		defer db.Close()
		if opts.Version, opts.RDS, opts.WALLevel, err = db.ServerFacts(ctx); err != nil {
			return err
		}
		if len(cfg.Bindings) == 0 {
			tables, err := db.Discover(ctx)
			if err != nil {
				return err
			}
			for _, t := range tables {
				if db.IsWatermarks(t.Schema, t.Name) || hasColumn(t, "flow_published_at") ||
					t.Name == "flow_materializations_v2" || t.Name == "flow_checkpoints_v1" || !discoveryFilter(cfg, t.Schema, t.Name) {
					continue
				}
				opts.Tables = append(opts.Tables, source.TableRef{Schema: t.Schema, Name: t.Name})
			}
		}
	}
	stmts, err := source.SetupSQL(opts)
	if err != nil {
		return err
	}
	if !tf.apply {
		fmt.Printf("-- pg2kafka setup for role %q, database %q, publication %q.\n", opts.Role, opts.Database, opts.Publication)
		fmt.Printf("-- Run as a superuser (RDS/Aurora: the master user); every statement is idempotent.\n")
		fmt.Printf("-- Replace %s by a password and put it in source.password (or run pg2kafka setup --apply).\n\n", source.PasswordPlaceholder)
		fmt.Print(source.FormatSetupSQL(stmts))
		return nil
	}
	err = db.ApplySetup(ctx, stmts, func(s source.SetupStatement) {
		if s.Comment != "" {
			fmt.Printf("applied: %s\n", s.Comment)
		}
	})
	if err != nil {
		return err
	}
	if opts.WALLevel != "logical" {
		fmt.Printf("\nNOT DONE: wal_level is %q. Run ALTER SYSTEM SET wal_level = logical; and restart PostgreSQL.\n", opts.WALLevel)
	}
	fmt.Printf("\nsetup applied for role %q; verify with: pg2kafka check\n", opts.Role)
	return nil
}

package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/rs/zerolog"

	"github.com/pg2kafka/pg2kafka/checkpoint"
	"github.com/pg2kafka/pg2kafka/config"
	"github.com/pg2kafka/pg2kafka/sink/kafka"
	"github.com/pg2kafka/pg2kafka/source"
)

// report collects check outcomes for printing, one line per check.
type report struct {
	lines    []reportLine
	failures int
	warnings int
}

type reportLine struct {
	section bool
	status  source.Status
	check   string
	detail  string
	fix     string
}

func (r *report) section(title string) {
	r.lines = append(r.lines, reportLine{section: true, detail: title})
}

func (r *report) add(status source.Status, check, detail, fix string) {
	r.lines = append(r.lines, reportLine{status: status, check: check, detail: detail, fix: fix})
	switch status {
	case source.StatusFail:
		r.failures++
	case source.StatusWarn:
		r.warnings++
	}
}

func (r *report) fail(check string, err error, fix string) {
	r.add(source.StatusFail, check, err.Error(), fix)
}

func (r *report) print(w io.Writer) {
	for _, l := range r.lines {
		if l.section {
			fmt.Fprintf(w, "%s\n", l.detail)
			continue
		}
		detail := strings.ReplaceAll(l.detail, "\n", "\n          ")
		fmt.Fprintf(w, "  %-5s %s: %s\n", l.status, l.check, detail)
		if l.fix != "" && l.status != source.StatusOK {
			fmt.Fprintf(w, "        fix: %s\n", l.fix)
		}
	}
	switch {
	case r.failures > 0:
		fmt.Fprintf(w, "\n%d problem(s), %d warning(s): `pg2kafka run` would not start, or not safely. Fix the FAIL lines and run `pg2kafka check` again.\n", r.failures, r.warnings)
	case r.warnings > 0:
		fmt.Fprintf(w, "\nready, with %d warning(s): `pg2kafka run` would start.\n", r.warnings)
	default:
		fmt.Fprintln(w, "\nready: `pg2kafka run` would start.")
	}
}

// probeID is the transactional ID check uses to test that transactions are
// permitted: not the capture's own, so a running capture is not fenced.
func probeID(cfg *config.Config) string {
	if cfg.Kafka.Delivery == config.DeliveryAtLeastOnce {
		return ""
	}
	return "pg2kafka-check-" + cfg.CaptureName()
}

// runCheck verifies every prerequisite of a capture, PostgreSQL's (§8) and
// Kafka's, and prints them all with their fixes. It fails (exit 1) exactly
// when `run` would not start. It never fences a running capture.
func runCheck(ctx context.Context, cfg *config.Config, log zerolog.Logger) error {
	r := &report{}
	host, port := cfg.Source.HostPort()
	r.section(fmt.Sprintf("PostgreSQL %s:%s, database %q, user %q", host, port, cfg.Source.Database, cfg.Source.User))
	var topics []string
	slotExists, pgOK := false, false
	if err := unsupported(cfg); err != nil {
		r.fail("configuration", err, "")
	}
	db, err := source.Connect(ctx, sourceConfig(cfg))
	if err != nil {
		r.fail("connection", err, "")
	} else {
		defer db.Close()
		pgOK = true
		var refs []source.TableRef
		tables, err := db.Discover(ctx)
		if err != nil {
			r.fail("discovery", err, "")
		} else if binds, err := bindings(cfg, db, tables); err != nil {
			r.fail("bindings", err, "")
		} else {
			for _, b := range binds {
				refs = append(refs, source.TableRef{Schema: b.Schema, Name: b.Table, Key: b.KeyColumns})
				topics = append(topics, b.Topic)
			}
			r.add(source.StatusOK, "bindings", fmt.Sprintf("%d table(s) to capture", len(binds)), "")
		}
		findings, err := db.Diagnose(ctx, refs)
		if err != nil {
			r.fail("prerequisites", err, "")
		}
		for _, f := range findings {
			r.add(f.Status, f.Check, f.Detail, f.Fix)
		}
		if info, err := db.Slot(ctx); err == nil {
			slotExists = info.Exists
		}
	}

	seeds, stopBroker, err := brokers(cfg, log)
	r.section(fmt.Sprintf("Kafka %s, checkpoint topic %q, capture %q", strings.Join(cfg.Kafka.Brokers, ","), cfg.CheckpointTopic(), cfg.CaptureName()))
	if err != nil {
		r.fail("brokers", err, "")
		r.print(os.Stdout)
		return errReported
	}
	defer stopBroker()
	opts, err := sinkOptions(cfg, false, log)
	if err != nil {
		r.fail("configuration", err, "")
		r.print(os.Stdout)
		return errReported
	}
	sink, err := kafka.New(seeds, opts...)
	if err != nil {
		r.fail("client", err, "")
		r.print(os.Stdout)
		return errReported
	}
	defer sink.Close()
	findings := sink.Diagnose(ctx, topics, probeID(cfg))
	reachable := true
	for _, f := range findings {
		r.add(source.Status(f.Status), f.Check, f.Detail, f.Fix)
		if f.Check == "brokers" && f.Status == kafka.StatusFail {
			reachable = false
		}
	}

	// The checkpoint must parse, and a cursor needs its slot.
	if reachable {
		checkCheckpoint(ctx, r, cfg, sink, pgOK, slotExists)
	}
	r.print(os.Stdout)
	if r.failures > 0 {
		return errReported
	}
	return nil
}

func checkCheckpoint(ctx context.Context, r *report, cfg *config.Config, sink *kafka.Sink, pgOK, slotExists bool) {
	const check = "checkpoint"
	exists, err := sink.CheckpointTopicExists(ctx)
	if err != nil || !exists {
		r.add(source.StatusOK, check, "none yet: the first run backfills every table", "")
		return
	}
	cp, err := sink.ReadCheckpoint(ctx)
	if err != nil {
		r.fail(check, err, "")
		return
	}
	raw := cp.State
	st, err := checkpoint.Parse(raw)
	if err == nil {
		err = st.Validate()
	}
	if err != nil {
		r.fail(check, fmt.Errorf("the checkpoint of capture %q is not a valid state: %w", cfg.CaptureName(), err),
			"pg2kafka state import a valid state, or pg2kafka state reset --yes (re-backfills everything)")
		return
	}
	if raw == nil {
		r.add(source.StatusOK, check, "none yet: the first run backfills every table", "")
		return
	}
	if st.Cursor != "" && pgOK && !slotExists {
		r.add(source.StatusFail, check, fmt.Sprintf("the checkpoint resumes at %s in replication slot %q, which does not exist (dropped or never created here): changes since may have been missed", st.Cursor, cfg.Source.Advanced.SlotName),
			"re-backfill everything: pg2kafka state reset --yes")
		return
	}
	r.add(source.StatusOK, check, fmt.Sprintf("cursor %s, %d table state(s)", orDash(st.Cursor), len(st.Bindings)), "")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// Command pg2kafka captures a PostgreSQL database into Kafka through logical
// replication: every table to its own topic, with Flow-compatible
// checkpoints in a compacted topic.
//
//	pg2kafka run --config pg2kafka.yaml
//	pg2kafka check --config pg2kafka.yaml
//	pg2kafka setup [--apply --admin-url URL] --config pg2kafka.yaml
//	pg2kafka discover [--format json|yaml] --config pg2kafka.yaml
//	pg2kafka state show|export|import FILE|reset --config pg2kafka.yaml
//
// See docs/commands.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"slices"
	"strings"
	"syscall"

	"github.com/rs/zerolog"
	"golang.org/x/term"

	"github.com/pg2kafka/pg2kafka/config"
)

const usage = `pg2kafka captures PostgreSQL changes into Kafka.

Usage:
  pg2kafka run      --config FILE   capture until stopped (SIGTERM/SIGINT)
  pg2kafka check    --config FILE   verify every prerequisite (PostgreSQL and
                                    Kafka), print each problem with its fix;
                                    exit 0 only when run would start
  pg2kafka setup    --config FILE   print the least-privilege setup SQL
      [--admin-url URL] [--apply]   ... inspecting the server as an admin; --apply
                                    runs it (idempotent) as that admin
      [--per-table-grants]          SELECT per table even on PostgreSQL 14+
  pg2kafka discover --config FILE   print each capturable table's binding,
      [--format json|yaml]          collection schema and key
  pg2kafka state show   --config FILE          the checkpoint, cursors decoded
  pg2kafka state export --config FILE          the checkpoint as Flow state JSON
  pg2kafka state import FILE --config FILE     replace the checkpoint by a
      [--force] [--yes]                        Flow state file
  pg2kafka state reset  --config FILE          re-backfill everything (drops
      [--table SCHEMA.TABLE]... [--yes]        the slot), or only the tables

The configuration file may also be named by PG2KAFKA_CONFIG. The state
import and reset commands refuse while a capture holds the slot.
See docs/commands.md.
`

// flagsOf lists the flags each command accepts besides --config.
var flagsOf = map[string][]string{
	"run":          nil,
	"check":        nil,
	"setup":        {"apply", "admin-url", "per-table-grants"},
	"discover":     {"format"},
	"state show":   nil,
	"state export": nil,
	"state import": {"force", "yes"},
	"state reset":  {"table", "yes"},
}

// positionalOf is how many positional arguments each command takes.
var positionalOf = map[string]int{"state import": 1}

// toolFlags are the parsed flags of the tool commands.
type toolFlags struct {
	apply          bool
	adminURL       string
	perTableGrants bool
	format         string
	force          bool
	yes            bool
	tables         []string
	args           []string
}

// errReported ends a command whose failure was already printed: exit 1
// without logging it again.
var errReported = errors.New("reported")

// Exit statuses.
const (
	exitOK      = 0
	exitFailure = 1
	exitConfig  = 2
)

func main() {
	// PG2KAFKA_CPUPROFILE names a file for a CPU profile of the whole run
	// (for `make bench` investigations).
	if path := os.Getenv("PG2KAFKA_CPUPROFILE"); path != "" {
		if f, err := os.Create(path); err == nil {
			if pprof.StartCPUProfile(f) == nil {
				code := run(os.Args[1:])
				pprof.StopCPUProfile()
				f.Close()
				os.Exit(code)
			}
		}
	}
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(os.Stderr, usage)
		if len(args) == 0 {
			return exitConfig
		}
		return exitOK
	}
	cmd, args := args[0], args[1:]
	if cmd == "state" {
		if len(args) == 0 {
			fmt.Fprint(os.Stderr, usage)
			return exitConfig
		}
		cmd, args = "state "+args[0], args[1:]
	}
	allowed, known := flagsOf[cmd]
	if !known {
		fmt.Fprintf(os.Stderr, "pg2kafka: unknown command %q\n\n%s", cmd, usage)
		return exitConfig
	}
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	path := fs.String("config", "", "configuration file (default $PG2KAFKA_CONFIG)")
	var tf toolFlags
	fs.BoolVar(&tf.apply, "apply", false, "setup: run the SQL instead of printing it")
	fs.StringVar(&tf.adminURL, "admin-url", "", "setup: connection URL of an admin (superuser): runs --apply, and inspects the server")
	fs.BoolVar(&tf.perTableGrants, "per-table-grants", false, "setup: grant SELECT per table even where pg_read_all_data exists")
	fs.StringVar(&tf.format, "format", "json", "discover: json or yaml")
	fs.BoolVar(&tf.force, "force", false, "state import: skip the slot position safety checks")
	fs.BoolVar(&tf.yes, "yes", false, "state import/reset: do not ask for confirmation")
	fs.Func("table", "state reset: re-backfill only this table (schema.table; repeatable)", func(s string) error {
		tf.tables = append(tf.tables, s)
		return nil
	})
	// Flags may follow positional arguments (state import FILE --config X).
	for {
		if err := fs.Parse(args); err != nil {
			return exitConfig
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		tf.args, args = append(tf.args, args[0]), args[1:]
	}
	var bad []string
	fs.Visit(func(f *flag.Flag) {
		if f.Name != "config" && !slices.Contains(allowed, f.Name) {
			bad = append(bad, "--"+f.Name)
		}
	})
	if len(bad) > 0 {
		fmt.Fprintf(os.Stderr, "pg2kafka %s: flag %s does not apply to this command\n\n%s", cmd, strings.Join(bad, ", "), usage)
		return exitConfig
	}
	if n := positionalOf[cmd]; len(tf.args) != n {
		fmt.Fprintf(os.Stderr, "pg2kafka %s: takes %d argument(s), got %d (%s)\n\n%s", cmd, n, len(tf.args), strings.Join(tf.args, " "), usage)
		return exitConfig
	}
	if tf.format != "json" && tf.format != "yaml" {
		fmt.Fprintf(os.Stderr, "pg2kafka discover: --format must be json or yaml, not %q\n", tf.format)
		return exitConfig
	}
	file, err := config.ResolvePath(*path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "pg2kafka:", err)
		return exitConfig
	}
	cfg, err := config.Load(file)
	if err != nil {
		fmt.Fprintln(os.Stderr, "pg2kafka:", err)
		return exitConfig
	}
	log := newLogger(cfg)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		s := <-sigs
		log.Info().Str("signal", s.String()).Msg("stopping: committing the open batch (signal again to exit at once)")
		cancel()
		<-sigs
		log.Warn().Msg("second signal: exiting at once; the next start resumes from the last checkpoint")
		os.Exit(exitFailure)
	}()

	switch cmd {
	case "run":
		err = runCapture(ctx, cfg, log)
	case "check":
		err = runCheck(ctx, cfg, log)
	case "setup":
		err = runSetup(ctx, cfg, tf)
	case "discover":
		err = runDiscover(ctx, cfg, tf.format)
	case "state show":
		err = runStateShow(ctx, cfg, log)
	case "state export":
		err = runStateExport(ctx, cfg, log)
	case "state import":
		err = runStateImport(ctx, cfg, log, tf)
	case "state reset":
		err = runStateReset(ctx, cfg, log, tf)
	}
	if errors.Is(err, errReported) {
		return exitFailure
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		log.Error().Msg(err.Error())
		return exitFailure
	}
	return exitOK
}

func newLogger(cfg *config.Config) zerolog.Logger {
	level, err := zerolog.ParseLevel(cfg.Log.Level)
	if err != nil || cfg.Log.Level == "" {
		level = zerolog.InfoLevel
	}
	format := cfg.Log.Format
	if format == "" {
		format = "json"
		if term.IsTerminal(int(os.Stderr.Fd())) {
			format = "console"
		}
	}
	zerolog.TimeFieldFormat = "2006-01-02T15:04:05.000Z07:00"
	var l zerolog.Logger
	if format == "console" {
		l = zerolog.New(zerolog.ConsoleWriter{Out: os.Stderr, TimeFormat: "15:04:05.000",
			NoColor: !term.IsTerminal(int(os.Stderr.Fd()))})
	} else {
		l = zerolog.New(os.Stderr)
	}
	return l.Level(level).With().Timestamp().Logger()
}

// Command pg2kafka captures a PostgreSQL database into Kafka through logical
// replication: every table to its own topic, with Flow-compatible
// checkpoints in a compacted topic.
//
//	pg2kafka run --config pg2kafka.yaml
//	pg2kafka check --config pg2kafka.yaml
//	pg2kafka setup [--apply --admin-url URL] --config pg2kafka.yaml
//	pg2kafka discover [--format json|yaml] --config pg2kafka.yaml
//	pg2kafka state show|export|import FILE|reset --config pg2kafka.yaml
//	pg2kafka status [--watch] [--json] --config pg2kafka.yaml
//	pg2kafka completion bash|zsh
//
// See docs/commands.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"slices"
	"strings"
	"syscall"
	"time"

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
  pg2kafka status   --config FILE   each table's mode and backfill progress,
      [--watch [--interval D]]      replication lag, WAL retained, last commit,
      [--json] [--metrics-url URL]  active or standing by; --watch redraws
  pg2kafka healthcheck --config FILE  exit 0 when the running capture's
      [--url URL]                     /healthz answers 200 (for containers)
  pg2kafka completion bash|zsh        print a shell completion script
  pg2kafka version                    version, commit and Go version (also --version)
  pg2kafka help [COMMAND]             this text, or one command's flags
                                      (also COMMAND --help)

The configuration file may also be named by PG2KAFKA_CONFIG. The state
import and reset commands refuse while a capture holds the slot.
Exit status: 0 success, 1 failure, 2 usage or configuration error.
See docs/commands.md.
`

// stateUsage is the help of `pg2kafka state`.
const stateUsage = `Usage:
  pg2kafka state show   --config FILE          the checkpoint, cursors decoded
  pg2kafka state export --config FILE          the checkpoint as Flow state JSON
  pg2kafka state import FILE --config FILE     replace the checkpoint by a
      [--force] [--yes]                        Flow state file
  pg2kafka state reset  --config FILE          re-backfill everything (drops
      [--table SCHEMA.TABLE]... [--yes]        the slot), or only the tables

Import and reset refuse while a capture holds the slot.
Run pg2kafka state COMMAND --help for one command's flags.
`

// synopsisOf is each command's first help lines.
var synopsisOf = map[string]string{
	"run":          "pg2kafka run --config FILE\n\nCapture until stopped (SIGTERM/SIGINT).",
	"check":        "pg2kafka check --config FILE\n\nVerify every prerequisite (PostgreSQL and Kafka), print each problem with its\nfix; exit 0 only when run would start.",
	"setup":        "pg2kafka setup --config FILE [--admin-url URL [--apply]] [--per-table-grants]\n\nPrint the least-privilege setup SQL; with --apply run it as the admin.",
	"discover":     "pg2kafka discover --config FILE [--format json|yaml]\n\nPrint each capturable table's binding, collection schema and key.",
	"state show":   "pg2kafka state show --config FILE\n\nPrint the checkpoint, cursors decoded.",
	"state export": "pg2kafka state export --config FILE\n\nPrint the checkpoint as Flow state JSON.",
	"state import": "pg2kafka state import FILE --config FILE [--force] [--yes]\n\nReplace the checkpoint by a Flow state file (refused while a capture holds\nthe slot).",
	"healthcheck":  "pg2kafka healthcheck --config FILE | --url URL\n\nGET the /healthz of a pg2kafka on this host (at http.listen's port, or URL):\nexit 0 on 200, else 1. A healthcheck for images without a shell or curl.",
	"status":       "pg2kafka status --config FILE [--watch [--interval D]] [--json] [--metrics-url URL]\n\nPrint each table's mode (backfill, streaming, pending), backfill progress with\nrate and ETA, the replication lag, the WAL the slot retains, the last commit\nand whether an instance streams the slot or stands by. Reads the checkpoint\ntopic, the slot and, when reachable, the metrics endpoint (http.listen on\nthis host, or --metrics-url). --json prints one JSON object (one per line\nwith --watch); see docs/commands.md.",
	"state reset":  "pg2kafka state reset --config FILE [--table SCHEMA.TABLE]... [--yes]\n\nRe-backfill everything (drops the slot), or only the tables named (refused\nwhile a capture holds the slot).",
}

// isHelp is whether an argument asks for help.
func isHelp(arg string) bool {
	return arg == "-h" || arg == "-help" || arg == "--help" || arg == "help"
}

// printCommandUsage prints one command's synopsis and only its flags.
func printCommandUsage(w io.Writer, fs *flag.FlagSet, cmd string, allowed []string) {
	fmt.Fprintf(w, "Usage:\n  %s\n\nFlags:\n", synopsisOf[cmd])
	own := flag.NewFlagSet(cmd, flag.ContinueOnError)
	own.SetOutput(w)
	fs.VisitAll(func(f *flag.Flag) {
		if f.Name == "config" || slices.Contains(allowed, f.Name) {
			own.Var(f.Value, f.Name, f.Usage)
		}
	})
	own.PrintDefaults()
}

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
	"healthcheck":  {"url"},
	"status":       {"watch", "interval", "json", "metrics-url"},
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
	url            string
	watch          bool
	interval       time.Duration
	json           bool
	metricsURL     string
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

// defaultMemoryLimit is Go's soft memory limit unless GOMEMLIMIT says
// otherwise: the garbage collector works harder as the heap nears it, so
// that peak RSS stays near the live heap (about 60 MiB while backfilling or
// draining a backlog at full speed) instead of twice it. It is soft: a
// larger live heap (very wide rows, tens of thousands of tables) costs GC
// time, never an out-of-memory stop. Raise it with GOMEMLIMIT.
const defaultMemoryLimit = 100 << 20

func main() {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(defaultMemoryLimit)
	}
	stopProfiles := startProfiles()
	code := run(os.Args[1:])
	stopProfiles()
	os.Exit(code)
}

func run(args []string) int { return runWith(args, os.Stdout, os.Stderr) }

// runWith is run with the writers of help and usage errors (tests pass
// buffers; commands themselves write to os.Stdout and os.Stderr).
func runWith(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitConfig
	}
	switch args[0] {
	case "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return exitOK
	case "help":
		if len(args) > 1 {
			return runWith(append(args[1:], "--help"), stdout, stderr)
		}
		fmt.Fprint(stdout, usage)
		return exitOK
	case "-version", "--version", "version":
		fmt.Fprint(stdout, versionText())
		return exitOK
	case "completion":
		return runCompletion(args[1:], stdout, stderr)
	}
	cmd, args := args[0], args[1:]
	if cmd == "state" {
		if len(args) == 0 {
			fmt.Fprintf(stderr, "pg2kafka state: which one? show, export, import FILE or reset\n\n%s", stateUsage)
			return exitConfig
		}
		if isHelp(args[0]) {
			fmt.Fprint(stdout, stateUsage)
			return exitOK
		}
		cmd, args = "state "+args[0], args[1:]
	}
	allowed, known := flagsOf[cmd]
	if !known {
		fmt.Fprintf(stderr, "pg2kafka: unknown command %q\n\n%s", cmd, usage)
		return exitConfig
	}
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {} // printed below, on the right stream
	var tf toolFlags
	path := defineFlags(fs, &tf)
	// Flags may follow positional arguments (state import FILE --config X).
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				printCommandUsage(stdout, fs, cmd, allowed)
				return exitOK
			}
			fmt.Fprintln(stderr)
			printCommandUsage(stderr, fs, cmd, allowed)
			return exitConfig
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		if isHelp(args[0]) && args[0] != "help" {
			printCommandUsage(stdout, fs, cmd, allowed)
			return exitOK
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
		fmt.Fprintf(stderr, "pg2kafka %s: flag %s does not apply to this command\n\n", cmd, strings.Join(bad, ", "))
		printCommandUsage(stderr, fs, cmd, allowed)
		return exitConfig
	}
	if n := positionalOf[cmd]; len(tf.args) != n {
		fmt.Fprintf(stderr, "pg2kafka %s: takes %d argument(s), got %d (%s)\n\n", cmd, n, len(tf.args), strings.Join(tf.args, " "))
		printCommandUsage(stderr, fs, cmd, allowed)
		return exitConfig
	}
	if tf.format != "json" && tf.format != "yaml" {
		fmt.Fprintf(stderr, "pg2kafka discover: --format must be json or yaml, not %q\n", tf.format)
		return exitConfig
	}
	if cmd == "setup" && tf.apply && tf.adminURL == "" {
		fmt.Fprintln(stderr, "pg2kafka setup: --apply needs --admin-url postgres://ADMIN:PASSWORD@HOST:PORT/DATABASE (a superuser, or on RDS/Aurora the master user; source.user is usually not allowed to create roles and publications)")
		return exitConfig
	}
	if cmd == "status" && tf.interval <= 0 {
		fmt.Fprintf(stderr, "pg2kafka status: --interval must be positive, not %s (e.g. --interval 5s)\n", tf.interval)
		return exitConfig
	}
	if cmd == "healthcheck" && tf.url != "" {
		if err := runHealthcheck(context.Background(), tf.url, stdout); err != nil {
			fmt.Fprintln(stderr, "pg2kafka", err)
			return exitFailure
		}
		return exitOK
	}
	// Signals are caught from here on, before the configuration is read: a
	// stop asked while starting ends the command cleanly.
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)
	file, err := config.ResolvePath(*path)
	if err != nil {
		fmt.Fprintln(stderr, "pg2kafka:", err)
		return exitConfig
	}
	cfg, err := config.Load(file)
	if err != nil {
		fmt.Fprintln(stderr, "pg2kafka:", err)
		return exitConfig
	}
	log := newLogger(cfg)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		s := <-sigs
		if cmd == "run" {
			log.Info().Str("signal", s.String()).Msg("stopping: committing the open batch (signal again to exit at once)")
		}
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
	case "status":
		err = runStatus(ctx, cfg, log, tf, stdout)
	case "healthcheck":
		var url string
		if url, err = healthURL(cfg.HTTP.Listen); err == nil {
			err = runHealthcheck(ctx, url, stdout)
		}
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

// defineFlags defines every command's flags on fs, parsed into tf; it
// returns --config's value. Each command accepts --config and its own
// (flagsOf).
func defineFlags(fs *flag.FlagSet, tf *toolFlags) *string {
	path := fs.String("config", "", "configuration file (default $PG2KAFKA_CONFIG)")
	fs.BoolVar(&tf.apply, "apply", false, "run the SQL (idempotent) as the admin of --admin-url instead of printing it")
	fs.StringVar(&tf.adminURL, "admin-url", "", "connection URL of an admin (superuser; on RDS/Aurora the master user): inspects the server, and runs --apply")
	fs.BoolVar(&tf.perTableGrants, "per-table-grants", false, "grant SELECT per table even where pg_read_all_data exists")
	fs.StringVar(&tf.format, "format", "json", "output format: json or yaml")
	fs.BoolVar(&tf.force, "force", false, "skip the slot position safety checks")
	fs.BoolVar(&tf.yes, "yes", false, "do not ask for confirmation")
	fs.StringVar(&tf.url, "url", "", "the health URL (default: /healthz on the loopback at http.listen's port)")
	fs.BoolVar(&tf.watch, "watch", false, "redraw the status every --interval until interrupted")
	fs.DurationVar(&tf.interval, "interval", defaultStatusInterval, "time between two readings (--watch; also the rate's sampling window)")
	fs.BoolVar(&tf.json, "json", false, "print the status as JSON (one object per line with --watch)")
	fs.StringVar(&tf.metricsURL, "metrics-url", "", "the running capture's /metrics URL (default: /metrics on the loopback at http.listen's port)")
	fs.Func("table", "re-backfill only this table (schema.table; repeatable)", func(s string) error {
		tf.tables = append(tf.tables, s)
		return nil
	})
	return path
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

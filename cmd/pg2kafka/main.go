// Command pg2kafka captures a PostgreSQL database into Kafka through logical
// replication: every table to its own topic, with Flow-compatible
// checkpoints in a compacted topic.
//
//	pg2kafka run --config pg2kafka.yaml
//	pg2kafka check --config pg2kafka.yaml
//	pg2kafka state show --config pg2kafka.yaml
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"

	"github.com/rs/zerolog"
	"golang.org/x/term"

	"github.com/pg2kafka/pg2kafka/config"
)

const usage = `pg2kafka captures PostgreSQL changes into Kafka.

Usage:
  pg2kafka run      --config FILE   capture until stopped (SIGTERM/SIGINT)
  pg2kafka check    --config FILE   verify every prerequisite, print fixes
  pg2kafka discover --config FILE   print the bindings of capturable tables
  pg2kafka state show --config FILE print the capture's checkpoint

The configuration file may also be named by PG2KAFKA_CONFIG.
`

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
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	path := fs.String("config", "", "configuration file (default $PG2KAFKA_CONFIG)")
	if err := fs.Parse(args); err != nil {
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
	case "discover":
		err = runDiscover(ctx, cfg)
	case "state show":
		err = runStateShow(ctx, cfg, log)
	default:
		fmt.Fprintf(os.Stderr, "pg2kafka: unknown command %q\n\n%s", cmd, usage)
		return exitConfig
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

// Command trend is the Movie Trend Analyzer: one binary, one role per
// subcommand. Run "trend help" for the list.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"

	"github.com/movietrend/trend/internal/app"
	"github.com/movietrend/trend/internal/config"
)

const usage = `trend: Movie Trend Analyzer

usage: trend <role> [flags]

roles:
  migrate     apply database migrations and exit
  api         HTTP API, read API and live stream (HTTP_ADDR, default :8000)
  relay       forward the outbox to RabbitMQ
  worker      command and event handlers (--handlers selects a subset)
  all         every role in one process: the default for a local run
  replay      rebuild a projection from the event log while the system serves
  status      print queue depths and consumers, outbox backlog, dead letters,
              projection lag and the last replay (--json for machines)
  dlq         dead letters: trend dlq list|requeue|purge [--id ID,... | --all] [--json]
              (purge deletes for good and needs --id or --all; list and
              requeue take every letter without either)
  tmdb-fake   a local stand-in for the TMDB API serving a catalog file
  load        send load to the API and report rate, latency and errors
              (--scenario views|ingest|reads|freshness|setup; see docs/benchmarks.md)

Configuration comes from the environment and a .env file; see README.md.
Run "trend <role> -h" for a role's flags.
`

func main() {
	app.TuneGC()
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "trend:", err)
		os.Exit(exitStatus(err))
	}
}

// exitStatus is 2 for a mistake on the command line (as flag's own
// errors), 3 for a replay check that found differences, 1 for any other
// failure.
func exitStatus(err error) int {
	switch {
	case errors.As(err, new(usageError)):
		return 2
	case errors.Is(err, app.ErrDiffers):
		return 3
	}
	return 1
}

// usageError is a mistake on the command line, found before anything ran.
type usageError struct{ error }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

func run(args []string) error {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		fmt.Print(usage)
		return nil
	}
	role, args := args[0], args[1:]
	fs := flag.NewFlagSet("trend "+role, flag.ContinueOnError)
	var opts app.Options
	var handlers, addr, catalog, apiKey, readToken string
	var ro app.ReplayOptions
	var so app.StatusOptions
	var do app.DLQOptions
	var lo *app.LoadOptions
	switch role {
	case "replay":
		fs.StringVar(&ro.Projection, "projection", "trend", "the projection to rebuild")
		fs.BoolVar(&ro.Keep, "keep", false, "keep the old copy (renamed <table>_old_<id>) after the switch")
		fs.BoolVar(&ro.Check, "check", false, "rebuild into a scratch copy and print every difference from the live one; change nothing")
		fs.BoolVar(&opts.NoMigrate, "no-migrate", false, "do not apply database migrations on start")
	case "status":
		fs.BoolVar(&so.JSON, "json", false, "print JSON instead of a table")
	case "dlq":
		// The subcommand comes first: trend dlq requeue --id ID.
		if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
			do.Command, args = args[0], args[1:]
		}
		fs.Var(&do.IDs, "id", "select dead letters by id (repeatable, or comma-separated); list and requeue take every one without it or --all, purge needs one of them")
		fs.BoolVar(&do.All, "all", false, "select every dead letter present when the command starts (purge needs it or --id; not with --id)")
		fs.BoolVar(&do.JSON, "json", false, "print JSON (as the admin API answers)")
	case "load":
		lo = app.LoadFlags(fs)
	case "tmdb-fake":
		fs.StringVar(&addr, "addr", "127.0.0.1:8090", "listen address")
		fs.StringVar(&catalog, "catalog", "", "catalog CSV (tmdb_id,title,release_date,vote_average,vote_count,popularity,genres); default: the bundled one")
		fs.StringVar(&apiKey, "api-key", "", "require this v3 API key, as the api_key parameter (the service's TMDB_API_KEY); default: any request, unless --read-token is set")
		fs.StringVar(&readToken, "read-token", "", "require this v4 read access token, as \"Authorization: Bearer\" (the service's TMDB_READ_TOKEN); with both set, either will do")
	case "migrate", "api", "relay", "worker", "all":
		fs.BoolVar(&opts.NoMigrate, "no-migrate", false, "do not apply database migrations on start")
		if role == "worker" || role == "all" {
			fs.StringVar(&handlers, "handlers", "", "comma-separated subset of: "+strings.Join(app.HandlerGroups, ", ")+" (default: all)")
		}
	default:
		fmt.Fprint(os.Stderr, usage)
		return usagef("unknown role %q", role)
	}
	// flag would print a bad flag's error, then main again: it prints
	// only the usage here, and main the error.
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		fs.SetOutput(os.Stderr)
		fs.Usage()
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return usageError{err}
	}
	fs.SetOutput(os.Stderr)
	if err := checkArgs(role, do, fs.Args()); err != nil {
		return err
	}
	if handlers != "" {
		opts.Handlers = strings.Split(handlers, ",")
	}
	if err := app.CheckFlags(role, opts, ro, lo); err != nil {
		return usageError{err}
	}
	cfg, cfgErr := config.Load()
	// The stand-in and the load generator use no setting of the service's
	// but its log level: a bad .env beside them must not stop them.
	standalone := role == "tmdb-fake" || role == "load"
	if cfgErr != nil && !standalone {
		return fmt.Errorf("configuration: %w", cfgErr)
	}
	level, _ := cfg.SlogLevel()
	log := app.NewLogger(level)
	if cfgErr != nil {
		log.Warn("the service's configuration has an error, which "+role+" does not need", "error", cfgErr)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// The first signal asks for a graceful stop; after it the signals get
	// Go's default handling again, so a second Ctrl-C ends a shutdown that
	// hangs at once.
	context.AfterFunc(ctx, stop)
	switch role {
	case "tmdb-fake":
		return app.RunTMDBFake(ctx, addr, catalog, apiKey, readToken, log)
	case "replay":
		return app.RunReplay(ctx, cfg, opts, ro, log)
	case "status":
		return app.RunStatus(ctx, cfg, so, log)
	case "dlq":
		return app.RunDLQ(ctx, cfg, do, log)
	case "load":
		return app.RunLoad(ctx, lo, log)
	}
	return app.Run(ctx, role, cfg, opts, log)
}

// checkArgs refuses the words left after the flags: no role takes any, and
// ignoring them changed what ran (`trend dlq purge ID` without --id purged
// every dead letter, `trend replay check` rebuilt for real). For dlq it
// also refuses a selection that cannot be right: `trend dlq purge` alone
// (it purged every dead letter, unseen ones included) or --all with --id.
func checkArgs(role string, do app.DLQOptions, rest []string) error {
	if role == "dlq" {
		switch {
		case do.Command == "" && len(rest) > 0:
			return usagef("dlq: the subcommand comes first: trend dlq %s [--id ID,... | --all] [--json]", rest[0])
		case do.Command == "":
			return usagef("dlq needs a subcommand: %s", strings.Join(app.DLQCommands, ", "))
		case !slices.Contains(app.DLQCommands, do.Command):
			return usagef("unknown dlq subcommand %q (known: %s)", do.Command, strings.Join(app.DLQCommands, ", "))
		case len(rest) > 0:
			return usagef("dlq %s: unexpected argument %q: select dead letters with --id ID (repeatable, or comma-separated), or every one with --all; nothing was done", do.Command, rest[0])
		}
		if err := app.CheckDLQ(do); err != nil {
			return usageError{err}
		}
		return nil
	}
	if len(rest) > 0 {
		return usagef("%s: unexpected argument %q (flags come as --name value; see trend %s -h); nothing was done", role, rest[0], role)
	}
	return nil
}

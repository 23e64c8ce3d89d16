package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usageText = `relay: an AI API gateway on an event backbone

usage: relay <command> [flags]

commands:
  serve     edge and workers in one process (embedded NATS and Redis when
            NATS_URL / REDIS_URL are unset)
  edge      the HTTP edge only (needs NATS_URL, REDIS_URL, JWT_SECRET, ENCRYPTION_KEY)
  worker    the projectors only (needs NATS_URL, REDIS_URL)
  replay    stream the usage ledger to stdout: raw events, aggregates
            (--group-by) or a re-pricing (--reprice); relay replay -h
  rebuild   rebuild every read model from the streams while relay keeps
            serving, then switch to them (needs REDIS_URL); relay rebuild -h
  help      this text

Configuration comes from the environment; see .env.example.
`

func main() {
	os.Exit(run(os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

// exitUsage is the exit code of a command line or configuration mistake.
const exitUsage = 2

func run(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usageText)
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	var err error
	switch args[0] {
	case "serve", "edge", "worker":
		err = runServer(ctx, args[0], args[1:], getenv, stdout, stderr)
	case "replay":
		err = runReplay(ctx, args[1:], getenv, stdout, stderr)
	case "rebuild":
		err = runRebuild(ctx, args[1:], getenv, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usageText)
		return 0
	default:
		fmt.Fprintf(stderr, "relay: unknown command %q\n\n%s", args[0], usageText)
		return exitUsage
	}
	var ue usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "relay %s: %v\n", args[0], err)
		return exitUsage
	default:
		fmt.Fprintf(stderr, "relay %s: %v\n", args[0], err)
		return 1
	}
}

// usageError is a mistake in flags or configuration (exit code 2).
type usageError struct{ error }

func (e usageError) Unwrap() error { return e.error }

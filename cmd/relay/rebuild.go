package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"relay/store"
	"relay/workers"
)

const rebuildUsage = `usage: relay rebuild [flags]

Rebuilds every read model from the streams into a new generation while
relay keeps serving the current one, switches to it once it has caught up,
then drops the old one. Progress goes to stderr.

  --grace D   keep the old generation D after the switch, for readers still
              on it (default 2s)

Needs REDIS_URL (or REDIS_HOST) and NATS (NATS_URL, else the embedded server
of a running relay serve at NATS_LISTEN) with relay's credentials
(NATS_CREDS, NATS_USER/NATS_PASSWORD or NATS_TOKEN; else the ones relay serve
generated under DATA_DIR/secrets). TZ must be the workers' TZ.
`

func runRebuild(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	fs := flag.NewFlagSet("rebuild", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	grace := fs.Duration("grace", 2*store.RefreshEvery, "")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stderr, rebuildUsage)
			return nil
		}
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected argument %q (see relay rebuild -h)", fs.Arg(0))}
	}
	if *grace <= 0 {
		return usageError{fmt.Errorf("--grace %s: want a positive duration", *grace)}
	}
	redisURL, err := redisURLFrom(getenv)
	if err != nil {
		return usageError{err}
	}
	if redisURL == "" {
		return usageError{errors.New("REDIS_URL (or REDIS_HOST) is required: a relay serve on its embedded Redis (REDIS_URL unset) rebuilds its read models from the streams at every start, so restart it instead")}
	}
	tz := strings.TrimSpace(getenv("TZ"))
	if tz == "" {
		tz = "UTC"
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return usageError{fmt.Errorf("TZ=%q: unknown time zone", tz)}
	}
	ropts, err := redis.ParseURL(redisURL)
	if err != nil {
		return usageError{fmt.Errorf("REDIS_URL: %w", err)}
	}
	rdb := store.Client(ropts)
	defer rdb.Close()
	st := store.New(rdb, "")
	if err := st.Ping(ctx); err != nil {
		return fmt.Errorf("connect Redis at %s: %w", ropts.Addr, err)
	}
	if live, err := st.UsageLocation(ctx); err == nil && live != nil && live.String() != loc.String() {
		fmt.Fprintf(stderr, "relay rebuild: warning: the live usage statistics use TZ=%s, this rebuild TZ=%s: day buckets will change\n", live, loc)
	}
	nc, js, err := connectNATS(getenv, "rebuild", natsRelayUser)
	if err != nil {
		return err
	}
	defer nc.Close()

	tty := isTerminal(stderr)
	var last time.Time
	res, err := workers.Rebuild(ctx, js, st, workers.RebuildOptions{
		Options: workers.Options{Location: loc},
		Log:     zerolog.New(stderr).Level(zerolog.WarnLevel).With().Timestamp().Logger(),
		Grace:   *grace,
		NC:      nc,
		Progress: func(p workers.RebuildProgress) {
			// Every phase change; while building, a line every 2s (on a
			// terminal the line is rewritten at every call).
			if p.Phase == workers.PhaseDone || (p.Phase == workers.PhaseBuilding && !tty && time.Since(last) < 2*time.Second) {
				return // done: the summary line follows
			}
			last = time.Now()
			line := fmt.Sprintf("rebuild: generation %d -> %d: %s: %s", p.From, p.To, p.Phase, progressText(p.Projections, p.Elapsed))
			if tty && p.Phase == workers.PhaseBuilding {
				fmt.Fprintf(stderr, "\r%s\x1b[K", line)
				return
			}
			if tty {
				fmt.Fprint(stderr, "\r\x1b[K")
			}
			fmt.Fprintln(stderr, line)
		},
	})
	if err != nil {
		if errors.Is(err, workers.ErrRebuildRunning) {
			return fmt.Errorf("%w (its lock expires 30s after it stops)", err)
		}
		return err
	}
	fmt.Fprintf(stderr, "rebuild: switched to generation %d and dropped generation %d (%d keys) in %s\n",
		res.To, res.From, res.Dropped, res.Elapsed.Round(time.Millisecond))
	return nil
}

// progressText is "config 120/120, usage 5000/90000 (12000 events/s)".
func progressText(ps []workers.ProjectionProgress, elapsed time.Duration) string {
	var parts []string
	var handled uint64
	for _, p := range ps {
		parts = append(parts, fmt.Sprintf("%s %d/%d", p.Name, min(p.Checkpoint, p.Target), p.Target))
		handled += p.Handled
	}
	rate := 0.0
	if elapsed > 0 {
		rate = float64(handled) / elapsed.Seconds()
	}
	return fmt.Sprintf("%s (%d events, %.0f events/s)", strings.Join(parts, ", "), handled, rate)
}

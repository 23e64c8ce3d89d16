package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"relay/events"
	"relay/events/usagelog"
	"relay/projections/pricing"
)

const replayUsage = `usage: relay replay [flags]

Streams the usage ledger (the USAGE stream) to stdout, oldest first.

  --since T, --until T   window [since, until) on the time each event was
                         recorded: RFC 3339 (2026-01-02T15:04:05Z), a date
                         (2026-01-02, midnight in TZ) or a duration ago (24h, 7d)
  --key, --account, --model, --platform, --outcome LIST
                         keep matching events (comma lists; model as requested)
  --format ndjson|csv    ndjson (default): each usage event as recorded, one
                         per line, counts of refused requests included
                         (outcome "refused", with their "count"); csv: a
                         header and one row per request that passed the
                         checks (counts of refusals have no row)
  --group-by LIST        aggregates instead of events, per day, hour, key,
                         account, model, platform (comma list): requests,
                         refused (counts of refusals added up), tokens, cost
                         (USD, 6 decimals)
  --reprice FILE         per key (or per --group-by): recorded cost, cost
                         recomputed with price file FILE, difference
  --follow               keep streaming new events (until --until or Ctrl-C)
  --progress             progress on stderr even when it is not a terminal

What had key X spent as of T:  relay replay --until T --key X --group-by key

NATS: NATS_URL, else the embedded server of a running relay serve
(nats://NATS_LISTEN). Credentials: NATS_CREDS, NATS_USER/NATS_PASSWORD or
NATS_TOKEN; else the analyst password relay serve generated under
DATA_DIR/secrets. Day and hour buckets use TZ (default UTC).
`

// listFlag is a repeatable, comma-separated flag.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(v string) error {
	for part := range strings.SplitSeq(v, ",") {
		if part = strings.TrimSpace(part); part != "" {
			*l = append(*l, part)
		}
	}
	return nil
}

// replayOptions are the parsed flags of `relay replay`.
type replayOptions struct {
	query    usagelog.Query
	format   usagelog.Format
	dims     []usagelog.Dim
	prices   *pricing.Table
	progress bool
	loc      *time.Location
}

func parseReplay(args []string, getenv func(string) string, stderr io.Writer, now time.Time) (replayOptions, error) {
	var o replayOptions
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // the one-line error is printed by run
	fs.Usage = func() {}
	since := fs.String("since", "", "")
	until := fs.String("until", "", "")
	format := fs.String("format", string(usagelog.NDJSON), "")
	groupBy := fs.String("group-by", "", "")
	reprice := fs.String("reprice", "", "")
	fs.BoolVar(&o.query.Follow, "follow", false, "")
	fs.BoolVar(&o.progress, "progress", false, "")
	f := &o.query.Filter
	fs.Var((*listFlag)(&f.Keys), "key", "")
	fs.Var((*listFlag)(&f.Accounts), "account", "")
	fs.Var((*listFlag)(&f.Models), "model", "")
	fs.Var((*listFlag)(&f.Platforms), "platform", "")
	fs.Var((*listFlag)(&f.Outcomes), "outcome", "")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stderr, replayUsage)
		}
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q (see relay replay -h)", fs.Arg(0))
	}
	var err error
	tz := strings.TrimSpace(getenv("TZ"))
	if tz == "" {
		tz = "UTC"
	}
	if o.loc, err = time.LoadLocation(tz); err != nil {
		return o, fmt.Errorf("TZ=%q: unknown time zone", tz)
	}
	if o.format, err = usagelog.ParseFormat(*format); err != nil {
		return o, fmt.Errorf("--format: %w", err)
	}
	for name, v := range map[string]*string{"--since": since, "--until": until} {
		if *v == "" {
			continue
		}
		t, err := usagelog.ParseTime(*v, now, o.loc)
		if err != nil {
			return o, fmt.Errorf("%s %w", name, err)
		}
		if name == "--since" {
			o.query.Since = t
		} else {
			o.query.Until = t
		}
	}
	if !o.query.Since.IsZero() && !o.query.Until.IsZero() && !o.query.Until.After(o.query.Since) {
		return o, fmt.Errorf("--until %s is not after --since %s", o.query.Until.Format(time.RFC3339), o.query.Since.Format(time.RFC3339))
	}
	for _, p := range f.Platforms {
		if p != events.PlatformClaudeConsole && p != events.PlatformCodex {
			return o, fmt.Errorf("--platform: unknown platform %q: want %s or %s", p, events.PlatformClaudeConsole, events.PlatformCodex)
		}
	}
	outcomes := usagelog.Outcomes
	for _, v := range f.Outcomes {
		if !slices.Contains(outcomes, v) {
			return o, fmt.Errorf("--outcome: unknown outcome %q: want one of %s", v, strings.Join(outcomes, ", "))
		}
	}
	if *groupBy != "" {
		if o.dims, err = usagelog.ParseDims(*groupBy); err != nil {
			return o, fmt.Errorf("--group-by: %w", err)
		}
	}
	if *reprice != "" {
		if o.prices, err = pricing.Load(*reprice); err != nil {
			return o, fmt.Errorf("--reprice: %w", err)
		}
	}
	return o, nil
}

// natsURL is where replay and rebuild reach NATS: NATS_URL, else the
// embedded server of a running `relay serve` on this machine.
func natsURL(getenv func(string) string) (string, error) {
	if u := strings.TrimSpace(getenv("NATS_URL")); u != "" {
		return u, nil
	}
	listen := strings.TrimSpace(getenv("NATS_LISTEN"))
	switch listen {
	case "":
		listen = "127.0.0.1:4222"
	case "off":
		return "", errors.New("NATS_LISTEN=off: relay serve's embedded NATS is in-process only; set NATS_URL")
	}
	return "nats://" + listen, nil
}

// connectNATS connects the way replay and rebuild do: no reconnect storm
// against a server that is not there, a clear error when it is not. The
// credentials are the environment's (NATS_CREDS, NATS_USER/NATS_PASSWORD or
// NATS_TOKEN); without them, on this machine (NATS_URL unset), the ones a
// running `relay serve` generated under DATA_DIR/secrets for role:
// natsAnalystUser for replay, natsRelayUser for rebuild.
func connectNATS(getenv func(string) string, name, role string) (*nats.Conn, jetstream.JetStream, error) {
	url, err := natsURL(getenv)
	if err != nil {
		return nil, nil, usageError{err}
	}
	opts := []nats.Option{nats.Name("relay-" + name), nats.Timeout(5 * time.Second)}
	if role == natsAnalystUser {
		// The analyst may subscribe only under its own inbox prefix.
		opts = append(opts, nats.CustomInboxPrefix(analystInbox))
	}
	auth, err := natsAuthFromEnv(getenv)
	if err != nil {
		return nil, nil, usageError{err}
	}
	if auth == nil && strings.TrimSpace(getenv("NATS_URL")) == "" {
		dataDir := strings.TrimSpace(getenv("DATA_DIR"))
		if dataDir == "" {
			dataDir = "./data"
		}
		local, err := localNATSAuth(dataDir, role)
		if err != nil {
			return nil, nil, usageError{err}
		}
		auth = []nats.Option{local}
	}
	nc, err := nats.Connect(url, append(opts, auth...)...)
	if err != nil {
		if errors.Is(err, nats.ErrAuthorization) || strings.Contains(strings.ToLower(err.Error()), "authorization") {
			return nil, nil, fmt.Errorf("connect NATS at %s: %w (set NATS_USER/NATS_PASSWORD, NATS_CREDS or NATS_TOKEN; on relay serve's machine, DATA_DIR)", url, err)
		}
		return nil, nil, fmt.Errorf("connect NATS at %s (is relay serve running? else set NATS_URL): %w", url, err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	return nc, js, nil
}

func runReplay(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	o, err := parseReplay(args, getenv, stderr, time.Now())
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return usageError{err}
	}
	nc, js, err := connectNATS(getenv, "replay", natsAnalystUser)
	if err != nil {
		return err
	}
	defer nc.Close()
	// A replay's live heap is a few buffers while it allocates a message per
	// event: collect less often than the default (restored for in-process
	// callers, such as tests).
	defer debug.SetGCPercent(debug.SetGCPercent(400))

	var sink usagelog.Sink
	var repriced *usagelog.RepriceSink
	switch {
	case o.prices != nil:
		prices := o.prices
		repriced = usagelog.NewRepriceSink(stdout, o.format, o.dims, o.loc, func(u *usagelog.Fields) (int64, bool) {
			return prices.RequestCost(u.Outcome, u.Model, u.UpstreamModel, u.Tokens)
		})
		sink = repriced
	case len(o.dims) > 0:
		sink = usagelog.NewAggregateSink(stdout, o.format, o.dims, o.loc)
	default:
		sink = usagelog.NewEventSink(stdout, o.format)
	}
	var progress *usagelog.Progress
	if o.progress || isTerminal(stderr) {
		progress = usagelog.NewProgress(stderr, isTerminal(stderr), "replay")
		o.query.Progress = progress.Update
	}
	var flushErr error
	o.query.CaughtUp = func() {
		if err := sink.Flush(); err != nil && flushErr == nil {
			flushErr = err
		}
	}
	st, err := usagelog.Replay(ctx, js, o.query, sink.Add)
	if err != nil {
		_ = sink.Flush() // keep what was streamed; aggregates of a cut replay are not written
		return err
	}
	if err := errors.Join(flushErr, sink.Close()); err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	if progress != nil {
		progress.Done(st)
	}
	if repriced != nil {
		t := repriced.Total()
		fmt.Fprintf(stderr, "replay: %d events: recorded %s USD, recomputed %s USD, difference %s USD (%d unpriced by the new table)\n",
			t.Events, pricing.FormatUSD(t.RecordedNanos), pricing.FormatUSD(t.RecomputedNanos), pricing.FormatUSD(t.DifferenceNanos()), t.Unpriced)
	}
	return nil
}

// isTerminal reports whether w is a terminal (a character device).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

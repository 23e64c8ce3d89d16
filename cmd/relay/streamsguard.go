package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"relay/edge"
	"relay/events"
	"relay/events/streams"
	"relay/store"
)

// provisionedMarker, under DATA_DIR, records that `relay serve` provisioned
// the streams of its embedded NATS once. The embedded Redis starts empty,
// so this file is what tells a first start from a lost CONFIG stream.
const provisionedMarker = "streams.provisioned"

// lostStreamError is a stream relay needs that is missing while the read
// models or DATA_DIR show it had events: relay refuses to start rather than
// create it empty (an empty CONFIG means every key, account and admin gone).
type lostStreamError struct {
	stream, evidence string
}

func (e lostStreamError) Error() string {
	return fmt.Sprintf("stream %s is missing, but %s: relay will not create it empty over them. "+
		"Restore the stream (from a NATS backup: nats stream restore), or, to start over on purpose, "+
		"remove that evidence first (the marker file, or the read models: FLUSHDB on relay's Redis database)",
		e.stream, e.evidence)
}

// streamProjection names the read model (and its checkpoint) fed by each
// stream.
var streamProjection = map[string]string{
	events.StreamConfig: store.ProjectionConfig,
	events.StreamUsage:  store.ProjectionUsage,
	events.StreamState:  store.ProjectionState,
}

// checkStreamsNotLost returns a lostStreamError when a stream is missing
// but there were events on it: a projection checkpoint above 0 in Redis,
// or, for CONFIG on the embedded server, the marker file in DATA_DIR.
// Other errors (NATS not answering yet) are returned as they are, to retry.
func checkStreamsNotLost(ctx context.Context, js jetstream.JetStream, st *store.Store, marker string, embedded bool) error {
	for _, name := range []string{events.StreamConfig, events.StreamUsage, events.StreamState} {
		_, err := js.Stream(ctx, name)
		if err == nil {
			continue
		}
		if !errors.Is(err, jetstream.ErrStreamNotFound) {
			return err
		}
		cp, err := st.Checkpoint(ctx, streamProjection[name])
		if err != nil {
			return err
		}
		if cp > 0 {
			return lostStreamError{name, fmt.Sprintf("the read models in Redis have applied %d of its events", cp)}
		}
		if embedded && name == events.StreamConfig {
			if _, err := os.Stat(marker); err == nil {
				return lostStreamError{name, fmt.Sprintf("this DATA_DIR held it before (%s exists)", marker)}
			}
		}
	}
	return nil
}

// writeMarker writes the provisioned marker once.
func writeMarker(path string) error {
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return os.WriteFile(path, []byte("CONFIG, USAGE and STATE were provisioned on this DATA_DIR's embedded NATS at "+time.Now().UTC().Format(time.RFC3339)+"\n"), 0o600)
}

// streamsReadyChecks are two readiness checks. "streams": not ready while
// a stream relay needs is missing (deleted under a running relay) or has no
// leader. "replicas" (advisory: reported, still ready, since relay serves
// with a node down): a stream has fewer replicas than provisioning found
// the cluster could give it, or a replica is offline or behind. Stream
// infos are kept for a second, so frequent /ready polls cost at most three
// requests a second.
func streamsReadyChecks(js jetstream.JetStream, placed streams.Placement) []edge.ReadyCheck {
	var mu sync.Mutex // mu protects at, missing and thin
	var at time.Time
	var missing, thin error
	refresh := func(ctx context.Context) {
		if time.Since(at) >= time.Second {
			missing, thin = checkStreams(ctx, js, placed)
			at = time.Now()
		}
	}
	return []edge.ReadyCheck{
		{Name: "streams", Check: func(ctx context.Context) error {
			mu.Lock()
			defer mu.Unlock()
			refresh(ctx)
			return missing
		}},
		{Name: "replicas", Advisory: true, Check: func(ctx context.Context) error {
			mu.Lock()
			defer mu.Unlock()
			refresh(ctx)
			return thin
		}},
	}
}

// checkStreams returns what makes relay not ready (missing streams, no
// leader) and what an operator should know (too few replicas).
func checkStreams(ctx context.Context, js jetstream.JetStream, placed streams.Placement) (missing, thin error) {
	var bad, warn []string
	for _, name := range []string{events.StreamConfig, events.StreamUsage, events.StreamState} {
		s, err := js.Stream(ctx, name)
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			bad = append(bad, name+" is missing (restore it: relay does not recreate a stream while it runs)")
			continue
		}
		if err != nil {
			bad = append(bad, name+": "+err.Error())
			continue
		}
		info := s.CachedInfo()
		if r := info.Config.Replicas; r < placed.Want {
			warn = append(warn, fmt.Sprintf("%s has %d replica(s), the cluster could give it %d (restart relay with every node up, or set NATS_REPLICAS)", name, r, placed.Want))
		}
		if c := info.Cluster; c != nil {
			down := 0
			for _, p := range c.Replicas {
				if p.Offline || !p.Current {
					down++
				}
			}
			if c.Leader == "" {
				bad = append(bad, name+" has no leader")
			} else if down > 0 {
				warn = append(warn, fmt.Sprintf("%s: %d of %d replicas offline or behind", name, down, info.Config.Replicas))
			}
		}
	}
	return joined(bad), joined(warn)
}

func joined(s []string) error {
	if len(s) == 0 {
		return nil
	}
	sort.Strings(s)
	return errors.New(strings.Join(s, "; "))
}

// ensureAdmin creates the first admin, retrying for a minute: several
// processes start together against a fresh cluster, and the creation may
// be recorded before this edge can see it (the workers are starting too).
// Startup work several processes share must be idempotent, never fatal.
func ensureAdmin(ctx context.Context, srv *edge.Server, cfg config, log zerolog.Logger) (bool, string, error) {
	if !events.ValidToken(cfg.AdminUsername) || len(cfg.AdminUsername) > 64 {
		return false, "", usageError{errors.New("ADMIN_USERNAME must be 1-64 characters without dots, spaces or wildcards")}
	}
	var err error
	for attempt, until := 1, time.Now().Add(time.Minute); ; attempt++ {
		var created bool
		var generated string
		created, generated, err = srv.EnsureAdmin(ctx, cfg.AdminUsername, cfg.AdminPassword)
		if err == nil {
			return created, generated, nil
		}
		if ctx.Err() != nil || time.Now().After(until) {
			return false, "", fmt.Errorf("create the first admin: %w", err)
		}
		log.Warn().Err(err).Int("attempt", attempt).Msg("first admin not created yet; retrying")
		select {
		case <-ctx.Done():
		case <-time.After(500 * time.Millisecond):
		}
	}
}

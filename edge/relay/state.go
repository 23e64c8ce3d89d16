package relay

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"relay/events"
	"relay/events/streams"
	"relay/projections"
)

// Durations of account states (DESIGN.md section 7).
const (
	maxRateLimitWait  = 30 * time.Minute
	overloadedFor     = 10 * time.Minute
	unauthorizedFor   = 30 * time.Minute
	minErrorFor       = time.Minute
	maxErrorFor       = 5 * time.Minute
	defaultRateLimitM = 60
)

// stateFor decides which state an upstream failure puts an account in and
// until when. status 0 is a connection error or a timeout.
func stateFor(a projections.AccountView, prev projections.AccountStateView, status int, h http.Header, now time.Time) (string, time.Time) {
	switch {
	case status == http.StatusTooManyRequests:
		if d, ok := resetAfter(h, now); ok {
			return events.StateRateLimited, now.Add(min(d, maxRateLimitWait))
		}
		m := a.RateLimitDuration
		if m <= 0 {
			m = defaultRateLimitM
		}
		return events.StateRateLimited, now.Add(time.Duration(m) * time.Minute)
	case status == 529:
		return events.StateOverloaded, now.Add(overloadedFor)
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return events.StateUnauthorized, now.Add(unauthorizedFor)
	}
	// Other 5xx and connection errors: a minute, doubling while the account
	// keeps failing soon after its last error ended, up to five.
	d := minErrorFor
	if prev.State == events.StateError && now.Sub(prev.Until) < 10*time.Minute {
		d = min(2*errorDuration(prev), maxErrorFor)
	}
	return events.StateError, now.Add(d)
}

// errorDuration reads how long a previous error state lasted from its
// reason ("error for 2m0s"): a state keeps only its end.
func errorDuration(prev projections.AccountStateView) time.Duration {
	if d, err := time.ParseDuration(strings.TrimPrefix(prev.Reason, "error for ")); err == nil && d > 0 {
		return d
	}
	return minErrorFor
}

// resetAfter reads how long an upstream asks to wait from its rate-limit
// headers: retry-after, Anthropic's unified and per-limit resets, OpenAI's
// x-ratelimit-reset-*. The longest wait wins.
func resetAfter(h http.Header, now time.Time) (time.Duration, bool) {
	var best time.Duration
	found := false
	take := func(d time.Duration) {
		if d > 0 {
			best, found = max(best, d), true
		}
	}
	if v := h.Get("Retry-After"); v != "" {
		if secs, err := strconv.ParseFloat(v, 64); err == nil {
			take(time.Duration(secs * float64(time.Second)))
		} else if t, err := http.ParseTime(v); err == nil {
			take(t.Sub(now))
		}
	}
	if v := h.Get("Anthropic-Ratelimit-Unified-Reset"); v != "" {
		if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
			take(time.Unix(secs, 0).Sub(now))
		}
	}
	for _, name := range []string{"requests", "tokens", "input-tokens", "output-tokens"} {
		if v := h.Get("Anthropic-Ratelimit-" + name + "-Reset"); v != "" {
			if rem := h.Get("Anthropic-Ratelimit-" + name + "-Remaining"); rem != "" && rem != "0" {
				continue // not the limit that was hit
			}
			if t, err := time.Parse(time.RFC3339, v); err == nil {
				take(t.Sub(now))
			}
		}
	}
	for _, name := range []string{"X-Ratelimit-Reset-Requests", "X-Ratelimit-Reset-Tokens"} {
		if v := h.Get(name); v != "" {
			if d, err := time.ParseDuration(v); err == nil {
				take(d)
			}
		}
	}
	return best, found
}

// markAccount records that account a failed: the state applies at once on
// this edge and reaches every other edge through STATE.
func (s *Relay) markAccount(ctx context.Context, a projections.AccountView, status int, h http.Header, cause, requestID string) {
	now := time.Now()
	var prev projections.AccountStateView
	s.catalog.Read(func(cat *projections.Catalog) { prev = cat.States[a.ID] })
	state, until := stateFor(a, prev, status, h, now)
	reason := cause
	if state == events.StateError {
		reason = "error for " + until.Sub(now).Round(time.Second).String()
	}
	data := events.AccountStateMarkedData{AccountID: a.ID, State: state, Until: until.UTC(), Status: status, Reason: reason}
	env, err := events.New(events.AccountStateMarked, now, "edge", requestID, data)
	if err != nil {
		return
	}
	env.Subject = events.AccountStateSubject(a.ID)
	s.catalog.Apply(env) // at once here; the stream brings it to the others
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	if _, err := streams.Publish(pctx, s.js, env.Subject, env, nil); err != nil {
		s.log.Warn().Err(err).Str("accountId", a.ID).Str("state", state).Msg("account state not published")
		return
	}
	s.published(env.Type)
	s.metrics.accountStates.WithLabelValues(state).Inc()
}

package usagelog

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"relay/events"
)

// Query selects usage events: a window of the ledger and a filter.
type Query struct {
	// Since and Until bound the window [Since, Until) on the time USAGE
	// stored each event (Event.Stored); a zero bound is open. Since is
	// found by the server (deliver by start time), not by scanning.
	Since, Until time.Time
	// Follow keeps reading events published after the replay started,
	// until Until passes or the context ends. Without it, replay stops at
	// the last event the stream held when it started.
	Follow bool
	Filter Filter
	// Batch is how many messages one pull request asks for (0: 4096).
	Batch int
	// Progress, when set, is called with the running totals every 4096
	// messages read and once at the end.
	Progress func(Stats)
	// CaughtUp, when set, is called in Follow mode whenever the replay has
	// read everything stored so far, before it waits for more: the moment
	// to flush buffered output.
	CaughtUp func()
}

// Filter keeps the events that match every non-empty list (each list is
// "any of"). Keys and platforms are read from the subject, so the server
// filters on them too; accounts, models (as requested) and outcomes are
// read from the payload.
type Filter struct {
	Keys, Accounts, Models, Platforms, Outcomes []string
}

// needsPayload reports whether matching reads the payload.
func (f Filter) needsPayload() bool {
	return len(f.Accounts) > 0 || len(f.Models) > 0 || len(f.Outcomes) > 0
}

// Match reports whether e passes the filter.
func (f Filter) Match(e *Event) bool {
	if len(f.Keys) > 0 || len(f.Platforms) > 0 {
		platform, key, _ := events.UsageOf(e.Subject)
		if !anyOf(f.Keys, key) || !anyOf(f.Platforms, platform) {
			return false
		}
	}
	if !f.needsPayload() {
		return true
	}
	u := e.Fields()
	return anyOf(f.Accounts, u.AccountID) && anyOf(f.Models, u.Model) && anyOf(f.Outcomes, u.Outcome)
}

func anyOf(list []string, v string) bool { return len(list) == 0 || slices.Contains(list, v) }

// maxFilterSubjects bounds the server-side subject filter; a larger
// product of keys and platforms is filtered here instead.
const maxFilterSubjects = 64

// subjects returns the USAGE subjects the server should deliver, or nil
// for all of them.
func (f Filter) subjects() []string {
	if len(f.Keys) == 0 && len(f.Platforms) == 0 {
		return nil
	}
	keys, platforms := orAny(f.Keys), orAny(f.Platforms)
	if len(keys)*len(platforms) > maxFilterSubjects {
		return nil
	}
	var subs []string
	for _, p := range platforms {
		for _, k := range keys {
			if (p != "*" && !events.ValidToken(p)) || (k != "*" && !events.ValidToken(k)) {
				return nil // cannot be a subject token: Match drops it
			}
			subs = append(subs, events.UsageSubject(p, k))
		}
	}
	return subs
}

func orAny(list []string) []string {
	if len(list) == 0 {
		return []string{"*"}
	}
	return list
}

// ParseTime reads a --since or --until value: an RFC 3339 time
// ("2026-01-02T15:04:05Z"), a date ("2026-01-02", midnight in loc), or a
// duration meaning that long before now ("90m", "24h", "7d", "1d12h").
func ParseTime(s string, now time.Time, loc *time.Location) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if t, err := time.ParseInLocation(time.DateOnly, s, loc); err == nil {
		return t, nil
	}
	d, err := ParseDuration(s)
	if err != nil || d < 0 {
		return time.Time{}, fmt.Errorf("%q: want an RFC 3339 time (2026-01-02T15:04:05Z), a date (2026-01-02) or a duration ago (24h, 7d)", s)
	}
	return now.Add(-d), nil
}

// ParseDuration is time.ParseDuration plus a leading day count: "7d",
// "1d12h".
func ParseDuration(s string) (time.Duration, error) {
	days, rest, ok := strings.Cut(s, "d")
	if !ok {
		return time.ParseDuration(s)
	}
	n, err := strconv.Atoi(days)
	if err != nil || n < 0 || n > 100_000 {
		return 0, errors.New("bad day count")
	}
	d := time.Duration(n) * 24 * time.Hour
	if rest == "" {
		return d, nil
	}
	r, err := time.ParseDuration(rest)
	if err != nil || r < 0 {
		return 0, errors.New("bad duration")
	}
	return d + r, nil
}

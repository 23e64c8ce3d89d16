package console

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
)

// The live feed: the overview lists the latest requests (server-rendered,
// so it reads without JavaScript), and console.js keeps the list current
// from /console/live, a server-sent event stream of every request recorded
// from then on. Rows are formatted here, in the reader's language, so the
// script only inserts text.

const (
	recentRequests = 20
	liveBuffer     = 256 // records waiting for a slow browser before some are dropped
	liveKeepAlive  = 15 * time.Second
)

// liveRow is one request as the feed shows it (the page and the event
// stream alike).
type liveRow struct {
	ID       string `json:"id"`
	Time     string `json:"time"`
	TimeFull string `json:"timeFull"`
	Key      string `json:"key"`
	Account  string `json:"account"`
	Model    string `json:"model"`
	Status   int    `json:"status"`
	OK       bool   `json:"ok"`
	Tokens   string `json:"tokens"`
	TokensIn string `json:"tokensTitle"`
	Cost     string `json:"cost"`
	TTFT     string `json:"ttft"`
	Duration string `json:"duration"`
}

func newLiveRow(l *Locale, r RequestRecord, loc *time.Location) liveRow {
	key := r.KeyName
	if key == "" {
		key = r.KeyID
	}
	account := r.Account
	if account == "" {
		account = r.AccountID
	}
	return liveRow{
		ID: r.ID, Time: r.Time.In(loc).Format("15:04:05"), TimeFull: formatTime(r.Time, loc),
		Key: key, Account: account, Model: r.Model, Status: r.Status, OK: r.Status > 0 && r.Status < 400,
		Tokens:   compact(l.Tag, r.InputTokens+r.OutputTokens+r.CacheCreateTokens+r.CacheReadTokens),
		TokensIn: l.F("live.tokensTitle", groupDigits(r.InputTokens), groupDigits(r.OutputTokens), groupDigits(r.CacheCreateTokens), groupDigits(r.CacheReadTokens)),
		Cost:     formatUSD(r.CostNanos),
		TTFT:     millis(r.TTFT), Duration: millis(r.Duration),
	}
}

// millis writes a duration in whole milliseconds, or seconds with one
// decimal from ten seconds up; "–" when unknown.
func millis(d time.Duration) string {
	switch {
	case d <= 0:
		return "–"
	case d < 10*time.Second:
		return fmt.Sprintf("%d ms", d.Milliseconds())
	}
	return fmt.Sprintf("%.1f s", d.Seconds())
}

// live streams the requests recorded from now on as server-sent events
// ("request", data: a liveRow in JSON), with a comment every 15 s so
// proxies keep the connection open. A browser too slow to take them loses
// some, told by a "gap" event with how many.
func (h *Handler) live(c echo.Context) error {
	ctx, cancel := context.WithCancel(c.Request().Context())
	defer cancel()
	sess := c.Get(ctxSession).(session)
	l := h.locale(c)
	loc := location(c.QueryParam("tz"))
	records := make(chan RequestRecord, liveBuffer)
	var dropped atomic.Int64
	followErr := make(chan error, 1)
	go func() {
		followErr <- h.backend.Follow(ctx, func(r RequestRecord) {
			select {
			case records <- r:
			default:
				dropped.Add(1)
			}
		})
	}()

	w := c.Response()
	w.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
	w.Header().Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, "retry: 3000\n: relay live feed\n\n")
	w.Flush()
	tick := time.NewTicker(h.liveKeepAlive)
	defer tick.Stop()
	var reported int64
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-h.closing:
			return nil
		case err := <-followErr:
			if err != nil && !errors.Is(err, context.Canceled) {
				h.cfg.Logger.Warn().Err(err).Msg("console: live feed ended")
			}
			return nil
		case <-tick.C:
			// A feed lasts only as long as its session: signing out
			// elsewhere or a password change ends it too.
			if ok, err := h.stillValid(ctx, sess); err != nil || !ok {
				fmt.Fprint(w, "event: ended\ndata: session\n\n")
				w.Flush()
				return nil
			}
			fmt.Fprint(w, ": keep-alive\n\n")
		case r := <-records:
			if n := dropped.Load(); n > reported {
				fmt.Fprintf(w, "event: gap\ndata: %d\n\n", n-reported)
				reported = n
			}
			b, err := json.Marshal(newLiveRow(l, r, loc))
			if err != nil {
				return err
			}
			fmt.Fprintf(w, "event: request\nid: %s\ndata: %s\n\n", oneLine(r.ID), b)
		}
		w.Flush()
	}
}

// oneLine keeps a value from ending an SSE field early.
func oneLine(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' || s[i] == '\r' {
			return ""
		}
	}
	return s
}

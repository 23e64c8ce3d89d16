package relay

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"

	"relay/edge/clientreq"
	"relay/edge/fault"
	"relay/edge/httpx"
	"relay/events"
	"relay/projections"
	"relay/store"
)

// exchange is one relayed request, from authentication to its usage event.
type exchange struct {
	s     *Relay
	c     echo.Context
	rt    Route
	key   projections.KeyView
	start time.Time
	id    string

	req  clientreq.Request
	body []byte

	// u is the usage event under construction; published exactly once.
	u         events.Usage
	published bool

	// leased are the accounts that took a lease for this request; current
	// is the one serving it now, read by the lease renewer.
	leased    []string
	current   atomic.Value // string
	keyLeased bool
	stopRenew func()
	released  bool

	firstByte time.Time
}

// Handler returns the handler of a relay route.
func (s *Relay) Handler(rt Route) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		k, err := s.authenticateKey(c, start)
		if err != nil {
			return err
		}
		x := &exchange{s: s, c: c, rt: rt, key: k, start: start, id: httpx.RequestID(c)}
		x.u = events.Usage{ID: x.id, KeyID: k.ID, Platform: rt.platform, Outcome: events.OutcomeOK}
		s.metrics.inFlight.Inc()
		defer s.metrics.inFlight.Dec()
		defer x.finish()
		err = x.run()
		if err != nil {
			x.fail(err)
		}
		return err
	}
}

// fail records an error answer that never reached the client as a stream.
func (x *exchange) fail(err error) {
	var r *refusal
	var e *fault.Error
	switch {
	case errors.As(err, &r):
		x.u.Outcome, x.u.Reason, x.u.Status = events.OutcomeRefused, r.reason, httpx.Status(r.err.Kind)
	case errors.As(err, &e):
		x.u.Status = httpx.Status(e.Kind)
		if x.u.Outcome == events.OutcomeOK {
			x.u.Outcome = events.OutcomeUpstreamError
		}
	default:
		x.u.Status = http.StatusInternalServerError
		x.u.Outcome = events.OutcomeUpstreamError
	}
}

func (x *exchange) run() error {
	s, c := x.s, x.c
	body, err := httpx.ReadBody(c)
	if err != nil {
		switch err {
		case httpx.ErrBodyTooLarge:
			return &refusal{err: httpx.ErrBodyTooLarge, reason: "body_too_large"}
		case httpx.ErrSlowBody:
			return &refusal{err: httpx.ErrSlowBody, reason: "body_timeout"}
		}
		return &refusal{err: httpx.ErrBodyUnreadable, reason: "body_unreadable"}
	}
	x.body = body
	req, err := x.rt.parse(body)
	if err != nil {
		return refuse(fault.Invalid, "invalid_request", err.Error())
	}
	x.req = req
	h := c.Request().Header
	x.u.Model, x.u.Stream = req.Model, req.Stream
	x.u.Client = clientreq.Recognize(h, req)
	x.u.SessionHash = clientreq.SessionHash(x.key.ID, h, req)
	if r := checkPermissions(x.key, x.rt, x.u.Client, req); r != nil {
		return r
	}
	ctx := c.Request().Context()
	if x.key, err = s.activate(ctx, x.key, x.start, x.id); err != nil {
		return err
	}
	if r := s.checkCostLimits(ctx, x.key, req.Model, x.start); r != nil {
		return r
	}
	return x.relayWithFailover(ctx)
}

// relayWithFailover admits the request, then tries accounts until one
// answers or the attempts run out. Failures before the first byte reaches
// the client are invisible to it.
func (x *exchange) relayWithFailover(ctx context.Context) error {
	s := x.s
	tried := map[string]bool{}
	cands, excluded := s.candidates(ctx, x.rt, x.key, x.req.Model, tried, x.start)
	x.u.Excluded = excluded
	adm := store.Admission{
		KeyID: x.key.ID, RequestID: x.id, Now: x.start, LeaseTTL: s.cfg.LeaseTTL,
		ConcurrencyLimit: x.key.ConcurrencyLimit,
		Window:           time.Duration(x.key.RateLimitWindow) * time.Minute, WindowRequests: x.key.RateLimitRequests,
	}
	if adm.Window == 0 || adm.WindowRequests == 0 {
		adm.Window, adm.WindowRequests = 0, 0
	}
	choice := x.choice(cands, x.start)
	var chosen store.Chosen
	var ref *store.Refusal
	var err error
	if len(cands) == 0 {
		ref, err = s.store.Admit(ctx, adm)
		if err == nil && ref == nil {
			err = store.ErrNoAccount
		}
	} else {
		ref, chosen, err = s.store.AdmitAndChoose(ctx, adm, choice)
	}
	if ref != nil {
		return limitRefusal(ref)
	}
	if err == nil || errors.Is(err, store.ErrNoAccount) {
		x.keyLeased = true
		x.startRenewing()
	}
	var lastErr error
	var last *attempt
	for n := 1; ; n++ {
		if errors.Is(err, store.ErrNoAccount) {
			x.exclude(chosen.Busy, projections.ReasonBusy)
			if n > 1 {
				// Earlier attempts failed and no account is left: answer
				// with what the last one got.
				return x.passFailure(last, lastErr)
			}
			x.u.Outcome = events.OutcomeNoAccount
			return fault.New(fault.Overloaded, "no upstream account is available for "+x.req.Model+" right now")
		}
		if err != nil {
			return err
		}
		x.exclude(chosen.Busy, projections.ReasonBusy)
		if x.u.ChosenBy == "" {
			x.u.ChosenBy = chosen.By
			if x.rt.dedicatedAccount(x.key.Key) != "" {
				x.u.ChosenBy = "dedicated"
			}
		}
		x.leased = append(x.leased, chosen.AccountID)
		x.current.Store(chosen.AccountID)
		var a projections.AccountView
		s.catalog.Read(func(cat *projections.Catalog) { a = cat.Accounts[chosen.AccountID] })
		at, sendErr := x.attempt(ctx, a)
		x.u.Attempts = n
		if ctx.Err() != nil {
			if at != nil {
				at.close()
			}
			x.u.Outcome, x.u.Status = events.OutcomeClientClosed, 499
			return nil
		}
		if sendErr == nil && !failsOver(at.resp.StatusCode) {
			if last != nil {
				last.close()
			}
			return x.respond(ctx, at)
		}
		// This account failed before anything reached the client: mark it,
		// let it go, and try the next one.
		status, h, cause := 0, http.Header(nil), errorText(sendErr)
		if at != nil {
			status, h = at.resp.StatusCode, at.resp.Header
			cause = http.StatusText(status)
			at.keepErrorBody()
		}
		x.u.AttemptLog = append(x.u.AttemptLog, events.Attempt{AccountID: a.ID, Status: status, Error: cause})
		s.markAccount(ctx, a, status, h, cause, x.id)
		s.metrics.failovers.WithLabelValues(failoverReason(status)).Inc()
		tried[a.ID] = true
		_ = s.store.Release(context.WithoutCancel(ctx), "", x.id, a.ID)
		if last != nil {
			last.close()
		}
		last, lastErr = at, sendErr
		if n >= s.cfg.MaxRetries {
			return x.passFailure(last, lastErr)
		}
		cands, excluded = s.candidates(ctx, x.rt, x.key, x.req.Model, tried, time.Now())
		x.mergeExcluded(excluded)
		if len(cands) == 0 {
			err = store.ErrNoAccount
			continue
		}
		chosen, err = s.store.Choose(ctx, x.choice(cands, time.Now()))
	}
}

func (x *exchange) choice(cands []store.Candidate, now time.Time) store.Choice {
	c := store.Choice{RequestID: x.id, Now: now, LeaseTTL: x.s.cfg.LeaseTTL, Platform: x.rt.accountPlatform, Candidates: cands}
	if x.u.SessionHash != "" {
		c.StickyKey, c.StickyTTL = store.SessionKey(x.key.ID, x.rt.platform, x.u.SessionHash), x.s.cfg.StickyTTL
	}
	return c
}

// attempt sends the request to account a with the model mapped for it.
func (x *exchange) attempt(ctx context.Context, a projections.AccountView) (*attempt, error) {
	up, _ := a.UpstreamModel(x.req.Model)
	x.u.AccountID, x.u.UpstreamModel = a.ID, up
	body := x.body
	if up != x.req.Model {
		var err error
		if body, err = clientreq.RewriteModel(x.body, up); err != nil {
			return nil, err
		}
	}
	firstByte := x.s.cfg.FirstByteTimeout
	if !x.req.Stream {
		firstByte = x.s.cfg.NonStreamTimeout
	}
	return x.send(ctx, a, body, firstByte)
}

// failsOver reports whether an upstream status means "try another account":
// the account is limited, overloaded, refused or broken, not the request.
func failsOver(status int) bool {
	return status == http.StatusTooManyRequests || status == 529 || status == http.StatusUnauthorized ||
		status == http.StatusForbidden || status >= 500
}

func failoverReason(status int) string {
	switch {
	case status == 0:
		return "connection"
	case status == 529:
		return "overloaded"
	case status == http.StatusTooManyRequests:
		return "rate_limited"
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return "unauthorized"
	}
	return "server_error"
}

func errorText(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, errFirstByteTimeout):
		return "timeout before response headers"
	}
	return "connection failed"
}

func (x *exchange) exclude(ids []string, reason string) {
	for _, id := range ids {
		x.u.Excluded = append(x.u.Excluded, events.Exclusion{AccountID: id, Reason: reason})
	}
}

func (x *exchange) mergeExcluded(more []events.Exclusion) {
	seen := map[string]bool{}
	for _, e := range x.u.Excluded {
		seen[e.AccountID] = true
	}
	for _, e := range more {
		if !seen[e.AccountID] && e.Reason != reasonTried {
			x.u.Excluded = append(x.u.Excluded, e)
		}
	}
}

// limitRefusal turns a store refusal into the client's 429.
func limitRefusal(r *store.Refusal) *refusal {
	msg := "concurrency limit of this API key reached"
	if r.Limit == store.LimitRequests {
		msg = "request rate limit of this API key reached (rateLimitRequests per rateLimitWindow)"
	}
	ref := refuse(fault.RateLimited, r.Limit, msg)
	ref.err.RetryAfter = max(1, int((r.RetryAfter+time.Second-1)/time.Second))
	return ref
}

// startRenewing keeps the key and account leases alive while the request
// runs, so a stream longer than the lease keeps its slots while a crashed
// edge's slots free themselves.
func (x *exchange) startRenewing() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	every := x.s.cfg.LeaseTTL / 3
	go func() {
		defer close(done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-t.C:
				acct, _ := x.current.Load().(string)
				if err := x.s.store.Renew(ctx, x.key.ID, x.id, acct, x.s.cfg.LeaseTTL, now); err != nil && !errors.Is(err, context.Canceled) {
					x.s.log.Debug().Err(err).Str("requestId", x.id).Msg("lease renewal")
				}
			}
		}
	}()
	x.stopRenew = func() { cancel(); <-done }
}

// finish releases every lease and publishes the usage event if the response
// path did not already.
func (x *exchange) finish() {
	x.release()
	if !x.published {
		x.publishUsage()
	}
}

// release gives back the key's and the accounts' leases, once.
func (x *exchange) release() {
	if x.released {
		return
	}
	x.released = true
	if x.stopRenew != nil {
		x.stopRenew()
	}
	if x.keyLeased || len(x.leased) > 0 {
		key := ""
		if x.keyLeased {
			key = x.key.ID
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		if err := x.s.store.Release(ctx, key, x.id, x.leased...); err != nil {
			x.s.log.Warn().Err(err).Str("requestId", x.id).Msg("leases not released; they expire by themselves")
		}
		cancel()
	}
}

// settle records the usage event and gives the leases back at once, when
// the upstream's answer is complete: both must be done before the client
// sees its end (it may send the next request at that moment, and a limit of
// one must admit it), and neither waits for the other.
func (x *exchange) settle() {
	done := make(chan struct{})
	go func() {
		defer close(done)
		x.release()
	}()
	x.publishUsage()
	<-done
}

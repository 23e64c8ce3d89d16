package relay

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"relay/edge/clientreq"
	"relay/edge/fault"
	"relay/edge/httpx"
	"relay/edge/secrets"
	"relay/events"
	"relay/events/streams"
	"relay/projections"
)

// badKey is the one answer for an unknown, disabled, deleted, expired or
// malformed key, so the answer tells an attacker nothing.
var badKey = fault.New(fault.Unauthorized, "invalid API key")

// clientKey returns the API key the client sent, from x-api-key or an
// Authorization bearer token.
func clientKey(c echo.Context) string {
	h := c.Request().Header
	if k := h.Get("x-api-key"); k != "" {
		return strings.TrimSpace(k)
	}
	if k, ok := strings.CutPrefix(h.Get("Authorization"), "Bearer "); ok {
		return strings.TrimSpace(k)
	}
	return ""
}

// authenticateKey finds the key of the request in the catalog. Lookup is by
// the secret's SHA-256, and the stored digest is compared in constant time.
func (s *Relay) authenticateKey(c echo.Context, now time.Time) (projections.KeyView, error) {
	raw := clientKey(c)
	if !secrets.IsAPIKey(raw) {
		return projections.KeyView{}, badKey
	}
	hash := secrets.HashKey(raw)
	var k projections.KeyView
	s.catalog.Read(func(cat *projections.Catalog) { k = cat.Keys[cat.KeyByHash[hash]] })
	if !secrets.Equal(k.KeyHash, hash) || !k.Usable(now) {
		return projections.KeyView{}, badKey
	}
	httpx.SetKeyID(c, k.ID)
	return k, nil
}

// refusal is a request refused after authentication, with the reason
// recorded in its usage event.
type refusal struct {
	err    *fault.Error
	reason string
}

func (r *refusal) Error() string { return r.err.Message }

// Unwrap lets the error handler answer with the refusal's Error.
func (r *refusal) Unwrap() error { return r.err }

func refuse(kind fault.Kind, reason, msg string) *refusal {
	return &refusal{err: fault.New(kind, msg), reason: reason}
}

// checkPermissions applies the key's platform, client and model
// restrictions.
func checkPermissions(k projections.KeyView, rt Route, client string, req clientreq.Request) *refusal {
	if p := k.Permissions; p != "" && p != "all" && p != rt.platform {
		return refuse(fault.Forbidden, "permission", "this API key may not use the "+rt.platform+" API")
	}
	if k.EnableClientRestriction && len(k.AllowedClients) > 0 && !slices.Contains(k.AllowedClients, client) {
		return refuse(fault.Forbidden, "client", "this API key only accepts requests from "+strings.Join(k.AllowedClients, ", "))
	}
	if k.EnableModelRestriction && slices.Contains(k.RestrictedModels, req.Model) {
		return refuse(fault.Forbidden, "model", "this API key may not use model "+req.Model)
	}
	return nil
}

// activate starts an activation-mode key's countdown at its first request.
// The expected last sequence makes the activation an event recorded once,
// even when two edges see the first request at the same moment: the loser
// gets a conflict and uses the winner's activation.
func (s *Relay) activate(ctx context.Context, k projections.KeyView, now time.Time, requestID string) (projections.KeyView, error) {
	if k.ExpirationMode != "activation" || k.IsActivated {
		return k, nil
	}
	unit := 24 * time.Hour
	if k.ActivationUnit == "hours" {
		unit = time.Hour
	}
	data := events.KeyActivatedData{ID: k.ID, ActivatedAt: now.UTC(), ExpiresAt: now.Add(time.Duration(k.ActivationDays) * unit).UTC()}
	env, err := events.New(events.KeyActivated, now, "key:"+k.ID, requestID, data)
	if err != nil {
		return k, err
	}
	seq, err := streams.Publish(ctx, s.js, events.KeySubject(k.ID), env, &k.Seq)
	switch {
	case errors.Is(err, streams.ErrConflict):
		// Another edge activated it (or an admin changed it): take the
		// stream's word for it.
		last, gerr := s.lastSubjectSeq(ctx, events.KeySubject(k.ID))
		if gerr != nil {
			return k, gerr
		}
		seq = last
	case err != nil:
		return k, err
	default:
		s.published(env.Type)
	}
	wctx, cancel := context.WithTimeout(ctx, s.cfg.WriteWait)
	defer cancel()
	if err := s.catalog.WaitConfig(wctx, seq); err != nil {
		return k, err
	}
	var v projections.KeyView
	s.catalog.Read(func(cat *projections.Catalog) { v = cat.Keys[k.ID] })
	return v, nil
}

// lastSubjectSeq returns the sequence of the last message on subject.
func (s *Relay) lastSubjectSeq(ctx context.Context, subject string) (uint64, error) {
	stream, err := s.js.Stream(ctx, events.StreamConfig)
	if err != nil {
		return 0, err
	}
	m, err := stream.GetLastMsgForSubject(ctx, subject)
	if err != nil {
		return 0, err
	}
	return m.Sequence, nil
}

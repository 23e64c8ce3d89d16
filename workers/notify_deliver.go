package workers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"relay/events"
	"relay/events/notify"
	"relay/events/streams"
	"relay/projections"
	"relay/store"
)

// NotifyInFlight is how many notifications may be out for delivery at once
// across every worker.
const NotifyInFlight = 256

// deliverConsumer creates or opens the delivery consumer and brings its
// AckWait to the configured one.
func (n *Notifier) deliverConsumer(ctx context.Context) (jetstream.Consumer, error) {
	s, err := n.js.Stream(ctx, events.StreamNotify)
	if err != nil {
		return nil, fmt.Errorf("notifier: stream %s: %w", events.StreamNotify, err)
	}
	cfg := jetstream.ConsumerConfig{
		Durable:       NotifyDeliverDurable,
		Description:   "relay notification deliveries",
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       n.cfg.AckWait,
		MaxAckPending: NotifyInFlight,
		MaxDeliver:    -1,
		DeliverPolicy: jetstream.DeliverAllPolicy,
	}
	c, err := s.CreateOrUpdateConsumer(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("notifier: consumer %s: %w", NotifyDeliverDurable, err)
	}
	return c, nil
}

// runDeliveries delivers queued notifications until ctx ends.
func (n *Notifier) runDeliveries(ctx context.Context) error {
	cons, err := n.deliverConsumer(ctx)
	if err != nil {
		return err
	}
	n.consumerUp()
	slots := make(chan struct{}, n.cfg.Parallel)
	cc, err := cons.Consume(func(m jetstream.Msg) {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return // not acknowledged: delivered again after AckWait
		}
		go func() {
			defer func() { <-slots }()
			n.deliver(ctx, m)
		}()
	}, jetstream.PullMaxMessages(n.cfg.Parallel), jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
		if !errors.Is(err, jetstream.ErrNoHeartbeat) {
			n.log.Debug().Err(err).Msg("notifier deliveries consume")
		}
	}))
	if err != nil {
		return err
	}
	<-ctx.Done()
	cc.Stop()
	<-cc.Closed()
	for range cap(slots) { // wait for the handlers in flight
		slots <- struct{}{}
	}
	return nil
}

// deliver makes one attempt at the notification in m: acknowledged once
// sent (or skipped, or given up on), else negatively acknowledged with the
// backoff, to be attempted again by any worker with the same id.
func (n *Notifier) deliver(ctx context.Context, m jetstream.Msg) {
	env, err := streams.FromMsg(m)
	var note *events.Notification
	if err == nil {
		var v any
		if v, err = events.Decode(env); err == nil {
			var ok bool
			if note, ok = v.(*events.Notification); !ok {
				err = fmt.Errorf("%s is not a notification", env.Type)
			}
		}
	}
	if err != nil {
		n.log.Error().Err(err).Msg("undeliverable message on NOTIFY: dropped")
		_ = m.TermWithReason(err.Error())
		return
	}
	attempt, queued := 1, env.Time
	if meta, err := m.Metadata(); err == nil {
		attempt = int(meta.NumDelivered)
		queued = meta.Timestamp
	}
	rec := store.DeliveryRecord{ID: note.ID, Type: note.Type, Time: n.cfg.Now().UTC(), Attempt: attempt}
	ch, err := n.st.Channel(ctx, note.ChannelID)
	switch {
	case errors.Is(err, store.ErrNotFound) || (err == nil && ch.IsDeleted):
		n.m.deliveries.WithLabelValues("unknown", store.DeliverySkipped).Inc()
		_ = m.Ack() // the channel is gone: nothing to record it on
		return
	case err != nil:
		n.log.Warn().Err(err).Msg("channel unreadable; delivery retried")
		_ = m.NakWithDelay(time.Second)
		return
	}
	if skip := skipReason(ch, note.Type); skip != "" {
		rec.Outcome, rec.Error = store.DeliverySkipped, skip
		n.finish(ctx, m, ch, rec, true)
		return
	}
	start := time.Now()
	status, sendErr := n.send(ctx, ch, *note)
	rec.StatusCode, rec.DurationMs = status, time.Since(start).Milliseconds()
	if sendErr != nil && ctx.Err() != nil {
		// This worker is stopping: the attempt was cut short, not failed.
		_ = m.Nak()
		return
	}
	if sendErr == nil {
		rec.Outcome = store.DeliveryDelivered
		n.finish(ctx, m, ch, rec, true)
		return
	}
	rec.Error = sendErr.Error()
	var perm permanentError
	delay := n.backoff(attempt, sendErr)
	if errors.As(sendErr, &perm) || n.cfg.Now().Add(delay).Sub(queued) > n.cfg.GiveUpAfter {
		rec.Outcome = store.DeliveryFailed
		n.finish(ctx, m, ch, rec, true)
		n.log.Warn().Str("channel", ch.ID).Str("delivery", note.ID).Int("attempt", attempt).Str("error", rec.Error).Msg("notification failed for good")
		return
	}
	rec.Outcome = store.DeliveryRetrying
	n.finish(ctx, m, ch, rec, false)
	_ = m.NakWithDelay(delay)
}

// skipReason tells why a notification is not sent to ch ("" to send):
// disabled or no longer subscribed (a test is sent to any channel).
func skipReason(ch projections.ChannelView, typ string) string {
	if typ == events.NotifyTest {
		return ""
	}
	if !ch.Enabled {
		return "channel disabled"
	}
	if !ch.Wants(typ) {
		return "channel no longer subscribes to " + typ
	}
	return ""
}

// finish records the attempt and, when done, acknowledges the message.
func (n *Notifier) finish(ctx context.Context, m jetstream.Msg, ch projections.ChannelView, rec store.DeliveryRecord, done bool) {
	n.m.deliveries.WithLabelValues(ch.Type, rec.Outcome).Inc()
	if err := n.st.RecordDelivery(ctx, ch.ID, rec); err != nil {
		n.log.Warn().Err(err).Msg("delivery not recorded")
	}
	if done {
		if err := m.DoubleAck(ctx); err != nil {
			n.log.Debug().Err(err).Msg("delivery ack")
		}
	}
}

// send makes one HTTP attempt. A permanentError is a delivery that no retry
// can help (the channel's URL or secret cannot be opened, a URL the rules
// refuse).
func (n *Notifier) send(ctx context.Context, ch projections.ChannelView, note events.Notification) (int, error) {
	rawURL, err := n.open.Open(ch.URLSealed)
	if err != nil {
		return 0, Permanent(errors.New("channel URL cannot be opened (ENCRYPTION_KEY changed?)"))
	}
	secret := ""
	if ch.SecretSealed != "" {
		if secret, err = n.open.Open(ch.SecretSealed); err != nil {
			return 0, Permanent(errors.New("channel secret cannot be opened (ENCRYPTION_KEY changed?)"))
		}
	}
	out, err := render(ch.Type, rawURL, secret, note, n.cfg.Now())
	if err != nil {
		return 0, Permanent(err)
	}
	ctx, cancel := context.WithTimeout(ctx, n.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, out.URL, bytes.NewReader(out.Body))
	if err != nil {
		return 0, Permanent(errors.New("channel URL is not a valid request URL"))
	}
	req.Header = out.Header
	resp, err := n.client.Do(req)
	if errors.Is(err, notify.ErrPrivateAddress) {
		// The rule will not change by retrying: recorded failed at once.
		return 0, Permanent(errors.New(safeError(err)))
	}
	if err != nil {
		return 0, errors.New(safeError(err))
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	if err := out.accepted(resp.StatusCode, body); err != nil {
		return resp.StatusCode, retryAfterError{err: err, after: retryAfter(resp)}
	}
	return resp.StatusCode, nil
}

// retryAfterError carries a receiver's Retry-After.
type retryAfterError struct {
	err   error
	after time.Duration
}

func (e retryAfterError) Error() string { return e.err.Error() }
func (e retryAfterError) Unwrap() error { return e.err }

func retryAfter(resp *http.Response) time.Duration {
	if resp.StatusCode != http.StatusTooManyRequests && resp.StatusCode != http.StatusServiceUnavailable {
		return 0
	}
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
		return min(time.Duration(s)*time.Second, time.Hour)
	}
	return 0
}

// backoff is the wait before attempt+1: RetryBase * 2^(attempt-1) capped at
// RetryMax, taken at random from its upper half (jitter spreads retries of
// many notifications to one receiver), and at least a receiver's
// Retry-After.
func (n *Notifier) backoff(attempt int, err error) time.Duration {
	d := n.cfg.RetryBase
	for i := 1; i < attempt && d < n.cfg.RetryMax; i++ {
		d *= 2
	}
	d = min(d, n.cfg.RetryMax)
	d = d/2 + rand.N(d/2+1)
	var ra retryAfterError
	if errors.As(err, &ra) && ra.after > d {
		d = ra.after
	}
	return d
}

func jsonRaw(v any) (json.RawMessage, error) {
	b, err := json.Marshal(v)
	return b, err
}

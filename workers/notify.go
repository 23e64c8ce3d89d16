package workers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"relay/events"
	"relay/events/streams"
	"relay/projections"
	"relay/store"
)

// Opener opens a sealed channel URL or secret (edge/secrets.Box does; the
// notifier needs ENCRYPTION_KEY like the edge).
type Opener interface {
	Open(sealed string) (string, error)
}

// NotifyConfig configures the notifier. Start from NotifyDefaults.
type NotifyConfig struct {
	// AllowPrivate lets deliveries reach loopback, link-local and private
	// addresses (NOTIFY_ALLOW_PRIVATE).
	AllowPrivate bool
	// Timeout bounds one delivery attempt, connection to answer.
	Timeout time.Duration
	// AckWait is how long a delivery may go unacknowledged before another
	// worker takes it over (a worker that died mid-delivery); more than
	// Timeout.
	AckWait time.Duration
	// RetryBase and RetryMax shape the backoff between attempts: about
	// RetryBase * 2^(attempt-1), at most RetryMax, with full jitter over
	// its upper half. GiveUpAfter is how long after it was queued a
	// notification is recorded failed.
	RetryBase, RetryMax, GiveUpAfter time.Duration
	// Parallel is how many deliveries one process makes at once.
	Parallel int
	// Location is the time zone of days and weeks (TZ), as the usage
	// projection's.
	Location *time.Location
	// ExpiringAhead is how long before a key's expiry key.expiring is
	// sent; ExpiringEvery how often the check runs (once across workers).
	ExpiringAhead, ExpiringEvery time.Duration
	// RecoveryEvery is how often accounts whose state ended by itself are
	// told recovered (once across workers).
	RecoveryEvery time.Duration
	// UsageWait bounds how long a usage trigger waits for the usage
	// projection to count its event.
	UsageWait time.Duration
	// Now is the clock (tests); nil means time.Now.
	Now func() time.Time
}

// NotifyDefaults returns the documented defaults.
func NotifyDefaults() NotifyConfig {
	return NotifyConfig{
		Timeout:       10 * time.Second,
		AckWait:       30 * time.Second,
		RetryBase:     5 * time.Second,
		RetryMax:      30 * time.Minute,
		GiveUpAfter:   24 * time.Hour,
		Parallel:      16,
		Location:      time.UTC,
		ExpiringAhead: 72 * time.Hour,
		ExpiringEvery: time.Hour,
		RecoveryEvery: 15 * time.Second,
		UsageWait:     10 * time.Second,
	}
}

// Durable consumers of the notifier.
const (
	NotifyDeliverDurable = "notify_deliver"
	NotifyStateDurable   = "notify_state"
	NotifyUsageDurable   = "notify_usage"
)

// Notifier turns facts of the streams into notifications and delivers them
// to the channels that subscribe to them. Triggers (STATE and USAGE
// consumers, the periodic key.expiring check) queue one NotificationQueued
// per channel on NOTIFY, its id derived from the fact and the channel, so a
// trigger that runs twice queues it once; the delivery consumer sends each
// with the same X-Relay-Delivery id on every attempt and acknowledges it
// only once sent or given up on. Every worker process runs one; they share
// the durable consumers.
type Notifier struct {
	js     jetstream.JetStream
	st     *store.Store
	open   Opener
	log    zerolog.Logger
	cfg    NotifyConfig
	client *http.Client
	m      *notifyMetrics

	chMu    sync.Mutex
	chCache []projections.ChannelView
	chAt    time.Time

	owner string // this process, in leases

	// usageSeen is the highest usage checkpoint this notifier has read.
	usageSeen atomic.Uint64
	// started counts the consumers created; ready is closed when all are.
	started atomic.Int32
	ready   chan struct{}
}

// notifyConsumers is how many durable consumers Run creates.
const notifyConsumers = 3

// consumerUp notes one consumer created.
func (n *Notifier) consumerUp() {
	if n.started.Add(1) == notifyConsumers {
		close(n.ready)
	}
}

// Ready is closed once every consumer of the notifier exists: facts
// published after it are notified of.
func (n *Notifier) Ready() <-chan struct{} { return n.ready }

// NewNotifier returns a notifier; its metrics are registered on reg (nil:
// not registered).
func NewNotifier(js jetstream.JetStream, st *store.Store, open Opener, log zerolog.Logger, reg prometheus.Registerer, cfg NotifyConfig) *Notifier {
	d := NotifyDefaults()
	if cfg.Timeout <= 0 {
		cfg.Timeout = d.Timeout
	}
	if cfg.AckWait <= cfg.Timeout {
		cfg.AckWait = cfg.Timeout + 5*time.Second
	}
	if cfg.RetryBase <= 0 {
		cfg.RetryBase = d.RetryBase
	}
	if cfg.RetryMax < cfg.RetryBase {
		cfg.RetryMax = max(d.RetryMax, cfg.RetryBase)
	}
	if cfg.GiveUpAfter <= 0 {
		cfg.GiveUpAfter = d.GiveUpAfter
	}
	if cfg.Parallel <= 0 {
		cfg.Parallel = d.Parallel
	}
	if cfg.Location == nil {
		cfg.Location = time.UTC
	}
	if cfg.ExpiringAhead <= 0 {
		cfg.ExpiringAhead = d.ExpiringAhead
	}
	if cfg.ExpiringEvery <= 0 {
		cfg.ExpiringEvery = d.ExpiringEvery
	}
	if cfg.RecoveryEvery <= 0 {
		cfg.RecoveryEvery = d.RecoveryEvery
	}
	if cfg.UsageWait <= 0 {
		cfg.UsageWait = d.UsageWait
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Notifier{
		js: js, st: st, open: open, cfg: cfg,
		log:    log.With().Str("worker", "notifier").Logger(),
		client: newNotifyClient(cfg.Timeout, cfg.AllowPrivate),
		m:      newNotifyMetrics(reg),
		owner:  events.NewID(time.Now()),
		ready:  make(chan struct{}),
	}
}

// Run runs the triggers and the deliveries until ctx ends.
func (n *Notifier) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]error, 6)
	run := func(i int, f func(context.Context) error) {
		wg.Go(func() {
			if errs[i] = f(ctx); errs[i] != nil && ctx.Err() == nil {
				n.log.Error().Err(errs[i]).Msg("notifier part stopped")
				cancel()
			}
		})
	}
	run(0, n.runDeliveries)
	run(1, func(ctx context.Context) error {
		return n.runTrigger(ctx, events.StreamState, NotifyStateDurable, 1, n.onState)
	})
	run(2, func(ctx context.Context) error {
		return n.runTrigger(ctx, events.StreamUsage, NotifyUsageDurable, 256, n.onUsage)
	})
	run(3, n.runPeriodic)
	run(4, n.runQueueDepth)
	run(5, n.runRecoveries)
	wg.Wait()
	if ctx.Err() != nil {
		return nil
	}
	return errors.Join(errs...)
}

// runTrigger consumes stream with durable, applying handle to each event
// (at most inFlight at once across workers). A fresh consumer starts at
// the stream's end: the notifier tells of facts from its first start on,
// not of a history replayed.
func (n *Notifier) runTrigger(ctx context.Context, stream, durable string, inFlight int, handle func(context.Context, events.Envelope) error) error {
	s, err := n.js.Stream(ctx, stream)
	if err != nil {
		return fmt.Errorf("notifier: stream %s: %w", stream, err)
	}
	cons, err := s.Consumer(ctx, durable)
	if errors.Is(err, jetstream.ErrConsumerNotFound) {
		cons, err = s.CreateConsumer(ctx, jetstream.ConsumerConfig{
			Durable:       durable,
			Description:   "relay notifier trigger",
			AckPolicy:     jetstream.AckExplicitPolicy,
			AckWait:       n.cfg.AckWait,
			MaxAckPending: inFlight,
			MaxDeliver:    -1,
			DeliverPolicy: jetstream.DeliverNewPolicy,
		})
		if errors.Is(err, jetstream.ErrConsumerExists) {
			cons, err = s.Consumer(ctx, durable)
		}
	}
	if err != nil {
		return fmt.Errorf("notifier: consumer %s: %w", durable, err)
	}
	n.consumerUp()
	slots := make(chan struct{}, min(inFlight, maxParallelApply))
	cc, err := cons.Consume(func(m jetstream.Msg) {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return // not acknowledged: delivered again after AckWait
		}
		go func() {
			defer func() { <-slots }()
			env, err := streams.FromMsg(m)
			if err == nil {
				err = handle(ctx, env)
			}
			switch {
			case err == nil:
				_ = m.Ack()
			case IsPermanent(err):
				n.log.Warn().Err(err).Str("durable", durable).Msg("event cannot trigger notifications: skipped")
				_ = m.TermWithReason(err.Error())
			default:
				n.log.Warn().Err(err).Str("durable", durable).Msg("trigger failed; retrying")
				_ = m.NakWithDelay(time.Second)
			}
		}()
	}, jetstream.PullMaxMessages(max(inFlight/4, 16)), jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
		if !errors.Is(err, jetstream.ErrNoHeartbeat) {
			n.log.Debug().Err(err).Msg("notifier consume")
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

// channels returns the live channels, read at most once a second.
func (n *Notifier) channels(ctx context.Context) ([]projections.ChannelView, error) {
	n.chMu.Lock()
	defer n.chMu.Unlock()
	if n.chCache != nil && time.Since(n.chAt) < time.Second {
		return n.chCache, nil
	}
	cs, err := n.st.LiveChannels(ctx)
	if err != nil {
		return nil, err
	}
	n.chCache, n.chAt = cs, time.Now()
	if n.chCache == nil {
		n.chCache = []projections.ChannelView{}
	}
	return n.chCache, nil
}

// subscribers returns the enabled channels that want notification type typ.
func (n *Notifier) subscribers(ctx context.Context, typ string) ([]projections.ChannelView, error) {
	cs, err := n.channels(ctx)
	if err != nil {
		return nil, err
	}
	var out []projections.ChannelView
	for _, c := range cs {
		if c.Enabled && c.Wants(typ) {
			out = append(out, c)
		}
	}
	return out, nil
}

// deliveryID is the id of the notification of fact (a source event id, or a
// name of a once-only fact) to channel: the same whoever computes it.
func deliveryID(fact, channelID, typ string) string {
	h := sha256.Sum256([]byte(fact + "\x00" + channelID + "\x00" + typ))
	return hex.EncodeToString(h[:16])
}

// fact is a notification to queue for every subscribed channel.
type fact struct {
	source    string // the id that makes it unique (an event id, a claim)
	typ       string
	subject   string // what it is about, for the cooldown
	coolType  string // the cooldown's type: typ, refined for key limits
	time      time.Time
	data      any
	noCooling bool
}

// queue queues f for each channel that subscribes to its type, under each
// channel's cooldown: the first notification of a channel, subject and
// type claims the cooldown with its delivery id; a later one is dropped
// while the claim lasts. A retried trigger holds the claim with the same
// id, so it queues again (and NOTIFY drops the duplicate by its id).
func (n *Notifier) queue(ctx context.Context, f fact) error {
	subs, err := n.subscribers(ctx, f.typ)
	if err != nil || len(subs) == 0 {
		return err
	}
	data, err := jsonRaw(f.data)
	if err != nil {
		return Permanent(err)
	}
	if f.coolType == "" {
		f.coolType = f.typ
	}
	for _, c := range subs {
		id := deliveryID(f.source, c.ID, f.coolType)
		if !f.noCooling {
			ok, err := n.st.Claim(ctx, store.ClaimName("cool", c.ID, f.subject, f.coolType), id, c.Cooldown())
			if err != nil {
				return err
			}
			if !ok {
				n.m.triggered.WithLabelValues(f.typ, "cooldown").Inc()
				continue
			}
		}
		note := events.Notification{ID: id, ChannelID: c.ID, Type: f.typ, Subject: f.subject, Time: f.time.UTC(), Data: data}
		env, err := events.NewWithID(id, events.NotificationQueued, n.cfg.Now(), "notifier", "", note)
		if err != nil {
			return Permanent(err)
		}
		if _, err := streams.Publish(ctx, n.js, events.NotifySubject(c.ID), env, nil); err != nil {
			return err
		}
		n.m.triggered.WithLabelValues(f.typ, "queued").Inc()
	}
	return nil
}

// runQueueDepth keeps the queue depth gauge current.
func (n *Notifier) runQueueDepth(ctx context.Context) error {
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		if s, err := n.js.Stream(ctx, events.StreamNotify); err == nil {
			if info, err := s.Info(ctx); err == nil {
				n.m.depth.Store(int64(info.State.Msgs))
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

type notifyMetrics struct {
	deliveries *prometheus.CounterVec // channel_type, outcome
	triggered  *prometheus.CounterVec // type, outcome
	depth      atomic.Int64
}

func newNotifyMetrics(reg prometheus.Registerer) *notifyMetrics {
	m := &notifyMetrics{
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "relay_notify_deliveries_total", Help: "Notification delivery attempts, by channel type and outcome (delivered, retrying, failed, skipped).",
		}, []string{"channel_type", "outcome"}),
		triggered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "relay_notify_triggered_total", Help: "Notifications triggered per channel, by type and outcome (queued, cooldown).",
		}, []string{"type", "outcome"}),
	}
	if reg != nil {
		reg.MustRegister(m.deliveries, m.triggered, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "relay_notify_queue_depth", Help: "Notifications waiting for delivery (NOTIFY stream), read every 5 s.",
		}, func() float64 { return float64(m.depth.Load()) }))
	}
	return m
}

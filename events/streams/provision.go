package streams

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"relay/events"
)

// Options shape the streams. The zero value is not valid; start from Defaults.
type Options struct {
	// Replicas is the stream replica count: 3 on a 3-node cluster, else 1.
	// 0 (AutoReplicas) lets Provision choose: 1 on a server that is not in
	// a cluster, else as many as the cluster can place, up to 3.
	Replicas int
	// UsageMaxAge is how long USAGE keeps events (USAGE_RETENTION).
	UsageMaxAge time.Duration
	// StateMaxAge is how long STATE keeps account health events.
	StateMaxAge time.Duration
	// DuplicateWindow is how long the server remembers message ids to drop
	// duplicate publishes; spooled usage events are republished within it.
	DuplicateWindow time.Duration
	// StepDown lets AutoReplicas create a stream with fewer replicas than
	// MaxAutoReplicas when the cluster cannot place that many. Without it
	// such a creation fails, to be retried: a young cluster whose peers
	// have not all joined yet must not get single-replica streams for
	// good. relay sets it once retrying has not helped for a while.
	StepDown bool
	// UsageMaxBytes, StateMaxBytes and ConfigMaxBytes cap each stream's
	// size in bytes (USAGE_MAX_BYTES, STATE_MAX_BYTES, CONFIG_MAX_BYTES);
	// 0 means no cap of its own. At its cap USAGE and STATE drop their
	// oldest events; CONFIG, the source of truth, refuses new ones (an
	// admin write fails) rather than lose a key or an account. JetStream
	// reserves each cap from its store (max_file_store; embedded: 75% of
	// the disk free at start), and a cap that does not fit makes
	// provisioning fail with "insufficient storage resources": so no cap
	// is the default.
	UsageMaxBytes  int64
	StateMaxBytes  int64
	ConfigMaxBytes int64
	// NotifyMaxAge and NotifyMaxBytes bound NOTIFY, the work queue of
	// notifications waiting for delivery. A notification is retried for
	// 24 hours, so the age bound only drops what no worker ran to give up
	// on; at the byte bound new notifications are refused (the trigger
	// that queues them retries) rather than old ones dropped.
	NotifyMaxAge   time.Duration
	NotifyMaxBytes int64
}

// AutoReplicas asks Provision to give each stream as many replicas as the
// cluster can place, up to MaxAutoReplicas.
const AutoReplicas = 0

// MaxAutoReplicas is the most replicas AutoReplicas gives a stream: an
// acknowledged event is then on 2 nodes and survives the loss of any one.
const MaxAutoReplicas = 3

// Defaults returns the documented defaults.
func Defaults() Options {
	return Options{
		Replicas:        1,
		UsageMaxAge:     400 * 24 * time.Hour,
		StateMaxAge:     30 * 24 * time.Hour,
		DuplicateWindow: 10 * time.Minute,
		NotifyMaxAge:    25 * time.Hour,
		NotifyMaxBytes:  64 << 20,
	}
}

// Configs returns the stream configurations for o.
func (o Options) Configs() []jetstream.StreamConfig {
	base := func(name, subjects, desc string) jetstream.StreamConfig {
		return jetstream.StreamConfig{
			Name:        name,
			Description: desc,
			Subjects:    []string{subjects},
			Retention:   jetstream.LimitsPolicy,
			Storage:     jetstream.FileStorage,
			Replicas:    o.Replicas,
			Duplicates:  o.DuplicateWindow,
			Discard:     jetstream.DiscardOld,
			// Sequences are the projections' checkpoints: they must never
			// be reset by a purge that an operator did not mean.
			DenyPurge:         false,
			AllowDirect:       true,
			AllowRollup:       false,
			DenyDelete:        true,
			MaxMsgsPerSubject: -1,
		}
	}
	config := base(events.StreamConfig, events.ConfigSubjects, "relay configuration: keys, accounts, admins (source of truth, kept forever)")
	config.MaxBytes = maxBytes(o.ConfigMaxBytes)
	// At its cap CONFIG refuses new events: dropping old ones would lose
	// keys and accounts.
	config.Discard = jetstream.DiscardNew
	usage := base(events.StreamUsage, events.UsageSubjects, "relay usage: one event per relayed request, counts of refused ones")
	usage.MaxAge = o.UsageMaxAge
	usage.MaxBytes = maxBytes(o.UsageMaxBytes)
	// Usage events from concurrent requests are stored in atomic batches,
	// one fsync for many (GroupPublisher).
	usage.AllowAtomicPublish = true
	state := base(events.StreamState, events.StateSubjects, "relay account health")
	state.MaxAge = o.StateMaxAge
	state.MaxBytes = maxBytes(o.StateMaxBytes)
	notify := base(events.StreamNotify, events.NotifySubjects, "relay notifications waiting for delivery (work queue)")
	notify.Retention = jetstream.WorkQueuePolicy
	notify.MaxAge = o.NotifyMaxAge
	notify.MaxBytes = maxBytes(o.NotifyMaxBytes)
	notify.Discard = jetstream.DiscardNew
	return []jetstream.StreamConfig{config, usage, state, notify}
}

// maxBytes is a stream's MaxBytes for a cap: -1 (none) for 0.
func maxBytes(n int64) int64 {
	if n <= 0 {
		return -1
	}
	return n
}

// Provision creates the streams or brings them to o. It is idempotent and runs
// at every start of every process; a stream already as o wants it is left
// alone, so starting processes do not rewrite stream configurations under
// running consumers.
func Provision(ctx context.Context, js jetstream.JetStream, o Options) error {
	_, err := ProvisionPlaced(ctx, js, o)
	return err
}

// Placement is what provisioning learned about replicas.
type Placement struct {
	// Clustered: the server is part of a JetStream cluster.
	Clustered bool
	// Want is the replica count each stream should have: o.Replicas, or
	// with AutoReplicas the most the cluster showed it can hold (a
	// placement refused because a known peer is offline still counts
	// that peer).
	Want int
	// Got is each stream's replica count after provisioning.
	Got map[string]int
}

// ProvisionPlaced is Provision, reporting the replicas. With AutoReplicas
// on a cluster it asks for MaxAutoReplicas: an existing stream the cluster
// cannot scale up stays as it is; a new one fails (to be retried) unless
// o.StepDown, which steps down to what the cluster can place (a 2-node
// cluster, or a node offline at the first start: a later start scales the
// stream up). It never lowers the replicas of an existing stream by itself.
func ProvisionPlaced(ctx context.Context, js jetstream.JetStream, o Options) (Placement, error) {
	p := Placement{Clustered: js.Conn().ConnectedClusterName() != "", Want: o.Replicas, Got: map[string]int{}}
	auto := o.Replicas == AutoReplicas
	if auto {
		p.Want = 1
	}
	for _, cfg := range o.Configs() {
		s, err := js.Stream(ctx, cfg.Name)
		var have *jetstream.StreamConfig
		if err == nil {
			c := s.CachedInfo().Config
			have = &c
		}
		tries := []int{cfg.Replicas}
		if auto {
			tries = []int{1}
			if p.Clustered {
				tries = []int{MaxAutoReplicas, 2, 1}
			}
		}
		var last error
		for _, r := range tries {
			if auto && have != nil && r < have.Replicas {
				r = have.Replicas // never scale an existing stream down by itself
			}
			want := cfg
			want.Replicas = r
			if have != nil && upToDate(*have, want) {
				last = nil
				p.Got[cfg.Name] = r
				break
			}
			_, last = js.CreateOrUpdateStream(ctx, want)
			if last == nil {
				p.Got[cfg.Name] = r
				break
			}
			if !auto || !placementRefused(last) {
				break
			}
			if strings.Contains(last.Error(), "peer offline") {
				p.Want = max(p.Want, r) // the cluster has the peers, one is down
			}
			if have != nil && r > have.Replicas {
				// Scaling up is best effort: the stream works as it is.
				want.Replicas = have.Replicas
				if upToDate(*have, want) {
					last = nil
				} else {
					_, last = js.CreateOrUpdateStream(ctx, want)
				}
				if last == nil {
					p.Got[cfg.Name] = have.Replicas
				}
				break
			}
			if have == nil && !o.StepDown {
				break // retried by the caller until the cluster can place it
			}
		}
		if last != nil {
			return p, fmt.Errorf("provision stream %s: %w", cfg.Name, last)
		}
		if auto {
			p.Want = max(p.Want, p.Got[cfg.Name])
		}
	}
	return p, nil
}

// placementRefused reports whether err says the cluster cannot place the
// replicas asked for (too few peers, or not clustered at all).
func placementRefused(err error) bool {
	var api *jetstream.APIError
	if !errors.As(err, &api) {
		return false
	}
	switch api.ErrorCode {
	case 10005, // JSClusterNoPeersErrF: no suitable peers for placement
		10023, // JSInsufficientResourcesErr
		10074: // JSStreamReplicasNotSupportedErr: not clustered
		return true
	}
	return false
}

// upToDate reports whether the stream configuration have already holds every
// setting of want. The server fills in what want leaves zero, so each of
// want's settings is compared, not the whole configuration.
func upToDate(have, want jetstream.StreamConfig) bool {
	merged := have
	merged.Name = want.Name
	merged.Description = want.Description
	merged.Subjects = want.Subjects
	merged.Retention = want.Retention
	merged.Storage = want.Storage
	merged.Replicas = want.Replicas
	merged.Duplicates = want.Duplicates
	merged.Discard = want.Discard
	merged.DenyPurge = want.DenyPurge
	merged.AllowDirect = want.AllowDirect
	merged.AllowRollup = want.AllowRollup
	merged.DenyDelete = want.DenyDelete
	merged.MaxMsgsPerSubject = want.MaxMsgsPerSubject
	merged.MaxAge = want.MaxAge
	merged.AllowAtomicPublish = want.AllowAtomicPublish
	merged.MaxBytes = want.MaxBytes
	return reflect.DeepEqual(merged, have)
}

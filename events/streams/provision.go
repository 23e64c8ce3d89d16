package streams

import (
	"context"
	"fmt"
	"reflect"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"relay/events"
)

// Options shape the streams. The zero value is not valid; start from Defaults.
type Options struct {
	// Replicas is the stream replica count: 3 on a 3-node cluster, else 1.
	Replicas int
	// UsageMaxAge is how long USAGE keeps events (USAGE_RETENTION).
	UsageMaxAge time.Duration
	// StateMaxAge is how long STATE keeps account health events.
	StateMaxAge time.Duration
	// DuplicateWindow is how long the server remembers message ids to drop
	// duplicate publishes; spooled usage events are republished within it.
	DuplicateWindow time.Duration
}

// Defaults returns the documented defaults.
func Defaults() Options {
	return Options{
		Replicas:        1,
		UsageMaxAge:     400 * 24 * time.Hour,
		StateMaxAge:     30 * 24 * time.Hour,
		DuplicateWindow: 10 * time.Minute,
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
	usage := base(events.StreamUsage, events.UsageSubjects, "relay usage: one event per relayed or refused request")
	usage.MaxAge = o.UsageMaxAge
	// Usage events from concurrent requests are stored in atomic batches,
	// one fsync for many (GroupPublisher).
	usage.AllowAtomicPublish = true
	state := base(events.StreamState, events.StateSubjects, "relay account health")
	state.MaxAge = o.StateMaxAge
	return []jetstream.StreamConfig{config, usage, state}
}

// Provision creates the streams or brings them to o. It is idempotent and runs
// at every start of every process; a stream already as o wants it is left
// alone, so starting processes do not rewrite stream configurations under
// running consumers.
func Provision(ctx context.Context, js jetstream.JetStream, o Options) error {
	for _, cfg := range o.Configs() {
		if s, err := js.Stream(ctx, cfg.Name); err == nil && upToDate(s.CachedInfo().Config, cfg) {
			continue
		}
		if _, err := js.CreateOrUpdateStream(ctx, cfg); err != nil {
			return fmt.Errorf("provision stream %s: %w", cfg.Name, err)
		}
	}
	return nil
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
	return reflect.DeepEqual(merged, have)
}

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
	return []jetstream.StreamConfig{config, usage, state}
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
	merged.MaxBytes = want.MaxBytes
	return reflect.DeepEqual(merged, have)
}

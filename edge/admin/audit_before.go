package admin

import (
	"cmp"
	"context"
	"encoding/json"
	"slices"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"relay/events"
	"relay/events/streams"
	"relay/projections"
)

// AuditBefore returns, for each update of a key or an account among
// entries, the values the fields it changed had just before it (by the
// entry's Seq, then field name, as JSON without secrets). The entity is
// folded from its own events on CONFIG (projections.ApplyKey and
// ApplyAccount, the read model's rules) up to the event before: one pass
// per entity of the page.
func (s *Service) AuditBefore(ctx context.Context, entries []AuditEntry) (map[uint64]map[string]json.RawMessage, error) {
	wanted := map[string][]AuditEntry{} // subject -> updates, oldest first
	for _, e := range entries {
		switch {
		case e.Type == events.KeyUpdated && e.EntityKind == events.EntityKey:
			wanted[events.KeySubject(e.EntityID)] = append(wanted[events.KeySubject(e.EntityID)], e)
		case e.Type == events.AccountUpdated && e.EntityKind == events.EntityAccount:
			wanted[events.AccountSubject(e.EntityID)] = append(wanted[events.AccountSubject(e.EntityID)], e)
		}
	}
	out := map[uint64]map[string]json.RawMessage{}
	for subject, ups := range wanted {
		slices.SortFunc(ups, func(a, b AuditEntry) int { return cmp.Compare(a.Seq, b.Seq) })
		if err := s.foldBefore(ctx, subject, ups, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// foldBefore folds the events of subject, snapshotting the entity before
// each of ups.
func (s *Service) foldBefore(ctx context.Context, subject string, ups []AuditEntry, out map[uint64]map[string]json.RawMessage) error {
	cons, err := s.js.OrderedConsumer(ctx, events.StreamConfig, jetstream.OrderedConsumerConfig{FilterSubjects: []string{subject}})
	if err != nil {
		return err
	}
	isKey := strings.HasPrefix(subject, events.KeySubject(""))
	var key projections.KeyView
	var account projections.AccountView
	next := 0
	snapshot := func() error {
		var doc any = key.Key
		if !isKey {
			doc = account.Account
		}
		raw, err := json.Marshal(doc)
		if err != nil {
			return err
		}
		var all map[string]json.RawMessage
		if err := json.Unmarshal(redactSecrets(raw), &all); err != nil {
			return err
		}
		var changed struct {
			Changes map[string]json.RawMessage `json:"changes"`
		}
		_ = json.Unmarshal(ups[next].Data, &changed)
		before := map[string]json.RawMessage{}
		for f := range changed.Changes {
			if v, ok := all[f]; ok {
				before[f] = v
			}
		}
		out[ups[next].Seq] = before
		next++
		return nil
	}
	for next < len(ups) {
		batch, err := cons.Fetch(100, jetstream.FetchMaxWait(2e9))
		if err != nil {
			return err
		}
		n := 0
		for m := range batch.Messages() {
			n++
			env, err := streams.FromMsg(m)
			if err != nil {
				continue
			}
			for next < len(ups) && env.Seq >= ups[next].Seq {
				if err := snapshot(); err != nil {
					return err
				}
			}
			if next == len(ups) {
				return nil
			}
			if isKey {
				key, _ = projections.ApplyKey(key, env)
			} else {
				account, _ = projections.ApplyAccount(account, env)
			}
		}
		if err := batch.Error(); err != nil {
			return err
		}
		if n == 0 {
			return nil // purged: what was not found stays without a before
		}
	}
	return nil
}

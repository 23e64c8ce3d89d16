package admin

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/nats-io/nats.go/jetstream"

	"relay/edge/fault"
	"relay/events"
	"relay/events/streams"
	"relay/events/usagelog"
	"relay/projections"
)

// The requests relay records, read from the USAGE stream itself: the
// latest ones (RecentUsage) and those recorded from now on (FollowUsage),
// for the console's live feed. The smallest follow there is: one ordered
// consumer per reader, nothing kept in Redis.

const (
	// MaxRecent bounds RecentUsage's n.
	MaxRecent = 100
	// recentScan is how many of the latest events RecentUsage looks
	// through for one account's (a key's are picked by subject).
	recentScan = 5000
)

// UsageRecord is one recorded request with the names of its key and
// account as the catalog has them now.
type UsageRecord struct {
	events.Usage
	KeyName, AccountName string
}

// RecentQuery asks for the latest N requests, of one key or one account
// when KeyID or AccountID is set (not both).
type RecentQuery struct {
	N                int
	KeyID, AccountID string
}

// RecentUsage returns the latest q.N recorded requests, newest first. A
// key's are read by their subjects; an account's among the latest 5,000
// requests of every key.
func (s *Service) RecentUsage(ctx context.Context, q RecentQuery) ([]UsageRecord, error) {
	if q.N < 1 || q.N > MaxRecent {
		return nil, fault.InvalidField("n", "n must be from 1 to 100")
	}
	if q.KeyID != "" && q.AccountID != "" {
		return nil, fault.InvalidField("accountId", "keyId and accountId cannot be combined")
	}
	if (q.KeyID != "" && !events.ValidToken(q.KeyID)) || (q.AccountID != "" && !events.ValidToken(q.AccountID)) {
		return nil, nil
	}
	stream, err := s.js.Stream(ctx, events.StreamUsage)
	if err != nil {
		return nil, err
	}
	info, err := stream.Info(ctx)
	if err != nil {
		return nil, err
	}
	st := info.State
	if st.Msgs == 0 {
		return nil, nil
	}
	cfg := jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverAllPolicy}
	window := uint64(q.N)
	switch {
	case q.KeyID != "":
		cfg.FilterSubjects = []string{events.UsageSubject("*", q.KeyID)}
		window = 0 // by subject: every one of the key's, the last kept
	case q.AccountID != "":
		window = recentScan
	}
	if window > 0 && st.LastSeq >= st.FirstSeq+window {
		start := st.LastSeq - window + 1
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, start
	}
	cons, err := stream.OrderedConsumer(ctx, cfg)
	if err != nil {
		return nil, err
	}
	ring := make([]events.Usage, 0, q.N)
	next := 0
	keep := func(u events.Usage) {
		if q.AccountID != "" && u.AccountID != q.AccountID {
			return
		}
		if len(ring) < q.N {
			ring = append(ring, u)
			return
		}
		ring[next] = u
		next = (next + 1) % q.N
	}
	if ci := cons.CachedInfo(); ci == nil || ci.NumPending > 0 {
		if err := readUntil(ctx, cons, st.LastSeq, keep); err != nil {
			return nil, err
		}
	}
	// Oldest first from next, then reversed.
	ordered := append(append([]events.Usage{}, ring[next:]...), ring[:next]...)
	out := make([]UsageRecord, len(ordered))
	for i, u := range ordered {
		out[len(ordered)-1-i] = UsageRecord{Usage: u}
	}
	s.nameRecords(out)
	return out, nil
}

// readUntil hands every usage event cons delivers to keep, until the one
// at stream sequence last or the last one matching (nothing pending).
func readUntil(ctx context.Context, cons jetstream.Consumer, last uint64, keep func(events.Usage)) error {
	for {
		batch, err := cons.FetchNoWait(500)
		if err != nil {
			return err
		}
		n := 0
		for m := range batch.Messages() {
			n++
			meta, err := m.Metadata()
			if err != nil {
				return err
			}
			if u, ok := usageOf(m); ok {
				keep(u)
			}
			if meta.Sequence.Stream >= last || meta.NumPending == 0 {
				return nil
			}
		}
		if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) {
			return err
		}
		if n == 0 {
			return ctx.Err() // nothing more came: what matched is read
		}
	}
}

func usageOf(m jetstream.Msg) (events.Usage, bool) {
	env, err := streams.FromMsg(m)
	if err != nil || env.Type != events.UsageRecorded {
		return events.Usage{}, false
	}
	var u events.Usage
	if json.Unmarshal(env.Data, &u) != nil {
		return events.Usage{}, false
	}
	return u, true
}

// nameRecords sets the key and account names the catalog holds.
func (s *Service) nameRecords(recs []UsageRecord) {
	s.catalog.Read(func(cat *projections.Catalog) {
		for i := range recs {
			recs[i].KeyName = cat.Keys[recs[i].KeyID].Name
			recs[i].AccountName = cat.Accounts[recs[i].AccountID].Name
		}
	})
}

// FollowUsage calls fn with every request recorded from now on, in stream
// order, until ctx ends; it returns ctx's error then, or the error that
// stopped the feed. It is the usage log's live feed (usagelog.Live: an
// ordered consumer delivering new events only, a bounded buffer); fn must
// not block, or the feed ends with usagelog.ErrSlowReader.
func (s *Service) FollowUsage(ctx context.Context, fn func(UsageRecord)) error {
	err := usagelog.Live(ctx, s.js, usagelog.LiveOptions{}, func(e *usagelog.Event) error {
		if e.Counted {
			return nil // refusal counts are no request
		}
		var u events.Usage
		if json.Unmarshal(e.Data, &u) != nil {
			return nil
		}
		rec := []UsageRecord{{Usage: u}}
		s.nameRecords(rec)
		fn(rec[0])
		return nil
	})
	if err == nil {
		err = ctx.Err()
	}
	return err
}

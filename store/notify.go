package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"relay/projections"
)

// Notification channels (read model of CONFIG, like keys and accounts) and
// the notifier's request-time state: the bounded delivery log of each
// channel, cooldowns, once-only markers and leases. The request-time state
// lives under RuntimePrefix, so a rebuild of the read models keeps it.

func (s *Store) channelDoc(id string) string { return s.prefix() + "notif:" + id }
func (s *Store) channelsAll() string         { return s.prefix() + "notifs:all" }
func (s *Store) channelsLive() string        { return s.prefix() + "notifs:live" }
func (s *Store) channelsText() string        { return s.prefix() + "notifs:text" }

// deliveryLog is the newest-first list of one channel's delivery records.
func deliveryLog(channelID string) string { return RuntimePrefix + "notify:log:" + channelID }

// notifyClaim is a once-only claim (a cooldown, a fired threshold, a
// lease) named by the caller.
func notifyClaim(name string) string { return RuntimePrefix + "notify:claim:" + name }

// Channel returns the projected notification channel id.
func (s *Store) Channel(ctx context.Context, id string) (projections.ChannelView, error) {
	var v projections.ChannelView
	return v, s.getJSON(ctx, s.channelDoc(id), &v)
}

// ChannelOps are the writes that project v (the channel after an event).
func (s *Store) ChannelOps(v projections.ChannelView) ([]Op, error) {
	doc, err := setJSON(s.channelDoc(v.ID), v)
	if err != nil {
		return nil, err
	}
	ops := []Op{doc, {Cmd: "ZADD", Args: []any{s.channelsAll(), v.CreatedSeq, v.ID}},
		{Cmd: "HSET", Args: []any{s.channelsText(), v.ID, searchText(v.Name + " " + v.Type)}}}
	if v.IsDeleted {
		ops = append(ops, Op{Cmd: "ZREM", Args: []any{s.channelsLive(), v.ID}})
	} else {
		ops = append(ops, Op{Cmd: "ZADD", Args: []any{s.channelsLive(), v.CreatedSeq, v.ID}})
	}
	return ops, nil
}

// ListChannels returns one page of notification channels, newest first,
// and how many match.
func (s *Store) ListChannels(ctx context.Context, q ListQuery) ([]projections.ChannelView, int, error) {
	index := s.channelsLive()
	if q.IncludeDeleted {
		index = s.channelsAll()
	}
	ids, total, err := s.listIDs(ctx, index, s.channelsText(), q)
	if err != nil {
		return nil, 0, err
	}
	docs := make([]string, len(ids))
	for i, id := range ids {
		docs[i] = s.channelDoc(id)
	}
	items, err := loadDocs[projections.ChannelView](ctx, s, docs)
	return items, total, err
}

// LiveChannels returns every channel not deleted (enabled or not).
func (s *Store) LiveChannels(ctx context.Context) ([]projections.ChannelView, error) {
	var out []projections.ChannelView
	for off := 0; ; off += maxListLimit {
		page, total, err := s.ListChannels(ctx, ListQuery{Offset: off, Limit: maxListLimit})
		if err != nil {
			return nil, err
		}
		out = append(out, page...)
		if off+maxListLimit >= total {
			return out, nil
		}
	}
}

// Delivery outcomes of a DeliveryRecord.
const (
	DeliveryDelivered = "delivered"
	DeliveryRetrying  = "retrying"
	DeliveryFailed    = "failed"
	DeliverySkipped   = "skipped"
)

// DeliveryRecord is one attempt to deliver a notification to a channel.
// Error never holds the channel's URL or secret.
type DeliveryRecord struct {
	ID         string    `json:"id"`
	Type       string    `json:"type"`
	Time       time.Time `json:"time"`
	Attempt    int       `json:"attempt"`
	StatusCode int       `json:"statusCode,omitempty"`
	Outcome    string    `json:"outcome"`
	Error      string    `json:"error,omitempty"`
	DurationMs int64     `json:"durationMs"`
}

// MaxDeliveryLog is how many delivery records a channel keeps (the newest);
// DeliveryLogTTL is how long a channel's log outlives its last record.
const (
	MaxDeliveryLog = 200
	DeliveryLogTTL = 30 * 24 * time.Hour
)

// RecordDelivery adds r to the delivery log of channelID, keeping the
// newest MaxDeliveryLog records.
func (s *Store) RecordDelivery(ctx context.Context, channelID string, r DeliveryRecord) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	key := deliveryLog(channelID)
	_, err = s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.LPush(ctx, key, b)
		p.LTrim(ctx, key, 0, MaxDeliveryLog-1)
		p.Expire(ctx, key, DeliveryLogTTL)
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: record delivery: %w", err)
	}
	return nil
}

// Deliveries returns up to n of channelID's newest delivery records, newest
// first.
func (s *Store) Deliveries(ctx context.Context, channelID string, n int) ([]DeliveryRecord, error) {
	n = min(max(n, 1), MaxDeliveryLog)
	raw, err := s.rdb.LRange(ctx, deliveryLog(channelID), 0, int64(n-1)).Result()
	if err != nil {
		return nil, fmt.Errorf("store: deliveries: %w", err)
	}
	out := make([]DeliveryRecord, 0, len(raw))
	for _, b := range raw {
		var r DeliveryRecord
		if json.Unmarshal([]byte(b), &r) == nil {
			out = append(out, r)
		}
	}
	return out, nil
}

// claimScript takes the claim KEYS[1] for token ARGV[1] for ARGV[2]
// milliseconds, unless another token holds it. The holder taking it again
// succeeds (without extending it), so a caller that retries after a crash
// between claiming and acting acts again instead of losing the act.
var claimScript = redis.NewScript(`
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
if redis.call('GET', KEYS[1]) == ARGV[1] then return 1 end
return 0
`)

// Claim takes the once-only claim name for token for ttl: true when it was
// free or token already held it, false while another token holds it.
// Claims are the notifier's cooldowns (channel, subject and type: one
// message per cooldown), fired thresholds and leases of periodic checks.
func (s *Store) Claim(ctx context.Context, name, token string, ttl time.Duration) (bool, error) {
	if ttl < time.Millisecond {
		ttl = time.Millisecond
	}
	n, err := claimScript.Run(ctx, s.rdb, []string{notifyClaim(name)}, token, ttl.Milliseconds()).Int()
	if err != nil {
		return false, fmt.Errorf("store: claim %s: %w", name, err)
	}
	return n == 1, nil
}

// ClaimHolder returns the token holding claim name, "" when free.
func (s *Store) ClaimHolder(ctx context.Context, name string) (string, error) {
	v, err := s.rdb.Get(ctx, notifyClaim(name)).Result()
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	return v, err
}

// ClaimName joins the parts of a claim name; parts must not be empty.
func ClaimName(parts ...string) string { return strings.Join(parts, "|") }

// recovering orders the accounts the notifier told unavailable by the end
// of their state (unix ms), until it tells of their recovery.
func recovering() string { return RuntimePrefix + "notify:recovering" }

// Recovery is an account waiting for its state to end.
type Recovery struct {
	AccountID string
	Until     time.Time
}

// WatchRecovery notes that account id is unavailable until until (its
// latest state: a later mark replaces an earlier one).
func (s *Store) WatchRecovery(ctx context.Context, id string, until time.Time) error {
	return s.rdb.ZAdd(ctx, recovering(), redis.Z{Score: float64(until.UnixMilli()), Member: id}).Err()
}

// UnwatchRecovery forgets account id (an admin ended its state: the
// recovery is told already).
func (s *Store) UnwatchRecovery(ctx context.Context, id string) error {
	return s.rdb.ZRem(ctx, recovering(), id).Err()
}

// DueRecoveries returns up to n accounts whose state ended at or before now.
func (s *Store) DueRecoveries(ctx context.Context, now time.Time, n int) ([]Recovery, error) {
	zs, err := s.rdb.ZRangeByScoreWithScores(ctx, recovering(), &redis.ZRangeBy{Min: "-inf", Max: fmt.Sprint(now.UnixMilli()), Count: int64(n)}).Result()
	if err != nil {
		return nil, fmt.Errorf("store: due recoveries: %w", err)
	}
	out := make([]Recovery, 0, len(zs))
	for _, z := range zs {
		id, _ := z.Member.(string)
		out = append(out, Recovery{AccountID: id, Until: time.UnixMilli(int64(z.Score))})
	}
	return out, nil
}

var doneRecoveryScript = redis.NewScript(`
if redis.call('ZSCORE', KEYS[1], ARGV[1]) == ARGV[2] then return redis.call('ZREM', KEYS[1], ARGV[1]) end
return 0
`)

// DoneRecovery forgets r unless the account was marked again meanwhile
// (its entry now names another end).
func (s *Store) DoneRecovery(ctx context.Context, r Recovery) error {
	return doneRecoveryScript.Run(ctx, s.rdb, []string{recovering()}, r.AccountID, fmt.Sprint(r.Until.UnixMilli())).Err()
}

package store

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// KeyUse is what one API key holds of its admission limits at one moment.
type KeyUse struct {
	// InFlight is how many of its requests hold a live concurrency lease.
	InFlight int64
	// WindowRequests is how many admitted requests its request window
	// holds; OldestInWindow is when the oldest of them was admitted (zero
	// when none).
	WindowRequests int64
	OldestInWindow time.Time
}

// KeyUse reads keyID's in-flight requests and, for a window > 0, the
// requests its sliding request window holds at now, as Admit counts them:
// a request admitted at t counts while now < t + window. It only reads.
func (s *Store) KeyUse(ctx context.Context, keyID string, window time.Duration, now time.Time) (KeyUse, error) {
	nowMs := unixMs(now)
	var inFlight, count *redis.IntCmd
	var oldest *redis.ZSliceCmd
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		inFlight = p.ZCount(ctx, keyLeases(keyID), "("+strconv.FormatInt(nowMs, 10), "+inf")
		if window > 0 {
			from := "(" + strconv.FormatInt(nowMs-window.Milliseconds(), 10)
			count = p.ZCount(ctx, keyWindow(keyID), from, "+inf")
			oldest = p.ZRangeByScoreWithScores(ctx, keyWindow(keyID), &redis.ZRangeBy{Min: from, Max: "+inf", Count: 1})
		}
		return nil
	})
	if err != nil {
		return KeyUse{}, fmt.Errorf("store: key use: %w", err)
	}
	u := KeyUse{InFlight: inFlight.Val()}
	if count != nil {
		u.WindowRequests = count.Val()
		if z := oldest.Val(); len(z) > 0 {
			u.OldestInWindow = time.UnixMilli(int64(z[0].Score))
		}
	}
	return u, nil
}

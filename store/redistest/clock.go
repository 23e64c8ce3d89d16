package redistest

import (
	"context"
	"time"

	"github.com/alicebob/miniredis/v2"
)

// DriveClock makes m's TTLs follow the wall clock until ctx is done, then
// returns; run it in its own goroutine for as long as m serves:
//
//	go redistest.DriveClock(ctx, m, 100*time.Millisecond)
//
// miniredis only moves TTLs when told to. DriveClock clears any fixed time
// set with SetTime, so TIME, EXPIREAT and stream IDs read the wall clock
// exactly, and every `every` it fast-forwards all TTLs by the monotonic
// time elapsed since the previous tick. A key therefore expires within
// `every` of its due time, and TTL/PTTL read up to `every` high.
//
// Why not miniredis's ClockTTL: it re-sorts and walks every key of every
// database on each command, which costs O(n log n) per command on a large
// embedded store; DriveClock pays that once per tick instead. DriveClock
// turns ClockTTL off, since running both would count elapsed time twice.
// A non-positive every means one second.
func DriveClock(ctx context.Context, m *miniredis.Miniredis, every time.Duration) {
	if every <= 0 {
		every = time.Second
	}
	m.ClockTTL(false)
	m.SetTime(time.Time{}) // the zero time means "use time.Now"
	last := time.Now()
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			m.FastForward(time.Since(last))
			return
		case now := <-tick.C:
			// now carries a monotonic reading, so a wall-clock step (NTP,
			// suspend) neither rewinds nor leaps the TTLs.
			if elapsed := now.Sub(last); elapsed > 0 {
				m.FastForward(elapsed)
				last = now
			}
		}
	}
}

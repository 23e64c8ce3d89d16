package relay

import (
	"testing"
	"time"

	"relay/events"
)

// The tallies hand out each closed minute once, keep the open one until it
// closes or everything is taken, number every take, fold unknown reasons
// into "other", and stop growing at their cap.
func TestRefusalTalliesTakeClosedMinutesOnce(t *testing.T) {
	m0 := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	r := newRefusalTallies(m0)
	for i := range 5 {
		r.add("k1", "claude", "requests", m0.Add(time.Duration(i)*time.Second))
	}
	r.add("k1", "claude", "made-up", m0.Add(3*time.Second))
	r.add("k1", "claude", "requests", m0.Add(time.Minute+time.Second))

	got, flush, _ := r.take(m0.Add(time.Minute+30*time.Second), false)
	closed := refusalTally{"k1", "claude", "requests", m0.Unix() / 60}
	other := refusalTally{"k1", "claude", events.RefusalOther, m0.Unix() / 60}
	if len(got) != 2 || got[closed].n != 5 || got[other].n != 1 || flush != 1 {
		t.Fatalf("first take %v (flush %d)", got, flush)
	}
	if c := got[closed]; !c.first.Equal(m0) || !c.last.Equal(m0.Add(4*time.Second)) {
		t.Fatalf("first/last %v %v", c.first, c.last)
	}
	if again, _, _ := r.take(m0.Add(time.Minute+30*time.Second), false); len(again) != 0 {
		t.Fatalf("a closed minute taken twice: %v", again)
	}
	rest, flush, _ := r.take(time.Time{}, true)
	if len(rest) != 1 || flush != 2 || r.pending() != 0 {
		t.Fatalf("taking all: %v (flush %d), %d left", rest, flush, r.pending())
	}

	full := newRefusalTallies(m0)
	for i := range maxRefusalTallies + 10 {
		full.add(events.NewID(m0)[:8]+string(rune('a'+i%26)), "claude", "requests", m0.Add(time.Duration(i)*time.Minute))
	}
	_, _, dropped := full.take(time.Time{}, true)
	if len(full.counts) != 0 || dropped != 10 {
		t.Fatalf("cap: %d tallies left, %d dropped", len(full.counts), dropped)
	}
}

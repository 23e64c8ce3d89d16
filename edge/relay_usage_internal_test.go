package edge

import (
	"fmt"
	"testing"
)

// TestUnpricedLogIsBounded: a client inventing 20,000 model names makes
// the edge log (and remember) at most maxUnpricedLogged of them, then say
// once that it stopped.
func TestUnpricedLogIsBounded(t *testing.T) {
	var l unpricedLog
	counts := map[int]int{}
	for i := range 20000 {
		counts[l.add(fmt.Sprintf("made-up-model-%05d", i))]++
	}
	if counts[unpricedNew] != maxUnpricedLogged || counts[unpricedFull] != 1 || len(l.seen) != maxUnpricedLogged {
		t.Fatalf("outcomes %v, %d remembered", counts, len(l.seen))
	}
	if got := l.add("made-up-model-00000"); got != unpricedSeenBefore {
		t.Fatalf("a model logged before: %d", got)
	}
}

package redistest

import (
	"testing"
	"time"
)

func TestMain(m *testing.M) { Main(m) }

// waitFor polls cond every few milliseconds until it holds or timeout
// passes, then fails t with what.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	poll := time.NewTicker(5 * time.Millisecond)
	defer poll.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", timeout, what)
		}
		<-poll.C
	}
}

package redistest

import (
	"context"
	"testing"
)

// Stop takes b's server down as a crash would: connections drop and new
// ones are refused until Start. Its data and script cache are lost, as a
// Redis without persistence loses them, on both backends. b must be
// embedded or dedicated (ForEachDedicated, Dedicated, Server.Backend): a
// shared server would take other tests down with it.
func (b Backend) Stop(t testing.TB) {
	t.Helper()
	switch {
	case b.Mini != nil:
		// miniredis keeps data and scripts across Close; drop them to
		// match a real restart.
		_ = b.Client.ScriptFlush(context.Background()).Err()
		b.Mini.Close()
		b.Mini.FlushAll()
	case b.server != nil:
		b.server.Kill()
	default:
		t.Fatalf("redistest: Stop needs an embedded or dedicated backend (ForEachDedicated), not the shared %s", b.Addr)
	}
}

// Start brings a stopped b back on the same address, empty, and returns
// once it answers. Clients reconnect by themselves.
func (b Backend) Start(t testing.TB) {
	t.Helper()
	switch {
	case b.Mini != nil:
		// Close cancelled the context that blocking commands (BLPOP,
		// XREAD BLOCK) wait under, and Restart does not renew it; without
		// a new one they would never answer.
		b.Mini.Lock()
		b.Mini.Ctx, b.Mini.CtxCancel = context.WithCancel(context.Background())
		b.Mini.Unlock()
		if err := b.Mini.Restart(); err != nil {
			t.Fatalf("redistest: restart miniredis on %s: %v", b.Addr, err)
		}
	case b.server != nil:
		b.server.Start(t)
	default:
		t.Fatalf("redistest: Start needs an embedded or dedicated backend (ForEachDedicated), not the shared %s", b.Addr)
	}
}

// Restart is Stop then Start.
func (b Backend) Restart(t testing.TB) {
	t.Helper()
	b.Stop(t)
	b.Start(t)
}

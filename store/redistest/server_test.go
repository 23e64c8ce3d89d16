package redistest

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"
)

func TestServerKillStartKeepsThePort(t *testing.T) {
	ctx := context.Background()
	s := NewServer(t)
	b := s.Backend(t)
	port, pid := s.Port(), s.PID()
	b.Client.Set(ctx, "k", "v", 0)

	s.Kill()
	if s.Running() || s.PID() != 0 {
		t.Fatal("still running after Kill")
	}
	if ping(s.Addr()) == nil {
		t.Fatal("port answers after Kill")
	}
	s.Kill() // idempotent

	s.Start(t)
	if s.Port() != port || s.PID() == pid || s.PID() == 0 {
		t.Fatalf("after Start: port %d (was %d), pid %d (was %d)", s.Port(), port, s.PID(), pid)
	}
	if err := b.Client.Get(ctx, "k").Err(); err == nil {
		t.Fatal("data survived Kill")
	}
	s.Restart(t)
	if err := b.Client.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
}

func TestServersOfOneBinaryUseDistinctPorts(t *testing.T) {
	a, b, shared := NewServer(t), NewServer(t), Real(t)
	if a.Addr() == b.Addr() || a.Addr() == shared.Addr || b.Addr() == shared.Addr {
		t.Fatalf("addresses %s, %s and shared %s are not distinct", a.Addr(), b.Addr(), shared.Addr)
	}
}

func TestMissingRedisSkipsOrFails(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	for _, ci := range []string{"", "true"} {
		t.Setenv("CI", ci)
		ft := &outcomeRecorder{TB: t}
		done := make(chan struct{})
		go func() {
			defer close(done)
			redisBinary(ft)
		}()
		<-done
		switch {
		case ci == "" && (!ft.skipped || ft.failed):
			t.Errorf("without CI: skipped %v, failed %v; want a skip", ft.skipped, ft.failed)
		case ci != "" && (!ft.failed || !strings.Contains(ft.msg, "apt-get install -y redis-server")):
			t.Errorf("with CI: failed %v (%q); want a failure naming the install command", ft.failed, ft.msg)
		}
	}
}

// outcomeRecorder records Skip and Fatalf instead of acting on the test.
type outcomeRecorder struct {
	testing.TB
	skipped, failed bool
	msg             string
}

func (o *outcomeRecorder) Helper() {}
func (o *outcomeRecorder) Skip(args ...any) {
	o.skipped = true
	runtime.Goexit()
}
func (o *outcomeRecorder) Fatalf(format string, args ...any) {
	o.failed, o.msg = true, fmt.Sprintf(format, args...)
	runtime.Goexit()
}

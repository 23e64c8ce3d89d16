package usagelog_test

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"relay/events"
	"relay/events/natstest"
	"relay/events/usagelog"
)

// liveRun runs Live in the background and collects what it delivers.
type liveRun struct {
	mu     sync.Mutex
	got    []*usagelog.Event
	done   chan error
	cancel context.CancelFunc
}

func startLive(t *testing.T, js jetstream.JetStream, o usagelog.LiveOptions, fn func(*usagelog.Event) error) *liveRun {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &liveRun{done: make(chan error, 1), cancel: cancel}
	t.Cleanup(cancel)
	ready := make(chan struct{})
	o.Ready = func() { close(ready) }
	go func() {
		r.done <- usagelog.Live(ctx, js, o, func(e *usagelog.Event) error {
			r.mu.Lock()
			r.got = append(r.got, e)
			r.mu.Unlock()
			if fn != nil {
				return fn(e)
			}
			return nil
		})
	}()
	select {
	case <-ready:
	case err := <-r.done:
		t.Fatalf("live feed ended before it was ready: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("live feed not ready")
	}
	return r
}

func (r *liveRun) events() []*usagelog.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*usagelog.Event(nil), r.got...)
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// The live feed delivers every usage event stored after it started, in
// order, each once, with the payload as stored; nothing from before; the
// filter applies; the end of ctx ends it without an error.
func TestLiveFollowsFromNow(t *testing.T) {
	srv := natstest.Start(t)
	_, js := srv.Connect(t)
	publish(t, js, fixture(15, 40)) // before: never delivered
	all := startLive(t, js, usagelog.LiveOptions{}, nil)
	k2 := startLive(t, js, usagelog.LiveOptions{Filter: usagelog.Filter{Keys: []string{"k2"}, Outcomes: []string{events.OutcomeOK}}}, nil)
	after := publish(t, js, fixture(40, 41))

	var wantK2 []stored
	for _, s := range after {
		if s.u.KeyID == "k2" && s.u.Outcome == events.OutcomeOK {
			wantK2 = append(wantK2, s)
		}
	}
	if len(wantK2) == 0 {
		t.Fatal("fixture has no k2 event")
	}
	for _, c := range []struct {
		name string
		run  *liveRun
		want []stored
	}{{"everything", all, after}, {"k2 ok", k2, wantK2}} {
		waitFor(t, c.name+" events", func() bool { return len(c.run.events()) >= len(c.want) })
		got := c.run.events()
		if len(got) != len(c.want) {
			t.Fatalf("%s: %d events, want %d", c.name, len(got), len(c.want))
		}
		for i, e := range got {
			if e.Seq != c.want[i].seq || !bytes.Equal(e.Data, c.want[i].data) || e.Subject != c.want[i].subj || e.Counted || e.Fields().ID != c.want[i].u.ID {
				t.Fatalf("%s: event %d is seq %d, want %d (or payload, subject differ)", c.name, i, e.Seq, c.want[i].seq)
			}
		}
		c.run.cancel()
		select {
		case err := <-c.run.done:
			if err != nil {
				t.Fatalf("%s: ended with %v", c.name, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: did not end with its context", c.name)
		}
	}
}

// A reader that falls more than Buffer events behind is dropped: the feed
// stops taking events (the buffer never grows past Buffer) and returns
// ErrSlowReader as soon as the reader is back, without handing it what
// was buffered.
func TestLiveDropsASlowReader(t *testing.T) {
	srv := natstest.Start(t)
	_, js := srv.Connect(t)
	dropped := make(chan struct{})
	var drops atomic.Int32
	run := startLive(t, js, usagelog.LiveOptions{Buffer: 4, OnDrop: func() { drops.Add(1); close(dropped) }}, func(*usagelog.Event) error {
		<-dropped // the reader is stuck on its first event until it is dropped
		return nil
	})
	publish(t, js, fixture(30, 42))
	select {
	case err := <-run.done:
		if !errors.Is(err, usagelog.ErrSlowReader) {
			t.Fatalf("ended with %v, want ErrSlowReader", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the slow reader was not dropped")
	}
	if n := len(run.events()); n != 1 || drops.Load() != 1 {
		t.Fatalf("the dropped reader was handed %d events (want its first only), dropped %d times", n, drops.Load())
	}
}

// Without events, Heartbeat is called every HeartbeatEvery; its error ends
// the feed.
func TestLiveHeartbeat(t *testing.T) {
	srv := natstest.Start(t)
	_, js := srv.Connect(t)
	var beats atomic.Int32
	gone := errors.New("client went away")
	run := startLive(t, js, usagelog.LiveOptions{HeartbeatEvery: 20 * time.Millisecond, Heartbeat: func() error {
		if beats.Add(1) == 3 {
			return gone
		}
		return nil
	}}, nil)
	select {
	case err := <-run.done:
		if !errors.Is(err, gone) || beats.Load() != 3 {
			t.Fatalf("ended with %v after %d beats", err, beats.Load())
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("%d heartbeats, the feed did not end", beats.Load())
	}
}

// A feed whose connection closes ends with an error rather than waiting
// forever.
func TestLiveEndsWhenTheConnectionCloses(t *testing.T) {
	srv := natstest.Start(t)
	nc, js := srv.Connect(t)
	run := startLive(t, js, usagelog.LiveOptions{}, nil)
	nc.Close()
	select {
	case err := <-run.done:
		if err == nil {
			t.Fatal("ended without an error")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the feed did not end with its connection")
	}
}

func TestAppendSSE(t *testing.T) {
	cases := []struct {
		e    usagelog.Event
		want string
	}{
		{usagelog.Event{Seq: 42, Data: []byte(`{"id":"r1","outcome":"ok"}`)}, "id: 42\nevent: usage\ndata: {\"id\":\"r1\",\"outcome\":\"ok\"}\n\n"},
		{usagelog.Event{Seq: 7, Counted: true, Data: []byte(`{"count":1500}`)}, "id: 7\nevent: refusals\ndata: {\"count\":1500}\n\n"},
		{usagelog.Event{Seq: 1, Data: []byte("{\n\"a\": 1\r\n}")}, "id: 1\nevent: usage\ndata: {\ndata: \"a\": 1\ndata: }\n\n"},
	}
	for _, tc := range cases {
		if got := string(usagelog.AppendSSE([]byte("x"), &tc.e)); got != "x"+tc.want {
			t.Errorf("AppendSSE(%s) = %q, want %q", tc.e.Data, got, tc.want)
		}
	}
}

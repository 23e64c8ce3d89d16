package pricing_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"relay/projections/pricing"
)

// priceFile is a price file where model "m" costs in USD per MTok of input.
func priceFile(in string) string {
	return `{"models":{"m":{"input":` + in + `,"output":0,"cacheRead":0,"openai":true}}}`
}

// rewrite replaces the file atomically (a poll sees the old or the new file,
// never a half-written one) with its modification time set to the given
// second, so a change is visible whatever the file system's granularity.
func rewrite(t *testing.T, path, body string, second int) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	mt := time.Unix(1_700_000_000+int64(second), 0)
	if err := os.Chtimes(tmp, mt, mt); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func inputPrice(t *testing.T, w *pricing.Watcher) int64 {
	t.Helper()
	p, ok := w.Current().Price("m")
	if !ok {
		t.Fatal("model m not priced")
	}
	return p.Input
}

// watched runs a Watcher on a file driven by a test tick channel. Callbacks
// run inside the poll, before Run takes the next tick: once a second tick is
// accepted, the first poll's callbacks have run.
type watched struct {
	w        *pricing.Watcher
	path     string
	tick     chan time.Time
	errs     chan error
	reloaded chan *pricing.Table
	done     chan struct{}
	cancel   context.CancelFunc
}

func startWatcher(t *testing.T) *watched {
	t.Helper()
	path := filepath.Join(t.TempDir(), "pricing.json")
	rewrite(t, path, priceFile("1"), 0)
	x := &watched{
		path:     path,
		tick:     make(chan time.Time),
		errs:     make(chan error, 10),
		reloaded: make(chan *pricing.Table, 10),
		done:     make(chan struct{}),
	}
	var err error
	x.w, err = pricing.NewWatcher(pricing.WatchConfig{
		Path:     path,
		Tick:     x.tick,
		OnError:  func(err error) { x.errs <- err },
		OnReload: func(t *pricing.Table) { x.reloaded <- t },
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	x.cancel = cancel
	go func() { defer close(x.done); x.w.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-x.done })
	return x
}

// poll delivers one tick and then a second one, which Run accepts only after
// the first poll (callbacks included) finished. The second poll may still be
// running when poll returns; it may pick up the next rewrite first, which
// changes nothing: each change is reported by exactly one poll, and by the
// time the next poll call returns, its report has been delivered.
func (x *watched) poll() {
	x.tick <- time.Time{}
	x.tick <- time.Time{}
}

func (x *watched) quiet(t *testing.T) {
	t.Helper()
	select {
	case err := <-x.errs:
		t.Fatalf("unexpected error: %v", err)
	case tab := <-x.reloaded:
		t.Fatalf("unexpected reload: %v", tab.Models())
	default:
	}
}

func TestWatcherReloadsOnChange(t *testing.T) {
	x := startWatcher(t)
	if got := inputPrice(t, x.w); got != 1_000_000 {
		t.Fatalf("initial price %d", got)
	}

	x.poll() // nothing changed
	x.quiet(t)

	rewrite(t, x.path, priceFile("2.5"), 1)
	x.poll()
	if tab := <-x.reloaded; tab != x.w.Current() {
		t.Error("OnReload got a table that is not current")
	}
	if got := inputPrice(t, x.w); got != 2_500_000 {
		t.Fatalf("after change: %d", got)
	}
	x.quiet(t)

	// A bad file is reported once and the previous table stays.
	rewrite(t, x.path, `{"models":{"m":{"input":-1}}}`, 2)
	x.poll()
	if err := <-x.errs; !strings.Contains(err.Error(), "keeping the previous table") {
		t.Errorf("error %q", err)
	}
	x.quiet(t) // the second tick saw no new change: no second report
	if got := inputPrice(t, x.w); got != 2_500_000 {
		t.Fatalf("bad reload replaced the table: %d", got)
	}

	// A deleted file likewise.
	if err := os.Remove(x.path); err != nil {
		t.Fatal(err)
	}
	x.poll()
	if err := <-x.errs; !os.IsNotExist(unwrapAll(err)) {
		t.Errorf("error %q, want not-exist", err)
	}
	x.quiet(t)
	if got := inputPrice(t, x.w); got != 2_500_000 {
		t.Fatalf("missing file replaced the table: %d", got)
	}

	// Same mtime, different size: still a change.
	rewrite(t, x.path, priceFile("3"), 1)
	x.poll()
	<-x.reloaded
	if got := inputPrice(t, x.w); got != 3_000_000 {
		t.Fatalf("after recovery: %d", got)
	}
	x.quiet(t)
}

func unwrapAll(err error) error {
	for {
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return err
		}
		err = u.Unwrap()
	}
}

func TestWatcherReloadForced(t *testing.T) {
	x := startWatcher(t)
	// Same size and mtime as the first file: polling cannot see it.
	rewrite(t, x.path, priceFile("7"), 0)
	x.poll()
	x.quiet(t)
	if err := x.w.Reload(); err != nil {
		t.Fatal(err)
	}
	<-x.reloaded
	if got := inputPrice(t, x.w); got != 7_000_000 {
		t.Fatalf("after Reload: %d", got)
	}

	// A broken file of the same size and mtime: only Reload sees it.
	rewrite(t, x.path, "["+priceFile("7")[1:], 0)
	if err := x.w.Reload(); err == nil {
		t.Fatal("Reload of a bad file succeeded")
	}
	x.quiet(t) // Reload returns its error instead of calling OnError
	if got := inputPrice(t, x.w); got != 7_000_000 {
		t.Fatalf("bad Reload replaced the table: %d", got)
	}
}

func TestWatcherStopsOnContextAndClosedTick(t *testing.T) {
	x := startWatcher(t)
	x.cancel()
	<-x.done

	y := startWatcher(t)
	close(y.tick)
	<-y.done
}

func TestWatcherConcurrentReaders(t *testing.T) {
	x := startWatcher(t)
	stop := make(chan struct{})
	readers := make(chan struct{})
	for range 4 {
		go func() {
			defer func() { readers <- struct{}{} }()
			for {
				select {
				case <-stop:
					return
				default:
					if _, ok := x.w.Current().Price("m"); !ok {
						t.Error("model m vanished")
						return
					}
				}
			}
		}()
	}
	for i := range 20 {
		rewrite(t, x.path, priceFile("1"+strings.Repeat("0", i%3)), i+1)
		x.poll()
		<-x.reloaded
	}
	close(stop)
	for range 4 {
		<-readers
	}
}

func TestNewWatcher(t *testing.T) {
	w, err := pricing.NewWatcher(pricing.DefaultWatchConfig())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := w.Current().Price("gpt-5"); !ok {
		t.Error("no file: want the built-in table")
	}
	w.Run(t.Context()) // no file: returns at once
	if err := w.Reload(); err != nil {
		t.Error(err)
	}

	cfg := pricing.DefaultWatchConfig()
	cfg.Path = filepath.Join(t.TempDir(), "absent.json")
	if _, err := pricing.NewWatcher(cfg); !os.IsNotExist(unwrapAll(err)) {
		t.Errorf("missing file at start: err = %v", err)
	}

	cfg.Path = writeFile(t, t.TempDir(), `{"models":{"m":{}}}`)
	if _, err := pricing.NewWatcher(cfg); err == nil {
		t.Error("bad file at start: want an error")
	}

	cfg.Interval = 0
	if _, err := pricing.NewWatcher(cfg); err == nil || !strings.Contains(err.Error(), "interval") {
		t.Errorf("zero interval: err = %v", err)
	}
}

// The real ticker path: Run with an interval stops on ctx.
func TestWatcherRealTicker(t *testing.T) {
	cfg := pricing.DefaultWatchConfig()
	cfg.Path = writeFile(t, t.TempDir(), priceFile("1"))
	cfg.Interval = time.Millisecond
	w, err := pricing.NewWatcher(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); w.Run(ctx) }()
	cancel()
	<-done
}

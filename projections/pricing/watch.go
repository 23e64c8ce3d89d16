package pricing

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// WatchConfig configures a Watcher.
type WatchConfig struct {
	// Path is PRICING_FILE. Empty: the built-in table, never reloaded.
	Path string
	// Interval between two checks of the file's modification time and size.
	Interval time.Duration
	// Tick, when set, replaces the Interval ticker: each receive is one
	// check. Run returns when Tick is closed. Meant for tests.
	Tick <-chan time.Time
	// OnError receives each failed reload found by polling (the file is
	// reported once per change, not on every tick); the previous table stays
	// current. Nil drops the errors.
	OnError func(error)
	// OnReload receives each new table after it became current. May be nil.
	OnReload func(*Table)
}

// DefaultWatchConfig returns the defaults: no file, a check every 10 seconds.
func DefaultWatchConfig() WatchConfig { return WatchConfig{Interval: 10 * time.Second} }

// Validate reports what is wrong with c.
func (c WatchConfig) Validate() error {
	var errs []error
	if c.Path != "" && c.Tick == nil && c.Interval <= 0 {
		errs = append(errs, fmt.Errorf("pricing: poll interval %v must be positive", c.Interval))
	}
	return errors.Join(errs...)
}

// Watcher holds the current pricing table and replaces it when the price
// file changes. Current is lock-free; all methods are safe for concurrent use.
type Watcher struct {
	cfg     WatchConfig
	current atomic.Pointer[Table]

	mu   sync.Mutex // mu serialises reloads and protects seen
	seen fileState  // the file as it was at the last load attempt
}

// fileState is what polling compares: a change of either field means the
// file changed. A rewrite that keeps both within the file system's time
// granularity goes unnoticed until the next change; Reload forces a load.
type fileState struct {
	exists  bool
	size    int64
	modTime int64 // Unix nanoseconds
}

func statFile(path string) (fileState, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return fileState{}, err
	}
	return fileState{exists: true, size: fi.Size(), modTime: fi.ModTime().UnixNano()}, nil
}

// NewWatcher loads cfg.Path (or takes the built-in table when it is empty).
// A file that cannot be loaded at start is an error: relay should not start
// with prices it was told not to use.
func NewWatcher(cfg WatchConfig) (*Watcher, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	w := &Watcher{cfg: cfg}
	if cfg.Path == "" {
		w.current.Store(Builtin())
		return w, nil
	}
	if _, err := w.load(); err != nil {
		return nil, err
	}
	return w, nil
}

// Current returns the table in force. It is never nil.
func (w *Watcher) Current() *Table { return w.current.Load() }

// Run checks the file on every tick until ctx is done (or Tick is closed),
// reloading it when its modification time or size changed. With no Path it
// returns at once. Run it in its own goroutine.
func (w *Watcher) Run(ctx context.Context) {
	if w.cfg.Path == "" {
		return
	}
	tick := w.cfg.Tick
	if tick == nil {
		t := time.NewTicker(w.cfg.Interval)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return
		case _, ok := <-tick:
			if !ok {
				return
			}
			w.poll()
		}
	}
}

// Reload loads the file now, changed or not. On failure the previous table
// stays current and the error is returned (not passed to OnError).
func (w *Watcher) Reload() error {
	if w.cfg.Path == "" {
		return nil
	}
	t, err := w.load()
	if err == nil && w.cfg.OnReload != nil {
		w.cfg.OnReload(t)
	}
	return err
}

// poll reloads the file if it changed since the last attempt, and reports
// the outcome through the callbacks, outside the lock.
func (w *Watcher) poll() {
	w.mu.Lock()
	state, statErr := statFile(w.cfg.Path)
	if state == w.seen {
		w.mu.Unlock()
		return
	}
	var t *Table
	err := statErr
	if err == nil {
		t, err = w.loadLocked()
	} else {
		w.seen = state
		err = fmt.Errorf("pricing: %w (keeping the previous table)", err)
	}
	w.mu.Unlock()

	switch {
	case err != nil && w.cfg.OnError != nil:
		w.cfg.OnError(err)
	case err == nil && w.cfg.OnReload != nil:
		w.cfg.OnReload(t)
	}
}

func (w *Watcher) load() (*Table, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.loadLocked()
}

// loadLocked records the file's state before reading it (a write during the
// read then shows as a change at the next poll) and swaps the table in on
// success. w.mu must be held.
func (w *Watcher) loadLocked() (*Table, error) {
	w.seen, _ = statFile(w.cfg.Path)
	t, err := Load(w.cfg.Path)
	if err != nil {
		if w.current.Load() != nil {
			err = fmt.Errorf("%w (keeping the previous table)", err)
		}
		return nil, err
	}
	w.current.Store(t)
	return t, nil
}

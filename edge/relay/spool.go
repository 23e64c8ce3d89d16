package relay

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"relay/events"
	"relay/events/streams"
)

// spool keeps events NATS could not acknowledge in files under a directory,
// each written and synced before the request that produced it is answered,
// and publishes them later under their original ids so the server drops any
// that did get through.
type spool struct {
	dir string
	js  jetstream.JetStream
	log zerolog.Logger

	mu    sync.Mutex // mu protects depth
	depth int
	kick  chan struct{}
}

type spooled struct {
	Subject  string          `json:"subject"`
	Envelope json.RawMessage `json:"envelope"`
}

func newSpool(dir string, js jetstream.JetStream, log zerolog.Logger) (*spool, error) {
	sp := &spool{dir: dir, js: js, log: log, kick: make(chan struct{}, 1)}
	if dir == "" {
		return sp, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	files, err := sp.files()
	if err != nil {
		return nil, err
	}
	sp.depth = len(files)
	return sp, nil
}

// put writes env durably.
func (sp *spool) put(subject string, env events.Envelope) error {
	if sp.dir == "" {
		return errors.New("no spool directory configured")
	}
	raw, err := env.Marshal()
	if err != nil {
		return err
	}
	b, err := json.Marshal(spooled{Subject: subject, Envelope: raw})
	if err != nil {
		return err
	}
	tmp := filepath.Join(sp.dir, "."+env.ID+".tmp")
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(sp.dir, env.ID+".event")); err != nil {
		return err
	}
	if d, err := os.Open(sp.dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	sp.mu.Lock()
	sp.depth++
	sp.mu.Unlock()
	select {
	case sp.kick <- struct{}{}:
	default:
	}
	return nil
}

// Depth is the number of events waiting in the spool.
func (sp *spool) Depth() int {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	return sp.depth
}

func (sp *spool) files() ([]string, error) {
	entries, err := os.ReadDir(sp.dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".event") {
			out = append(out, filepath.Join(sp.dir, e.Name()))
		}
	}
	return out, nil
}

// run publishes spooled events until ctx ends, retrying every second while
// NATS is away.
func (sp *spool) run(ctx context.Context) {
	if sp.dir == "" {
		return
	}
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		sp.flush(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-sp.kick:
		}
	}
}

// flush publishes what is in the spool, oldest first (ids sort by time).
func (sp *spool) flush(ctx context.Context) {
	files, err := sp.files()
	if err != nil || len(files) == 0 {
		return
	}
	for _, path := range files {
		b, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		var rec spooled
		env, err := decodeSpooled(b, &rec)
		if err != nil {
			sp.log.Error().Err(err).Str("file", path).Msg("spooled event unreadable; moved aside")
			_ = os.Rename(path, path+".bad")
			sp.dec()
			continue
		}
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err = streams.Publish(pctx, sp.js, rec.Subject, env, nil)
		cancel()
		if err != nil {
			return // NATS still away: try again later
		}
		if err := os.Remove(path); err == nil {
			sp.dec()
		}
		sp.log.Info().Str("eventId", env.ID).Msg("spooled event published")
	}
}

func (sp *spool) dec() {
	sp.mu.Lock()
	sp.depth--
	sp.mu.Unlock()
}

func decodeSpooled(b []byte, rec *spooled) (events.Envelope, error) {
	if err := json.Unmarshal(b, rec); err != nil {
		return events.Envelope{}, err
	}
	return events.Unmarshal(rec.Envelope)
}

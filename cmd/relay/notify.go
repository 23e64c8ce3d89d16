package main

import (
	"context"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"relay/edge/secrets"
	"relay/store"
	"relay/workers"
)

// startNotifier runs the notifier (DESIGN.md section 9) with the workers
// until ctx ends. It opens channel URLs and secrets with ENCRYPTION_KEY
// (under `serve`, the one kept in DATA_DIR): a `relay worker` without it
// runs the projectors only, and says so.
func startNotifier(ctx context.Context, wg *sync.WaitGroup, cfg config, serve bool, js jetstream.JetStream, st *store.Store, log zerolog.Logger, reg prometheus.Registerer, loc *time.Location) error {
	encKey := cfg.EncryptionKey
	if encKey == "" && serve {
		var err error
		if encKey, err = secretFromDataDir(cfg.DataDir, "encryption_key"); err != nil {
			return err
		}
	}
	if encKey == "" {
		log.Warn().Msg("ENCRYPTION_KEY is not set: this worker delivers no notifications (set it, the same as the edges', to run the notifier)")
		return nil
	}
	key, err := secrets.ParseKey(encKey)
	if err != nil {
		return usageError{err}
	}
	box, err := secrets.NewBox(key)
	if err != nil {
		return err
	}
	ncfg := workers.NotifyDefaults()
	ncfg.AllowPrivate, ncfg.Location = cfg.NotifyAllowPrivate, loc
	n := workers.NewNotifier(js, st, box, log, reg, ncfg)
	wg.Go(func() {
		if err := n.Run(ctx); err != nil {
			log.Error().Err(err).Msg("notifier stopped with an error")
		}
	})
	return nil
}

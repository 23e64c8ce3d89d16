package edge

import (
	"crypto/hmac"
	"crypto/sha256"

	"github.com/rs/zerolog"

	"relay/edge/console"
)

// newStatsPage builds the key holder's page, /stats (DESIGN.md section 8):
// the console's public page over the admin actions' KeyHolderStats. Its
// CSRF tokens are keyed by a key derived from JWT_SECRET for this use
// alone.
func newStatsPage(cfg Config, log zerolog.Logger, kh console.KeyHolder) (*console.Handler, error) {
	m := hmac.New(sha256.New, cfg.JWTSecret)
	m.Write([]byte("relay key holder page v1"))
	return console.New(console.Config{Secret: m.Sum(nil), Logger: log, KeyHolder: kh}, nil)
}

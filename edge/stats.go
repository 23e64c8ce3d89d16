package edge

import (
	"crypto/hmac"
	"crypto/sha256"
	"net/http"

	"github.com/rs/zerolog"

	"relay/edge/console"
	"relay/edge/httpx"
)

// newStatsPage builds the key holder's page, /stats (DESIGN.md section 8):
// the console's public page over the admin actions' KeyHolderStats. Its
// CSRF tokens are keyed by a key derived from JWT_SECRET for this use
// alone.
func newStatsPage(cfg Config, log zerolog.Logger, kh console.KeyHolder) (*console.Handler, error) {
	m := hmac.New(sha256.New, cfg.JWTSecret)
	m.Write([]byte("relay key holder page v1"))
	// Its cookies are Secure when the browser came over TLS, to relay or to
	// a trusted proxy, as the admin API's device cookie is.
	secure := func(r *http.Request) bool { return httpx.OverTLS(r, cfg.TrustedProxies) }
	return console.New(console.Config{Secret: m.Sum(nil), Logger: log, KeyHolder: kh, Secure: secure}, nil)
}

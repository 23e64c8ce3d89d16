package relay

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/rs/zerolog"

	"relay/edge/catalog"
	"relay/edge/secrets"
	"relay/events"
)

// BenchmarkAuthenticateKey measures the relay's key check on a catalog of
// 10,000 keys: hash the secret, look it up under the catalog's read lock,
// compare in constant time. unknown is a well-formed secret of no key;
// malformed is refused before hashing; parallel is known on every CPU (the
// catalog's RWMutex shared by all requests).
func BenchmarkAuthenticateKey(b *testing.B) {
	const keys = 10000
	cat := catalog.New(zerolog.Nop())
	var known string
	at := time.Now()
	for i := range keys {
		secret, err := secrets.NewAPIKey()
		if err != nil {
			b.Fatal(err)
		}
		k := events.Key{ID: fmt.Sprintf("key%05d", i), Name: "bench", IsActive: true, Permissions: "all", KeyHash: secrets.HashKey(secret)}
		env, err := events.New(events.KeyCreated, at, "bench", "", k)
		if err != nil {
			b.Fatal(err)
		}
		env.Seq, env.Subject = uint64(i+1), events.KeySubject(k.ID)
		cat.Apply(env)
		if i == keys/2 {
			known = secret
		}
	}
	unknown, _ := secrets.NewAPIKey()
	s := &Relay{catalog: cat}
	e := echo.New()
	// The request and its context are built once: the loop measures the
	// check alone.
	newContext := func(key string) echo.Context {
		req := httptest.NewRequest(http.MethodPost, "/api/v1/messages", nil)
		req.Header.Set("x-api-key", key)
		return e.NewContext(req, httptest.NewRecorder())
	}
	check := func(c echo.Context, want bool) error {
		if _, err := s.authenticateKey(c, at); (err == nil) != want {
			return fmt.Errorf("authenticateKey = %v, want ok=%t", err, want)
		}
		return nil
	}
	for _, bc := range []struct {
		name, key string
		ok        bool
	}{{"known", known, true}, {"unknown", unknown, false}, {"malformed", "sk-ant-api03-not-a-relay-key", false}} {
		b.Run(bc.name, func(b *testing.B) {
			c := newContext(bc.key)
			b.ReportAllocs()
			for b.Loop() {
				if err := check(c, bc.ok); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			c := newContext(known)
			for pb.Next() {
				if err := check(c, true); err != nil {
					b.Error(err) // not Fatal: this is not the benchmark's goroutine
					return
				}
			}
		})
	})
}

package edge_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"relay/edge/edgetest"
	"relay/events"
	"relay/events/streams"
	"relay/store"
	"relay/store/redistest"
)

// BenchmarkConsolePagesWith10000Keys measures the server time of console
// pages on the real store (a real redis-server) holding 10,000 keys, each
// with limits, so the keys page draws its limit bars: issue 15's budget is
// 50 ms per page. The keys are published as CONFIG events and projected
// like any key.
func BenchmarkConsolePagesWith10000Keys(b *testing.B) {
	env := edgetest.Start(b, redistest.Real(b), edgetest.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var last uint64
	for i := range 10000 {
		k := events.Key{ID: events.NewID(time.Now()), Name: fmt.Sprintf("bench key %05d", i), IsActive: true, Permissions: "all",
			KeyHash: fmt.Sprintf("%064x", i), ExpirationMode: "fixed", ActivationUnit: "days",
			DailyCostLimitMicros: 5_000_000, RateLimitWindow: 60, RateLimitRequests: 100, ConcurrencyLimit: 4}
		env2, err := events.New(events.KeyCreated, time.Now(), "bench", "", k)
		if err != nil {
			b.Fatal(err)
		}
		if last, err = streams.Publish(ctx, env.JS, events.KeySubject(k.ID), env2, nil); err != nil {
			b.Fatal(err)
		}
	}
	if err := env.Store.WaitCheckpoint(ctx, store.ProjectionConfig, last); err != nil {
		b.Fatal(err)
	}
	if err := env.Edge.Catalog().WaitConfig(ctx, last); err != nil {
		b.Fatal(err)
	}
	c := signedInConsole(b, env)
	for _, page := range []string{"/console/", "/console/keys", "/console/keys?page=250&search=bench", "/console/accounts", "/console/audit"} {
		b.Run(strings.ReplaceAll(strings.TrimPrefix(page, "/console/"), "/", "_"), func(b *testing.B) {
			for b.Loop() {
				resp, err := c.Get(env.HTTP.URL + page)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					b.Fatalf("%s: %d", page, resp.StatusCode)
				}
			}
		})
	}
}

var benchCSRF = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// signedInConsole is an HTTP client signed in to the console.
func signedInConsole(b *testing.B, env *edgetest.Env) *http.Client {
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	resp, err := c.Get(env.HTTP.URL + "/console/login")
	if err != nil {
		b.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := benchCSRF.FindSubmatch(body)
	if m == nil {
		b.Fatal("no CSRF token on the sign-in page")
	}
	resp, err = c.PostForm(env.HTTP.URL+"/console/login", url.Values{"csrf": {string(m[1])}, "username": {"admin"},
		"password": {edgetest.AdminPassword}, "next": {"/console/"}})
	if err != nil {
		b.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b.Fatalf("sign in: %d", resp.StatusCode)
	}
	return c
}

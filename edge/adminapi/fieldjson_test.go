package adminapi

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"relay/edge/fault"
	"relay/edge/secrets"
	"relay/events"
)

// readBody runs readFields over body the way a handler does.
func readBody[T any](body string, specs []fieldSpec[T], dst *T) (map[string]bool, error) {
	req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
	c := echo.New().NewContext(req, httptest.NewRecorder())
	return readFields(c, specs, dst)
}

// Whatever the body, reading a key or an account either succeeds or fails
// with a 400 or 413 Error: never a panic, never an internal error. Every
// successful read marshals into changes naming only known wire fields.
func FuzzAdminBodies(f *testing.F) {
	for _, seed := range []string{
		`{"name":"k","tags":["a"],"expiresAt":"2030-01-01T00:00:00Z","rateLimitCost":1.5}`,
		`{"name":"a","apiUrl":"https://x.example","apiKey":"sk-x","proxy":{"protocol":"http","host":"h","port":1,"auth":{"username":"u","password":"p"}}}`,
		`{"supportedModels":["a","b"]}`, `{"supportedModels":{"a":"b"}}`, `{"proxy":null}`, `{"proxy":{"auth":[]}}`,
		`{"priority":1e400}`, `{"dailyQuota":-0}`, `{"allowedClients":[null]}`, `{"name":"\u0000"}`, `[]`, `null`, `{}`, `{"a":`,
	} {
		f.Add(seed)
	}
	box, err := secrets.NewBox([]byte("fuzz-encryption-key-of-32-bytes!"))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body string) {
		check := func(err error) {
			if err == nil {
				return
			}
			var e *fault.Error
			if !errors.As(err, &e) || (e.Kind != fault.Invalid && e.Kind != fault.TooLarge) || e.Message == "" {
				t.Fatalf("body %q: error %v is not a clear 4xx", body, err)
			}
		}
		k := newKeyDefaults()
		sent, err := readBody(body, keyFields, &k)
		check(err)
		if err == nil {
			if _, err := checkKey(&k, sent, false, time.Now()); err != nil {
				check(err)
			} else if _, err := wireChanges(k, keyFields, sent); err != nil {
				t.Fatalf("changes: %v", err)
			}
		}
		a := accountDraft{Account: newAccountDefaults(events.PlatformCodex), box: box}
		sent, err = readBody(body, accountFields, &a)
		check(err)
		if err == nil {
			if _, err := accountChanges(a.Account, sent); err != nil {
				t.Fatalf("changes: %v", err)
			}
		}
	})
}

func TestWireChangesCarryOnlySentFields(t *testing.T) {
	tests := []struct {
		body, want string
	}{
		{`{"name":"n"}`, `{"name":"n"}`},
		{`{"rateLimitCost":0.000001,"tags":null}`, `{"rateLimitCostMicros":1,"tags":[]}`},
		{`{"dailyCostLimit":12.3456789}`, `{"dailyCostLimitMicros":12345679}`},
		{`{"codexAccountId":null,"expiresAt":null}`, `{"codexAccountId":"","expiresAt":null}`},
	}
	for _, tt := range tests {
		k := events.Key{Name: "old", Tags: []string{"x"}}
		sent, err := readBody(tt.body, keyFields, &k)
		if err != nil {
			t.Fatalf("%s: %v", tt.body, err)
		}
		got, err := wireChanges(k, keyFields, sent)
		if err != nil || string(got) != tt.want {
			t.Errorf("%s: changes %s, want %s (%v)", tt.body, got, tt.want, err)
		}
	}
	// A proxy is written whole, so the projection's merge cannot keep an
	// old username under a proxy sent without one.
	box, _ := secrets.NewBox([]byte("fuzz-encryption-key-of-32-bytes!"))
	a := accountDraft{Account: events.Account{Proxy: &events.Proxy{Protocol: "http", Host: "old", Port: 1, Username: "u", PasswordSealed: "v1:x"}}, box: box}
	sent, err := readBody(`{"proxy":{"protocol":"socks5","host":"h","port":2}}`, accountFields, &a)
	if err != nil {
		t.Fatal(err)
	}
	got, err := accountChanges(a.Account, sent)
	if want := `{"proxy":{"protocol":"socks5","host":"h","port":2,"username":"","passwordSealed":""}}`; err != nil || string(got) != want {
		t.Errorf("proxy changes %s, want %s", got, want)
	}
}

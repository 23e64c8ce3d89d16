package console

import (
	"strings"
	"testing"
	"time"
)

// FuzzSessionCookie: no cookie value makes parsing panic, and only a value
// we signed is accepted, read back exactly as it was signed.
func FuzzSessionCookie(f *testing.F) {
	k := deriveKeys(testSecret)
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	good := k.sign(session{ID: "abc", Username: "admin", Version: 7, Expires: now.Add(time.Hour)})
	for _, seed := range []string{good, "", "s1", "s1.....", good + "x", strings.Replace(good, "s1.", "s2.", 1), "s1.YWRtaW4.abc.7.99999999999.sig"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, value string) {
		s, ok := k.parse(value, now)
		if !ok {
			return
		}
		if k.sign(s) != value {
			t.Fatalf("accepted %q, which is not what we sign for %+v", value, s)
		}
		if !now.Before(s.Expires) || s.Username == "" {
			t.Fatalf("accepted an expired or nameless session %+v", s)
		}
	})
}

func TestCSRFTokensArePerPurpose(t *testing.T) {
	k := deriveKeys(testSecret)
	if k.csrfToken("x") == k.anonCSRF("x") {
		t.Fatal("a session's CSRF token equals the anonymous one of the same value")
	}
	if k.csrfToken("a") == k.csrfToken("b") {
		t.Fatal("two sessions share a CSRF token")
	}
	other := deriveKeys([]byte("another secret that is at least 32 bytes"))
	if other.csrfToken("a") == k.csrfToken("a") {
		t.Fatal("the CSRF token does not depend on the secret")
	}
}

func TestConfigValidate(t *testing.T) {
	if err := (Config{Secret: []byte("short")}).Defaults().Validate(); err == nil {
		t.Fatal("a short secret was accepted")
	}
	if _, err := New(Config{}, newFakeBackend()); err == nil {
		t.Fatal("New accepted no secret")
	}
	if err := (Config{Secret: testSecret}).Defaults().Validate(); err != nil {
		t.Fatal(err)
	}
}

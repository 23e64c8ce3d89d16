package admin

import (
	"errors"
	"testing"
	"time"

	"relay/edge/fault"
	"relay/edge/secrets"
	"relay/events"
)

func TestParseUSDIsExact(t *testing.T) {
	tests := []struct {
		text   string
		micros int64
		ok     bool
	}{
		{"0", 0, true}, {"-0", 0, true}, {"5", 5_000_000, true}, {"0.000001", 1, true},
		{"12.3456789", 12_345_679, true}, {"0.0000005", 1, true}, {"0.00000049", 0, true},
		{"1e3", 1_000_000_000, true}, {"1E-6", 1, true}, {"1000000000", 1_000_000_000_000_000, true},
		// float64 would round this one: 999999999.999999 is not exact in
		// binary, the micro-dollars must be.
		{"999999999.999999", 999_999_999_999_999, true},
		{"1000000000.000001", 0, false}, {"-1", 0, false}, {"1e999", 0, false}, {"abc", 0, false},
		{"0x10", 0, false}, {"1/3", 0, false}, {"", 0, false}, {"1e99999", 0, false},
	}
	for _, tt := range tests {
		got, err := parseUSD("dailyCostLimit", tt.text)
		var e *fault.Error
		switch {
		case tt.ok && (err != nil || got != tt.micros):
			t.Errorf("parseUSD(%q) = %d, %v; want %d", tt.text, got, err, tt.micros)
		case !tt.ok && (!errors.As(err, &e) || e.Field != "dailyCostLimit"):
			t.Errorf("parseUSD(%q) = %d, %v; want an error naming the field", tt.text, got, err)
		}
	}
}

func TestKeyChangesCarryOnlySentFields(t *testing.T) {
	tests := []struct {
		in   KeyInput
		want string
	}{
		{KeyInput{Name: Some("n")}, `{"name":"n"}`},
		{KeyInput{RateLimitCost: Some("0.000001"), Tags: Some([]string{})}, `{"rateLimitCostMicros":1,"tags":[]}`},
		{KeyInput{DailyCostLimit: Some("12.3456789")}, `{"dailyCostLimitMicros":12345679}`},
		{KeyInput{CodexAccountID: Some(""), ExpiresAt: Some[*time.Time](nil)}, `{"codexAccountId":"","expiresAt":null}`},
		{KeyInput{Tags: Some([]string{" a ", "a", "b"})}, `{"tags":["a","b"]}`},
	}
	for _, tt := range tests {
		k := events.Key{Name: "old", Tags: []string{"x"}}
		sent, err := applyKey(tt.in, &k)
		if err != nil {
			t.Fatalf("%+v: %v", tt.in, err)
		}
		got, err := keyChanges(k, sent)
		if err != nil || string(got) != tt.want {
			t.Errorf("%+v: changes %s, want %s (%v)", tt.in, got, tt.want, err)
		}
	}
}

// A proxy is written whole, so the projection's merge cannot keep an old
// username under a proxy sent without one; a password not sent is kept
// for the same username, and removed when hasPassword is false.
func TestAccountProxyChanges(t *testing.T) {
	box, err := secrets.NewBox([]byte("fuzz-encryption-key-of-32-bytes!"))
	if err != nil {
		t.Fatal(err)
	}
	s := &Service{box: box}
	old := events.Account{Proxy: &events.Proxy{Protocol: "http", Host: "old", Port: 1, Username: "u", PasswordSealed: "v1:x"}}
	a := old
	sent, err := s.applyAccount(AccountInput{Proxy: Some(&ProxyInput{Protocol: "socks5", Host: "h", Port: 2})}, &a)
	if err != nil {
		t.Fatal(err)
	}
	got, err := accountChanges(a, sent)
	if want := `{"proxy":{"protocol":"socks5","host":"h","port":2,"username":"","passwordSealed":""}}`; err != nil || string(got) != want {
		t.Errorf("proxy changes %s, want %s", got, want)
	}
	for _, tt := range []struct {
		name string
		auth ProxyAuthInput
		keep bool
	}{
		{"same username keeps it", ProxyAuthInput{Username: "u"}, true},
		{"hasPassword false removes it", ProxyAuthInput{Username: "u", HasPassword: Some(false)}, false},
		{"another username drops it", ProxyAuthInput{Username: "v"}, false},
		{"an empty password removes it", ProxyAuthInput{Username: "u", Password: Some("")}, false},
	} {
		a := old
		if _, err := s.applyAccount(AccountInput{Proxy: Some(&ProxyInput{Protocol: "http", Host: "old", Port: 1, Auth: &tt.auth})}, &a); err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if kept := a.Proxy.PasswordSealed == "v1:x"; kept != tt.keep {
			t.Errorf("%s: password kept %t, want %t", tt.name, kept, tt.keep)
		}
	}
}

// Whatever a transport puts in an input, applying and checking it either
// succeeds or names a field: never a panic, never an internal error.
func FuzzKeyInput(f *testing.F) {
	f.Add("name", "1.5", "tag", int64(3), "fixed")
	f.Add("", "-1", "", int64(-1), "activation")
	f.Add("n\x00", "1e400", "\u200b", int64(1<<40), "x")
	f.Fuzz(func(t *testing.T, name, usd, tag string, n int64, mode string) {
		in := KeyInput{Name: Some(name), DailyCostLimit: Some(usd), Tags: Some([]string{tag}), ActivationDays: Some(n),
			ExpirationMode: Some(mode), RateLimitRequests: Some(n), AllowedClients: Some([]string{tag})}
		k := newKeyDefaults()
		sent, err := applyKey(in, &k)
		if err == nil {
			_, err = checkKey(&k, sent, false, time.Now())
		}
		var e *fault.Error
		if err != nil && (!errors.As(err, &e) || e.Kind != fault.Invalid || e.Field == "") {
			t.Fatalf("%+v: %v", in, err)
		}
		if err == nil {
			if _, err := keyChanges(k, sent); err != nil {
				t.Fatalf("changes: %v", err)
			}
		}
	})
}

package consoleadmin

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"relay/edge/admin"
	"relay/edge/console"
	"relay/events"
)

// A key form sets exactly the fields it names, its dollar amounts as
// typed: the actions read them.
func TestKeyInputSetsOnlyTheNamedFields(t *testing.T) {
	exp := time.Date(2027, 1, 2, 3, 4, 0, 0, time.UTC)
	in := console.KeyInput{
		Key: events.Key{Name: "ci", IsActive: true, ExpiresAt: &exp, ConcurrencyLimit: 3, Tags: []string{"a"}, RateLimitCostMicros: 99},
		USD: map[string]string{"rateLimitCost": "1.5", "dailyCostLimit": "0"},
	}
	in.Fields = []string{"name", "expiresAt", "concurrencyLimit", "rateLimitCost"}
	got := keyInput(in)
	want := admin.KeyInput{
		Name: admin.Some("ci"), ExpiresAt: admin.Some(&exp), ConcurrencyLimit: admin.Some(int64(3)), RateLimitCost: admin.Some("1.5"),
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("keyInput = %+v, want %+v", got, want)
	}
}

// An account form's proxy keeps its password unless one is typed, and the
// daily quota goes as typed.
func TestAccountInputProxyPasswordAndQuota(t *testing.T) {
	in := console.AccountInput{Fields: []string{"proxy", "dailyQuota"}, Account: console.AccountFields{
		DailyQuota: "12.50", Proxy: &console.ProxyFields{Protocol: "http", Host: "proxy.example", Port: 8080, Username: "u"},
	}}
	got := accountInput(in)
	if got.DailyQuota != admin.Some("12.50") || got.Name.Set {
		t.Fatalf("quota %+v, name %+v", got.DailyQuota, got.Name)
	}
	p := got.Proxy.Value
	if !got.Proxy.Set || p.Host != "proxy.example" || p.Port != 8080 || p.Auth == nil || p.Auth.Username != "u" || p.Auth.Password.Set {
		t.Fatalf("proxy %+v auth %+v: an empty password must keep the current one", p, p.Auth)
	}
	in.Account.Proxy.Password = "secret"
	if pw := accountInput(in).Proxy.Value.Auth.Password; pw != admin.Some("secret") {
		t.Fatalf("typed password %+v", pw)
	}
	in.Account.Proxy = nil
	if got := accountInput(in).Proxy; !got.Set || got.Value != nil {
		t.Fatalf("no proxy: %+v, want the proxy removed", got)
	}
}

// An audit entry lists the fields its payload sets, an update's changes
// rather than its envelope, strings unquoted.
func TestAuditChangesFlattenThePayload(t *testing.T) {
	for _, tc := range []struct {
		name, data string
		want       []console.FieldChange
	}{
		{"created", `{"id":"k1","label":"ci","concurrencyLimit":3,"tags":["a"]}`, []console.FieldChange{
			{Field: "concurrencyLimit", After: "3"}, {Field: "label", After: "ci"}, {Field: "tags", After: `["a"]`}}},
		{"updated", `{"id":"k1","changes":{"dailyCostLimitMicros":2500000,"name":"b"}}`, []console.FieldChange{
			{Field: "dailyCostLimitMicros", Before: "1000000", After: "2500000"}, {Field: "name", Before: "a", After: "b"}}},
		{"not json", `null`, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := map[string]json.RawMessage{"dailyCostLimitMicros": json.RawMessage("1000000"), "name": json.RawMessage(`"a"`)}
			got := auditChanges(admin.AuditEntry{Data: json.RawMessage(tc.data)}, before)
			if len(got) == 0 && len(tc.want) == 0 {
				return
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestSessionSecretIsDerivedNotTheJWTSecret(t *testing.T) {
	jwt := []byte("0123456789abcdef0123456789abcdef")
	a, b := SessionSecret(jwt), SessionSecret(append([]byte{}, jwt...))
	if len(a) < 32 || string(a) != string(b) || string(a) == string(jwt) {
		t.Fatalf("session secret %x", a)
	}
	m := hmac.New(sha256.New, jwt)
	m.Write([]byte("relay console session v1"))
	if !hmac.Equal(a, m.Sum(nil)) {
		t.Fatal("the session secret is not HMAC-SHA256(JWT_SECRET, \"relay console session v1\")")
	}
	if string(SessionSecret([]byte("another secret of thirty-two bytes"))) == string(a) {
		t.Fatal("two JWT secrets give one session secret")
	}
}

package adminapi

import (
	"encoding/json"
	"errors"
	"testing"

	"relay/edge/admin"
	"relay/edge/fault"
)

// Whatever the body, decoding a key or an account either succeeds or fails
// with a clear validation error: never a panic, never an internal error.
func FuzzAdminBodies(f *testing.F) {
	for _, seed := range []string{
		`{"name":"k","tags":["a"],"expiresAt":"2030-01-01T00:00:00Z","rateLimitCost":1.5}`,
		`{"name":"a","apiUrl":"https://x.example","apiKey":"sk-x","proxy":{"protocol":"http","host":"h","port":1,"auth":{"username":"u","password":"p"}}}`,
		`{"supportedModels":["a","b"]}`, `{"supportedModels":{"a":"b"}}`, `{"proxy":null}`, `{"proxy":{"auth":[]}}`,
		`{"priority":1e400}`, `{"dailyQuota":-0}`, `{"allowedClients":[null]}`, `{"name":"\u0000"}`, `[]`, `null`, `{}`, `{"a":`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body string) {
		var fields map[string]json.RawMessage
		if json.Unmarshal([]byte(body), &fields) != nil {
			return // the strict body reader's own tests cover malformed JSON
		}
		check := func(err error) {
			var e *fault.Error
			if err != nil && (!errors.As(err, &e) || e.Kind != fault.Invalid || e.Message == "") {
				t.Fatalf("body %q: error %v is not a clear validation error", body, err)
			}
		}
		var k admin.KeyInput
		check(decodeFields(fields, keyFields, &k))
		var a admin.AccountInput
		check(decodeFields(fields, accountFields, &a))
	})
}

// The JSON form of each kind of value reaches the action's input: a number
// as the decimal text written, null as the field's empty value, and only
// the fields sent are set.
func TestDecodeFieldsSetsOnlySentFields(t *testing.T) {
	var k admin.KeyInput
	body := map[string]json.RawMessage{
		"rateLimitCost": json.RawMessage(`0.000001`), "tags": json.RawMessage(`null`),
		"codexAccountId": json.RawMessage(`null`), "expiresAt": json.RawMessage(`null`), "concurrencyLimit": json.RawMessage(`3`),
	}
	if err := decodeFields(body, keyFields, &k); err != nil {
		t.Fatal(err)
	}
	if k.Name.Set || !k.RateLimitCost.Set || k.RateLimitCost.Value != "0.000001" || !k.Tags.Set || len(k.Tags.Value) != 0 ||
		!k.CodexAccountID.Set || k.CodexAccountID.Value != "" || !k.ExpiresAt.Set || k.ExpiresAt.Value != nil ||
		k.ConcurrencyLimit != admin.Some[int64](3) {
		t.Fatalf("decoded %+v", k)
	}
	for _, bad := range []struct{ field, raw string }{
		{"rateLimitCost", `"5"`}, {"name", `null`}, {"concurrencyLimit", `1.5`}, {"tags", `[1]`}, {"expiresAt", `"tomorrow"`},
		{"isActive", `"yes"`}, {"name", `"\ud800"`},
	} {
		var in admin.KeyInput
		err := decodeFields(map[string]json.RawMessage{bad.field: json.RawMessage(bad.raw)}, keyFields, &in)
		var e *fault.Error
		if !errors.As(err, &e) || e.Field != bad.field {
			t.Errorf("%s = %s: error %v, want one naming the field", bad.field, bad.raw, err)
		}
	}
}

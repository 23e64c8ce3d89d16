package console

import (
	"context"
	"net/http"
	"net/url"
	"testing"

	"relay/edge/fault"
)

// faultBackend answers with the admin actions' own errors (edge/fault),
// as the real backend may pass them through unchanged.
type faultBackend struct {
	*fakeBackend
	signIn, update, change error
}

func (f *faultBackend) SignIn(ctx context.Context, in SignInInput) (SignInResult, error) {
	if f.signIn != nil {
		return SignInResult{}, f.signIn
	}
	return f.fakeBackend.SignIn(ctx, in)
}

func (f *faultBackend) UpdateKey(ctx context.Context, id string, in KeyInput) error {
	if f.update != nil {
		return f.update
	}
	return f.fakeBackend.UpdateKey(ctx, id, in)
}

func (f *faultBackend) ChangeAccount(ctx context.Context, id string, a AccountAction, m Meta) error {
	if f.change != nil {
		return f.change
	}
	return f.fakeBackend.ChangeAccount(ctx, id, a, m)
}

func TestFaultErrorsFromTheAdminActions(t *testing.T) {
	fb := &faultBackend{fakeBackend: newFakeBackend()}
	e, _ := newTestServer(t, fb)
	b := newBrowser(t, e)
	b.signIn("correct horse")
	form := keyFormValuesFull()
	form.Set("csrf", b.csrf("/console/keys/new"))
	requireStatus(t, b.post("/console/keys/new", form), http.StatusCreated)

	cases := []struct {
		name string
		err  error
		want int
		text string
	}{
		{"invalid field", fault.InvalidField("rateLimitCost", "rateLimitCost must be at most 1000000"), http.StatusBadRequest, `id="rateLimitCost-err">rateLimitCost must be at most 1000000</p>`},
		{"conflict", fault.New(fault.Conflict, "changed"), http.StatusConflict, "Someone changed this key"},
		{"not found", fault.New(fault.NotFound, "no such key"), http.StatusNotFound, "There is no such page."},
	}
	for _, tc := range cases {
		fb.update = tc.err
		form.Set("csrf", b.csrf("/console/keys/key-new-1"))
		form.Set("version", "1")
		rec := b.post("/console/keys/key-new-1", form)
		if rec.Code != tc.want {
			t.Errorf("%s: status %d, want %d", tc.name, rec.Code, tc.want)
		}
		requireContains(t, rec.Body.String(), tc.text)
	}

	fb.fakeBackend.acctByID = map[string]*AccountDetail{"a1": {ID: "a1", Account: AccountFields{Platform: "codex", Name: "a"}}}
	fb.change = fault.New(fault.Conflict, "the account is the dedicated account of 2 API key(s)")
	rec := b.post("/console/accounts/a1/action", url.Values{"csrf": {b.csrf("/console/accounts/a1")}, "action": {"delete"}})
	requireStatus(t, rec, http.StatusConflict)
	requireContains(t, rec.Body.String(), "dedicated account of 2 API key(s)")

	anon := newBrowser(t, e)
	for _, tc := range []struct {
		err   error
		want  int
		after string
	}{
		{fault.New(fault.Unauthorized, "invalid username or password"), http.StatusUnauthorized, ""},
		{&fault.Error{Kind: fault.RateLimited, Message: "too many", RetryAfter: 42}, http.StatusTooManyRequests, "42"},
	} {
		fb.signIn = tc.err
		rec := anon.post("/console/login", url.Values{"csrf": {anon.csrf("/console/login")}, "username": {"admin"}, "password": {"x"}})
		if rec.Code != tc.want || rec.Header().Get("Retry-After") != tc.after {
			t.Errorf("sign-in with %v: %d, Retry-After %q", tc.err, rec.Code, rec.Header().Get("Retry-After"))
		}
	}
}

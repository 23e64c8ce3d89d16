package console

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

func keyFormValuesFull() url.Values {
	return url.Values{
		"name": {"ci bot"}, "description": {"for CI"}, "permissions": {"claude"}, "tags": {"ci, team-a ,, "},
		"isActive": {"on"}, "expiry": {"fixed"}, "expiresAt": {"2027-01-31T18:30"}, "activationUnit": {"days"},
		"concurrencyLimit": {"4"}, "rateLimitWindow": {"60"}, "rateLimitRequests": {"100"},
		"rateLimitCost": {"2.5"}, "dailyCostLimit": {"$20"}, "totalCostLimit": {"0.000001"}, "weeklyOpusCostLimit": {""},
		"enableModelRestriction": {"on"}, "restrictedModels": {"claude-sonnet-4-5\nclaude-haiku-4-5"},
		"enableClientRestriction": {"on"}, "allowedClients": {"claude_code"},
	}
}

func TestCreateKeyShowsTheSecretOnce(t *testing.T) {
	f := newFakeBackend()
	e, _ := newTestServer(t, f)
	b := newBrowser(t, e)
	b.signIn("correct horse")
	requireContains(t, b.get("/console/keys/new").Body.String(), "New API key", `name="rateLimitCost"`, "none (the shared pool)")

	form := keyFormValuesFull()
	form.Set("csrf", b.csrf("/console/keys/new"))
	rec := b.post("/console/keys/new", form)
	requireStatus(t, rec, http.StatusCreated)
	body := rec.Body.String()
	secret := "cr_" + strings.Repeat("ab", 32)
	requireContains(t, body, "Key ci bot created", `<code id="secret" class="secret-value">`+secret+`</code>`,
		"export ANTHROPIC_BASE_URL=http://example.com/api\nexport ANTHROPIC_AUTH_TOKEN="+secret,
		`base_url = &#34;http://example.com/openai&#34;`, "export RELAY_API_KEY="+secret, `data-copy="#secret"`)
	if rec.Header().Get("Cache-Control") != "no-store" {
		t.Error("the secret page may be cached")
	}

	in := f.lastInput
	k := in.Key
	wantExpiry := time.Date(2027, 1, 31, 18, 30, 0, 0, time.UTC)
	if k.Name != "ci bot" || k.Permissions != "claude" || !k.IsActive || !slices.Equal(k.Tags, []string{"ci", "team-a"}) ||
		k.ExpirationMode != "fixed" || k.ExpiresAt == nil || !k.ExpiresAt.Equal(wantExpiry) ||
		k.ConcurrencyLimit != 4 || k.RateLimitWindow != 60 || k.RateLimitRequests != 100 ||
		k.RateLimitCostMicros != 2_500_000 || k.DailyCostLimitMicros != 20_000_000 || k.TotalCostLimitMicros != 1 || k.WeeklyOpusCostLimitMicros != 0 ||
		!k.EnableModelRestriction || !slices.Equal(k.RestrictedModels, []string{"claude-sonnet-4-5", "claude-haiku-4-5"}) ||
		!k.EnableClientRestriction || !slices.Equal(k.AllowedClients, []string{"claude_code"}) {
		t.Errorf("the backend got %+v", k)
	}
	if !slices.Equal(in.Fields, allKeyFields) || in.Actor != "admin" {
		t.Errorf("fields %v, actor %q", in.Fields, in.Actor)
	}
	// The key's own page never shows the secret again.
	if strings.Contains(b.get("/console/keys/key-new-1").Body.String(), secret) {
		t.Error("the key page shows the secret")
	}
}

func TestCreateKeyFieldErrors(t *testing.T) {
	f := newFakeBackend()
	e, _ := newTestServer(t, f)
	b := newBrowser(t, e)
	b.signIn("correct horse")

	// What the console cannot read is refused before the backend sees it
	// (dollar amounts are the backend's to read).
	form := keyFormValuesFull()
	form.Set("csrf", b.csrf("/console/keys/new"))
	form.Set("rateLimitCost", "two dollars")
	form.Set("concurrencyLimit", "4.5")
	form.Set("expiresAt", "tomorrow")
	f.lastInput = KeyInput{}
	rec := b.post("/console/keys/new", form)
	requireStatus(t, rec, http.StatusBadRequest)
	requireContains(t, rec.Body.String(),
		`id="concurrencyLimit-err">Enter a whole number.</p>`,
		`id="expiresAt-err">Enter a date and time.</p>`,
		`value="two dollars"`, `value="ci bot"`)
	if f.lastInput.Key.Name != "" {
		t.Error("the backend was asked despite unreadable fields")
	}

	// The backend's refusals show next to their fields.
	form = keyFormValuesFull()
	form.Set("csrf", b.csrf("/console/keys/new"))
	form.Set("name", "  ")
	form.Set("rateLimitWindow", "-5")
	rec = b.post("/console/keys/new", form)
	requireStatus(t, rec, http.StatusBadRequest)
	requireContains(t, rec.Body.String(), `id="name-err">Required.</p>`, `id="rateLimitWindow-err">rateLimitWindow must be at least 0</p>`,
		`aria-describedby="rateLimitWindow-err"`, `value="-5"`)

	// A dollar amount goes to the backend as typed; its refusal shows next
	// to the field, translated by its code.
	form = keyFormValuesFull()
	form.Set("csrf", b.csrf("/console/keys/new"))
	form.Set("rateLimitCost", "two dollars")
	rec = b.post("/console/keys/new", form)
	requireStatus(t, rec, http.StatusBadRequest)
	requireContains(t, rec.Body.String(), `id="rateLimitCost-err">Enter an amount in dollars, like 12.50.</p>`, `value="two dollars"`)
}

func TestEditKey(t *testing.T) {
	f := newFakeBackend()
	e, _ := newTestServer(t, f)
	b := newBrowser(t, e)
	b.signIn("correct horse")
	form := keyFormValuesFull()
	form.Set("csrf", b.csrf("/console/keys/new"))
	requireStatus(t, b.post("/console/keys/new", form), http.StatusCreated)

	body := b.get("/console/keys/key-new-1").Body.String()
	requireContains(t, body, "Key ci bot", `name="version" value="1"`, `value="2.5"`, `value="20"`, `value="0.000001"`,
		`value="2027-01-31T18:30"`, `value="ci, team-a"`, `<option value="claude" selected>`, `value="claude_code" checked`)

	form.Set("csrf", b.csrf("/console/keys/key-new-1"))
	form.Set("version", "1")
	form.Set("dailyCostLimit", "25.75")
	rec := b.post("/console/keys/key-new-1", form)
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/console/keys/key-new-1?done=saved" {
		t.Fatalf("update: %d %s\n%s", rec.Code, rec.Header().Get("Location"), rec.Body)
	}
	if got := f.lastInput; !slices.Equal(got.Fields, []string{"dailyCostLimit"}) || got.Version != 1 || got.Key.DailyCostLimitMicros != 25_750_000 {
		t.Errorf("update sent fields %v version %d daily %d", got.Fields, got.Version, got.Key.DailyCostLimitMicros)
	}
	requireContains(t, b.get("/console/keys/key-new-1?done=saved").Body.String(), "Saved.", `value="25.75"`)

	// A stale form: a conflict, the typed values kept.
	form.Set("dailyCostLimit", "30")
	rec = b.post("/console/keys/key-new-1", form) // still version 1
	requireStatus(t, rec, http.StatusConflict)
	requireContains(t, rec.Body.String(), "Someone changed this key since you opened it.", `value="30"`, `name="version" value="2"`)

	// A field error from the backend on an edit.
	form.Set("version", "2")
	form.Set("dailyCostLimit", "2000000")
	rec = b.post("/console/keys/key-new-1", form)
	requireStatus(t, rec, http.StatusBadRequest)
	requireContains(t, rec.Body.String(), `id="dailyCostLimit-err">dailyCostLimit must be at most 1000000</p>`)

	requireStatus(t, b.get("/console/keys/nope"), http.StatusNotFound)
}

func TestKeyStateActions(t *testing.T) {
	f := newFakeBackend()
	e, _ := newTestServer(t, f)
	b := newBrowser(t, e)
	b.signIn("correct horse")
	form := keyFormValuesFull()
	form.Set("csrf", b.csrf("/console/keys/new"))
	requireStatus(t, b.post("/console/keys/new", form), http.StatusCreated)

	act := func(action string) *http.Response {
		tok := b.csrf("/console/keys/key-new-1")
		return b.post("/console/keys/key-new-1/state", url.Values{"csrf": {tok}, "action": {action}}).Result()
	}
	for _, tc := range []struct{ action, shows string }{
		{"disable", `value="enable">Enable</button>`},
		{"enable", `value="disable">Disable</button>`},
		{"delete", `value="restore">Restore</button>`},
		{"restore", `value="delete">Delete</button>`},
	} {
		resp := act(tc.action)
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/console/keys/key-new-1?done="+tc.action {
			t.Fatalf("%s: %d %s", tc.action, resp.StatusCode, resp.Header.Get("Location"))
		}
		requireContains(t, b.get(resp.Header.Get("Location")).Body.String(), tc.shows)
	}
	if !slices.Equal(f.states, []string{"disable by admin", "enable by admin", "delete by admin", "restore by admin"}) {
		t.Errorf("states %v", f.states)
	}
	// A deleted key shows no form, and cannot be disabled.
	act("delete")
	body := b.get("/console/keys/key-new-1").Body.String()
	if strings.Contains(body, `name="dailyCostLimit"`) {
		t.Error("a deleted key shows its edit form")
	}
	if resp := act("disable"); resp.StatusCode != http.StatusConflict {
		t.Errorf("disabling a deleted key: %d", resp.StatusCode)
	}
	if resp := act("explode"); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("an unknown action: %d", resp.StatusCode)
	}
	rec := b.post("/console/keys/key-new-1/state", url.Values{"action": {"restore"}})
	requireStatus(t, rec, http.StatusForbidden)
	act("restore")
	requireContains(t, b.get("/console/keys/key-new-1").Body.String(), `data-confirm="Delete the key ci bot? Clients`)
}

// The console never reads money: it hands the amount typed to the
// backend ("0" for an empty field) and tells a change by the text.
func TestMoneyIsPassedAsTyped(t *testing.T) {
	for in, want := range map[string]string{"": "0", "  ": "0", " 12.50 ": "12.50", "lots": "lots"} {
		if got := usdText(in); got != want {
			t.Errorf("usdText(%q) = %q, want %q", in, got, want)
		}
	}
	for _, tc := range []struct {
		old     int64
		typed   string
		changed bool
	}{{0, "0", false}, {5_000_000, "5", false}, {5_000_000, "0", true}, {0, "5", true}, {2_500_000, "2.5", false}, {2_500_000, "2.50", true}} {
		if got := moneyChanged(tc.old, tc.typed); got != tc.changed {
			t.Errorf("moneyChanged(%d, %q) = %v", tc.old, tc.typed, got)
		}
	}
	for m, want := range map[int64]string{0: "", 1: "0.000001", 2_500_000: "2.5", 20_000_000: "20"} {
		if got := microsText(m); got != want {
			t.Errorf("microsText(%d) = %q, want %q", m, got, want)
		}
	}
}

func TestKeyAndAccountPagesShowTheirUsage(t *testing.T) {
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	f := demoBackend(now)
	f.series[Daily] = Series{Granularity: Daily, Timezone: "UTC", Buckets: f.series[Daily].Buckets}
	mine := sampleRecord(now)
	mine.KeyID, mine.AccountID, mine.Model = "key-new-1", "acc-x", "mine-model"
	other := sampleRecord(now)
	other.KeyID, other.Model = "k-other", "other-model"
	f.recent = []RequestRecord{other, mine}
	e, _ := newTestServer(t, f, func(c *Config) { c.Now = func() time.Time { return now } })
	b := newBrowser(t, e)
	b.signIn("correct horse")
	form := keyFormValuesFull()
	form.Set("csrf", b.csrf("/console/keys/new"))
	requireStatus(t, b.post("/console/keys/new", form), http.StatusCreated)

	body := b.get("/console/keys/key-new-1").Body.String()
	requireContains(t, body, "Usage, last 30 days", `<svg class="chart"`, "claude-sonnet-4-5", "mine-model")
	if strings.Contains(body, "other-model") {
		t.Error("the key page lists another key's requests")
	}
	if f.lastSer.KeyID != "key-new-1" || f.lastSer.Granularity != Daily || f.lastSer.Buckets != 30 || f.lastUsage.KeyID != "key-new-1" || f.lastUsage.Days != 30 {
		t.Errorf("series query %+v, usage query %+v", f.lastSer, f.lastUsage)
	}
	f.acctByID = map[string]*AccountDetail{"acc-x": {ID: "acc-x", Account: AccountFields{Platform: "codex", Name: "x"}}}
	body = b.get("/console/accounts/acc-x").Body.String()
	requireContains(t, body, "Usage, last 30 days", "mine-model")
	if f.lastSer.AccountID != "acc-x" || f.lastSer.KeyID != "" {
		t.Errorf("series query %+v", f.lastSer)
	}
}

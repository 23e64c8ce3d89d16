package console

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

func sampleAccounts(now time.Time) []AccountRow {
	return []AccountRow{
		{ID: "acc-main", Name: "console-main", Platform: "claude-console", APIKeyMask: "sk-ant-…a1b2", IsActive: true, Schedulable: true,
			SpentTodayNanos: 12_500_000_000, DailyQuotaNanos: 50_000_000_000, InFlight: 3, MaxConcurrency: 10, LastUsedAt: now.Add(-time.Minute)},
		{ID: "acc-codex", Name: "codex-team", Platform: "codex", IsActive: true, Schedulable: true,
			State: StateRateLimited, StateUntil: now.Add(42 * time.Minute), Unavailable: []string{StateRateLimited}},
		{ID: "acc-full", Name: "quota-hit", Platform: "claude-console", IsActive: true, Schedulable: true,
			SpentTodayNanos: 51_000_000_000, DailyQuotaNanos: 50_000_000_000, InFlight: 10, MaxConcurrency: 10,
			Unavailable: []string{StateOverQuota, ReasonMaxConcurrency}},
		{ID: "acc-off", Name: "retired", Platform: "codex", Unavailable: []string{StateInactive, StateUnschedulable}},
	}
}

func sampleAudit(now time.Time) []AuditEntry {
	return []AuditEntry{
		{Seq: 9, Time: now.Add(-5 * time.Minute), Actor: "admin", Type: "key.updated", EntityKind: "key", EntityID: "key-00002", RequestID: "req-1",
			Changes: []FieldChange{{Field: "tokenLimit", Before: "100000", After: "250000"}, {Field: "tags", Before: `["ci"]`, After: `["ci","team-a"]`}}},
		{Seq: 8, Time: now.Add(-2 * time.Hour), Actor: "admin", Type: "account.updated", EntityKind: "account", EntityID: "acc-main",
			Changes: []FieldChange{{Field: "apiKey", Before: "sk-ant-…9z9z", After: "sk-ant-…a1b2"}}},
		{Seq: 7, Time: now.Add(-26 * time.Hour), Actor: "system", Type: "admin.created", EntityKind: "admin", EntityID: "admin"},
	}
}

func TestAccountsPage(t *testing.T) {
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	f := newFakeBackend()
	f.accounts = sampleAccounts(now)
	e, _ := newTestServer(t, f, func(c *Config) { c.Now = func() time.Time { return now } })
	b := newBrowser(t, e)
	b.signIn("correct horse")
	rec := b.get("/console/accounts")
	requireStatus(t, rec, http.StatusOK)
	requireContains(t, rec.Body.String(),
		"console-main", "Claude Console", "sk-ant-…a1b2", "Available",
		`<div class="meter m-ok"><span class="fill w25"></span></div><span class="meter-text">$12.50 / $50.00</span>`,
		`<span class="fill w30"></span></div><span class="meter-text">3 of 10</span>`,
		"Rate limited", "until in 42 min", "Rate limited by the upstream",
		`<div class="meter m-full"><span class="fill w100"></span>`, "Over its daily quota", "At its maximum concurrency",
		"Disabled by an admin", "Not schedulable", "no quota",
		"Showing 1–4 of 4")

	rec = b.get("/console/accounts?platform=codex&q=team")
	requireContains(t, rec.Body.String(), "codex-team", `<option value="codex" selected>`)
	if f.lastAcct.Platform != "codex" || f.lastAcct.Search != "team" || f.lastAcct.PageSize != listPageSize {
		t.Errorf("query %+v", f.lastAcct)
	}
	b.get("/console/accounts?platform=nope")
	if f.lastAcct.Platform != "" {
		t.Errorf("an unknown platform was passed on: %+v", f.lastAcct)
	}
}

func TestAuditPage(t *testing.T) {
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	f := newFakeBackend()
	f.audit = sampleAudit(now)
	e, _ := newTestServer(t, f, func(c *Config) { c.Now = func() time.Time { return now } })
	b := newBrowser(t, e)
	b.signIn("correct horse")
	body := b.get("/console/audit").Body.String()
	requireContains(t, body, "Key edited", "key-00002", "by admin", "5 min ago", "req-1",
		"<code>tokenLimit</code>", "<code>100000</code>", "<code>250000</code>", "sk-ant-…9z9z", "Admin created", "Showing 1–3 of 3")

	body = b.get("/console/audit?kind=account&id=acc-main&type=account.updated").Body.String()
	requireContains(t, body, "Account edited", `<option value="account.updated" selected>`)
	if q := f.lastAudit; q.EntityKind != "account" || q.EntityID != "acc-main" || q.Type != "account.updated" {
		t.Errorf("query %+v", q)
	}
	// An id without a kind names nothing; unknown filters fall back to all.
	b.get("/console/audit?id=acc-main&type=drop.tables")
	if q := f.lastAudit; q.EntityID != "" || q.Type != "" || q.EntityKind != "" {
		t.Errorf("query %+v", q)
	}
	requireContains(t, b.get("/console/audit?kind=admin&type=key.created").Body.String(), "No change matches.")
}

func TestListPagerLinksKeepFilters(t *testing.T) {
	f := newFakeBackend()
	for i := range 120 {
		f.accounts = append(f.accounts, AccountRow{ID: fmt.Sprintf("acc-%03d", i), Name: fmt.Sprintf("codex %03d", i), Platform: "codex"})
	}
	e, _ := newTestServer(t, f)
	b := newBrowser(t, e)
	b.signIn("correct horse")
	body := b.get("/console/accounts?platform=codex&page=2").Body.String()
	requireContains(t, body, "Showing 51–100 of 120", "Page 2 of 3",
		`href="/console/accounts?platform=codex"`, `href="/console/accounts?page=3&amp;platform=codex"`)
	body = b.get("/console/accounts?platform=codex&page=9").Body.String()
	requireContains(t, body, "No account matches.", `href="/console/accounts?page=3&amp;platform=codex" rel="prev"`)
}

func TestKeysShowLimitsAndCountdowns(t *testing.T) {
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	f := newFakeBackend()
	f.keys = []KeyRow{
		{ID: "k1", Name: "limited", IsActive: true, ExpiresAt: now.Add(50 * time.Hour), Limits: []LimitUsage{
			{Kind: LimitWindowRequests, Limit: 100, Used: 85, ResetsAt: now.Add(12 * time.Minute)},
			{Kind: LimitDailyCost, Limit: 10_000_000_000, Used: 2_500_000_000, ResetsAt: now.Add(12 * time.Hour)},
			{Kind: LimitTotalCost, Limit: 50_000_000_000, Used: 50_000_000_000},
			{Kind: LimitWeeklyOpusCost, Limit: 0, Used: 7},
		}},
		{ID: "k2", Name: "waiting", IsActive: true, ActivationDays: 30, ActivationUnit: "days"},
	}
	e, _ := newTestServer(t, f, func(c *Config) { c.Now = func() time.Time { return now } })
	b := newBrowser(t, e)
	b.signIn("correct horse")
	body := b.get("/console/keys").Body.String()
	requireContains(t, body,
		`Requests in window</span><div class="meter m-high"><span class="fill w85"></span></div><span class="meter-text">85 / 100 · resets in 12 min</span>`,
		`Daily cost</span><div class="meter m-ok"><span class="fill w25"></span></div><span class="meter-text">$2.50 / $10.00 · resets in 12 h</span>`,
		`Total cost</span><div class="meter m-full"><span class="fill w100"></span></div><span class="meter-text">$50.00 / $50.00</span>`,
		`in 2 days`, "30 days after first use", ">none<")
	if strings.Contains(body, "Weekly Opus") {
		t.Error("a limit of 0 (unlimited) is shown")
	}
}

package console

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"relay/edge/admin"
	"relay/events"
)

var channelNow = time.Date(2026, 12, 4, 9, 30, 0, 0, time.UTC)

func channelServer(t *testing.T) (*browser, *fakeChannels) {
	t.Helper()
	fc := newFakeChannels(channelNow)
	e, _ := newTestServer(t, newFakeBackend(), func(c *Config) {
		c.Channels = fc
		c.Now = func() time.Time { return channelNow }
	})
	b := newBrowser(t, e)
	b.signIn("correct horse")
	return b, fc
}

func TestChannelsListShowsEveryColumn(t *testing.T) {
	b, fc := channelServer(t)
	fc.add("ops <b>alerts</b>", events.ChannelSlack, "https://hooks.slack.com/services/T000/B000/XXXX", "",
		admin.DeliveryRecord{ID: "d1", Type: events.NotifyAccountUnavailable, Time: channelNow.Add(-time.Minute), Attempt: 1, StatusCode: 500, Outcome: "failed", Error: "boom"})
	fc.add("quiet", events.ChannelWebhook, "https://example.com/hook", "s3cret-value")
	rec := b.get("/console/channels")
	requireStatus(t, rec, http.StatusOK)
	body := rec.Body.String()
	requireContains(t, body,
		"ops &lt;b&gt;alerts&lt;/b&gt;", "Slack", "https://hooks.slack.com/****", "Account unavailable", "Enabled",
		"10 min", "Failed", "<code>500</code>", "None yet", `href="/console/channels/ch-002"`, `aria-current="page"`)
	for _, leak := range []string{"<b>alerts", "T000/B000", "s3cret-value"} {
		if strings.Contains(body, leak) {
			t.Errorf("the list shows %q", leak)
		}
	}
	// The channel's own page escapes the name in its heading, its field
	// and its delete confirmation.
	page := b.get("/console/channels/ch-001").Body.String()
	requireContains(t, page, "Channel ops &lt;b&gt;alerts&lt;/b&gt;", `value="ops &lt;b&gt;alerts&lt;/b&gt;"`, `data-confirm="Delete channel ops &lt;b&gt;alerts&lt;/b&gt;?`)
	if strings.Contains(page, "<b>alerts") || strings.Contains(page, "T000/B000") {
		t.Error("the channel page shows the name unescaped or the URL in clear")
	}
}

func TestChannelsWithoutNotificationsSaySo(t *testing.T) {
	e, _ := newTestServer(t, newFakeBackend())
	b := newBrowser(t, e)
	b.signIn("correct horse")
	rec := b.get("/console/channels")
	requireStatus(t, rec, http.StatusOK)
	requireContains(t, rec.Body.String(), "Notifications are not available")
	requireStatus(t, b.get("/console/channels/new"), http.StatusNotFound)
}

func TestChannelCreateSendsEveryField(t *testing.T) {
	b, fc := channelServer(t)
	tok := b.csrf("/console/channels/new")
	rec := b.post("/console/channels/new", url.Values{"csrf": {tok}, "name": {"ops"}, "type": {"webhook"},
		"url": {"https://example.com/hook"}, "secret": {"s3cret"}, "events": {events.NotifyKeyLimit, events.NotifyKeyExpiring},
		"enabled": {"on"}, "cooldownSeconds": {"120"}})
	requireStatus(t, rec, http.StatusSeeOther)
	if loc := rec.Header().Get("Location"); loc != "/console/channels/ch-001?done=created" {
		t.Fatalf("redirect %q", loc)
	}
	in := fc.inputs[0]
	if in.Name.Value != "ops" || in.Type.Value != "webhook" || in.URL.Value != "https://example.com/hook" || in.Secret.Value != "s3cret" ||
		!in.Enabled.Value || in.CooldownSeconds.Value != 120 || strings.Join(in.Events.Value, ",") != "key.limit_reached,key.expiring" {
		t.Fatalf("input %+v", in)
	}
	if fc.actors[0] != "admin" {
		t.Fatalf("actor %q", fc.actors[0])
	}
	page := b.get("/console/channels/ch-001?done=created").Body.String()
	requireContains(t, page, "Channel created", "https://example.com/****", "A secret is set", `value="120"`)
	if strings.Contains(page, "s3cret") {
		t.Fatal("the channel page shows the secret")
	}
}

// fieldErr finds the error paragraph of field.
func fieldErr(body, field string) string {
	m := regexp.MustCompile(`<p class="field-err" id="` + field + `-err">([^<]*)</p>`).FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return m[1]
}

func TestChannelFieldErrorsStandNextToTheirField(t *testing.T) {
	b, _ := channelServer(t)
	tok := b.csrf("/console/channels/new")
	cases := []struct {
		name, field, want string
		form              url.Values
	}{
		{"bad url", "url", "url must be an absolute", url.Values{"name": {"x"}, "type": {"slack"}, "url": {"ftp://x"}}},
		{"missing secret", "secret", "secret is required", url.Values{"name": {"x"}, "type": {"webhook"}, "url": {"https://e.com/h"}}},
		{"bad cooldown", "cooldownSeconds", "whole number", url.Values{"name": {"x"}, "type": {"slack"}, "url": {"https://e.com/h"}, "cooldownSeconds": {"ten"}}},
		{"cooldown out of range", "cooldownSeconds", "between 0 and 86400", url.Values{"name": {"x"}, "type": {"slack"}, "url": {"https://e.com/h"}, "cooldownSeconds": {"90000"}}},
		{"no name", "name", "name is required", url.Values{"type": {"slack"}, "url": {"https://e.com/h"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.form.Set("csrf", tok)
			tc.form.Set("secret", tc.form.Get("secret"))
			rec := b.post("/console/channels/new", tc.form)
			requireStatus(t, rec, http.StatusBadRequest)
			body := rec.Body.String()
			if got := fieldErr(body, tc.field); !strings.Contains(got, tc.want) {
				t.Fatalf("error next to %s: %q, want %q", tc.field, got, tc.want)
			}
			if !strings.Contains(body, `id="`+tc.field+`"`) || !strings.Contains(body, `aria-describedby="`+tc.field+`-err"`) &&
				!strings.Contains(body, tc.field+`-err"`) {
				t.Fatalf("the %s input does not point at its error", tc.field)
			}
			if strings.Contains(body, `class="note bad"`) {
				t.Fatalf("a field's error shown above the form too")
			}
		})
	}
	// The typed values come back, but never a typed secret.
	rec := b.post("/console/channels/new", url.Values{"csrf": {tok}, "name": {"keep me"}, "type": {"webhook"}, "url": {"ftp://x"}, "secret": {"typed-secret"}})
	requireStatus(t, rec, http.StatusBadRequest)
	requireContains(t, rec.Body.String(), `value="keep me"`, `value="ftp://x"`)
	if strings.Contains(rec.Body.String(), "typed-secret") {
		t.Fatal("a refused form sends the typed secret back")
	}
}

func TestChannelUpdateKeepsURLAndSecretWhenEmpty(t *testing.T) {
	b, fc := channelServer(t)
	id := fc.add("ops", events.ChannelWebhook, "https://example.com/hook", "s3cret")
	page := b.get("/console/channels/" + id).Body.String()
	requireContains(t, page, `placeholder="https://example.com/****"`, "Leave empty to keep", "Remove the secret")
	if strings.Contains(page, "s3cret") || strings.Contains(page, `value="https://example.com/hook"`) {
		t.Fatal("the edit form shows the URL or the secret")
	}
	tok := csrfRE.FindStringSubmatch(page)[1]
	version := regexp.MustCompile(`name="version" value="(\d+)"`).FindStringSubmatch(page)[1]
	rec := b.post("/console/channels/"+id, url.Values{"csrf": {tok}, "version": {version}, "name": {"ops 2"}, "type": {"webhook"},
		"url": {""}, "secret": {""}, "events": {events.NotifyAccountRecovered}, "cooldownSeconds": {""}})
	requireStatus(t, rec, http.StatusSeeOther)
	in := fc.inputs[len(fc.inputs)-1]
	if in.URL.Set || in.Secret.Set {
		t.Fatalf("empty url/secret were sent: %+v", in)
	}
	if !in.CooldownSeconds.Set || in.CooldownSeconds.Value != 0 || in.Enabled.Value || in.Name.Value != "ops 2" {
		t.Fatalf("input %+v", in)
	}
	// A stale version is a conflict shown on the form.
	rec = b.post("/console/channels/"+id, url.Values{"csrf": {tok}, "version": {version}, "name": {"ops 3"}, "type": {"webhook"}})
	requireStatus(t, rec, http.StatusConflict)
	requireContains(t, rec.Body.String(), "Someone changed this channel")
	// Remove the secret: an explicit empty secret.
	page = b.get("/console/channels/" + id).Body.String()
	version = regexp.MustCompile(`name="version" value="(\d+)"`).FindStringSubmatch(page)[1]
	b.post("/console/channels/"+id, url.Values{"csrf": {tok}, "version": {version}, "name": {"ops"}, "type": {"slack"}, "clearSecret": {"on"}})
	in = fc.inputs[len(fc.inputs)-1]
	if !in.Secret.Set || in.Secret.Value != "" {
		t.Fatalf("clearSecret did not remove the secret: %+v", in.Secret)
	}
}

func TestChannelActions(t *testing.T) {
	b, fc := channelServer(t)
	id := fc.add("ops", events.ChannelSlack, "https://hooks.slack.com/services/x", "")
	tok := b.csrf("/console/channels/" + id)
	path := "/console/channels/" + id + "/action"

	rec := b.post(path, url.Values{"csrf": {tok}, "action": {"test"}})
	requireStatus(t, rec, http.StatusSeeOther)
	loc := rec.Header().Get("Location")
	if loc != "/console/channels/"+id+"?done=test&delivery=dlv-test-1" {
		t.Fatalf("test redirect %q", loc)
	}
	page := b.get(loc).Body.String()
	requireContains(t, page, "Test queued", `<code id="delivery-id">dlv-test-1</code>`, "Recent deliveries",
		"receiver answered 502 Bad Gateway", "<code>502</code>", "Retrying", "Delivered", "1210 ms")
	// A forged delivery id in the URL is not shown.
	requireContains(t, b.get("/console/channels/"+id+"?done=test&delivery=a.b%20c").Body.String(), "Test queued")
	if strings.Contains(b.get("/console/channels/"+id+"?done=test&delivery=<x>").Body.String(), "delivery-id") {
		t.Fatal("an invalid delivery id is shown")
	}

	fc.tooSoon = true
	rec = b.post(path, url.Values{"csrf": {tok}, "action": {"test"}})
	requireStatus(t, rec, http.StatusTooManyRequests)
	requireContains(t, rec.Body.String(), "wait two seconds")
	fc.tooSoon = false

	requireStatus(t, b.post(path, url.Values{"csrf": {tok}, "action": {"disable"}}), http.StatusSeeOther)
	if it, _ := fc.Channel(t.Context(), id); it.Enabled {
		t.Fatal("disable left the channel enabled")
	}
	requireContains(t, b.get("/console/channels/"+id+"?done=disable").Body.String(), `value="enable"`, "Channel disabled")
	requireStatus(t, b.post(path, url.Values{"csrf": {tok}, "action": {"enable"}}), http.StatusSeeOther)
	requireStatus(t, b.post(path, url.Values{"csrf": {tok}, "action": {"explode"}}), http.StatusBadRequest)

	page = b.get("/console/channels/" + id).Body.String()
	requireContains(t, page, `data-confirm="Delete channel ops?`)
	rec = b.post(path, url.Values{"csrf": {tok}, "action": {"delete"}})
	requireStatus(t, rec, http.StatusSeeOther)
	if rec.Header().Get("Location") != "/console/channels?done=delete" || len(fc.deleted) != 1 {
		t.Fatalf("delete: %q %v", rec.Header().Get("Location"), fc.deleted)
	}
	requireContains(t, b.get("/console/channels?done=delete").Body.String(), "Channel deleted", "No channel yet")
	// A deleted channel's page keeps its deliveries and offers no action.
	page = b.get("/console/channels/" + id).Body.String()
	requireContains(t, page, "Deleted", "dlv-test-1")
	if strings.Contains(page, `value="test"`) {
		t.Fatal("a deleted channel offers a test")
	}
	requireStatus(t, b.get("/console/channels/nope"), http.StatusNotFound)
}

func TestChannelFormsRefuseWithoutCSRF(t *testing.T) {
	b, fc := channelServer(t)
	id := fc.add("ops", events.ChannelSlack, "https://hooks.slack.com/services/x", "")
	good := b.csrf("/console/channels/" + id)
	forms := map[string]url.Values{
		"/console/channels/new":                {"name": {"x"}, "type": {"slack"}, "url": {"https://e.com/h"}},
		"/console/channels/" + id:              {"name": {"renamed"}, "type": {"slack"}},
		"/console/channels/" + id + "/action":  {"action": {"delete"}},
		"/console/channels/" + id + "/action?": {"action": {"test"}},
	}
	for path, form := range forms {
		for _, tok := range []string{"", "forged"} {
			f := url.Values(mapsClone(form))
			if tok != "" {
				f.Set("csrf", tok)
			}
			if rec := b.post(path, f); rec.Code != http.StatusForbidden {
				t.Errorf("POST %s with token %q: %d, want 403", path, tok, rec.Code)
			}
		}
		f := url.Values(mapsClone(form))
		f.Set("csrf", good)
		b.header = http.Header{"Origin": {"https://evil.example"}}
		if rec := b.post(path, f); rec.Code != http.StatusForbidden {
			t.Errorf("POST %s from a foreign origin: %d, want 403", path, rec.Code)
		}
		b.header = http.Header{}
	}
	if len(fc.inputs) != 0 || len(fc.deleted) != 0 || fc.tests != 0 {
		t.Fatalf("a refused form changed something: %d inputs, %v deleted", len(fc.inputs), fc.deleted)
	}
}

func TestChannelPagesInChinese(t *testing.T) {
	b, fc := channelServer(t)
	fc.add("运维", events.ChannelFeishu, "https://open.feishu.cn/open-apis/bot/v2/hook/x", "")
	b.header = http.Header{"Accept-Language": {"zh-CN"}}
	requireContains(t, b.get("/console/channels").Body.String(), "通知渠道", "飞书", "账户不可用", "已启用")
	requireContains(t, b.get("/console/channels/ch-001").Body.String(), "发送测试", "最近投递", "签名密钥")
}

func TestAuditFiltersNotificationChannels(t *testing.T) {
	f := newFakeBackend()
	e, _ := newTestServer(t, f)
	b := newBrowser(t, e)
	b.signIn("correct horse")
	f.audit = []AuditEntry{{Time: channelNow, Actor: "admin", Type: events.NotificationCreated, EntityKind: events.EntityNotification, EntityID: "ch-1"}}
	rec := b.get("/console/audit?kind=notification&type=notification.created")
	requireStatus(t, rec, http.StatusOK)
	if f.lastAudit.EntityKind != events.EntityNotification || f.lastAudit.Type != events.NotificationCreated {
		t.Fatalf("query %+v", f.lastAudit)
	}
	requireContains(t, rec.Body.String(), "Notification channel", "Channel created")
}

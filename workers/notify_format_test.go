package workers

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"relay/events"
)

func sampleNotification(t *testing.T, typ string, data any) events.Notification {
	t.Helper()
	raw, err := json.Marshal(data)
	if err != nil {
		t.Fatal(err)
	}
	return events.Notification{ID: "d1", ChannelID: "c1", Type: typ, Subject: "a1", Time: time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC), Data: raw}
}

func decodeBody(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("body %s: %v", b, err)
	}
	return m
}

var formatNow = time.Unix(1_770_000_000, 123_000_000)

func unavailable(t *testing.T) events.Notification {
	return sampleNotification(t, events.NotifyAccountUnavailable, events.AccountUnavailableData{AccountID: "a1", AccountName: "main", State: "rate_limited", Status: 429, Until: time.Date(2026, 5, 1, 8, 30, 0, 0, time.UTC)})
}

func TestFormatSlackIncomingWebhook(t *testing.T) {
	out, err := render(events.ChannelSlack, "https://hooks.slack.com/services/T/B/X", "", unavailable(t), formatNow)
	if err != nil {
		t.Fatal(err)
	}
	m := decodeBody(t, out.Body)
	if len(m) != 1 || m["text"] != "[relay] Account main (a1) is unavailable: rate_limited (upstream HTTP 429) until 2026-05-01T08:30:00Z" {
		t.Fatalf("body = %v", m)
	}
	if out.URL != "https://hooks.slack.com/services/T/B/X" || out.accepted(200, []byte("ok")) != nil || out.accepted(404, []byte("no_team")) == nil {
		t.Fatal("slack URL or answer reading wrong")
	}
}

func TestFormatFeishuCustomBotWithSign(t *testing.T) {
	out, err := render(events.ChannelFeishu, "https://open.feishu.cn/open-apis/bot/v2/hook/x", "sec", unavailable(t), formatNow)
	if err != nil {
		t.Fatal(err)
	}
	m := decodeBody(t, out.Body)
	content, _ := m["content"].(map[string]any)
	if m["msg_type"] != "text" || !strings.HasPrefix(content["text"].(string), "[relay] Account main") {
		t.Fatalf("body = %v", m)
	}
	// timestamp is seconds, as a string; sign the base64 HMAC-SHA256 of
	// nothing keyed by timestamp + "\n" + secret.
	if m["timestamp"] != "1770000000" {
		t.Fatalf("timestamp = %v", m["timestamp"])
	}
	mac := hmac.New(sha256.New, []byte("1770000000\nsec"))
	if want := base64.StdEncoding.EncodeToString(mac.Sum(nil)); m["sign"] != want {
		t.Fatalf("sign = %v, want %s", m["sign"], want)
	}
	unsigned, _ := render(events.ChannelFeishu, "https://open.feishu.cn/x", "", unavailable(t), formatNow)
	if um := decodeBody(t, unsigned.Body); um["sign"] != nil || um["timestamp"] != nil {
		t.Fatalf("unsigned body carries a sign: %v", um)
	}
	if out.accepted(200, []byte(`{"code":0,"msg":"success"}`)) != nil || out.accepted(200, []byte(`{"code":19021,"msg":"sign match fail or timestamp is not within one hour from current time"}`)) == nil {
		t.Fatal("feishu answers read wrong")
	}
}

func TestFormatDingtalkRobotWithSign(t *testing.T) {
	out, err := render(events.ChannelDingtalk, "https://oapi.dingtalk.com/robot/send?access_token=tok", "SECabc", unavailable(t), formatNow)
	if err != nil {
		t.Fatal(err)
	}
	m := decodeBody(t, out.Body)
	text, _ := m["text"].(map[string]any)
	if m["msgtype"] != "text" || !strings.HasPrefix(text["content"].(string), "[relay] Account main") {
		t.Fatalf("body = %v", m)
	}
	u, err := url.Parse(out.URL)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	// timestamp in milliseconds; sign the base64 HMAC-SHA256 of
	// timestamp + "\n" + secret keyed by the secret, URL-encoded.
	mac := hmac.New(sha256.New, []byte("SECabc"))
	mac.Write([]byte("1770000000123\nSECabc"))
	if q.Get("access_token") != "tok" || q.Get("timestamp") != "1770000000123" || q.Get("sign") != base64.StdEncoding.EncodeToString(mac.Sum(nil)) {
		t.Fatalf("query = %v", q)
	}
	if !strings.Contains(u.RawQuery, "sign="+url.QueryEscape(q.Get("sign"))) {
		t.Fatalf("sign not URL-encoded in %s", u.RawQuery)
	}
	if out.accepted(200, []byte(`{"errcode":0,"errmsg":"ok"}`)) != nil || out.accepted(200, []byte(`{"errcode":310000,"errmsg":"sign not match"}`)) == nil {
		t.Fatal("dingtalk answers read wrong")
	}
}

func TestFormatWecomGroupRobot(t *testing.T) {
	long := sampleNotification(t, events.NotifyAccountUnavailable, events.AccountUnavailableData{AccountID: "a1", State: "error", Reason: strings.Repeat("é", 3000)})
	out, err := render(events.ChannelWecom, "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k", "", long, formatNow)
	if err != nil {
		t.Fatal(err)
	}
	m := decodeBody(t, out.Body)
	text, _ := m["text"].(map[string]any)
	content, _ := text["content"].(string)
	if m["msgtype"] != "text" || content == "" || len(content) > 2048 {
		t.Fatalf("msgtype %v, content of %d bytes", m["msgtype"], len(content))
	}
	if out.accepted(200, []byte(`{"errcode":0,"errmsg":"ok"}`)) != nil || out.accepted(200, []byte(`{"errcode":93000,"errmsg":"invalid webhook url"}`)) == nil {
		t.Fatal("wecom answers read wrong")
	}
}

func TestFormatTelegramSendMessage(t *testing.T) {
	out, err := render(events.ChannelTelegram, "https://api.telegram.org/bot123:abc/sendMessage?chat_id=-1001234", "", unavailable(t), formatNow)
	if err != nil {
		t.Fatal(err)
	}
	m := decodeBody(t, out.Body)
	if m["chat_id"] != float64(-1001234) || !strings.HasPrefix(m["text"].(string), "[relay] Account main") || m["disable_web_page_preview"] != true {
		t.Fatalf("body = %v", m)
	}
	if out.URL != "https://api.telegram.org/bot123:abc/sendMessage" {
		t.Fatalf("URL = %s", out.URL)
	}
	named, _ := render(events.ChannelTelegram, "https://api.telegram.org/bot1:x/sendMessage?chat_id=@ops", "", unavailable(t), formatNow)
	if decodeBody(t, named.Body)["chat_id"] != "@ops" {
		t.Fatal("a channel username must stay a string")
	}
	if out.accepted(200, []byte(`{"ok":true,"result":{}}`)) != nil || out.accepted(400, []byte(`{"ok":false,"error_code":400,"description":"Bad Request: chat not found"}`)) == nil {
		t.Fatal("telegram answers read wrong")
	}
}

func TestFormatGenericWebhookIsSigned(t *testing.T) {
	n := unavailable(t)
	out, err := render(events.ChannelWebhook, "https://example.com/hook", "whsec", n, formatNow)
	if err != nil {
		t.Fatal(err)
	}
	m := decodeBody(t, out.Body)
	if m["id"] != "d1" || m["type"] != events.NotifyAccountUnavailable || m["time"] != "2026-05-01T08:00:00Z" || m["data"] == nil || len(m) != 4 {
		t.Fatalf("body = %v", m)
	}
	h := out.Header
	if h.Get(HeaderRelayEvent) != n.Type || h.Get(HeaderRelayDelivery) != "d1" || h.Get(HeaderRelayTimestamp) != "1770000000" {
		t.Fatalf("headers = %v", h)
	}
	if h.Get(HeaderRelaySignature) != SignWebhook("whsec", "1770000000", out.Body) || !strings.HasPrefix(h.Get(HeaderRelaySignature), "sha256=") {
		t.Fatalf("signature = %s", h.Get(HeaderRelaySignature))
	}
}

func TestMessageTextOfEachType(t *testing.T) {
	cases := []struct {
		n    events.Notification
		want string
	}{
		{sampleNotification(t, events.NotifyAccountRecovered, events.AccountRecoveredData{AccountID: "a1"}), "[relay] Account a1 has recovered and is schedulable again"},
		{sampleNotification(t, events.NotifyAccountQuota, events.AccountQuotaData{AccountID: "a1", AccountName: "main", Day: "2026-05-01", Used: 10.5, Quota: 10}), "[relay] Account main (a1) reached its daily quota: $10.50 of $10.00 (day 2026-05-01)"},
		{sampleNotification(t, events.NotifyKeyLimit, events.KeyLimitData{KeyID: "k1", KeyName: "ci", Kind: events.LimitDailyCost, Threshold: 80, Used: 8.25, Limit: 10, Period: "2026-05-01"}), "[relay] Key ci (k1) reached 80% of its daily cost limit: $8.25 of $10.00 (2026-05-01)"},
		{sampleNotification(t, events.NotifyKeyLimit, events.KeyLimitData{KeyID: "k1", Kind: events.LimitWindowRequests, Threshold: 100, Used: 60, Limit: 60, Period: "5m"}), "[relay] Key k1 reached 100% of its rate-window request limit: 60 requests of 60 (5m)"},
		{sampleNotification(t, events.NotifyKeyExpiring, events.KeyExpiringData{KeyID: "k1", ExpiresAt: time.Date(2026, 5, 4, 0, 0, 0, 0, time.UTC)}), "[relay] Key k1 expires at 2026-05-04T00:00:00Z"},
		{sampleNotification(t, events.NotifyTest, events.TestData{Message: "hello"}), "[relay] hello"},
	}
	for _, c := range cases {
		if got := messageText(c.n); got != c.want {
			t.Errorf("%s: %q, want %q", c.n.Type, got, c.want)
		}
	}
}

func TestBackoffGrowsWithJitterAndCap(t *testing.T) {
	n := &Notifier{cfg: NotifyConfig{RetryBase: time.Second, RetryMax: 8 * time.Second}}
	for attempt, upper := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 4: 8 * time.Second, 10: 8 * time.Second} {
		for range 50 {
			d := n.backoff(attempt, nil)
			if d < upper/2 || d > upper {
				t.Fatalf("attempt %d: %v outside [%v, %v]", attempt, d, upper/2, upper)
			}
		}
	}
	if d := n.backoff(1, retryAfterError{err: errRedirect, after: time.Minute}); d != time.Minute {
		t.Fatalf("Retry-After not honoured: %v", d)
	}
}

func TestReachedInIntegers(t *testing.T) {
	for _, c := range []struct {
		used, limit int64
		pct         int
		want        bool
	}{{79, 100, 80, false}, {80, 100, 80, true}, {99, 100, 100, false}, {100, 100, 100, true}, {1 << 62, 1 << 62, 100, true}, {1<<62 - 1, 1 << 62, 100, false}, {5, 0, 80, false}} {
		if got := reached(c.used, c.limit, c.pct); got != c.want {
			t.Errorf("reached(%d, %d, %d) = %v", c.used, c.limit, c.pct, got)
		}
	}
}

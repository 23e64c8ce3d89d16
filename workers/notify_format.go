package workers

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"relay/events"
)

// outgoing is one HTTP request a channel's service expects for a
// notification, and how to read its answer.
type outgoing struct {
	URL    string
	Body   []byte
	Header http.Header
	// accepted reports whether the service took the message: a 2xx and,
	// for chat services that answer 200 to refusals, their own code.
	accepted func(status int, body []byte) error
}

// Webhook headers (DESIGN.md section 9).
const (
	HeaderRelayEvent     = "X-Relay-Event"
	HeaderRelayDelivery  = "X-Relay-Delivery"
	HeaderRelayTimestamp = "X-Relay-Timestamp"
	HeaderRelaySignature = "X-Relay-Signature"
)

// WebhookBody is the body of a generic webhook delivery.
type WebhookBody struct {
	ID   string          `json:"id"`
	Type string          `json:"type"`
	Time time.Time       `json:"time"`
	Data json.RawMessage `json:"data"`
}

// SignWebhook is the X-Relay-Signature of body sent at timestamp (Unix
// seconds, as sent in X-Relay-Timestamp): "sha256=" and the hex
// HMAC-SHA256 of timestamp + "." + body keyed by the channel's secret.
func SignWebhook(secret, timestamp string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(timestamp))
	mac.Write([]byte("."))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// feishuSign is Feishu's custom bot signature: the base64 HMAC-SHA256 of
// an empty message keyed by timestamp + "\n" + secret.
func feishuSign(secret string, timestamp int64) string {
	mac := hmac.New(sha256.New, []byte(strconv.FormatInt(timestamp, 10)+"\n"+secret))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// dingtalkSign is DingTalk's robot signature: the base64 HMAC-SHA256 of
// timestampMillis + "\n" + secret keyed by the secret (URL-encoded by the
// caller, as a query parameter).
func dingtalkSign(secret string, timestampMillis int64) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(strconv.FormatInt(timestampMillis, 10) + "\n" + secret))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// wecomMaxText is the longest text a WeCom group robot takes (bytes).
const wecomMaxText = 2048

// render builds the request for notification n on a channel of type typ
// at URL rawURL with secret, sent at now.
func render(typ, rawURL, secret string, n events.Notification, now time.Time) (outgoing, error) {
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "relay-notifier")
	text := messageText(n)
	var body any
	out := outgoing{URL: rawURL, Header: h, accepted: accept2xx}
	switch typ {
	case events.ChannelWebhook:
		b, err := json.Marshal(WebhookBody{ID: n.ID, Type: n.Type, Time: n.Time.UTC(), Data: n.Data})
		if err != nil {
			return outgoing{}, err
		}
		ts := strconv.FormatInt(now.Unix(), 10)
		h.Set(HeaderRelayEvent, n.Type)
		h.Set(HeaderRelayDelivery, n.ID)
		h.Set(HeaderRelayTimestamp, ts)
		if secret != "" {
			h.Set(HeaderRelaySignature, SignWebhook(secret, ts, b))
		}
		out.Body = b
		return out, nil
	case events.ChannelSlack:
		// Incoming webhooks: {"text": ...}; Slack answers 200 "ok".
		body = map[string]any{"text": text}
	case events.ChannelFeishu:
		// Custom bot: {"msg_type":"text","content":{"text":...}}, with
		// timestamp (seconds, as a string) and sign when signing is on;
		// Feishu answers {"code":0,...}.
		m := map[string]any{"msg_type": "text", "content": map[string]string{"text": text}}
		if secret != "" {
			ts := now.Unix()
			m["timestamp"], m["sign"] = strconv.FormatInt(ts, 10), feishuSign(secret, ts)
		}
		body = m
		out.accepted = acceptCode("code")
	case events.ChannelDingtalk:
		// Robot: {"msgtype":"text","text":{"content":...}}, with timestamp
		// (milliseconds) and sign as query parameters when signing is on;
		// DingTalk answers {"errcode":0,...}.
		body = map[string]any{"msgtype": "text", "text": map[string]string{"content": text}}
		if secret != "" {
			u, err := url.Parse(rawURL)
			if err != nil {
				return outgoing{}, errBadURL
			}
			ts := now.UnixMilli()
			q := u.Query()
			q.Set("timestamp", strconv.FormatInt(ts, 10))
			q.Set("sign", dingtalkSign(secret, ts))
			u.RawQuery = q.Encode()
			out.URL = u.String()
		}
		out.accepted = acceptCode("errcode")
	case events.ChannelWecom:
		// Group robot: {"msgtype":"text","text":{"content":...}} of at most
		// 2048 bytes; WeCom answers {"errcode":0,...}.
		body = map[string]any{"msgtype": "text", "text": map[string]string{"content": truncateUTF8(text, wecomMaxText)}}
		out.accepted = acceptCode("errcode")
	case events.ChannelTelegram:
		// Bot API sendMessage: {"chat_id":...,"text":...}; the chat comes
		// from the channel URL's chat_id. Telegram answers {"ok":true,...}.
		u, err := url.Parse(rawURL)
		if err != nil {
			return outgoing{}, errBadURL
		}
		q := u.Query()
		chat := q.Get("chat_id")
		q.Del("chat_id")
		u.RawQuery = q.Encode()
		out.URL = u.String()
		var chatID any = chat
		if n, err := strconv.ParseInt(chat, 10, 64); err == nil {
			chatID = n
		}
		body = map[string]any{"chat_id": chatID, "text": text, "disable_web_page_preview": true}
		out.accepted = acceptTelegram
	default:
		return outgoing{}, fmt.Errorf("unknown channel type %q", typ)
	}
	b, err := json.Marshal(body)
	if err != nil {
		return outgoing{}, err
	}
	out.Body = b
	return out, nil
}

func accept2xx(status int, _ []byte) error {
	if status < 200 || status > 299 {
		return fmt.Errorf("HTTP %d", status)
	}
	return nil
}

// acceptCode accepts a 2xx whose JSON body's field is 0 (or absent).
func acceptCode(field string) func(int, []byte) error {
	return func(status int, body []byte) error {
		if err := accept2xx(status, body); err != nil {
			return err
		}
		var m map[string]json.RawMessage
		if json.Unmarshal(body, &m) != nil {
			return nil // not JSON: the 2xx decides
		}
		raw, ok := m[field]
		if !ok || string(raw) == "0" {
			return nil
		}
		var msg string
		for _, k := range []string{"msg", "errmsg"} {
			if v, ok := m[k]; ok {
				_ = json.Unmarshal(v, &msg)
			}
		}
		return fmt.Errorf("%s %s: %s", field, raw, clip(msg, 200))
	}
}

func acceptTelegram(status int, body []byte) error {
	var r struct {
		OK          bool   `json:"ok"`
		Description string `json:"description"`
	}
	if json.Unmarshal(body, &r) == nil && !r.OK && r.Description != "" {
		return fmt.Errorf("HTTP %d: %s", status, clip(r.Description, 200))
	}
	return accept2xx(status, body)
}

// messageText is the human-readable message of n for chat services.
func messageText(n events.Notification) string {
	name := func(display, id string) string {
		if display == "" || display == id {
			return id
		}
		return display + " (" + id + ")"
	}
	switch n.Type {
	case events.NotifyAccountUnavailable:
		var d events.AccountUnavailableData
		_ = json.Unmarshal(n.Data, &d)
		s := fmt.Sprintf("[relay] Account %s is unavailable: %s", name(d.AccountName, d.AccountID), d.State)
		if d.Status != 0 {
			s += fmt.Sprintf(" (upstream HTTP %d)", d.Status)
		}
		if !d.Until.IsZero() {
			s += " until " + d.Until.UTC().Format(time.RFC3339)
		}
		if d.Reason != "" {
			s += ". " + clip(d.Reason, 300)
		}
		return s
	case events.NotifyAccountRecovered:
		var d events.AccountRecoveredData
		_ = json.Unmarshal(n.Data, &d)
		return fmt.Sprintf("[relay] Account %s has recovered and is schedulable again", name(d.AccountName, d.AccountID))
	case events.NotifyAccountQuota:
		var d events.AccountQuotaData
		_ = json.Unmarshal(n.Data, &d)
		return fmt.Sprintf("[relay] Account %s reached its daily quota: $%.2f of $%.2f (day %s)", name(d.AccountName, d.AccountID), d.Used, d.Quota, d.Day)
	case events.NotifyKeyLimit:
		var d events.KeyLimitData
		_ = json.Unmarshal(n.Data, &d)
		used, limit := fmt.Sprintf("$%.2f", d.Used), fmt.Sprintf("$%.2f", d.Limit)
		if d.Kind == events.LimitWindowRequests {
			used, limit = fmt.Sprintf("%.0f requests", d.Used), fmt.Sprintf("%.0f", d.Limit)
		}
		return fmt.Sprintf("[relay] Key %s reached %d%% of its %s limit: %s of %s (%s)", name(d.KeyName, d.KeyID), d.Threshold, limitLabel(d.Kind), used, limit, d.Period)
	case events.NotifyKeyExpiring:
		var d events.KeyExpiringData
		_ = json.Unmarshal(n.Data, &d)
		return fmt.Sprintf("[relay] Key %s expires at %s", name(d.KeyName, d.KeyID), d.ExpiresAt.UTC().Format(time.RFC3339))
	case events.NotifyTest:
		var d events.TestData
		_ = json.Unmarshal(n.Data, &d)
		return "[relay] " + d.Message
	}
	return "[relay] " + n.Type
}

func limitLabel(kind string) string {
	switch kind {
	case events.LimitDailyCost:
		return "daily cost"
	case events.LimitTotalCost:
		return "total cost"
	case events.LimitWeeklyOpusCost:
		return "weekly Opus cost"
	case events.LimitWindowCost:
		return "rate-window cost"
	case events.LimitWindowRequests:
		return "rate-window request"
	}
	return kind
}

func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

func clip(s string, n int) string {
	s = strings.ToValidUTF8(s, "")
	if len(s) > n {
		return truncateUTF8(s, n) + "..."
	}
	return s
}

var errRedirect = errors.New("redirect to another host refused")

// errBadURL reports a channel URL that does not parse; the error never
// quotes it (it is a credential).
var errBadURL = errors.New("channel URL is not a valid URL")

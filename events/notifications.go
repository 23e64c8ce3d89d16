package events

import (
	"encoding/json"
	"time"
)

// Notification channel event types (stream CONFIG, subject
// NotificationSubject). A channel is configuration like a key or an
// account (DESIGN.md section 9).
const (
	NotificationCreated = "notification.created"
	NotificationUpdated = "notification.updated"
	NotificationDeleted = "notification.deleted"
)

// NotificationQueued is a notification waiting to be delivered to one
// channel (stream NOTIFY, subject NotifySubject). The stream is a work
// queue: a notification leaves it once delivered or given up on.
const NotificationQueued = "notification.queued"

// Channel types.
const (
	ChannelWebhook  = "webhook"
	ChannelSlack    = "slack"
	ChannelFeishu   = "feishu"
	ChannelDingtalk = "dingtalk"
	ChannelWecom    = "wecom"
	ChannelTelegram = "telegram"
)

// ChannelTypes lists every channel type, in documentation order.
var ChannelTypes = []string{ChannelWebhook, ChannelSlack, ChannelFeishu, ChannelDingtalk, ChannelWecom, ChannelTelegram}

// Notification types (DESIGN.md section 9): what a channel can subscribe
// to. NotifyTest is sent on demand only and never subscribed to.
const (
	NotifyAccountUnavailable = "account.unavailable"
	NotifyAccountRecovered   = "account.recovered"
	NotifyAccountQuota       = "account.quota_reached"
	NotifyKeyLimit           = "key.limit_reached"
	NotifyKeyExpiring        = "key.expiring"
	NotifyTest               = "test"
)

// NotifyTypes lists the notification types a channel may subscribe to.
var NotifyTypes = []string{NotifyAccountUnavailable, NotifyAccountRecovered, NotifyAccountQuota, NotifyKeyLimit, NotifyKeyExpiring}

// Channel is a notification channel's configuration. Its URL is a
// credential for most services (a Slack or WeCom webhook URL, a Telegram
// bot token, a DingTalk access token): it is only ever carried sealed
// (AES-256-GCM, like an account's key), with a mask for display. The
// signing secret is sealed too and never shown.
type Channel struct {
	ID           string   `json:"id"`
	Name         string   `json:"name"`
	Type         string   `json:"type"`
	URLSealed    string   `json:"urlSealed"`
	URLMask      string   `json:"urlMask"`
	SecretSealed string   `json:"secretSealed,omitempty"`
	Events       []string `json:"events"`
	Enabled      bool     `json:"enabled"`
	// CooldownSeconds is how long one message per subject and type holds
	// back the next of the same subject and type on this channel; 0 means
	// the default (DefaultCooldown).
	CooldownSeconds int `json:"cooldownSeconds"`
}

// DefaultCooldown is a channel's cooldown when it sets none.
const DefaultCooldown = 10 * time.Minute

// Cooldown is the channel's cooldown.
func (c Channel) Cooldown() time.Duration {
	if c.CooldownSeconds <= 0 {
		return DefaultCooldown
	}
	return time.Duration(c.CooldownSeconds) * time.Second
}

// Wants reports whether the channel subscribes to notification type typ.
// Every channel accepts NotifyTest.
func (c Channel) Wants(typ string) bool {
	if typ == NotifyTest {
		return true
	}
	for _, e := range c.Events {
		if e == typ {
			return true
		}
	}
	return false
}

// ChannelUpdatedData is the payload of NotificationUpdated: only the changed
// fields, in Channel's wire form.
type ChannelUpdatedData struct {
	ID      string          `json:"id"`
	Changes json.RawMessage `json:"changes"`
}

// ChannelDeletedData is the payload of NotificationDeleted.
type ChannelDeletedData struct {
	ID string `json:"id"`
}

// Notification is the payload of NotificationQueued: one message for one
// channel. ID is the delivery id (X-Relay-Delivery), the same on every
// attempt; Time is when the fact happened; Subject names what it is about
// (an account or key id) for the cooldown.
type Notification struct {
	ID        string          `json:"id"`
	ChannelID string          `json:"channelId"`
	Type      string          `json:"type"`
	Subject   string          `json:"subject"`
	Time      time.Time       `json:"time"`
	Data      json.RawMessage `json:"data"`
}

// AccountUnavailableData is the data of an account.unavailable notification.
type AccountUnavailableData struct {
	AccountID   string    `json:"accountId"`
	AccountName string    `json:"accountName,omitempty"`
	Platform    string    `json:"platform,omitempty"`
	State       string    `json:"state"`
	Reason      string    `json:"reason,omitempty"`
	Status      int       `json:"status,omitempty"`
	Until       time.Time `json:"until"`
}

// AccountRecoveredData is the data of an account.recovered notification.
type AccountRecoveredData struct {
	AccountID   string `json:"accountId"`
	AccountName string `json:"accountName,omitempty"`
	Platform    string `json:"platform,omitempty"`
}

// AccountQuotaData is the data of an account.quota_reached notification:
// the account's spend of the day reached its daily quota. Money in USD for
// reading, nano-dollars for computing.
type AccountQuotaData struct {
	AccountID   string  `json:"accountId"`
	AccountName string  `json:"accountName,omitempty"`
	Platform    string  `json:"platform,omitempty"`
	Day         string  `json:"day"`
	UsedNanos   int64   `json:"usedNanos"`
	QuotaNanos  int64   `json:"quotaNanos"`
	Used        float64 `json:"used"`
	Quota       float64 `json:"quota"`
}

// Key limit kinds of a key.limit_reached notification.
const (
	LimitDailyCost      = "dailyCost"
	LimitTotalCost      = "totalCost"
	LimitWeeklyOpusCost = "weeklyOpusCost"
	LimitWindowCost     = "windowCost"
	LimitWindowRequests = "windowRequests"
)

// KeyLimitData is the data of a key.limit_reached notification: the key's
// use reached Threshold percent (80 or 100) of one of its limits. Costs
// are in USD (Used, Limit) and nano-dollars (UsedNanos, LimitNanos);
// request limits leave the nano-dollar fields 0.
type KeyLimitData struct {
	KeyID      string  `json:"keyId"`
	KeyName    string  `json:"keyName,omitempty"`
	Kind       string  `json:"kind"`
	Threshold  int     `json:"threshold"`
	Used       float64 `json:"used"`
	Limit      float64 `json:"limit"`
	UsedNanos  int64   `json:"usedNanos,omitempty"`
	LimitNanos int64   `json:"limitNanos,omitempty"`
	// Period names the period the use counts in: the day (YYYY-MM-DD),
	// the week (YYYY-Www), "total", or the window ("<n>m").
	Period string `json:"period"`
}

// KeyExpiringData is the data of a key.expiring notification.
type KeyExpiringData struct {
	KeyID     string    `json:"keyId"`
	KeyName   string    `json:"keyName,omitempty"`
	ExpiresAt time.Time `json:"expiresAt"`
}

// TestData is the data of a test notification.
type TestData struct {
	ChannelID string `json:"channelId"`
	Message   string `json:"message"`
}

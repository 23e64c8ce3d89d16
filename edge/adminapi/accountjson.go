package adminapi

import (
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"relay/edge/fault"
	"relay/edge/secrets"
	"relay/events"
	"relay/projections"
)

// Upstream account JSON (DESIGN.md section 5) and its mapping to
// events.Account. The upstream key and the proxy password are sealed before
// they enter an event and are never shown again: answers carry a mask of the
// key and only the proxy's username.

// Account field values.
const (
	accountShared     = "shared"
	accountDedicated  = "dedicated"
	defaultPriority   = 50
	defaultRateLimit  = 60 // minutes
	maxRateLimitMins  = 10080
	maxAPIKeyLen      = 4096
	maxURLLen         = 2048
	maxUserAgentLen   = 512
	maxConcurrencyCap = 1_000_000

	statusQuotaExceeded = "quota_exceeded"
)

// accountPlatforms are the platforms the admin API manages.
var accountPlatforms = []string{events.PlatformClaudeConsole, events.PlatformCodex}

// proxyProtocols are the proxy schemes the upstream transport speaks.
var proxyProtocols = []string{"http", "https", "socks5"}

var quotaResetPattern = regexp.MustCompile(`^([01][0-9]|2[0-3]):[0-5][0-9]$`)

// accountJSON is an account as the admin API shows it.
type accountJSON struct {
	ID                string            `json:"id"`
	Platform          string            `json:"platform"`
	Name              string            `json:"name"`
	Description       string            `json:"description"`
	APIURL            string            `json:"apiUrl"`
	APIKey            string            `json:"apiKey"` // the mask only
	UserAgent         string            `json:"userAgent"`
	SupportedModels   map[string]string `json:"supportedModels"`
	Priority          int               `json:"priority"`
	Schedulable       bool              `json:"schedulable"`
	IsActive          bool              `json:"isActive"`
	AccountType       string            `json:"accountType"`
	Proxy             *proxyJSON        `json:"proxy"`
	RateLimitDuration int               `json:"rateLimitDuration"`
	DailyQuota        float64           `json:"dailyQuota"`
	QuotaResetTime    string            `json:"quotaResetTime"`
	MaxConcurrency    int               `json:"maxConcurrency"`
	// Status is derived: the health state in force, else quota_exceeded
	// when the daily quota is spent, else active.
	Status      string     `json:"status"`
	StatusUntil *time.Time `json:"statusUntil"`
	IsDeleted   bool       `json:"isDeleted"`
	DeletedAt   *time.Time `json:"deletedAt"`
	CreatedAt   time.Time  `json:"createdAt"`
	UpdatedAt   time.Time  `json:"updatedAt"`
	LastUsedAt  *time.Time `json:"lastUsedAt"`
	Version     uint64     `json:"version"`
}

// proxyJSON is a proxy as answers show it: never its password.
type proxyJSON struct {
	Protocol string         `json:"protocol"`
	Host     string         `json:"host"`
	Port     int            `json:"port"`
	Auth     *proxyAuthJSON `json:"auth"`
}

type proxyAuthJSON struct {
	Username    string `json:"username"`
	HasPassword bool   `json:"hasPassword"`
}

// accountUsage is what usage statistics say about an account.
type accountUsage struct {
	lastUsed time.Time
	// quotaDay is the start of the current quota day and spentNanos the
	// cost of the account's requests since, for an account with a daily
	// quota.
	quotaDay   time.Time
	spentNanos int64
}

// newAccountJSON shows v with the health state in force at now and its
// usage.
func newAccountJSON(v projections.AccountView, state projections.AccountStateView, u accountUsage, now time.Time) accountJSON {
	out := accountJSON{
		ID: v.ID, Platform: v.Platform, Name: v.Name, Description: v.Description,
		APIURL: v.APIURL, APIKey: v.APIKeyMask, UserAgent: v.UserAgent,
		SupportedModels: v.SupportedModels, Priority: v.Priority,
		Schedulable: v.Schedulable, IsActive: v.IsActive, AccountType: v.AccountType,
		RateLimitDuration: v.RateLimitDuration, DailyQuota: usdFromMicros(v.DailyQuotaMicros),
		QuotaResetTime: v.QuotaResetTime, MaxConcurrency: v.MaxConcurrency,
		Status:    "active",
		IsDeleted: v.IsDeleted, DeletedAt: v.DeletedAt,
		CreatedAt: v.CreatedAt, UpdatedAt: v.UpdatedAt, LastUsedAt: timeOrNil(u.lastUsed), Version: v.Seq,
	}
	if out.SupportedModels == nil {
		out.SupportedModels = map[string]string{}
	}
	if p := v.Proxy; p != nil {
		out.Proxy = &proxyJSON{Protocol: p.Protocol, Host: p.Host, Port: p.Port}
		if p.Username != "" || p.PasswordSealed != "" {
			out.Proxy.Auth = &proxyAuthJSON{Username: p.Username, HasPassword: p.PasswordSealed != ""}
		}
	}
	if st := state.ActiveAt(now); st != "" {
		until := state.Until
		out.Status, out.StatusUntil = st, &until
	} else if projections.OverQuota(v, u.spentNanos) {
		until := u.quotaDay.AddDate(0, 0, 1).UTC()
		out.Status, out.StatusUntil = statusQuotaExceeded, &until
	}
	return out
}

// accountDraft is an account being created or updated.
type accountDraft struct {
	events.Account
	box *secrets.Box
}

// newAccountDefaults is an account before the fields of a create request
// apply.
func newAccountDefaults(platform string) events.Account {
	return events.Account{
		Platform: platform, SupportedModels: map[string]string{}, Priority: defaultPriority,
		Schedulable: true, IsActive: true, AccountType: accountShared,
		RateLimitDuration: defaultRateLimit, QuotaResetTime: "00:00",
	}
}

// accountFields are the writable fields of an account, in the order they
// are checked.
var accountFields = []fieldSpec[accountDraft]{
	{"name", []string{"name"}, func(raw json.RawMessage, a *accountDraft) error {
		s, err := jsonString("name", raw, maxNameLen, false, false)
		if err == nil && s == "" {
			err = fault.InvalidField("name", "name must not be empty")
		}
		a.Name = s
		return err
	}},
	{"description", []string{"description"}, func(raw json.RawMessage, a *accountDraft) (err error) {
		a.Description, err = jsonString("description", raw, maxDescriptionLen, true, true)
		return err
	}},
	{"apiUrl", []string{"apiUrl"}, func(raw json.RawMessage, a *accountDraft) (err error) {
		a.APIURL, err = jsonAPIURL(raw)
		return err
	}},
	{"apiKey", []string{"apiKeySealed", "apiKeyMask"}, func(raw json.RawMessage, a *accountDraft) error {
		key, err := jsonString("apiKey", raw, maxAPIKeyLen, false, false)
		if err != nil {
			return err
		}
		if key == "" || strings.ContainsAny(key, " \t") {
			return fault.InvalidField("apiKey", "apiKey must be a non-empty credential without spaces")
		}
		sealed, err := a.box.Seal(key)
		if err != nil {
			return err
		}
		a.APIKeySealed, a.APIKeyMask = sealed, secrets.Mask(key)
		return nil
	}},
	{"userAgent", []string{"userAgent"}, func(raw json.RawMessage, a *accountDraft) (err error) {
		a.UserAgent, err = jsonString("userAgent", raw, maxUserAgentLen, true, false)
		return err
	}},
	{"supportedModels", []string{"supportedModels"}, func(raw json.RawMessage, a *accountDraft) (err error) {
		a.SupportedModels, err = jsonModelMap(raw)
		return err
	}},
	{"priority", []string{"priority"}, func(raw json.RawMessage, a *accountDraft) (err error) {
		a.Priority, err = jsonInt("priority", raw, 1, 100)
		return err
	}},
	{"schedulable", []string{"schedulable"}, func(raw json.RawMessage, a *accountDraft) (err error) {
		a.Schedulable, err = jsonBool("schedulable", raw)
		return err
	}},
	{"isActive", []string{"isActive"}, func(raw json.RawMessage, a *accountDraft) (err error) {
		a.IsActive, err = jsonBool("isActive", raw)
		return err
	}},
	{"accountType", []string{"accountType"}, func(raw json.RawMessage, a *accountDraft) (err error) {
		a.AccountType, err = jsonEnum("accountType", raw, accountShared, accountDedicated)
		return err
	}},
	{"proxy", []string{"proxy"}, func(raw json.RawMessage, a *accountDraft) (err error) {
		a.Proxy, err = jsonProxy(raw, a.Proxy, a.box)
		return err
	}},
	{"rateLimitDuration", []string{"rateLimitDuration"}, func(raw json.RawMessage, a *accountDraft) (err error) {
		a.RateLimitDuration, err = jsonInt("rateLimitDuration", raw, 1, maxRateLimitMins)
		return err
	}},
	{"dailyQuota", []string{"dailyQuotaMicros"}, func(raw json.RawMessage, a *accountDraft) (err error) {
		a.DailyQuotaMicros, err = jsonUSD("dailyQuota", raw)
		return err
	}},
	{"quotaResetTime", []string{"quotaResetTime"}, func(raw json.RawMessage, a *accountDraft) error {
		s, err := jsonString("quotaResetTime", raw, 5, false, false)
		if err == nil && !quotaResetPattern.MatchString(s) {
			err = fault.InvalidField("quotaResetTime", "quotaResetTime must be a time of day HH:mm, such as 00:00")
		}
		a.QuotaResetTime = s
		return err
	}},
	{"maxConcurrency", []string{"maxConcurrency"}, func(raw json.RawMessage, a *accountDraft) (err error) {
		a.MaxConcurrency, err = jsonInt("maxConcurrency", raw, 0, maxConcurrencyCap)
		return err
	}},
}

// requiredAccountFields must be sent when an account is created.
var requiredAccountFields = []string{"name", "apiUrl", "apiKey"}

// jsonAPIURL reads the upstream base URL: absolute http(s), with a host,
// without credentials, query or fragment (relay appends the API path).
func jsonAPIURL(raw json.RawMessage) (string, error) {
	s, err := jsonString("apiUrl", raw, maxURLLen, false, false)
	if err != nil {
		return "", err
	}
	bad := fault.InvalidField("apiUrl", "apiUrl must be an absolute http or https URL such as https://api.anthropic.com, without credentials, query or fragment")
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Hostname() == "" ||
		u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || u.Opaque != "" {
		return "", bad
	}
	return strings.TrimRight(s, "/"), nil
}

// jsonModelMap reads supportedModels: a {"requested": "upstream"} map, or a
// list of names each mapped to itself; null, [] and {} mean every model.
func jsonModelMap(raw json.RawMessage) (map[string]string, error) {
	const field = "supportedModels"
	out := map[string]string{}
	if jsonIsNull(raw) {
		return out, nil
	}
	bad := fault.InvalidField(field, fmt.Sprintf("supportedModels must be a {\"requested\": \"upstream\"} map or a list of model names (at most %d, each at most %d characters)", maxListItems, maxModelNameLen))
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) == nil {
		if len(m) > maxListItems {
			return nil, bad
		}
		for req, upRaw := range m {
			req = strings.TrimSpace(req)
			up, err := jsonString(field, upRaw, maxModelNameLen, false, false)
			if err != nil || req == "" || len(req) > maxModelNameLen || strings.ContainsFunc(req, isControlRune) {
				return nil, bad
			}
			if up == "" {
				up = req
			}
			out[req] = up
		}
		return out, nil
	}
	names, err := jsonStrings(field, raw, maxListItems, maxModelNameLen)
	if err != nil {
		return nil, bad
	}
	for _, n := range names {
		out[n] = n
	}
	return out, nil
}

func isControlRune(r rune) bool { return r < 0x20 || r == 0x7f }

// proxyWire is events.Proxy without omitempty. An update's changes are
// merged over the previous account by json.Unmarshal, which decodes into
// the existing proxy: a field left out would keep its old value, so a
// proxy sent without auth would keep the old username and password.
type proxyWire struct {
	Protocol       string `json:"protocol"`
	Host           string `json:"host"`
	Port           int    `json:"port"`
	Username       string `json:"username"`
	PasswordSealed string `json:"passwordSealed"`
}

// jsonProxy reads the proxy object or null. An auth without a password keeps
// the previous password when the username is unchanged, as an update
// without apiKey keeps the key: answers never show the password, so a
// client sending back what it read must not erase it.
func jsonProxy(raw json.RawMessage, old *events.Proxy, box *secrets.Box) (*events.Proxy, error) {
	if jsonIsNull(raw) {
		return nil, nil
	}
	var body struct {
		Protocol json.RawMessage `json:"protocol"`
		Host     json.RawMessage `json:"host"`
		Port     json.RawMessage `json:"port"`
		Auth     json.RawMessage `json:"auth"`
	}
	if err := strictObject("proxy", raw, &body); err != nil {
		return nil, err
	}
	if body.Protocol == nil || body.Host == nil || body.Port == nil {
		return nil, fault.InvalidField("proxy", "proxy must have protocol, host and port")
	}
	var p events.Proxy
	var err error
	if p.Protocol, err = jsonEnum("proxy.protocol", body.Protocol, proxyProtocols...); err != nil {
		return nil, err
	}
	host, err := jsonString("proxy.host", body.Host, 253, false, false)
	if err != nil {
		return nil, err
	}
	if !validProxyHost(host) {
		return nil, fault.InvalidField("proxy.host", "proxy.host must be a host name or an IP address")
	}
	p.Host = host
	if p.Port, err = jsonInt("proxy.port", body.Port, 1, 65535); err != nil {
		return nil, err
	}
	if body.Auth == nil || jsonIsNull(body.Auth) {
		return &p, nil
	}
	var auth struct {
		Username json.RawMessage `json:"username"`
		Password json.RawMessage `json:"password"`
		// HasPassword is what answers show; false without a password
		// removes the old one.
		HasPassword json.RawMessage `json:"hasPassword"`
	}
	if err := strictObject("proxy.auth", body.Auth, &auth); err != nil {
		return nil, err
	}
	if auth.Username != nil {
		if p.Username, err = jsonString("proxy.auth.username", auth.Username, 256, true, false); err != nil {
			return nil, err
		}
	}
	switch {
	case auth.Password != nil && !jsonIsNull(auth.Password):
		var pw string
		if json.Unmarshal(auth.Password, &pw) != nil || len(pw) > 1024 {
			return nil, fault.InvalidField("proxy.auth.password", "proxy.auth.password must be a string of at most 1024 bytes")
		}
		if pw != "" {
			if p.PasswordSealed, err = box.Seal(pw); err != nil {
				return nil, err
			}
		}
	case auth.Password == nil && old != nil && old.Username == p.Username && !jsonIsFalse(auth.HasPassword):
		p.PasswordSealed = old.PasswordSealed
	}
	if p.Username == "" && p.PasswordSealed != "" {
		return nil, fault.InvalidField("proxy.auth.username", "proxy.auth.username is required with a password")
	}
	return &p, nil
}

func jsonIsFalse(raw json.RawMessage) bool {
	var b bool
	return raw != nil && json.Unmarshal(raw, &b) == nil && !b
}

// strictObject decodes raw, a JSON object, into v, naming an unknown member
// as field.member.
func strictObject(field string, raw json.RawMessage, v any) error {
	var members map[string]json.RawMessage
	if json.Unmarshal(raw, &members) != nil || members == nil {
		return fault.InvalidField(field, field+" must be an object")
	}
	known, _ := json.Marshal(v)
	var knownMembers map[string]json.RawMessage
	_ = json.Unmarshal(known, &knownMembers)
	names := make([]string, 0, len(members))
	for name := range members {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if _, ok := knownMembers[name]; !ok {
			return fault.InvalidField(field+"."+name, "unknown field "+field+"."+name)
		}
	}
	return json.Unmarshal(raw, v)
}

// validHost accepts a DNS name or an IP address (IPv6 with or without
// brackets).
func validProxyHost(h string) bool {
	if ip := net.ParseIP(strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")); ip != nil {
		return true
	}
	if h == "" || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return false
			}
		}
	}
	return true
}

// accountChanges is the Changes of an account.updated event for the sent
// fields, with the proxy written whole (see proxyWire).
func accountChanges(a events.Account, sent map[string]bool) (json.RawMessage, error) {
	raw, err := wireChanges(a, accountFields, sent)
	if err != nil || !sent["proxy"] || a.Proxy == nil {
		return raw, err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	p := a.Proxy
	if m["proxy"], err = json.Marshal(proxyWire{p.Protocol, p.Host, p.Port, p.Username, p.PasswordSealed}); err != nil {
		return nil, err
	}
	return json.Marshal(m)
}

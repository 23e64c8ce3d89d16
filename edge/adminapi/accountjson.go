package adminapi

import (
	"encoding/json"
	"slices"
	"time"

	"relay/edge/admin"
	"relay/edge/fault"
)

// Upstream account JSON (DESIGN.md section 5) and its mapping to
// events.Account. The upstream key and the proxy password are sealed before
// they enter an event and are never shown again: answers carry a mask of the
// key and only the proxy's username.

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

// newAccountJSON shows account item a with the status in force at now.
func newAccountJSON(a admin.AccountItem, now time.Time) accountJSON {
	v := a.AccountView
	out := accountJSON{
		ID: v.ID, Platform: v.Platform, Name: v.Name, Description: v.Description,
		APIURL: v.APIURL, APIKey: v.APIKeyMask, UserAgent: v.UserAgent,
		SupportedModels: v.SupportedModels, Priority: v.Priority,
		Schedulable: v.Schedulable, IsActive: v.IsActive, AccountType: v.AccountType,
		RateLimitDuration: v.RateLimitDuration, DailyQuota: usdFromMicros(v.DailyQuotaMicros),
		QuotaResetTime: v.QuotaResetTime, MaxConcurrency: v.MaxConcurrency,
		IsDeleted: v.IsDeleted, DeletedAt: v.DeletedAt,
		CreatedAt: v.CreatedAt, UpdatedAt: v.UpdatedAt, LastUsedAt: timeOrNil(a.LastUsed), Version: v.Seq,
	}
	out.Status, out.StatusUntil = a.Status(now)
	if out.SupportedModels == nil {
		out.SupportedModels = map[string]string{}
	}
	if p := v.Proxy; p != nil {
		out.Proxy = &proxyJSON{Protocol: p.Protocol, Host: p.Host, Port: p.Port}
		if p.Username != "" || p.PasswordSealed != "" {
			out.Proxy.Auth = &proxyAuthJSON{Username: p.Username, HasPassword: p.PasswordSealed != ""}
		}
	}
	return out
}

// accountFields decode the writable fields of an account, in the order
// they are checked.
var accountFields = []fieldDecoder[admin.AccountInput]{
	textField("name", false, func(in *admin.AccountInput) *admin.Opt[string] { return &in.Name }),
	textField("description", true, func(in *admin.AccountInput) *admin.Opt[string] { return &in.Description }),
	textField("apiUrl", false, func(in *admin.AccountInput) *admin.Opt[string] { return &in.APIURL }),
	textField("apiKey", false, func(in *admin.AccountInput) *admin.Opt[string] { return &in.APIKey }),
	textField("userAgent", true, func(in *admin.AccountInput) *admin.Opt[string] { return &in.UserAgent }),
	{"supportedModels", func(raw json.RawMessage, in *admin.AccountInput) (err error) {
		m, err := jsonModelMap(raw)
		in.SupportedModels = admin.Some(m)
		return err
	}},
	intField("priority", func(in *admin.AccountInput) *admin.Opt[int64] { return &in.Priority }),
	boolField("schedulable", func(in *admin.AccountInput) *admin.Opt[bool] { return &in.Schedulable }),
	boolField("isActive", func(in *admin.AccountInput) *admin.Opt[bool] { return &in.IsActive }),
	textField("accountType", false, func(in *admin.AccountInput) *admin.Opt[string] { return &in.AccountType }),
	{"proxy", func(raw json.RawMessage, in *admin.AccountInput) error {
		p, err := jsonProxy(raw)
		in.Proxy = admin.Some(p)
		return err
	}},
	intField("rateLimitDuration", func(in *admin.AccountInput) *admin.Opt[int64] { return &in.RateLimitDuration }),
	usdField("dailyQuota", func(in *admin.AccountInput) *admin.Opt[string] { return &in.DailyQuota }),
	textField("quotaResetTime", false, func(in *admin.AccountInput) *admin.Opt[string] { return &in.QuotaResetTime }),
	intField("maxConcurrency", func(in *admin.AccountInput) *admin.Opt[int64] { return &in.MaxConcurrency }),
}

// jsonModelMap reads supportedModels: a {"requested": "upstream"} map, or a
// list of names each mapped to itself; null, [] and {} mean every model.
func jsonModelMap(raw json.RawMessage) (map[string]string, error) {
	const field = "supportedModels"
	out := map[string]string{}
	if jsonIsNull(raw) {
		return out, nil
	}
	bad := fault.InvalidField(field, `supportedModels must be a {"requested": "upstream"} map or a list of model names`)
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) == nil {
		if len(m) > maxDecodedItems {
			return nil, bad
		}
		for req, upRaw := range m {
			up, err := jsonString(field, upRaw, false)
			if err != nil {
				return nil, bad
			}
			out[req] = up
		}
		return out, nil
	}
	names, err := jsonStrings(field, raw)
	if err != nil {
		return nil, bad
	}
	for _, n := range names {
		out[n] = n
	}
	return out, nil
}

// jsonProxy reads the proxy object or null.
func jsonProxy(raw json.RawMessage) (*admin.ProxyInput, error) {
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
	var p admin.ProxyInput
	var err error
	if p.Protocol, err = jsonString("proxy.protocol", body.Protocol, false); err != nil {
		return nil, err
	}
	if p.Host, err = jsonString("proxy.host", body.Host, false); err != nil {
		return nil, err
	}
	if p.Port, err = jsonInt("proxy.port", body.Port); err != nil {
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
	p.Auth = &admin.ProxyAuthInput{}
	if auth.Username != nil {
		if p.Auth.Username, err = jsonString("proxy.auth.username", auth.Username, true); err != nil {
			return nil, err
		}
	}
	switch {
	case auth.Password == nil:
	case jsonIsNull(auth.Password):
		// null removes the password, like "".
		p.Auth.Password = admin.Some("")
	default:
		var pw string
		if json.Unmarshal(auth.Password, &pw) != nil {
			return nil, fault.InvalidField("proxy.auth.password", "proxy.auth.password must be a string of at most 1024 bytes")
		}
		p.Auth.Password = admin.Some(pw)
	}
	if auth.HasPassword != nil {
		var b bool
		if json.Unmarshal(auth.HasPassword, &b) == nil {
			p.Auth.HasPassword = admin.Some(b)
		}
	}
	return &p, nil
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

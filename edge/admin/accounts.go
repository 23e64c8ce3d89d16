package admin

import (
	"context"
	"encoding/json"
	"errors"
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
	"relay/events/streams"
	"relay/projections"
	"relay/projections/pricing"
	"relay/store"
)

// Upstream accounts (DESIGN.md section 5), per platform. The upstream key
// and the proxy password are sealed before they enter an event and are
// never shown again: views carry a mask of the key and only the proxy's
// username.

// Account field values.
const (
	AccountShared    = "shared"
	AccountDedicated = "dedicated"
	// StatusActive and StatusQuotaExceeded are the derived statuses beside
	// the health states.
	StatusActive        = "active"
	StatusQuotaExceeded = "quota_exceeded"
)

// Account limits.
const (
	defaultPriority   = 50
	defaultRateLimit  = 60 // minutes
	MaxRateLimitMins  = 10080
	maxAPIKeyLen      = 4096
	maxURLLen         = 2048
	maxUserAgentLen   = 512
	maxConcurrencyCap = 1_000_000
)

// AccountPlatforms are the platforms the admin manages.
var AccountPlatforms = []string{events.PlatformClaudeConsole, events.PlatformCodex}

// ProxyProtocols are the proxy schemes the upstream transport speaks.
var ProxyProtocols = []string{"http", "https", "socks5"}

var quotaResetPattern = regexp.MustCompile(`^([01][0-9]|2[0-3]):[0-5][0-9]$`)

// AccountInput is what an admin sets on an account: every field is
// optional on an update. APIKey is the plaintext credential (sealed at
// once); DailyQuota is US dollars as a decimal number; Proxy nil removes
// the proxy.
type AccountInput struct {
	Name, Description, APIURL, APIKey, UserAgent Opt[string]
	SupportedModels                              Opt[map[string]string]
	Priority                                     Opt[int64]
	Schedulable, IsActive                        Opt[bool]
	AccountType                                  Opt[string]
	Proxy                                        Opt[*ProxyInput]
	RateLimitDuration                            Opt[int64]
	DailyQuota                                   Opt[string]
	QuotaResetTime                               Opt[string]
	MaxConcurrency                               Opt[int64]
}

// ProxyInput is an account's proxy. Auth nil means none.
type ProxyInput struct {
	Protocol, Host string
	Port           int64
	Auth           *ProxyAuthInput
}

// ProxyAuthInput is a proxy's credentials. A password not set keeps the
// previous one when the username is unchanged and HasPassword is not set
// false (views never show it, so sending back what was read keeps it).
type ProxyAuthInput struct {
	Username    string
	Password    Opt[string]
	HasPassword Opt[bool]
}

// accountField is one writable field of an account: its name in the API,
// the names it sets in the event payload, and how it is checked and
// applied (old is the account before the change).
type accountField struct {
	name  string
	wire  []string
	apply func(s *Service, in *AccountInput, a *events.Account) (set bool, err error)
}

func accountFieldOf[T any](name string, wire []string, get func(*AccountInput) Opt[T], set func(*Service, T, *events.Account) error) accountField {
	return accountField{name, wire, func(s *Service, in *AccountInput, a *events.Account) (bool, error) {
		o := get(in)
		if !o.Set {
			return false, nil
		}
		return true, set(s, o.Value, a)
	}}
}

// accountFields are the writable fields of an account, in the order they
// are checked.
var accountFields = []accountField{
	accountFieldOf("name", one("name"), func(in *AccountInput) Opt[string] { return in.Name }, func(_ *Service, v string, a *events.Account) (err error) {
		a.Name, err = checkName("name", v)
		return err
	}),
	accountFieldOf("description", one("description"), func(in *AccountInput) Opt[string] { return in.Description }, func(_ *Service, v string, a *events.Account) (err error) {
		a.Description, err = checkText("description", v, MaxDescriptionLen, true)
		return err
	}),
	accountFieldOf("apiUrl", one("apiUrl"), func(in *AccountInput) Opt[string] { return in.APIURL }, func(_ *Service, v string, a *events.Account) (err error) {
		a.APIURL, err = checkAPIURL(v)
		return err
	}),
	accountFieldOf("apiKey", []string{"apiKeySealed", "apiKeyMask"}, func(in *AccountInput) Opt[string] { return in.APIKey }, func(s *Service, v string, a *events.Account) error {
		key, err := checkText("apiKey", v, maxAPIKeyLen, false)
		if err != nil {
			return err
		}
		if key == "" || strings.ContainsAny(key, " \t") {
			return fault.InvalidField("apiKey", "apiKey must be a non-empty credential without spaces")
		}
		sealed, err := s.box.Seal(key)
		if err != nil {
			return err
		}
		a.APIKeySealed, a.APIKeyMask = sealed, secrets.Mask(key)
		return nil
	}),
	accountFieldOf("userAgent", one("userAgent"), func(in *AccountInput) Opt[string] { return in.UserAgent }, func(_ *Service, v string, a *events.Account) (err error) {
		a.UserAgent, err = checkText("userAgent", v, maxUserAgentLen, false)
		return err
	}),
	accountFieldOf("supportedModels", one("supportedModels"), func(in *AccountInput) Opt[map[string]string] { return in.SupportedModels }, func(_ *Service, v map[string]string, a *events.Account) (err error) {
		a.SupportedModels, err = checkModelMap(v)
		return err
	}),
	accountFieldOf("priority", one("priority"), func(in *AccountInput) Opt[int64] { return in.Priority }, func(_ *Service, v int64, a *events.Account) (err error) {
		a.Priority, err = checkRange("priority", v, 1, 100)
		return err
	}),
	accountFieldOf("schedulable", one("schedulable"), func(in *AccountInput) Opt[bool] { return in.Schedulable }, func(_ *Service, v bool, a *events.Account) error {
		a.Schedulable = v
		return nil
	}),
	accountFieldOf("isActive", one("isActive"), func(in *AccountInput) Opt[bool] { return in.IsActive }, func(_ *Service, v bool, a *events.Account) error {
		a.IsActive = v
		return nil
	}),
	accountFieldOf("accountType", one("accountType"), func(in *AccountInput) Opt[string] { return in.AccountType }, func(_ *Service, v string, a *events.Account) (err error) {
		a.AccountType, err = checkEnum("accountType", v, AccountShared, AccountDedicated)
		return err
	}),
	accountFieldOf("proxy", one("proxy"), func(in *AccountInput) Opt[*ProxyInput] { return in.Proxy }, func(s *Service, v *ProxyInput, a *events.Account) (err error) {
		a.Proxy, err = s.checkProxy(v, a.Proxy)
		return err
	}),
	accountFieldOf("rateLimitDuration", one("rateLimitDuration"), func(in *AccountInput) Opt[int64] { return in.RateLimitDuration }, func(_ *Service, v int64, a *events.Account) (err error) {
		a.RateLimitDuration, err = checkRange("rateLimitDuration", v, 1, MaxRateLimitMins)
		return err
	}),
	accountFieldOf("dailyQuota", one("dailyQuotaMicros"), func(in *AccountInput) Opt[string] { return in.DailyQuota }, func(_ *Service, v string, a *events.Account) (err error) {
		a.DailyQuotaMicros, err = parseUSD("dailyQuota", v)
		return err
	}),
	accountFieldOf("quotaResetTime", one("quotaResetTime"), func(in *AccountInput) Opt[string] { return in.QuotaResetTime }, func(_ *Service, v string, a *events.Account) error {
		v = strings.TrimSpace(v)
		if !quotaResetPattern.MatchString(v) {
			return fault.InvalidField("quotaResetTime", "quotaResetTime must be a time of day HH:mm, such as 00:00")
		}
		a.QuotaResetTime = v
		return nil
	}),
	accountFieldOf("maxConcurrency", one("maxConcurrency"), func(in *AccountInput) Opt[int64] { return in.MaxConcurrency }, func(_ *Service, v int64, a *events.Account) (err error) {
		a.MaxConcurrency, err = checkRange("maxConcurrency", v, 0, maxConcurrencyCap)
		return err
	}),
}

// requiredAccountFields must be set when an account is created.
var requiredAccountFields = []string{"name", "apiUrl", "apiKey"}

// checkAPIURL checks the upstream base URL: absolute http(s), with a host,
// without credentials, query or fragment (relay appends the API path).
func checkAPIURL(s string) (string, error) {
	s, err := checkText("apiUrl", s, maxURLLen, false)
	if err != nil {
		return "", err
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Hostname() == "" ||
		u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || u.Opaque != "" {
		return "", fault.InvalidField("apiUrl", "apiUrl must be an absolute http or https URL such as https://api.anthropic.com, without credentials, query or fragment")
	}
	return strings.TrimRight(s, "/"), nil
}

// checkModelMap checks supportedModels: requested name to upstream name
// (an empty upstream name maps a name to itself); empty means every model.
func checkModelMap(m map[string]string) (map[string]string, error) {
	bad := fault.InvalidField("supportedModels", fmt.Sprintf("supportedModels must be a {\"requested\": \"upstream\"} map or a list of model names (at most %d, each at most %d characters)", maxListItems, maxModelNameLen))
	if len(m) > maxListItems {
		return nil, bad
	}
	out := make(map[string]string, len(m))
	for req, up := range m {
		req, err := checkText("supportedModels", req, maxModelNameLen, false)
		if err != nil || req == "" {
			return nil, bad
		}
		if up, err = checkText("supportedModels", up, maxModelNameLen, false); err != nil {
			return nil, bad
		}
		if up == "" {
			up = req
		}
		out[req] = up
	}
	return out, nil
}

// checkProxy checks a proxy (nil: none) and seals its password; old is the
// account's proxy before the change.
func (s *Service) checkProxy(in *ProxyInput, old *events.Proxy) (*events.Proxy, error) {
	if in == nil {
		return nil, nil
	}
	var p events.Proxy
	var err error
	if p.Protocol, err = checkEnum("proxy.protocol", in.Protocol, ProxyProtocols...); err != nil {
		return nil, err
	}
	host, err := checkText("proxy.host", in.Host, 253, false)
	if err != nil {
		return nil, err
	}
	if !validProxyHost(host) {
		return nil, fault.InvalidField("proxy.host", "proxy.host must be a host name or an IP address")
	}
	p.Host = host
	if p.Port, err = checkRange("proxy.port", in.Port, 1, 65535); err != nil {
		return nil, err
	}
	auth := in.Auth
	if auth == nil {
		return &p, nil
	}
	if p.Username, err = checkText("proxy.auth.username", auth.Username, 256, false); err != nil {
		return nil, err
	}
	switch {
	case auth.Password.Set:
		if len(auth.Password.Value) > 1024 {
			return nil, fault.InvalidField("proxy.auth.password", "proxy.auth.password must be a string of at most 1024 bytes")
		}
		if auth.Password.Value != "" {
			if p.PasswordSealed, err = s.box.Seal(auth.Password.Value); err != nil {
				return nil, err
			}
		}
	case old != nil && old.Username == p.Username && !(auth.HasPassword.Set && !auth.HasPassword.Value):
		p.PasswordSealed = old.PasswordSealed
	}
	if p.Username == "" && p.PasswordSealed != "" {
		return nil, fault.InvalidField("proxy.auth.username", "proxy.auth.username is required with a password")
	}
	return &p, nil
}

// validProxyHost accepts a DNS name or an IP address (IPv6 with or without
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

// applyAccount applies the fields set in in onto a, in the order of
// accountFields, and returns the names set.
func (s *Service) applyAccount(in AccountInput, a *events.Account) (map[string]bool, error) {
	sent := map[string]bool{}
	for _, f := range accountFields {
		set, err := f.apply(s, &in, a)
		if err != nil {
			return nil, err
		}
		if set {
			sent[f.name] = true
		}
	}
	return sent, nil
}

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

// accountChanges is the Changes of an account.updated event for the sent
// fields, with the proxy written whole (see proxyWire).
func accountChanges(a events.Account, sent map[string]bool) (json.RawMessage, error) {
	var wire []string
	for _, f := range accountFields {
		if sent[f.name] {
			wire = append(wire, f.wire...)
		}
	}
	raw, err := pickWire(a, wire)
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

// newAccountDefaults is an account before the fields of a create request
// apply.
func newAccountDefaults(platform string) events.Account {
	return events.Account{
		Platform: platform, SupportedModels: map[string]string{}, Priority: defaultPriority,
		Schedulable: true, IsActive: true, AccountType: AccountShared,
		RateLimitDuration: defaultRateLimit, QuotaResetTime: "00:00",
	}
}

// AccountItem is an account as the admin views show it: its configuration,
// its health in this edge's catalog and its use.
type AccountItem struct {
	projections.AccountView
	State projections.AccountStateView
	// LastUsed is the time of the account's last request (zero: never).
	LastUsed time.Time
	// QuotaDay is the start of the current quota day and SpentNanos the
	// account's spend since, for an account with a daily quota (counted
	// the way the scheduler counts it).
	QuotaDay   time.Time
	SpentNanos int64
}

// Status is the account's status at now: the health state in force, else
// quota_exceeded when its daily quota is spent, else active; with when it
// ends.
func (a AccountItem) Status(now time.Time) (string, *time.Time) {
	if st := a.State.ActiveAt(now); st != "" {
		until := a.State.Until
		return st, &until
	}
	if projections.OverQuota(a.AccountView, a.SpentNanos) {
		until := a.QuotaDay.AddDate(0, 0, 1).UTC()
		return StatusQuotaExceeded, &until
	}
	return StatusActive, nil
}

// CheckPlatform refuses a platform the admin does not manage.
func CheckPlatform(platform string) error {
	if !slices.Contains(AccountPlatforms, platform) {
		return fault.New(fault.NotFound, "unknown platform: use claude-console or codex")
	}
	return nil
}

// ListAccounts returns a page of the accounts of platform and the number
// matching.
func (s *Service) ListAccounts(ctx context.Context, platform string, q ListQuery) ([]AccountItem, int, error) {
	if err := CheckPlatform(platform); err != nil {
		return nil, 0, err
	}
	views, total, err := s.store.ListAccounts(ctx, platform, store.ListQuery{Offset: q.Offset, Limit: q.Limit, Search: q.Search, IncludeDeleted: q.IncludeDeleted})
	if err != nil {
		return nil, 0, err
	}
	items, err := s.accountItems(ctx, views, time.Now())
	return items, total, err
}

// Account returns the account id of platform.
func (s *Service) Account(ctx context.Context, platform, id string) (AccountItem, error) {
	v, err := s.loadAccount(ctx, platform, id)
	if err != nil {
		return AccountItem{}, err
	}
	return s.accountItem(ctx, v)
}

// CreateAccount creates an account of platform from in.
func (s *Service) CreateAccount(ctx context.Context, who Actor, platform string, in AccountInput) (AccountItem, error) {
	if err := CheckPlatform(platform); err != nil {
		return AccountItem{}, err
	}
	a := newAccountDefaults(platform)
	sent, err := s.applyAccount(in, &a)
	if err != nil {
		return AccountItem{}, err
	}
	for _, f := range requiredAccountFields {
		if !sent[f] {
			return AccountItem{}, fault.InvalidField(f, f+" is required")
		}
	}
	now := time.Now()
	a.ID = events.NewID(now)
	env, err := events.New(events.AccountCreated, now, who.Username, who.RequestID, a)
	if err != nil {
		return AccountItem{}, err
	}
	none := uint64(0)
	if _, err := s.writeConfig(ctx, events.AccountSubject(a.ID), env, &none); err != nil {
		return AccountItem{}, err
	}
	return s.Account(ctx, platform, a.ID)
}

// UpdateAccount changes the fields set in in. expect is the version the
// change was made on (nil: the version read now).
func (s *Service) UpdateAccount(ctx context.Context, who Actor, platform, id string, expect *uint64, in AccountInput) (AccountItem, error) {
	old, err := s.loadLiveAccount(ctx, platform, id)
	if err != nil {
		return AccountItem{}, err
	}
	version := expected(expect, old.Seq)
	a := old.Account
	sent, err := s.applyAccount(in, &a)
	if err != nil {
		return AccountItem{}, err
	}
	if len(sent) == 0 {
		if version != old.Seq {
			return AccountItem{}, fault.New(fault.Conflict, "the account was changed by someone else since it was read; read it again and retry")
		}
		return s.accountItem(ctx, old)
	}
	changes, err := accountChanges(a, sent)
	if err != nil {
		return AccountItem{}, err
	}
	return s.writeAccount(ctx, who, old, events.AccountUpdated, events.AccountUpdatedData{ID: old.ID, Changes: changes}, version)
}

// DeleteAccount deletes the account, unless keys are bound to it.
func (s *Service) DeleteAccount(ctx context.Context, who Actor, platform, id string, expect *uint64) (AccountItem, error) {
	old, err := s.loadLiveAccount(ctx, platform, id)
	if err != nil {
		return AccountItem{}, err
	}
	if bound := s.keysBoundTo(old.ID); len(bound) > 0 {
		// Its keys would be refused at every request (a dedicated key never
		// falls back to the shared pool): the admin decides about them first.
		shown := bound[:min(len(bound), 5)]
		more := ""
		if len(bound) > len(shown) {
			more = fmt.Sprintf(" and %d more", len(bound)-len(shown))
		}
		return AccountItem{}, fault.New(fault.Conflict, fmt.Sprintf("the account is the dedicated account of %d API key(s): %s%s; bind them elsewhere or delete them first",
			len(bound), strings.Join(shown, ", "), more))
	}
	return s.writeAccount(ctx, who, old, events.AccountDeleted, events.AccountDeletedData{ID: old.ID}, expected(expect, old.Seq))
}

// ToggleSchedulable flips whether the scheduler may pick the account.
func (s *Service) ToggleSchedulable(ctx context.Context, who Actor, platform, id string, expect *uint64) (AccountItem, error) {
	old, err := s.loadLiveAccount(ctx, platform, id)
	if err != nil {
		return AccountItem{}, err
	}
	changes, err := pickWire(events.Account{Schedulable: !old.Schedulable}, one("schedulable"))
	if err != nil {
		return AccountItem{}, err
	}
	return s.writeAccount(ctx, who, old, events.AccountUpdated, events.AccountUpdatedData{ID: old.ID, Changes: changes}, expected(expect, old.Seq))
}

// ResetRateLimit ends every health state of the account at once: an event
// on STATE, returned when both this edge's catalog and the state
// projection hold it.
func (s *Service) ResetRateLimit(ctx context.Context, who Actor, platform, id string) (AccountItem, error) {
	old, err := s.loadLiveAccount(ctx, platform, id)
	if err != nil {
		return AccountItem{}, err
	}
	env, err := events.New(events.AccountStateCleared, time.Now(), who.Username, who.RequestID,
		events.AccountStateClearedData{AccountID: old.ID})
	if err != nil {
		return AccountItem{}, err
	}
	seq, err := streams.Publish(ctx, s.js, events.AccountStateSubject(old.ID), env, nil)
	if err != nil {
		return AccountItem{}, err
	}
	s.published(env.Type)
	wctx, cancel := context.WithTimeout(ctx, s.cfg.WriteWait)
	defer cancel()
	notVisible := fault.New(fault.Overloaded, "the reset was recorded but is not visible yet; read the account again shortly")
	if err := s.catalog.WaitState(wctx, seq); err != nil {
		return AccountItem{}, notVisible
	}
	if err := s.store.WaitCheckpoint(wctx, store.ProjectionState, seq); err != nil {
		return AccountItem{}, notVisible
	}
	return s.accountItem(ctx, old)
}

// writeAccount publishes one event about account old expecting version
// expect and returns the account as projected after it.
func (s *Service) writeAccount(ctx context.Context, who Actor, old projections.AccountView, typ string, payload any, expect uint64) (AccountItem, error) {
	env, err := events.New(typ, time.Now(), who.Username, who.RequestID, payload)
	if err != nil {
		return AccountItem{}, err
	}
	if _, err := s.writeConfig(ctx, events.AccountSubject(old.ID), env, &expect); err != nil {
		return AccountItem{}, err
	}
	return s.Account(ctx, old.Platform, old.ID)
}

// loadAccount reads account id from the read model; an account of another
// platform is not found.
func (s *Service) loadAccount(ctx context.Context, platform, id string) (projections.AccountView, error) {
	if err := CheckPlatform(platform); err != nil {
		return projections.AccountView{}, err
	}
	if !events.ValidToken(id) {
		return projections.AccountView{}, fault.New(fault.NotFound, "account not found")
	}
	v, err := s.store.Account(ctx, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && (v.CreatedSeq == 0 || v.Platform != platform)) {
		return v, fault.New(fault.NotFound, "account not found")
	}
	return v, err
}

// loadLiveAccount is loadAccount for writes: a deleted account cannot
// change.
func (s *Service) loadLiveAccount(ctx context.Context, platform, id string) (projections.AccountView, error) {
	v, err := s.loadAccount(ctx, platform, id)
	if err == nil && v.IsDeleted {
		err = fault.New(fault.Conflict, "the account is deleted")
	}
	return v, err
}

func (s *Service) accountItem(ctx context.Context, v projections.AccountView) (AccountItem, error) {
	items, err := s.accountItems(ctx, []projections.AccountView{v}, time.Now())
	if err != nil {
		return AccountItem{}, err
	}
	return items[0], nil
}

// accountItems adds to each account its health, its last use and, with a
// daily quota, its spend in the current quota day (QuotaDayStart in the
// edge's time zone, as the scheduler counts it).
func (s *Service) accountItems(ctx context.Context, views []projections.AccountView, now time.Time) ([]AccountItem, error) {
	ids := make([]string, len(views))
	for i, v := range views {
		ids[i] = v.ID
	}
	used, err := s.store.LastUsed(ctx, projections.DimAccount, ids)
	if err != nil {
		return nil, err
	}
	items := make([]AccountItem, len(views))
	for i, v := range views {
		items[i] = AccountItem{AccountView: v, LastUsed: used[v.ID]}
		if v.DailyQuotaMicros > 0 {
			items[i].QuotaDay = projections.QuotaDayStart(v.QuotaResetTime, now.In(s.cfg.Location))
			if items[i].SpentNanos, err = s.store.AccountSpendSince(ctx, v.ID, items[i].QuotaDay, now); err != nil {
				return nil, err
			}
		}
	}
	s.catalog.Read(func(cat *projections.Catalog) {
		for i := range items {
			items[i].State = cat.States[items[i].ID]
		}
	})
	return items, nil
}

// Availability says whether the scheduler may pick the account now and
// every reason it may not.
type Availability struct {
	Account AccountItem
	Load    projections.AccountLoad
	Reasons []projections.Unavailable
}

// AccountAvailability applies the scheduler's availability rule to the
// account, with its health in this edge's catalog, its spend today and its
// concurrency leases in Redis.
func (s *Service) AccountAvailability(ctx context.Context, platform, id string) (Availability, error) {
	v, err := s.loadAccount(ctx, platform, id)
	if err != nil {
		return Availability{}, err
	}
	now := time.Now()
	items, err := s.accountItems(ctx, []projections.AccountView{v}, now)
	if err != nil {
		return Availability{}, err
	}
	inFlight, err := s.store.AccountInFlight(ctx, now, v.ID)
	if err != nil {
		return Availability{}, err
	}
	it := items[0]
	load := projections.AccountLoad{QuotaDay: it.QuotaDay, SpentNanos: it.SpentNanos, InFlight: inFlight[v.ID]}
	return Availability{Account: it, Load: load, Reasons: projections.Unavailability(v, it.State, "", &load, now)}, nil
}

// Text words a reason of av in English.
func (av Availability) Text(why projections.Unavailable) string {
	v, load := av.Account.AccountView, av.Load
	switch why.Reason {
	case projections.ReasonQuota:
		return fmt.Sprintf("over daily quota (spent $%.2f of $%.2f since %s)",
			pricing.NanosToUSD(load.SpentNanos), pricing.NanosToUSD(pricing.MicrosToNanos(v.DailyQuotaMicros)), load.QuotaDay.UTC().Format(time.RFC3339))
	case projections.ReasonBusy:
		return fmt.Sprintf("at max concurrency (%d of %d requests in flight)", load.InFlight, v.MaxConcurrency)
	case projections.ReasonDeleted, projections.ReasonInactive, projections.ReasonUnschedulable:
		return why.Reason
	}
	// A health state.
	until := " until " + why.Until.UTC().Format(time.RFC3339)
	switch why.Reason {
	case events.StateRateLimited:
		return "rate limited" + until
	case events.StateError:
		return "unavailable after errors" + until
	}
	return why.Reason + until // overloaded, unauthorized
}

// keysBoundTo lists the ids of the live keys that have account id as their
// dedicated account, sorted.
func (s *Service) keysBoundTo(id string) []string {
	var bound []string
	s.catalog.Read(func(cat *projections.Catalog) {
		for _, k := range cat.Keys {
			if !k.IsDeleted && (k.ClaudeConsoleAccountID == id || k.CodexAccountID == id) {
				bound = append(bound, k.ID)
			}
		}
	})
	slices.Sort(bound)
	return bound
}

// Package consoleadmin serves the web console (edge/console) from the
// admin actions (edge/admin): it implements console.Backend by calling
// *admin.Service and translating between the two packages' types. It holds
// no rule: every check, limit and availability reason is the actions'; the
// errors they return (edge/fault) pass through to the console unchanged.
package consoleadmin

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"strings"
	"time"

	"relay/edge/admin"
	"relay/edge/console"
	"relay/edge/fault"
	"relay/projections"
)

// Backend is console.Backend over the admin actions.
type Backend struct {
	act     *admin.Service
	devices admin.Devices
	// deviceTTL is how long a device cookie handed out at sign-in lasts.
	deviceTTL time.Duration
}

var _ console.Backend = (*Backend)(nil)

// New returns the console's backend over act; device cookies are signed
// as the REST API signs them (admin.NewDevices of the same JWT_SECRET), so
// one browser's cookie serves both, and last deviceTTL.
func New(act *admin.Service, devices admin.Devices, deviceTTL time.Duration) *Backend {
	return &Backend{act: act, devices: devices, deviceTTL: deviceTTL}
}

// SessionSecret derives the console's session key from JWT_SECRET
// (rotating JWT_SECRET signs everyone out of the console too).
func SessionSecret(jwtSecret []byte) []byte {
	return admin.Derive(jwtSecret, "relay console session v1")
}

func adminOf(v projections.AdminView) console.Admin {
	return console.Admin{Username: v.Username, PasswordVersion: v.PasswordSeq}
}

// SignIn implements console.Auth.
func (b *Backend) SignIn(ctx context.Context, in console.SignInInput) (console.SignInResult, error) {
	now := time.Now()
	device, _ := b.devices.Verify(in.Device, in.Username, now)
	a, err := b.act.SignIn(ctx, admin.SignInInput{
		Username: in.Username, Password: in.Password, Address: in.ClientAddr, Device: device, RequestID: in.RequestID,
	})
	if err != nil {
		return console.SignInResult{}, err
	}
	res := console.SignInResult{Admin: adminOf(a)}
	exp := now.Add(b.deviceTTL)
	if res.Device, err = b.devices.Sign(a.Username, exp); err != nil {
		return console.SignInResult{}, err
	}
	res.DeviceExpires = exp
	return res, nil
}

// CheckSession implements console.Auth (admin.Service.CheckSession).
func (b *Backend) CheckSession(_ context.Context, username string, version uint64) (console.Admin, error) {
	a, err := b.act.CheckSession(username, version)
	if errors.Is(err, admin.ErrSessionVoid) {
		return console.Admin{}, console.ErrNoAdmin
	}
	return adminOf(a), err
}

// ChangePassword implements console.Auth.
func (b *Backend) ChangePassword(ctx context.Context, in console.ChangePasswordInput) (console.Admin, error) {
	a, err := b.act.ChangePassword(ctx, admin.Actor{Username: in.Username, RequestID: in.RequestID}, in.CurrentPassword, in.NewPassword)
	return adminOf(a), err
}

// EndSession implements console.Auth.
func (b *Backend) EndSession(ctx context.Context, id string, until time.Time) error {
	return b.act.EndSession(ctx, id, until)
}

// SessionEnded implements console.Auth.
func (b *Backend) SessionEnded(ctx context.Context, id string) (bool, error) {
	return b.act.SessionEnded(ctx, id)
}

// Overview implements console.Stats.
func (b *Backend) Overview(ctx context.Context) (console.Overview, error) {
	o, err := b.act.Overview(ctx)
	if err != nil {
		return console.Overview{}, err
	}
	out := console.Overview{
		Timezone: o.Location.String(), Today: o.Usage.Today,
		Keys: console.KeyCounts{Total: o.Keys.Total, Active: o.Keys.Active},
	}
	for _, d := range []struct {
		days int
		dst  *console.Counters
	}{{7, &out.Last7Days}, {30, &out.Last30Days}} {
		r, err := b.act.UsageSeries(ctx, admin.UsageQuery{GroupBy: admin.GroupByDay, From: daysBack(d.days)})
		if err != nil {
			return console.Overview{}, err
		}
		*d.dst = r.Series.Total
	}
	for _, k := range o.TopKeysToday {
		out.TopKeys = append(out.TopKeys, console.RankedKey{ID: k.ID, Name: k.Name, Counters: k.UsageCounters})
	}
	for _, m := range o.Usage.TopModelsToday {
		out.TopModels = append(out.TopModels, console.RankedModel{Model: m.ID, Counters: m.UsageCounters})
	}
	avs, _, err := b.act.ListAvailability(ctx, "", admin.ListQuery{Limit: 1000})
	if err != nil {
		return console.Overview{}, err
	}
	now := time.Now()
	for _, av := range avs {
		a := av.Account
		st := console.AccountStatus{ID: a.ID, Name: a.Name, Platform: a.Platform}
		state, until := a.Status(now)
		switch {
		case !a.IsActive:
			st.State = console.StateInactive
		case state == admin.StatusQuotaExceeded:
			st.State = console.StateOverQuota
		default:
			st.State = state
		}
		if until != nil && st.State != console.StateInactive {
			st.Until = *until
		}
		out.Accounts = append(out.Accounts, st)
	}
	return out, nil
}

// daysBack is the start of the day n-1 days before today (n days with
// today), as a date the actions read in the statistics' zone.
func daysBack(n int) admin.StatsTime {
	return admin.StatsTime{Time: time.Now().AddDate(0, 0, -(n - 1)), Date: true}
}

// Series implements console.Stats.
func (b *Backend) Series(ctx context.Context, q console.SeriesQuery) (console.Series, error) {
	uq := admin.UsageQuery{KeyID: q.KeyID, AccountID: q.AccountID}
	n := max(q.Buckets, 1)
	if q.Granularity == console.Hourly {
		uq.GroupBy, uq.From = admin.GroupByHour, admin.StatsTime{Time: time.Now().Add(-time.Duration(n-1) * time.Hour)}
	} else {
		uq.GroupBy, uq.From = admin.GroupByDay, daysBack(n)
	}
	r, err := b.act.UsageSeries(ctx, uq)
	if err != nil {
		return console.Series{}, err
	}
	out := console.Series{Granularity: q.Granularity, Timezone: r.Location.String()}
	for _, p := range r.Series.Points {
		out.Buckets = append(out.Buckets, console.Bucket{Start: p.Start, Counters: p.UsageCounters})
	}
	return out, nil
}

// ModelUsage implements console.Stats.
func (b *Backend) ModelUsage(ctx context.Context, q console.UsageQuery) ([]console.RankedModel, error) {
	r, err := b.act.UsageSeries(ctx, admin.UsageQuery{GroupBy: admin.GroupByDay, From: daysBack(max(q.Days, 1)), KeyID: q.KeyID, AccountID: q.AccountID})
	if err != nil {
		return nil, err
	}
	out := make([]console.RankedModel, 0, len(r.Series.ByModel))
	for m, c := range r.Series.ByModel {
		out = append(out, console.RankedModel{Model: m, Counters: c})
	}
	slices.SortFunc(out, func(a, b console.RankedModel) int {
		return cmp.Or(cmp.Compare(b.CostNanos, a.CostNanos), cmp.Compare(b.Requests, a.Requests), strings.Compare(a.Model, b.Model))
	})
	return out, nil
}

func page(p, size int) admin.ListQuery {
	return admin.ListQuery{Offset: max(p-1, 0) * size, Limit: size}
}

// Keys implements console.Lists.
func (b *Backend) Keys(ctx context.Context, q console.KeyQuery) (console.KeyPage, error) {
	lq := page(q.Page, q.PageSize)
	lq.Search = q.Search
	items, total, err := b.act.ListKeysByStatus(ctx, q.Status, lq)
	if err != nil {
		return console.KeyPage{}, err
	}
	out := console.KeyPage{Total: total, Items: make([]console.KeyRow, len(items))}
	ids := make([]string, len(items))
	for i, it := range items {
		ids[i] = it.ID
	}
	limits, err := b.act.ConsoleKeyLimits(ctx, ids)
	if err != nil {
		return console.KeyPage{}, err
	}
	for i, it := range items {
		row := console.KeyRow{
			ID: it.ID, Name: it.Name, Tags: it.Tags, Permissions: it.Permissions,
			IsActive: it.IsActive, IsDeleted: it.IsDeleted, CreatedAt: it.CreatedAt, LastUsedAt: it.LastUsed,
			Today: limits[it.ID].Today,
		}
		if it.ExpiresAt != nil {
			row.ExpiresAt = *it.ExpiresAt
		}
		if it.ExpirationMode == admin.KeyExpiryActivation && !it.IsActivated {
			row.ActivationDays, row.ActivationUnit = it.ActivationDays, it.ActivationUnit
		}
		for _, l := range limits[it.ID].Limits {
			if kind, ok := limitKinds[l.Kind]; ok {
				row.Limits = append(row.Limits, console.LimitUsage{Kind: kind, Limit: l.Limit, Used: l.Used, ResetsAt: l.ResetsAt})
			}
		}
		out.Items[i] = row
	}
	return out, nil
}

// limitKinds names the limits of projections.KeyLimits as the console's
// bars do (concurrency has no bar: the accounts page shows in-flight).
var limitKinds = map[string]string{
	projections.LimitWindowRequests: console.LimitWindowRequests,
	projections.LimitWindowCost:     console.LimitWindowCost,
	projections.LimitDailyCost:      console.LimitDailyCost,
	projections.LimitWeeklyOpusCost: console.LimitWeeklyOpusCost,
	projections.LimitTotalCost:      console.LimitTotalCost,
}

// Accounts implements console.Lists.
func (b *Backend) Accounts(ctx context.Context, q console.AccountQuery) (console.AccountPage, error) {
	lq := page(q.Page, q.PageSize)
	lq.Search = q.Search
	avs, total, err := b.act.ListAvailability(ctx, q.Platform, lq)
	if err != nil {
		return console.AccountPage{}, err
	}
	now := time.Now()
	out := console.AccountPage{Total: total, Items: make([]console.AccountRow, len(avs))}
	for i, av := range avs {
		a := av.Account
		row := console.AccountRow{
			ID: a.ID, Name: a.Name, Platform: a.Platform, APIKeyMask: a.APIKeyMask, Priority: a.Priority,
			IsActive: a.IsActive, Schedulable: a.Schedulable,
			SpentTodayNanos: av.Load.SpentNanos, InFlight: av.Load.InFlight, MaxConcurrency: a.MaxConcurrency,
			LastUsedAt: a.LastUsed,
		}
		if a.DailyQuotaMicros > 0 {
			row.DailyQuotaNanos = a.DailyQuotaMicros * 1000
		}
		if st := a.State.ActiveAt(now); st != "" {
			row.State, row.StateUntil = st, a.State.Until
		}
		for _, r := range av.Reasons {
			switch r.Reason {
			case projections.ReasonQuota:
				row.Unavailable = append(row.Unavailable, console.StateOverQuota)
			case projections.ReasonBusy:
				row.Unavailable = append(row.Unavailable, console.ReasonMaxConcurrency)
			default:
				row.Unavailable = append(row.Unavailable, r.Reason)
			}
		}
		out.Items[i] = row
	}
	return out, nil
}

// Audit implements console.Lists.
func (b *Backend) Audit(ctx context.Context, q console.AuditQuery) (console.AuditPage, error) {
	entity := q.EntityKind
	if entity != "" && q.EntityID != "" {
		entity += ":" + q.EntityID
	}
	lq := page(q.Page, q.PageSize)
	p, err := b.act.Audit(ctx, admin.AuditQuery{Entity: entity, Type: q.Type, Offset: lq.Offset, Limit: lq.Limit})
	if err != nil {
		return console.AuditPage{}, err
	}
	before, err := b.act.AuditBefore(ctx, p.Entries)
	if err != nil {
		return console.AuditPage{}, err
	}
	out := console.AuditPage{Total: p.Total, Items: make([]console.AuditEntry, len(p.Entries))}
	for i, e := range p.Entries {
		out.Items[i] = console.AuditEntry{
			Seq: e.Seq, Time: e.Time, Actor: e.Actor, Type: e.Type, EntityKind: e.EntityKind, EntityID: e.EntityID,
			RequestID: e.RequestID, Changes: auditChanges(e, before[e.Seq]),
		}
	}
	return out, nil
}

// Recent implements console.Live.
func (b *Backend) Recent(ctx context.Context, q console.RecentQuery) ([]console.RequestRecord, error) {
	recs, err := b.act.RecentUsage(ctx, admin.RecentQuery{N: min(max(q.N, 1), admin.MaxRecent), KeyID: q.KeyID, AccountID: q.AccountID})
	if err != nil {
		return nil, err
	}
	out := make([]console.RequestRecord, len(recs))
	for i, r := range recs {
		out[i] = record(r)
	}
	return out, nil
}

// Follow implements console.Live.
func (b *Backend) Follow(ctx context.Context, fn func(console.RequestRecord)) error {
	return b.act.FollowUsage(ctx, func(r admin.UsageRecord) { fn(record(r)) })
}

func record(r admin.UsageRecord) console.RequestRecord {
	return console.RequestRecord{
		ID: r.ID, Time: r.Time, KeyID: r.KeyID, KeyName: r.KeyName, AccountID: r.AccountID, Account: r.AccountName,
		Platform: r.Platform, Model: r.Model, Status: r.Status,
		InputTokens: r.InputTokens, OutputTokens: r.OutputTokens, CacheCreateTokens: r.CacheCreateTokens, CacheReadTokens: r.CacheReadTokens,
		CostNanos: r.Nanos(), TTFT: time.Duration(r.TTFTMs) * time.Millisecond, Duration: time.Duration(r.DurationMs) * time.Millisecond,
	}
}

func actor(m console.Meta) admin.Actor { return admin.Actor{Username: m.Actor, RequestID: m.RequestID} }

// Key implements console.KeyAdmin.
func (b *Backend) Key(ctx context.Context, id string) (console.KeyDetail, error) {
	it, err := b.act.Key(ctx, id)
	if err != nil {
		return console.KeyDetail{}, err
	}
	return console.KeyDetail{Key: it.Key, Version: it.Seq, IsDeleted: it.IsDeleted, CreatedAt: it.CreatedAt}, nil
}

// CreateKey implements console.KeyAdmin.
func (b *Backend) CreateKey(ctx context.Context, in console.KeyInput) (console.CreatedKey, error) {
	it, secret, err := b.act.CreateKey(ctx, actor(in.Meta), keyInput(in))
	if err != nil {
		return console.CreatedKey{}, err
	}
	return console.CreatedKey{ID: it.ID, Name: it.Name, Secret: secret}, nil
}

// UpdateKey implements console.KeyAdmin.
func (b *Backend) UpdateKey(ctx context.Context, id string, in console.KeyInput) error {
	v := in.Version
	_, err := b.act.UpdateKey(ctx, actor(in.Meta), id, &v, keyInput(in))
	return err
}

// ChangeKeyState implements console.KeyAdmin.
func (b *Backend) ChangeKeyState(ctx context.Context, id string, action console.KeyAction, meta console.Meta) error {
	var err error
	switch action {
	case console.KeyDelete:
		_, err = b.act.DeleteKey(ctx, actor(meta), id, nil)
	case console.KeyRestore:
		_, err = b.act.RestoreKey(ctx, actor(meta), id, nil)
	case console.KeyEnable, console.KeyDisable:
		_, err = b.act.UpdateKey(ctx, actor(meta), id, nil, admin.KeyInput{IsActive: admin.Some(action == console.KeyEnable)})
	default:
		err = console.ErrNotFound
	}
	return err
}

// keyInput sets the fields in.Fields names, from in.Key and the dollar
// amounts as typed (in.USD: the actions read money).
func keyInput(in console.KeyInput) admin.KeyInput {
	k := in.Key
	var out admin.KeyInput
	for _, f := range in.Fields {
		switch f {
		case "name":
			out.Name = admin.Some(k.Name)
		case "description":
			out.Description = admin.Some(k.Description)
		case "permissions":
			out.Permissions = admin.Some(k.Permissions)
		case "isActive":
			out.IsActive = admin.Some(k.IsActive)
		case "expirationMode":
			out.ExpirationMode = admin.Some(k.ExpirationMode)
		case "expiresAt":
			out.ExpiresAt = admin.Some(k.ExpiresAt)
		case "activationDays":
			out.ActivationDays = admin.Some(int64(k.ActivationDays))
		case "activationUnit":
			out.ActivationUnit = admin.Some(k.ActivationUnit)
		case "claudeConsoleAccountId":
			out.ClaudeConsoleAccountID = admin.Some(k.ClaudeConsoleAccountID)
		case "codexAccountId":
			out.CodexAccountID = admin.Some(k.CodexAccountID)
		case "enableModelRestriction":
			out.EnableModelRestriction = admin.Some(k.EnableModelRestriction)
		case "restrictedModels":
			out.RestrictedModels = admin.Some(k.RestrictedModels)
		case "enableClientRestriction":
			out.EnableClientRestriction = admin.Some(k.EnableClientRestriction)
		case "allowedClients":
			out.AllowedClients = admin.Some(k.AllowedClients)
		case "concurrencyLimit":
			out.ConcurrencyLimit = admin.Some(int64(k.ConcurrencyLimit))
		case "rateLimitWindow":
			out.RateLimitWindow = admin.Some(int64(k.RateLimitWindow))
		case "rateLimitRequests":
			out.RateLimitRequests = admin.Some(int64(k.RateLimitRequests))
		case "rateLimitCost":
			out.RateLimitCost = admin.Some(in.USD["rateLimitCost"])
		case "dailyCostLimit":
			out.DailyCostLimit = admin.Some(in.USD["dailyCostLimit"])
		case "totalCostLimit":
			out.TotalCostLimit = admin.Some(in.USD["totalCostLimit"])
		case "weeklyOpusCostLimit":
			out.WeeklyOpusCostLimit = admin.Some(in.USD["weeklyOpusCostLimit"])
		case "tags":
			out.Tags = admin.Some(k.Tags)
		}
	}
	return out
}

// findAccount returns account id of whichever platform it is on.
func (b *Backend) findAccount(ctx context.Context, id string) (admin.AccountItem, error) {
	var err error
	for _, p := range admin.AccountPlatforms {
		var it admin.AccountItem
		if it, err = b.act.Account(ctx, p, id); err == nil {
			return it, nil
		}
		if !isNotFound(err) {
			return admin.AccountItem{}, err
		}
	}
	return admin.AccountItem{}, err
}

// Account implements console.AccountAdmin.
func (b *Backend) Account(ctx context.Context, id string) (console.AccountDetail, error) {
	it, err := b.findAccount(ctx, id)
	if err != nil {
		return console.AccountDetail{}, err
	}
	if it.IsDeleted {
		return console.AccountDetail{}, console.ErrNotFound
	}
	a := it.Account
	f := console.AccountFields{
		Platform: a.Platform, Name: a.Name, Description: a.Description, APIURL: a.APIURL, UserAgent: a.UserAgent,
		SupportedModels: a.SupportedModels, Priority: a.Priority, Schedulable: a.Schedulable, IsActive: a.IsActive,
		AccountType: a.AccountType, RateLimitDuration: a.RateLimitDuration, DailyQuotaMicros: a.DailyQuotaMicros,
		QuotaResetTime: a.QuotaResetTime, MaxConcurrency: a.MaxConcurrency,
	}
	d := console.AccountDetail{ID: it.ID, Account: f, APIKeyMask: a.APIKeyMask, Version: it.Seq}
	if p := a.Proxy; p != nil {
		d.Account.Proxy = &console.ProxyFields{Protocol: p.Protocol, Host: p.Host, Port: p.Port, Username: p.Username}
		d.HasProxyPassword = p.PasswordSealed != ""
	}
	return d, nil
}

// CreateAccount implements console.AccountAdmin.
func (b *Backend) CreateAccount(ctx context.Context, in console.AccountInput) (string, error) {
	it, err := b.act.CreateAccount(ctx, actor(in.Meta), in.Account.Platform, accountInput(in))
	return it.ID, err
}

// UpdateAccount implements console.AccountAdmin.
func (b *Backend) UpdateAccount(ctx context.Context, id string, in console.AccountInput) error {
	it, err := b.findAccount(ctx, id)
	if err != nil {
		return err
	}
	v := in.Version
	_, err = b.act.UpdateAccount(ctx, actor(in.Meta), it.Platform, id, &v, accountInput(in))
	return err
}

// ChangeAccount implements console.AccountAdmin.
func (b *Backend) ChangeAccount(ctx context.Context, id string, action console.AccountAction, meta console.Meta) error {
	it, err := b.findAccount(ctx, id)
	if err != nil {
		return err
	}
	switch action {
	case console.AccountDelete:
		_, err = b.act.DeleteAccount(ctx, actor(meta), it.Platform, id, nil)
	case console.AccountToggleSchedule:
		_, err = b.act.ToggleSchedulable(ctx, actor(meta), it.Platform, id, nil)
	case console.AccountResetRateLimit:
		_, err = b.act.ResetRateLimit(ctx, actor(meta), it.Platform, id)
	default:
		err = console.ErrNotFound
	}
	return err
}

// accountInput sets the fields in.Fields names, from in.Account.
func accountInput(in console.AccountInput) admin.AccountInput {
	a := in.Account
	var out admin.AccountInput
	for _, f := range in.Fields {
		switch f {
		case "name":
			out.Name = admin.Some(a.Name)
		case "description":
			out.Description = admin.Some(a.Description)
		case "apiUrl":
			out.APIURL = admin.Some(a.APIURL)
		case "apiKey":
			out.APIKey = admin.Some(a.APIKey)
		case "userAgent":
			out.UserAgent = admin.Some(a.UserAgent)
		case "supportedModels":
			out.SupportedModels = admin.Some(a.SupportedModels)
		case "priority":
			out.Priority = admin.Some(int64(a.Priority))
		case "schedulable":
			out.Schedulable = admin.Some(a.Schedulable)
		case "isActive":
			out.IsActive = admin.Some(a.IsActive)
		case "accountType":
			out.AccountType = admin.Some(a.AccountType)
		case "proxy":
			out.Proxy = admin.Some(proxyInput(a.Proxy))
		case "rateLimitDuration":
			out.RateLimitDuration = admin.Some(int64(a.RateLimitDuration))
		case "dailyQuota":
			out.DailyQuota = admin.Some(a.DailyQuota)
		case "quotaResetTime":
			out.QuotaResetTime = admin.Some(a.QuotaResetTime)
		case "maxConcurrency":
			out.MaxConcurrency = admin.Some(int64(a.MaxConcurrency))
		}
	}
	return out
}

func proxyInput(p *console.ProxyFields) *admin.ProxyInput {
	if p == nil {
		return nil
	}
	out := &admin.ProxyInput{Protocol: p.Protocol, Host: p.Host, Port: int64(p.Port)}
	if p.Username != "" {
		out.Auth = &admin.ProxyAuthInput{Username: p.Username}
		if p.Password != "" {
			out.Auth.Password = admin.Some(p.Password)
		}
	}
	return out
}

// jsonText writes a JSON value as text: a string without its quotes.
func jsonText(v json.RawMessage) string {
	if v == nil {
		return ""
	}
	var s string
	if json.Unmarshal(v, &s) == nil {
		return s
	}
	return string(v)
}

func isNotFound(err error) bool {
	var fe *fault.Error
	return errors.As(err, &fe) && fe.Kind == fault.NotFound
}

// auditChanges lists the fields an entry's payload sets, as text (an
// update's changes, or every field of a creation), with the value each had
// before when known (admin.Service.AuditBefore); the actions have masked
// the secrets already.
func auditChanges(e admin.AuditEntry, before map[string]json.RawMessage) []console.FieldChange {
	var data map[string]json.RawMessage
	if json.Unmarshal(e.Data, &data) != nil {
		return nil
	}
	if ch, ok := data["changes"]; ok {
		var inner map[string]json.RawMessage
		if json.Unmarshal(ch, &inner) == nil {
			data = inner
		}
	}
	out := make([]console.FieldChange, 0, len(data))
	for _, f := range slices.Sorted(maps.Keys(data)) {
		if f == "id" {
			continue
		}
		out = append(out, console.FieldChange{Field: f, Before: jsonText(before[f]), After: jsonText(data[f])})
	}
	return out
}

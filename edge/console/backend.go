package console

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"relay/events"
	"relay/projections"
)

// Backend is everything the console asks of relay: the admin actions the
// REST API calls too. It is split into small interfaces by concern; the
// console never re-implements a rule that one of them applies (throttling
// of failed sign-ins, password length, what counts as an active key).
type Backend interface {
	Auth
	Stats
	Lists
	Live
	KeyAdmin
	AccountAdmin
}

// Auth signs admins in and keeps track of what voids a session.
type Auth interface {
	// SignIn checks an admin's username and password, with the same
	// throttling as the REST login. A wrong username or password is
	// ErrBadCredentials; too many failures is a *ThrottledError.
	SignIn(ctx context.Context, in SignInInput) (SignInResult, error)
	// CheckSession tells whether a session of username, begun when its
	// password was at version, still holds (the admin actions' rule: the
	// admin exists and has not changed its password since); ErrNoAdmin
	// when it does not.
	CheckSession(ctx context.Context, username string, version uint64) (Admin, error)
	// ChangePassword sets a new password after checking the current one.
	// A refused input is a *FieldError (field "currentPassword" or
	// "newPassword"). The returned Admin carries the new PasswordVersion,
	// so every session issued before is void from then on.
	ChangePassword(ctx context.Context, in ChangePasswordInput) (Admin, error)
	// EndSession records that the session id is over (signed out). It
	// must be remembered at least until until, the session's own expiry,
	// by every process serving the console.
	EndSession(ctx context.Context, id string, until time.Time) error
	// SessionEnded reports whether EndSession was called for id.
	SessionEnded(ctx context.Context, id string) (bool, error)
}

// Stats reads the usage figures the overview shows.
type Stats interface {
	Overview(ctx context.Context) (Overview, error)
	// Series returns q.Buckets consecutive buckets of q.Granularity, the
	// last one holding now, oldest first, with empty buckets included.
	Series(ctx context.Context, q SeriesQuery) (Series, error)
	// ModelUsage returns usage by model over the last q.Days days
	// (today included) of one key or account, highest cost first.
	ModelUsage(ctx context.Context, q UsageQuery) ([]RankedModel, error)
}

// UsageQuery narrows usage to one key or one account (at most one set;
// none: everything).
type UsageQuery struct {
	KeyID, AccountID string
	Days             int
}

// Lists pages through keys, accounts and the audit log.
type Lists interface {
	// Keys returns one page of keys, newest first, and how many match.
	// It must stay fast with 10,000 keys (the store pages in Redis).
	Keys(ctx context.Context, q KeyQuery) (KeyPage, error)
	// Accounts returns one page of live accounts and how many match.
	Accounts(ctx context.Context, q AccountQuery) (AccountPage, error)
	// Audit returns one page of configuration changes, newest first, and
	// how many match.
	Audit(ctx context.Context, q AuditQuery) (AuditPage, error)
}

// Live follows the requests relay records (the usage stream).
type Live interface {
	// Recent returns the latest q.N recorded requests, newest first, of
	// one key or account when q names one.
	Recent(ctx context.Context, q RecentQuery) ([]RequestRecord, error)
	// Follow calls fn with every request recorded from now on, in order,
	// until ctx ends; it returns ctx's error then, or the error that
	// stopped it. fn must not block (the console hands the record to the
	// browser's connection and drops it when that is too slow).
	Follow(ctx context.Context, fn func(RequestRecord)) error
}

// RecentQuery asks for the latest N requests, of one key or account when
// KeyID or AccountID is set.
type RecentQuery struct {
	N                int
	KeyID, AccountID string
}

// RequestRecord is one recorded request of the live feed.
type RequestRecord struct {
	ID                 string // the request id
	Time               time.Time
	KeyID, KeyName     string
	AccountID, Account string // the account's id and name
	Platform, Model    string
	Status             int
	InputTokens        int64
	OutputTokens       int64
	CacheCreateTokens  int64
	CacheReadTokens    int64
	CostNanos          int64
	TTFT, Duration     time.Duration
}

// KeyAdmin reads and changes one key: the REST API's key actions.
type KeyAdmin interface {
	// Key returns the key id as it stands; ErrNotFound when there is none.
	Key(ctx context.Context, id string) (KeyDetail, error)
	// CreateKey creates a key from in.Key (its ID and KeyHash are the
	// backend's to set) and returns it with its secret, the only time the
	// secret is ever shown. Refused fields are FieldErrors (or one
	// *FieldError), named by their wire names (DESIGN.md section 5).
	CreateKey(ctx context.Context, in KeyInput) (CreatedKey, error)
	// UpdateKey changes the fields in.Fields names to their values in
	// in.Key, if the key is still at in.Version (ErrConflict otherwise).
	UpdateKey(ctx context.Context, id string, in KeyInput) error
	// ChangeKeyState deletes (softly), restores, enables or disables a key.
	ChangeKeyState(ctx context.Context, id string, action KeyAction, meta Meta) error
}

// AccountAdmin reads and changes one upstream account: the REST API's
// account actions.
type AccountAdmin interface {
	// Account returns the live account id; ErrNotFound when there is none.
	Account(ctx context.Context, id string) (AccountDetail, error)
	// CreateAccount creates an account and returns its id. Refused fields
	// are FieldErrors (or one *FieldError) named by their wire names.
	CreateAccount(ctx context.Context, in AccountInput) (string, error)
	// UpdateAccount changes the fields in.Fields names, if the account is
	// still at in.Version (ErrConflict otherwise).
	UpdateAccount(ctx context.Context, id string, in AccountInput) error
	// ChangeAccount deletes the account, toggles whether it is schedulable
	// or ends its health states (reset rate limit). A refused delete (keys
	// are bound to it) is a *FieldError on field "" whose Message says why.
	ChangeAccount(ctx context.Context, id string, action AccountAction, meta Meta) error
}

// AccountAction is a one-click change of an account.
type AccountAction string

const (
	AccountDelete         AccountAction = "delete"
	AccountToggleSchedule AccountAction = "toggle_schedulable"
	AccountResetRateLimit AccountAction = "reset_rate_limit"
)

// AccountFields are an account's form fields (DESIGN.md section 5), with
// its secrets in clear only on the way in.
type AccountFields struct {
	Platform, Name, Description string
	APIURL, UserAgent           string
	// APIKey is write-only: the backend seals it; empty on an update
	// (and absent from Fields) keeps the current one.
	APIKey string
	// SupportedModels maps a requested model to the upstream's name; an
	// empty map allows every model.
	SupportedModels   map[string]string
	Priority          int
	Schedulable       bool
	IsActive          bool
	AccountType       string // shared or dedicated
	Proxy             *ProxyFields
	RateLimitDuration int // minutes
	// DailyQuotaMicros is the daily quota as read (0 = none); on the way
	// in, DailyQuota carries it in US dollars as typed ("0" = none): the
	// backend reads money, the console never parses it.
	DailyQuotaMicros int64
	DailyQuota       string
	QuotaResetTime   string
	MaxConcurrency   int
}

// ProxyFields is an account's outbound proxy.
type ProxyFields struct {
	Protocol, Host string
	Port           int
	Username       string
	// Password is write-only, like APIKey.
	Password string
}

// AccountInput is the account form.
type AccountInput struct {
	Account AccountFields
	// Fields are the wire names of the fields the admin changed
	// ("proxy" for any part of the proxy).
	Fields  []string
	Version uint64
	Meta
}

// AccountDetail is one account with what its form needs; it never holds
// a secret in clear.
type AccountDetail struct {
	ID         string
	Account    AccountFields // APIKey and Proxy.Password empty
	APIKeyMask string
	// HasProxyPassword tells whether the proxy has a password set.
	HasProxyPassword bool
	Version          uint64
}

// Meta says who asks, for the audit log.
type Meta struct {
	Actor, RequestID string
}

// KeyInput is the key form.
type KeyInput struct {
	// Key holds every field of the form but the dollar amounts, in the
	// event's own types (its *Micros limits are unset).
	Key events.Key
	// USD holds the dollar amounts as typed ("0" = no limit), by wire
	// name: rateLimitCost, dailyCostLimit, totalCostLimit,
	// weeklyOpusCostLimit. The backend reads them (one parser of money,
	// the admin actions'); a refused one is a FieldError of its field.
	USD map[string]string
	// Fields are the wire names of the fields the admin changed (an
	// update changes only those; a create sends them all).
	Fields []string
	// Version is the version the form was read at (updates).
	Version uint64
	Meta
}

// KeyDetail is one key with what its form needs.
type KeyDetail struct {
	Key       events.Key
	Version   uint64
	IsDeleted bool
	CreatedAt time.Time
}

// CreatedKey is a key just created, with its secret.
type CreatedKey struct {
	ID, Name string
	Secret   string
}

// KeyAction is a change of a key's state.
type KeyAction string

const (
	KeyDelete  KeyAction = "delete"
	KeyRestore KeyAction = "restore"
	KeyEnable  KeyAction = "enable"
	KeyDisable KeyAction = "disable"
)

// Admin is an admin as far as sessions care.
type Admin struct {
	Username string
	// PasswordVersion changes whenever the password does (the sequence of
	// the event that set it, as in the REST API's tokens): a session
	// carrying another one is void.
	PasswordVersion uint64
}

// SignInInput is what the sign-in form sends, with where it came from.
type SignInInput struct {
	Username, Password string
	// ClientAddr is the client's address (throttling).
	ClientAddr string
	// Device is the relay_device cookie the browser sent, if any (the
	// REST login's device cookies: a known device is throttled by itself).
	Device string
	// RequestID names the request in logs and events.
	RequestID string
}

// SignInResult is a successful sign-in.
type SignInResult struct {
	Admin Admin
	// Device, when set, is a new relay_device cookie value to hand the
	// browser, valid until DeviceExpires.
	Device        string
	DeviceExpires time.Time
}

// ChangePasswordInput is the settings page's password form.
type ChangePasswordInput struct {
	Username                     string
	CurrentPassword, NewPassword string
	RequestID                    string
}

// Counters are usage counters: requests, tokens, cost in nano-dollars.
type Counters = projections.UsageCounters

// Overview is the overview page's figures.
type Overview struct {
	// Timezone is the zone days are counted in (the workers' TZ).
	Timezone string
	// Today, Last7Days and Last30Days include today.
	Today, Last7Days, Last30Days Counters
	// TopKeys and TopModels rank today's usage by cost, highest first.
	TopKeys   []RankedKey
	TopModels []RankedModel
	// Accounts lists every live account with its state.
	Accounts []AccountStatus
	// Keys counts live keys.
	Keys KeyCounts
}

// RankedKey is one key's usage in a ranking.
type RankedKey struct {
	ID, Name string
	Counters
}

// RankedModel is one model's usage in a ranking.
type RankedModel struct {
	Model string
	Counters
}

// Account states the console names; a backend may send others, shown as
// they are.
const (
	StateActive        = "active"
	StateRateLimited   = "rate_limited"
	StateOverloaded    = "overloaded"
	StateUnauthorized  = "unauthorized"
	StateError         = "error"
	StateOverQuota     = "over_quota"
	StateInactive      = "inactive"
	StateUnschedulable = "unschedulable"
)

// AccountStatus is one account and why it can or cannot take requests.
type AccountStatus struct {
	ID, Name, Platform string
	// State is one of the State constants.
	State string
	// Until is when the state ends by itself (zero when it does not).
	Until time.Time
}

// KeyCounts counts keys.
type KeyCounts struct {
	Total, Active int
}

// Granularity is the width of a chart bucket.
type Granularity string

const (
	Hourly Granularity = "hour"
	Daily  Granularity = "day"
)

// SeriesQuery asks for the latest Buckets buckets of Granularity.
type SeriesQuery struct {
	Granularity Granularity
	Buckets     int
	// KeyID or AccountID, when set, narrow the series to one key or
	// account.
	KeyID, AccountID string
}

// Series is usage over time.
type Series struct {
	Granularity Granularity
	Buckets     []Bucket
	// Timezone is the zone buckets are counted in.
	Timezone string
}

// Bucket is the usage of one hour or day starting at Start (in the
// projection's zone).
type Bucket struct {
	Start time.Time
	Counters
}

// Key statuses a KeyQuery can filter by.
const (
	KeysAll     = ""
	KeysActive  = "active"
	KeysDeleted = "deleted"
	KeysExpired = "expired"
)

// KeyQuery selects a page of keys.
type KeyQuery struct {
	// Search keeps keys whose name, id or tags contain it, ignoring case.
	Search string
	// Status is one of the Keys constants.
	Status string
	// Page counts from 1; PageSize is at most 100.
	Page, PageSize int
}

// KeyPage is one page of keys.
type KeyPage struct {
	Items []KeyRow
	Total int
}

// KeyRow is a key as the list shows it. It never holds the secret.
type KeyRow struct {
	ID, Name    string
	Tags        []string
	Permissions string
	IsActive    bool
	IsDeleted   bool
	// ExpiresAt is zero for a key that does not expire (or is not
	// activated yet).
	ExpiresAt  time.Time
	CreatedAt  time.Time
	LastUsedAt time.Time
	// Today is the key's usage today.
	Today Counters
	// Limits are the key's limits in force (those set: not 0) with its
	// usage against each, as the key-stats answer has them.
	Limits []LimitUsage
	// ActivationDays and ActivationUnit describe an activation-mode key
	// not activated yet (ExpiresAt is zero then).
	ActivationDays int
	ActivationUnit string
}

// Limit kinds of LimitUsage.
const (
	LimitWindowRequests = "window_requests"
	LimitWindowCost     = "window_cost"
	LimitDailyCost      = "daily_cost"
	LimitWeeklyOpusCost = "weekly_opus_cost"
	LimitTotalCost      = "total_cost"
)

// LimitUsage is one limit of a key and its usage: requests for
// window_requests, nano-dollars for the cost kinds.
type LimitUsage struct {
	Kind        string
	Limit, Used int64
	// ResetsAt is when the usage counted starts again (zero for total).
	ResetsAt time.Time
}

// AccountQuery selects a page of accounts.
type AccountQuery struct {
	// Platform is "", "claude-console" or "codex".
	Platform string
	// Search keeps accounts whose name or id contains it, ignoring case.
	Search string
	// Page counts from 1; PageSize is at most 100.
	Page, PageSize int
}

// AccountPage is one page of accounts.
type AccountPage struct {
	Items []AccountRow
	Total int
}

// Reasons an account cannot take requests now (AccountRow.Unavailable):
// the health states above, and these.
const (
	ReasonMaxConcurrency = "max_concurrency"
)

// AccountRow is an account as the list shows it. It never holds the key,
// only its mask.
type AccountRow struct {
	ID, Name, Platform string
	APIKeyMask         string
	Priority           int
	IsActive           bool
	Schedulable        bool
	// State is the health state in force ("" when healthy: rate_limited,
	// overloaded, unauthorized, error), until StateUntil.
	State      string
	StateUntil time.Time
	// Unavailable lists every reason the scheduler cannot pick the account
	// now (State constants and Reason constants: inactive, unschedulable,
	// a health state, over_quota, max_concurrency); empty when it can.
	Unavailable []string
	// SpentTodayNanos is the spend of the current quota day;
	// DailyQuotaNanos is 0 when the account has no daily quota.
	SpentTodayNanos, DailyQuotaNanos int64
	// InFlight is the requests holding a lease now; MaxConcurrency is 0
	// when unbounded.
	InFlight, MaxConcurrency int
	LastUsedAt               time.Time
}

// AuditQuery selects a page of the audit log.
type AuditQuery struct {
	// EntityKind is "", "key", "account" or "admin"; EntityID, when set,
	// narrows to one entity of that kind.
	EntityKind, EntityID string
	// Type is "" or one configuration event type ("key.created", ...).
	Type string
	// Page counts from 1; PageSize is at most 100.
	Page, PageSize int
}

// AuditPage is one page of the audit log.
type AuditPage struct {
	Items []AuditEntry
	Total int
}

// AuditEntry is one configuration change.
type AuditEntry struct {
	Seq                  uint64
	Time                 time.Time
	Actor                string
	Type                 string // "key.updated", ...
	EntityKind, EntityID string
	RequestID            string
	// Changes are the fields the change set, with their values before and
	// after as text; the backend masks secrets in both.
	Changes []FieldChange
}

// FieldChange is one field of an AuditEntry.
type FieldChange struct {
	Field, Before, After string
}

// Errors a Backend returns that the console tells apart.
var (
	ErrBadCredentials = errors.New("invalid username or password")
	// ErrNoAdmin: the admin is gone or changed its password.
	ErrNoAdmin = errors.New("no such admin")
	// ErrNotFound: no such key (or account).
	ErrNotFound = errors.New("not found")
	// ErrConflict: the entity changed since the form was read, or the
	// change does not apply to its state (editing a deleted key).
	ErrConflict = errors.New("conflict")
)

// ThrottledError refuses a sign-in after too many failures.
type ThrottledError struct {
	RetryAfter time.Duration
}

func (e *ThrottledError) Error() string {
	return fmt.Sprintf("too many failed sign-ins; retry after %s", e.RetryAfter)
}

// FieldError refuses one field of a form. Code names the rule broken
// ("required", "too_short", "too_long", "wrong"), which the console
// translates; Message is the backend's English text, shown when the code
// has no translation.
type FieldError struct {
	Field, Code, Message string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Message }

// FieldErrors refuses several fields at once.
type FieldErrors []FieldError

func (e FieldErrors) Error() string {
	parts := make([]string, len(e))
	for i, f := range e {
		parts[i] = f.Error()
	}
	return strings.Join(parts, "; ")
}

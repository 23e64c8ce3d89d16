package adminapi

import (
	"relay/edge/admin"
	"time"
)

// API key JSON (DESIGN.md section 5) and its mapping to events.Key. Money is
// USD in the API and integer micro-dollars in the event; the key's secret
// and its hash never appear in an answer.

// keyJSON is a key as the admin API shows it.
type keyJSON struct {
	ID                      string     `json:"id"`
	Name                    string     `json:"name"`
	Description             string     `json:"description"`
	Permissions             string     `json:"permissions"`
	IsActive                bool       `json:"isActive"`
	IsDeleted               bool       `json:"isDeleted"`
	DeletedAt               *time.Time `json:"deletedAt"`
	ExpirationMode          string     `json:"expirationMode"`
	ExpiresAt               *time.Time `json:"expiresAt"`
	ActivationDays          int        `json:"activationDays"`
	ActivationUnit          string     `json:"activationUnit"`
	IsActivated             bool       `json:"isActivated"`
	ActivatedAt             *time.Time `json:"activatedAt"`
	ClaudeConsoleAccountID  *string    `json:"claudeConsoleAccountId"`
	CodexAccountID          *string    `json:"codexAccountId"`
	EnableModelRestriction  bool       `json:"enableModelRestriction"`
	RestrictedModels        []string   `json:"restrictedModels"`
	EnableClientRestriction bool       `json:"enableClientRestriction"`
	AllowedClients          []string   `json:"allowedClients"`
	ConcurrencyLimit        int        `json:"concurrencyLimit"`
	RateLimitWindow         int        `json:"rateLimitWindow"`
	RateLimitRequests       int        `json:"rateLimitRequests"`
	RateLimitCost           float64    `json:"rateLimitCost"`
	DailyCostLimit          float64    `json:"dailyCostLimit"`
	TotalCostLimit          float64    `json:"totalCostLimit"`
	WeeklyOpusCostLimit     float64    `json:"weeklyOpusCostLimit"`
	Tags                    []string   `json:"tags"`
	CreatedAt               time.Time  `json:"createdAt"`
	UpdatedAt               time.Time  `json:"updatedAt"`
	LastUsedAt              *time.Time `json:"lastUsedAt"`
	// Version is the ETag: send it back in If-Match to update safely.
	Version uint64 `json:"version"`
	// Key is the secret, present only in the answer that created it.
	Key string `json:"key,omitempty"`
}

// newKeyJSON shows key item k.
func newKeyJSON(k admin.KeyItem) keyJSON {
	v := k.KeyView
	return keyJSON{
		ID: v.ID, Name: v.Name, Description: v.Description, Permissions: v.Permissions,
		IsActive: v.IsActive, IsDeleted: v.IsDeleted, DeletedAt: v.DeletedAt,
		ExpirationMode: v.ExpirationMode, ExpiresAt: v.ExpiresAt,
		ActivationDays: v.ActivationDays, ActivationUnit: v.ActivationUnit,
		// A fixed-expiry key counts as activated from its creation, as
		// Claude Relay Service reports it.
		IsActivated: v.IsActivated || v.ExpirationMode != admin.KeyExpiryActivation, ActivatedAt: v.ActivatedAt,
		ClaudeConsoleAccountID:  optionalID(v.ClaudeConsoleAccountID),
		CodexAccountID:          optionalID(v.CodexAccountID),
		EnableModelRestriction:  v.EnableModelRestriction,
		RestrictedModels:        nonNilStrings(v.RestrictedModels),
		EnableClientRestriction: v.EnableClientRestriction,
		AllowedClients:          nonNilStrings(v.AllowedClients),
		ConcurrencyLimit:        v.ConcurrencyLimit,
		RateLimitWindow:         v.RateLimitWindow,
		RateLimitRequests:       v.RateLimitRequests,
		RateLimitCost:           usdFromMicros(v.RateLimitCostMicros),
		DailyCostLimit:          usdFromMicros(v.DailyCostLimitMicros),
		TotalCostLimit:          usdFromMicros(v.TotalCostLimitMicros),
		WeeklyOpusCostLimit:     usdFromMicros(v.WeeklyOpusCostLimitMicros),
		Tags:                    nonNilStrings(v.Tags),
		CreatedAt:               v.CreatedAt, UpdatedAt: v.UpdatedAt,
		LastUsedAt: timeOrNil(k.LastUsed),
		Version:    v.Seq,
	}
}

// timeOrNil is t, or nil for the zero time.
func timeOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func optionalID(id string) *string {
	if id == "" {
		return nil
	}
	return &id
}

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// keyFields decode the writable fields of a key, in the order they are
// checked.
var keyFields = []fieldDecoder[admin.KeyInput]{
	textField("name", false, func(in *admin.KeyInput) *admin.Opt[string] { return &in.Name }),
	textField("description", true, func(in *admin.KeyInput) *admin.Opt[string] { return &in.Description }),
	textField("permissions", false, func(in *admin.KeyInput) *admin.Opt[string] { return &in.Permissions }),
	boolField("isActive", func(in *admin.KeyInput) *admin.Opt[bool] { return &in.IsActive }),
	textField("expirationMode", false, func(in *admin.KeyInput) *admin.Opt[string] { return &in.ExpirationMode }),
	timeField("expiresAt", func(in *admin.KeyInput) *admin.Opt[*time.Time] { return &in.ExpiresAt }),
	intField("activationDays", func(in *admin.KeyInput) *admin.Opt[int64] { return &in.ActivationDays }),
	textField("activationUnit", false, func(in *admin.KeyInput) *admin.Opt[string] { return &in.ActivationUnit }),
	textField("claudeConsoleAccountId", true, func(in *admin.KeyInput) *admin.Opt[string] { return &in.ClaudeConsoleAccountID }),
	textField("codexAccountId", true, func(in *admin.KeyInput) *admin.Opt[string] { return &in.CodexAccountID }),
	boolField("enableModelRestriction", func(in *admin.KeyInput) *admin.Opt[bool] { return &in.EnableModelRestriction }),
	listField("restrictedModels", func(in *admin.KeyInput) *admin.Opt[[]string] { return &in.RestrictedModels }),
	boolField("enableClientRestriction", func(in *admin.KeyInput) *admin.Opt[bool] { return &in.EnableClientRestriction }),
	listField("allowedClients", func(in *admin.KeyInput) *admin.Opt[[]string] { return &in.AllowedClients }),
	intField("concurrencyLimit", func(in *admin.KeyInput) *admin.Opt[int64] { return &in.ConcurrencyLimit }),
	intField("rateLimitWindow", func(in *admin.KeyInput) *admin.Opt[int64] { return &in.RateLimitWindow }),
	intField("rateLimitRequests", func(in *admin.KeyInput) *admin.Opt[int64] { return &in.RateLimitRequests }),
	usdField("rateLimitCost", func(in *admin.KeyInput) *admin.Opt[string] { return &in.RateLimitCost }),
	usdField("dailyCostLimit", func(in *admin.KeyInput) *admin.Opt[string] { return &in.DailyCostLimit }),
	usdField("totalCostLimit", func(in *admin.KeyInput) *admin.Opt[string] { return &in.TotalCostLimit }),
	usdField("weeklyOpusCostLimit", func(in *admin.KeyInput) *admin.Opt[string] { return &in.WeeklyOpusCostLimit }),
	listField("tags", func(in *admin.KeyInput) *admin.Opt[[]string] { return &in.Tags }),
}

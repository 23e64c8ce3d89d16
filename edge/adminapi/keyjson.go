package adminapi

import (
	"encoding/json"
	"time"

	"relay/edge/fault"
	"relay/events"
	"relay/projections"
)

// API key JSON (DESIGN.md section 5) and its mapping to events.Key. Money is
// USD in the API and integer micro-dollars in the event; the key's secret
// and its hash never appear in an answer.

// Key field values.
const (
	keyPermAll          = "all"
	keyPermClaude       = "claude"
	keyPermCodex        = "codex"
	keyExpiryFixed      = "fixed"
	keyExpiryActivation = "activation"
	keyUnitHours        = "hours"
	keyUnitDays         = "days"
	keyClientClaudeCode = "claude_code"
	keyClientCodexCLI   = "codex_cli"
	maxNameLen          = 200
	maxDescriptionLen   = 2000
	maxListItems        = 500
	maxModelNameLen     = 200
	maxTags             = 50
	maxTagLen           = 64
	maxActivationDays   = 36500
	maxRateLimitWindow  = 525600 // a year, in minutes
	maxLimitCount       = 1_000_000_000
)

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

// newKeyJSON shows v, last used at lastUsed (zero: never).
func newKeyJSON(v projections.KeyView, lastUsed time.Time) keyJSON {
	return keyJSON{
		ID: v.ID, Name: v.Name, Description: v.Description, Permissions: v.Permissions,
		IsActive: v.IsActive, IsDeleted: v.IsDeleted, DeletedAt: v.DeletedAt,
		ExpirationMode: v.ExpirationMode, ExpiresAt: v.ExpiresAt,
		ActivationDays: v.ActivationDays, ActivationUnit: v.ActivationUnit,
		// A fixed-expiry key counts as activated from its creation, as
		// Claude Relay Service reports it.
		IsActivated: v.IsActivated || v.ExpirationMode != "activation", ActivatedAt: v.ActivatedAt,
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
		LastUsedAt: timeOrNil(lastUsed),
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

// newKeyDefaults is a key before the fields of a create request apply.
func newKeyDefaults() events.Key {
	return events.Key{
		Permissions: keyPermAll, IsActive: true, ExpirationMode: keyExpiryFixed, ActivationUnit: keyUnitDays,
		Tags: []string{}, RestrictedModels: []string{}, AllowedClients: []string{},
	}
}

// keyFields are the writable fields of a key, in the order they are checked.
var keyFields = []fieldSpec[events.Key]{
	{"name", []string{"name"}, func(raw json.RawMessage, k *events.Key) error {
		s, err := jsonString("name", raw, maxNameLen, false, false)
		if err == nil && s == "" {
			err = fault.InvalidField("name", "name must not be empty")
		}
		k.Name = s
		return err
	}},
	{"description", []string{"description"}, func(raw json.RawMessage, k *events.Key) (err error) {
		k.Description, err = jsonString("description", raw, maxDescriptionLen, true, true)
		return err
	}},
	{"permissions", []string{"permissions"}, func(raw json.RawMessage, k *events.Key) (err error) {
		k.Permissions, err = jsonEnum("permissions", raw, keyPermAll, keyPermClaude, keyPermCodex)
		return err
	}},
	{"isActive", []string{"isActive"}, func(raw json.RawMessage, k *events.Key) (err error) {
		k.IsActive, err = jsonBool("isActive", raw)
		return err
	}},
	{"expirationMode", []string{"expirationMode"}, func(raw json.RawMessage, k *events.Key) (err error) {
		k.ExpirationMode, err = jsonEnum("expirationMode", raw, keyExpiryFixed, keyExpiryActivation)
		return err
	}},
	{"expiresAt", []string{"expiresAt"}, func(raw json.RawMessage, k *events.Key) (err error) {
		k.ExpiresAt, err = jsonTime("expiresAt", raw)
		return err
	}},
	{"activationDays", []string{"activationDays"}, func(raw json.RawMessage, k *events.Key) (err error) {
		k.ActivationDays, err = jsonInt("activationDays", raw, 0, maxActivationDays)
		return err
	}},
	{"activationUnit", []string{"activationUnit"}, func(raw json.RawMessage, k *events.Key) (err error) {
		k.ActivationUnit, err = jsonEnum("activationUnit", raw, keyUnitHours, keyUnitDays)
		return err
	}},
	{"claudeConsoleAccountId", []string{"claudeConsoleAccountId"}, func(raw json.RawMessage, k *events.Key) (err error) {
		k.ClaudeConsoleAccountID, err = jsonAccountRef("claudeConsoleAccountId", raw)
		return err
	}},
	{"codexAccountId", []string{"codexAccountId"}, func(raw json.RawMessage, k *events.Key) (err error) {
		k.CodexAccountID, err = jsonAccountRef("codexAccountId", raw)
		return err
	}},
	{"enableModelRestriction", []string{"enableModelRestriction"}, func(raw json.RawMessage, k *events.Key) (err error) {
		k.EnableModelRestriction, err = jsonBool("enableModelRestriction", raw)
		return err
	}},
	{"restrictedModels", []string{"restrictedModels"}, func(raw json.RawMessage, k *events.Key) (err error) {
		k.RestrictedModels, err = jsonStrings("restrictedModels", raw, maxListItems, maxModelNameLen)
		return err
	}},
	{"enableClientRestriction", []string{"enableClientRestriction"}, func(raw json.RawMessage, k *events.Key) (err error) {
		k.EnableClientRestriction, err = jsonBool("enableClientRestriction", raw)
		return err
	}},
	{"allowedClients", []string{"allowedClients"}, func(raw json.RawMessage, k *events.Key) (err error) {
		k.AllowedClients, err = jsonStrings("allowedClients", raw, 2, maxModelNameLen, keyClientClaudeCode, keyClientCodexCLI)
		return err
	}},
	{"concurrencyLimit", []string{"concurrencyLimit"}, func(raw json.RawMessage, k *events.Key) (err error) {
		k.ConcurrencyLimit, err = jsonInt("concurrencyLimit", raw, 0, maxLimitCount)
		return err
	}},
	{"rateLimitWindow", []string{"rateLimitWindow"}, func(raw json.RawMessage, k *events.Key) (err error) {
		k.RateLimitWindow, err = jsonInt("rateLimitWindow", raw, 0, maxRateLimitWindow)
		return err
	}},
	{"rateLimitRequests", []string{"rateLimitRequests"}, func(raw json.RawMessage, k *events.Key) (err error) {
		k.RateLimitRequests, err = jsonInt("rateLimitRequests", raw, 0, maxLimitCount)
		return err
	}},
	{"rateLimitCost", []string{"rateLimitCostMicros"}, func(raw json.RawMessage, k *events.Key) (err error) {
		k.RateLimitCostMicros, err = jsonUSD("rateLimitCost", raw)
		return err
	}},
	{"dailyCostLimit", []string{"dailyCostLimitMicros"}, func(raw json.RawMessage, k *events.Key) (err error) {
		k.DailyCostLimitMicros, err = jsonUSD("dailyCostLimit", raw)
		return err
	}},
	{"totalCostLimit", []string{"totalCostLimitMicros"}, func(raw json.RawMessage, k *events.Key) (err error) {
		k.TotalCostLimitMicros, err = jsonUSD("totalCostLimit", raw)
		return err
	}},
	{"weeklyOpusCostLimit", []string{"weeklyOpusCostLimitMicros"}, func(raw json.RawMessage, k *events.Key) (err error) {
		k.WeeklyOpusCostLimitMicros, err = jsonUSD("weeklyOpusCostLimit", raw)
		return err
	}},
	{"tags", []string{"tags"}, func(raw json.RawMessage, k *events.Key) (err error) {
		k.Tags, err = jsonStrings("tags", raw, maxTags, maxTagLen)
		return err
	}},
}

// jsonAccountRef reads a dedicated account id: an id, or null or "" for
// none. Whether the account exists is checked by the handler.
func jsonAccountRef(field string, raw json.RawMessage) (string, error) {
	id, err := jsonString(field, raw, 128, true, false)
	if err != nil {
		return "", err
	}
	if id != "" && !events.ValidToken(id) {
		return "", fault.InvalidField(field, field+" is not a valid account id")
	}
	return id, nil
}

// checkKey validates k as a whole, after the sent fields applied, and
// returns the wire fields it had to normalise because a sent field implies
// them: switching a key to activation mode clears a fixed expiry (unless the
// key was activated already, when expiresAt is its computed expiry), and
// switching it to fixed mode zeroes activationDays.
func checkKey(k *events.Key, sent map[string]bool, activated bool, now time.Time) ([]string, error) {
	var implied []string
	switch k.ExpirationMode {
	case keyExpiryActivation:
		if k.ActivationDays < 1 {
			return nil, fault.InvalidField("activationDays", "activationDays must be at least 1 with expirationMode activation")
		}
		if sent["expiresAt"] && k.ExpiresAt != nil {
			return nil, fault.InvalidField("expiresAt", "expiresAt must be null with expirationMode activation: the key expires activationDays after its first use")
		}
		if !activated && k.ExpiresAt != nil {
			k.ExpiresAt = nil
			implied = append(implied, "expiresAt")
		}
	case keyExpiryFixed:
		if sent["activationDays"] && k.ActivationDays != 0 {
			return nil, fault.InvalidField("activationDays", "activationDays only applies to expirationMode activation")
		}
		if k.ActivationDays != 0 {
			k.ActivationDays = 0
			implied = append(implied, "activationDays")
		}
		if sent["expiresAt"] && k.ExpiresAt != nil && !k.ExpiresAt.After(now) {
			return nil, fault.InvalidField("expiresAt", "expiresAt must be in the future")
		}
	}
	if (k.RateLimitRequests > 0 || k.RateLimitCostMicros > 0) && k.RateLimitWindow == 0 {
		return nil, fault.InvalidField("rateLimitWindow", "rateLimitWindow (minutes) must be set when rateLimitRequests or rateLimitCost is")
	}
	return implied, nil
}

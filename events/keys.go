package events

import (
	"encoding/json"
	"time"
)

// API key event types (stream CONFIG, subject KeySubject).
const (
	KeyCreated   = "key.created"
	KeyUpdated   = "key.updated"
	KeyDeleted   = "key.deleted"
	KeyRestored  = "key.restored"
	KeyActivated = "key.activated"
)

// Key is an API key's configuration (DESIGN.md section 5). The secret itself
// never appears: KeyHash is the lowercase hex SHA-256 of it. Money limits are
// integer micro-dollars; 0 means unlimited.
type Key struct {
	ID          string   `json:"id"`
	Name        string   `json:"name"`
	Description string   `json:"description"`
	KeyHash     string   `json:"keyHash"`
	Permissions string   `json:"permissions"`
	IsActive    bool     `json:"isActive"`
	Tags        []string `json:"tags"`

	ExpirationMode string     `json:"expirationMode"`
	ExpiresAt      *time.Time `json:"expiresAt"`
	ActivationDays int        `json:"activationDays"`
	ActivationUnit string     `json:"activationUnit"`

	ClaudeConsoleAccountID string `json:"claudeConsoleAccountId"`
	CodexAccountID         string `json:"codexAccountId"`

	EnableModelRestriction  bool     `json:"enableModelRestriction"`
	RestrictedModels        []string `json:"restrictedModels"`
	EnableClientRestriction bool     `json:"enableClientRestriction"`
	AllowedClients          []string `json:"allowedClients"`

	ConcurrencyLimit          int   `json:"concurrencyLimit"`
	RateLimitWindow           int   `json:"rateLimitWindow"`
	RateLimitRequests         int   `json:"rateLimitRequests"`
	RateLimitCostMicros       int64 `json:"rateLimitCostMicros"`
	DailyCostLimitMicros      int64 `json:"dailyCostLimitMicros"`
	TotalCostLimitMicros      int64 `json:"totalCostLimitMicros"`
	WeeklyOpusCostLimitMicros int64 `json:"weeklyOpusCostLimitMicros"`
}

// KeyUpdatedData is the payload of KeyUpdated: Changes holds only the fields
// the admin sent, in Key's wire form, so folding it over the previous state
// is a JSON merge of those fields.
type KeyUpdatedData struct {
	ID      string          `json:"id"`
	Changes json.RawMessage `json:"changes"`
}

// KeyDeletedData is the payload of KeyDeleted (a soft delete).
type KeyDeletedData struct {
	ID string `json:"id"`
}

// KeyRestoredData is the payload of KeyRestored.
type KeyRestoredData struct {
	ID string `json:"id"`
}

// KeyActivatedData is the payload of KeyActivated: the first request of an
// activation-mode key started its countdown.
type KeyActivatedData struct {
	ID          string    `json:"id"`
	ActivatedAt time.Time `json:"activatedAt"`
	ExpiresAt   time.Time `json:"expiresAt"`
}

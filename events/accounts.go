package events

import "encoding/json"

// Upstream account event types (stream CONFIG, subject AccountSubject).
const (
	AccountCreated = "account.created"
	AccountUpdated = "account.updated"
	AccountDeleted = "account.deleted"
)

// Account platforms.
const (
	PlatformClaudeConsole = "claude-console"
	PlatformCodex         = "codex"
)

// Proxy is an account's outbound proxy. The password is sealed like the
// account's key.
type Proxy struct {
	Protocol       string `json:"protocol"`
	Host           string `json:"host"`
	Port           int    `json:"port"`
	Username       string `json:"username,omitempty"`
	PasswordSealed string `json:"passwordSealed,omitempty"`
}

// Account is an upstream account's configuration (DESIGN.md section 5). The
// upstream credential is only ever carried sealed (AES-256-GCM) together
// with a display mask.
type Account struct {
	ID              string            `json:"id"`
	Platform        string            `json:"platform"`
	Name            string            `json:"name"`
	Description     string            `json:"description"`
	APIURL          string            `json:"apiUrl"`
	APIKeySealed    string            `json:"apiKeySealed"`
	APIKeyMask      string            `json:"apiKeyMask"`
	UserAgent       string            `json:"userAgent"`
	SupportedModels map[string]string `json:"supportedModels"`
	Priority        int               `json:"priority"`
	Schedulable     bool              `json:"schedulable"`
	IsActive        bool              `json:"isActive"`
	AccountType     string            `json:"accountType"`
	Proxy           *Proxy            `json:"proxy"`

	RateLimitDuration int    `json:"rateLimitDuration"`
	DailyQuotaMicros  int64  `json:"dailyQuotaMicros"`
	QuotaResetTime    string `json:"quotaResetTime"`
	MaxConcurrency    int    `json:"maxConcurrency"`
}

// AccountUpdatedData is the payload of AccountUpdated: only the changed
// fields, in Account's wire form.
type AccountUpdatedData struct {
	ID      string          `json:"id"`
	Changes json.RawMessage `json:"changes"`
}

// AccountDeletedData is the payload of AccountDeleted.
type AccountDeletedData struct {
	ID string `json:"id"`
}

package events

import "time"

// Usage event types (stream USAGE).
const (
	// UsageRecorded is one relayed request that passed the edge's checks
	// (it reached an upstream, or no account was available). Exactly one
	// per request id. Requests refused before any upstream was tried are
	// counted instead (UsageRefusalsCounted); streams written by older
	// versions also hold one UsageRecorded with OutcomeRefused per refusal.
	UsageRecorded = "usage.recorded"
)

// Outcomes of a relayed request.
const (
	OutcomeOK            = "ok"
	OutcomeUpstreamError = "upstream_error"
	OutcomeClientClosed  = "client_closed"
	OutcomeRefused       = "refused"
	OutcomeTimeout       = "timeout"
	OutcomeNoAccount     = "no_account"
)

// Tokens are the token counts of one request, as the upstream reported them.
// CacheCreateTokens counts every cache write; CacheCreate1hTokens is the part
// of it written with a one-hour TTL (the rest were five-minute writes).
// For OpenAI, InputTokens includes CacheReadTokens and OutputTokens includes
// ReasoningTokens, as the Responses API reports them.
type Tokens struct {
	InputTokens         int64 `json:"inputTokens"`
	OutputTokens        int64 `json:"outputTokens"`
	CacheCreateTokens   int64 `json:"cacheCreateTokens"`
	CacheCreate1hTokens int64 `json:"cacheCreate1hTokens"`
	CacheReadTokens     int64 `json:"cacheReadTokens"`
	ReasoningTokens     int64 `json:"reasoningTokens"`
}

// Attempt is one try of a request against one upstream account.
type Attempt struct {
	AccountID string `json:"accountId"`
	Status    int    `json:"status,omitempty"`
	Error     string `json:"error,omitempty"`
}

// Exclusion names an account the scheduler skipped for this request and why.
type Exclusion struct {
	AccountID string `json:"accountId"`
	Reason    string `json:"reason"`
}

// Usage is the payload of UsageRecorded. Money is integer micro-dollars
// (CostMicros); Cost is the same amount in USD for readers of the stream.
type Usage struct {
	ID            string      `json:"id"`
	Time          time.Time   `json:"time"`
	KeyID         string      `json:"keyId"`
	AccountID     string      `json:"accountId,omitempty"`
	Platform      string      `json:"platform"`
	Model         string      `json:"model"`
	UpstreamModel string      `json:"upstreamModel,omitempty"`
	SessionHash   string      `json:"sessionHash,omitempty"`
	Client        string      `json:"client,omitempty"`
	Stream        bool        `json:"stream"`
	Status        int         `json:"status"`
	Outcome       string      `json:"outcome"`
	Reason        string      `json:"reason,omitempty"`
	Attempts      int         `json:"attempts"`
	AttemptLog    []Attempt   `json:"attemptLog,omitempty"`
	ChosenBy      string      `json:"chosenBy,omitempty"`
	Excluded      []Exclusion `json:"excluded,omitempty"`
	Tokens
	Cost       float64 `json:"cost"`
	CostMicros int64   `json:"costMicros"`
	Priced     bool    `json:"priced"`
	DurationMs int64   `json:"durationMs"`
	TTFTMs     int64   `json:"ttftMs"`
}

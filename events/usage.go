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

// Usage is the payload of UsageRecorded. Money is integer nano-dollars
// (CostNanos); Cost is the same amount in USD for readers of the stream.
// Events recorded before costs were kept to the nano-dollar carry
// CostMicros instead: read the cost with Nanos.
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
	Cost      float64 `json:"cost"`
	CostNanos int64   `json:"costNanos"`
	// CostMicros is the cost of an event recorded before costs were kept
	// to the nano-dollar (rounded to the micro-dollar then); new events
	// leave it 0.
	CostMicros int64 `json:"costMicros,omitempty"`
	Priced     bool  `json:"priced"`
	DurationMs int64 `json:"durationMs"`
	TTFTMs     int64 `json:"ttftMs"`
}

// Nanos is the request's cost in nano-dollars: CostNanos, or the recorded
// micro-dollars of an event from before costs were kept to the nano-dollar,
// so an old stream folds to the totals it always had.
func (u *Usage) Nanos() int64 { return CostNanos(u.CostNanos, u.CostMicros) }

// CostNanos is the one rule for reading a usage event's cost from its
// costNanos and costMicros members, for readers that decode them apart.
func CostNanos(nanos, micros int64) int64 {
	if nanos != 0 || micros <= 0 {
		return nanos
	}
	const max = 1<<63 - 1
	if micros > max/1000 {
		return max
	}
	return micros * 1000
}

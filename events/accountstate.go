package events

import "time"

// Account health event types (stream STATE, subject AccountStateSubject).
const (
	AccountStateMarked  = "account.state_marked"
	AccountStateCleared = "account.state_cleared"
)

// Account health states.
const (
	StateRateLimited  = "rate_limited"
	StateOverloaded   = "overloaded"
	StateUnauthorized = "unauthorized"
	StateError        = "error"
)

// AccountStateMarkedData is the payload of AccountStateMarked: the account
// is not schedulable until Until. States end by themselves; nothing needs to
// publish their end.
type AccountStateMarkedData struct {
	AccountID string    `json:"accountId"`
	State     string    `json:"state"`
	Until     time.Time `json:"until"`
	Status    int       `json:"status,omitempty"`
	Reason    string    `json:"reason,omitempty"`
}

// AccountStateClearedData is the payload of AccountStateCleared: an admin
// ended every state at once.
type AccountStateClearedData struct {
	AccountID string `json:"accountId"`
}

package projections

import (
	"fmt"
	"time"

	"relay/events"
)

// AccountStateView is the health of one account as projected from STATE.
// A state whose Until has passed has ended: readers compare with their own
// clock, so nothing has to publish the end of a state.
type AccountStateView struct {
	AccountID string    `json:"accountId"`
	State     string    `json:"state"`
	Until     time.Time `json:"until"`
	Status    int       `json:"status,omitempty"`
	Reason    string    `json:"reason,omitempty"`
	Seq       uint64    `json:"seq"`
}

// ApplyAccountState folds one STATE event over v.
func ApplyAccountState(v AccountStateView, env events.Envelope) (AccountStateView, error) {
	if env.Seq != 0 && env.Seq <= v.Seq {
		return v, nil
	}
	p, err := events.Decode(env)
	if err != nil {
		return v, err
	}
	switch d := p.(type) {
	case *events.AccountStateMarkedData:
		v = AccountStateView{AccountID: d.AccountID, State: d.State, Until: d.Until, Status: d.Status, Reason: d.Reason}
	case *events.AccountStateClearedData:
		v = AccountStateView{AccountID: d.AccountID}
	default:
		return v, fmt.Errorf("projections: %s is not an account state event", env.Type)
	}
	v.Seq = env.Seq
	return v, nil
}

// ActiveAt returns the state in force at now, or "" when none is.
func (v AccountStateView) ActiveAt(now time.Time) string {
	if v.State == "" || !now.Before(v.Until) {
		return ""
	}
	return v.State
}

package projections

import (
	"encoding/json"
	"fmt"
	"time"

	"relay/events"
)

// AccountView is the projected configuration of one upstream account.
type AccountView struct {
	events.Account
	IsDeleted  bool       `json:"isDeleted"`
	DeletedAt  *time.Time `json:"deletedAt"`
	CreatedAt  time.Time  `json:"createdAt"`
	UpdatedAt  time.Time  `json:"updatedAt"`
	Seq        uint64     `json:"seq"`
	CreatedSeq uint64     `json:"createdSeq"`
}

// Exists reports whether the view holds a created, undeleted account.
func (v AccountView) Exists() bool { return v.CreatedSeq != 0 && !v.IsDeleted }

// ApplyAccount folds one account configuration event over v.
func ApplyAccount(v AccountView, env events.Envelope) (AccountView, error) {
	if env.Seq != 0 && env.Seq <= v.Seq {
		return v, nil
	}
	p, err := events.Decode(env)
	if err != nil {
		return v, err
	}
	switch d := p.(type) {
	case *events.Account:
		v = AccountView{Account: *d, CreatedAt: env.Time, UpdatedAt: env.Time, CreatedSeq: env.Seq}
	case *events.AccountUpdatedData:
		// supportedModels and proxy are replaced whole when sent: merging
		// would keep mappings or proxy credentials the admin removed.
		var probe struct {
			SupportedModels json.RawMessage `json:"supportedModels"`
			Proxy           json.RawMessage `json:"proxy"`
		}
		_ = json.Unmarshal(d.Changes, &probe)
		if probe.SupportedModels != nil {
			v.SupportedModels = nil
		}
		if probe.Proxy != nil {
			v.Proxy = nil
		}
		if err := json.Unmarshal(d.Changes, &v.Account); err != nil {
			return v, fmt.Errorf("account.updated %s: %w", d.ID, err)
		}
		v.UpdatedAt = env.Time
	case *events.AccountDeletedData:
		t := env.Time
		v.IsDeleted, v.DeletedAt, v.UpdatedAt = true, &t, env.Time
	default:
		return v, fmt.Errorf("projections: %s is not an account event", env.Type)
	}
	v.Seq = env.Seq
	return v, nil
}

// UpstreamModel maps a requested model through supportedModels. An empty map
// means every model is supported under its own name.
func (v AccountView) UpstreamModel(requested string) (string, bool) {
	if len(v.SupportedModels) == 0 {
		return requested, true
	}
	up, ok := v.SupportedModels[requested]
	if ok && up == "" {
		up = requested
	}
	return up, ok
}

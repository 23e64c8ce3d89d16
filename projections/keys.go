package projections

import (
	"encoding/json"
	"fmt"
	"time"

	"relay/events"
)

// KeyView is the projected state of one API key.
type KeyView struct {
	events.Key
	IsDeleted   bool       `json:"isDeleted"`
	DeletedAt   *time.Time `json:"deletedAt"`
	IsActivated bool       `json:"isActivated"`
	ActivatedAt *time.Time `json:"activatedAt"`
	CreatedAt   time.Time  `json:"createdAt"`
	UpdatedAt   time.Time  `json:"updatedAt"`
	// Seq is the stream sequence of the last event applied: the version an
	// admin's next update must expect.
	Seq uint64 `json:"seq"`
	// CreatedSeq orders keys by creation in listings.
	CreatedSeq uint64 `json:"createdSeq"`
}

// Exists reports whether the view holds a created key.
func (v KeyView) Exists() bool { return v.CreatedSeq != 0 }

// ApplyKey folds one key event over v. Events at or below v.Seq were applied
// already and leave v unchanged.
func ApplyKey(v KeyView, env events.Envelope) (KeyView, error) {
	if env.Seq != 0 && env.Seq <= v.Seq {
		return v, nil
	}
	p, err := events.Decode(env)
	if err != nil {
		return v, err
	}
	switch d := p.(type) {
	case *events.Key:
		v = KeyView{Key: *d, CreatedAt: env.Time, UpdatedAt: env.Time, CreatedSeq: env.Seq}
		if v.ExpirationMode == "activation" {
			// Activation-mode keys have no expiry until their first use.
			v.ExpiresAt = nil
		}
	case *events.KeyUpdatedData:
		// Changes holds only the fields sent; unmarshalling them over the
		// previous state replaces exactly those.
		if err := json.Unmarshal(d.Changes, &v.Key); err != nil {
			return v, fmt.Errorf("key.updated %s: %w", d.ID, err)
		}
		v.UpdatedAt = env.Time
	case *events.KeyDeletedData:
		t := env.Time
		v.IsDeleted, v.DeletedAt, v.UpdatedAt = true, &t, env.Time
	case *events.KeyRestoredData:
		v.IsDeleted, v.DeletedAt, v.UpdatedAt = false, nil, env.Time
	case *events.KeyActivatedData:
		if v.IsActivated {
			break // a second activation (two edges racing) changes nothing
		}
		at, exp := d.ActivatedAt, d.ExpiresAt
		v.IsActivated, v.ActivatedAt, v.ExpiresAt = true, &at, &exp
	default:
		return v, fmt.Errorf("projections: %s is not a key event", env.Type)
	}
	v.Seq = env.Seq
	return v, nil
}

// Expired reports whether the key's expiry has passed at now.
func (v KeyView) Expired(now time.Time) bool {
	return v.ExpiresAt != nil && !now.Before(*v.ExpiresAt)
}

// Usable reports whether requests may use the key at now (ignoring limits).
func (v KeyView) Usable(now time.Time) bool {
	return v.Exists() && v.IsActive && !v.IsDeleted && !v.Expired(now)
}

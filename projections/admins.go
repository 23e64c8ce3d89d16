package projections

import (
	"fmt"
	"time"

	"relay/events"
)

// AdminView is the projected state of one admin.
type AdminView struct {
	Username     string    `json:"username"`
	PasswordHash string    `json:"passwordHash"`
	CreatedAt    time.Time `json:"createdAt"`
	UpdatedAt    time.Time `json:"updatedAt"`
	// PasswordSeq is the sequence of the event that set the current
	// password. Tokens carry it; a token with an older one is void.
	PasswordSeq uint64 `json:"passwordSeq"`
	Seq         uint64 `json:"seq"`
}

// Exists reports whether the admin was created.
func (v AdminView) Exists() bool { return v.Username != "" }

// ApplyAdmin folds one admin event over v.
func ApplyAdmin(v AdminView, env events.Envelope) (AdminView, error) {
	if env.Seq != 0 && env.Seq <= v.Seq {
		return v, nil
	}
	p, err := events.Decode(env)
	if err != nil {
		return v, err
	}
	switch d := p.(type) {
	case *events.AdminCreatedData:
		if v.Exists() {
			break // a second bootstrap never resets a password
		}
		v = AdminView{Username: d.Username, PasswordHash: d.PasswordHash, CreatedAt: env.Time, UpdatedAt: env.Time, PasswordSeq: env.Seq}
	case *events.AdminPasswordChangedData:
		v.PasswordHash, v.UpdatedAt, v.PasswordSeq = d.PasswordHash, env.Time, env.Seq
	default:
		return v, fmt.Errorf("projections: %s is not an admin event", env.Type)
	}
	v.Seq = env.Seq
	return v, nil
}

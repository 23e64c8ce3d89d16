package projections

import (
	"encoding/json"
	"fmt"
	"time"

	"relay/events"
)

// ChannelView is the projected configuration of one notification channel.
type ChannelView struct {
	events.Channel
	IsDeleted  bool       `json:"isDeleted"`
	DeletedAt  *time.Time `json:"deletedAt"`
	CreatedAt  time.Time  `json:"createdAt"`
	UpdatedAt  time.Time  `json:"updatedAt"`
	Seq        uint64     `json:"seq"`
	CreatedSeq uint64     `json:"createdSeq"`
}

// Exists reports whether the view holds a created, undeleted channel.
func (v ChannelView) Exists() bool { return v.CreatedSeq != 0 && !v.IsDeleted }

// ApplyChannel folds one notification channel event over v, skipping an
// event at or below the sequence v already holds.
func ApplyChannel(v ChannelView, env events.Envelope) (ChannelView, error) {
	if env.Seq != 0 && env.Seq <= v.Seq {
		return v, nil
	}
	p, err := events.Decode(env)
	if err != nil {
		return v, err
	}
	switch d := p.(type) {
	case *events.Channel:
		v = ChannelView{Channel: *d, CreatedAt: env.Time, UpdatedAt: env.Time, CreatedSeq: env.Seq}
	case *events.ChannelUpdatedData:
		// events is replaced whole when sent: merging would keep
		// subscriptions the admin removed.
		var probe struct {
			Events json.RawMessage `json:"events"`
		}
		_ = json.Unmarshal(d.Changes, &probe)
		if probe.Events != nil {
			v.Events = nil
		}
		if err := json.Unmarshal(d.Changes, &v.Channel); err != nil {
			return v, fmt.Errorf("notification.updated %s: %w", d.ID, err)
		}
		v.UpdatedAt = env.Time
	case *events.ChannelDeletedData:
		t := env.Time
		v.IsDeleted, v.DeletedAt, v.UpdatedAt = true, &t, env.Time
	default:
		return v, fmt.Errorf("projections: %s is not a notification channel event", env.Type)
	}
	v.Seq = env.Seq
	return v, nil
}

// ChannelPublic is what an admin may see of a channel: the URL only as its
// mask, whether a secret is set, never either sealed value.
type ChannelPublic struct {
	ID              string     `json:"id"`
	Name            string     `json:"name"`
	Type            string     `json:"type"`
	URL             string     `json:"url"`
	HasSecret       bool       `json:"hasSecret"`
	Events          []string   `json:"events"`
	Enabled         bool       `json:"enabled"`
	CooldownSeconds int        `json:"cooldownSeconds"`
	IsDeleted       bool       `json:"isDeleted"`
	DeletedAt       *time.Time `json:"deletedAt"`
	CreatedAt       time.Time  `json:"createdAt"`
	UpdatedAt       time.Time  `json:"updatedAt"`
}

// Public returns the admin's view of v. CooldownSeconds is the cooldown in
// force (the default when the channel sets none).
func (v ChannelView) Public() ChannelPublic {
	evs := v.Events
	if evs == nil {
		evs = []string{}
	}
	return ChannelPublic{
		ID: v.ID, Name: v.Name, Type: v.Type, URL: v.URLMask, HasSecret: v.SecretSealed != "",
		Events: evs, Enabled: v.Enabled, CooldownSeconds: int(v.Cooldown() / time.Second),
		IsDeleted: v.IsDeleted, DeletedAt: v.DeletedAt, CreatedAt: v.CreatedAt, UpdatedAt: v.UpdatedAt,
	}
}

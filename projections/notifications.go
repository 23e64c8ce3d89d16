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

package events

import (
	"encoding/json"
	"errors"
	"fmt"
)

// ErrUnknownType reports an event type this version of relay does not know.
var ErrUnknownType = errors.New("events: unknown event type")

// Decode returns the typed payload of env: a pointer to the payload struct of
// its type. The switch is closed on purpose: an unknown type is an error the
// caller must decide about, never silently skipped.
func Decode(env Envelope) (any, error) {
	var v any
	switch env.Type {
	case AdminCreated:
		v = new(AdminCreatedData)
	case AdminPasswordChanged:
		v = new(AdminPasswordChangedData)
	case KeyCreated:
		v = new(Key)
	case KeyUpdated:
		v = new(KeyUpdatedData)
	case KeyDeleted:
		v = new(KeyDeletedData)
	case KeyRestored:
		v = new(KeyRestoredData)
	case KeyActivated:
		v = new(KeyActivatedData)
	case AccountCreated:
		v = new(Account)
	case AccountUpdated:
		v = new(AccountUpdatedData)
	case AccountDeleted:
		v = new(AccountDeletedData)
	case AccountStateMarked:
		v = new(AccountStateMarkedData)
	case AccountStateCleared:
		v = new(AccountStateClearedData)
	case NotificationCreated:
		v = new(Channel)
	case NotificationUpdated:
		v = new(ChannelUpdatedData)
	case NotificationDeleted:
		v = new(ChannelDeletedData)
	case NotificationQueued:
		v = new(Notification)
	case UsageRecorded:
		v = new(Usage)
	case UsageRefusalsCounted:
		v = new(RefusalsCounted)
	default:
		return nil, fmt.Errorf("%w: %q", ErrUnknownType, env.Type)
	}
	if err := json.Unmarshal(env.Data, v); err != nil {
		return nil, fmt.Errorf("events: decode %s: %w", env.Type, err)
	}
	return v, nil
}

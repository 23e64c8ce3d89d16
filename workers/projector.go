package workers

import (
	"context"
	"errors"

	"relay/events"
)

// Projector folds one stream into a read model.
type Projector interface {
	// Name names the durable consumer and the checkpoint; stable across
	// versions.
	Name() string
	// Stream is the stream folded.
	Stream() string
	// InFlight is how many events may be applied at once across all
	// workers: 1 keeps events in stream order (document views need that);
	// counters commute and take more.
	InFlight() int
	// Apply applies env together with the checkpoint. It must be a no-op for
	// an event already applied.
	Apply(ctx context.Context, env events.Envelope) error
}

// Batcher is a Projector whose events commute and whose writes merge: it
// applies many events in one step. ApplyBatch is all or nothing; false means
// "apply these one by one" (one was applied before, or cannot be decoded).
type Batcher interface {
	Projector
	ApplyBatch(ctx context.Context, envs []events.Envelope) (bool, error)
}

// permanentError marks an event that can never be applied.
type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

// Permanent wraps err to say that retrying the event cannot help.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanentError{err}
}

// IsPermanent reports whether err (or what it wraps) is permanent. Events
// that do not decode are permanent by nature.
func IsPermanent(err error) bool {
	var p permanentError
	return errors.As(err, &p) || errors.Is(err, events.ErrUnknownType) || errors.Is(err, events.ErrMalformed)
}

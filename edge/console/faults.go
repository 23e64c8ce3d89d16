package console

import (
	"errors"
	"time"

	"relay/edge/fault"
)

// The console tells errors apart by its own sentinels and types (backend.go)
// and, so that the admin actions can be passed through unchanged, by the
// kinds of relay/edge/fault as well.

func faultKind(err error) (*fault.Error, bool) {
	var fe *fault.Error
	if errors.As(err, &fe) {
		return fe, true
	}
	return nil, false
}

func isNotFound(err error) bool {
	if fe, ok := faultKind(err); ok {
		return fe.Kind == fault.NotFound
	}
	return errors.Is(err, ErrNotFound)
}

func isConflict(err error) bool {
	if fe, ok := faultKind(err); ok {
		return fe.Kind == fault.Conflict
	}
	return errors.Is(err, ErrConflict)
}

func isBadCredentials(err error) bool {
	if fe, ok := faultKind(err); ok {
		return fe.Kind == fault.Unauthorized
	}
	return errors.Is(err, ErrBadCredentials)
}

func isNoAdmin(err error) bool {
	if fe, ok := faultKind(err); ok {
		return fe.Kind == fault.NotFound || fe.Kind == fault.Unauthorized
	}
	return errors.Is(err, ErrNoAdmin)
}

// throttledFor reports whether err refuses a sign-in for too many failures,
// and for how long.
func throttledFor(err error) (time.Duration, bool) {
	var t *ThrottledError
	if errors.As(err, &t) {
		return t.RetryAfter, true
	}
	if fe, ok := faultKind(err); ok && fe.Kind == fault.RateLimited {
		return time.Duration(fe.RetryAfter) * time.Second, true
	}
	return 0, false
}

// invalidFields returns the refused fields of err: FieldErrors, a
// *FieldError, or a fault.Invalid error (its Field, "" when it names none).
func invalidFields(err error) ([]FieldError, bool) {
	var one *FieldError
	var many FieldErrors
	switch {
	case errors.As(err, &one):
		return []FieldError{*one}, true
	case errors.As(err, &many):
		return many, true
	}
	if fe, ok := faultKind(err); ok && fe.Kind == fault.Invalid {
		return []FieldError{{Field: fe.Field, Message: fe.Message}}, true
	}
	return nil, false
}

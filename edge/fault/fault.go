// Package fault is the vocabulary of the errors relay answers with, free of
// any transport: a kind (what went wrong, in the caller's terms), a message
// safe to show, and for validation errors the field at fault. The HTTP
// layer (relay/edge/httpx) turns a kind into a status code and writes the
// error in the dialect of the route; a web page shows the same error next
// to its field.
//
// Imports: the standard library only.
package fault

// Kind classifies an error independently of the dialect it is written in.
type Kind uint8

// Error kinds.
const (
	Internal Kind = iota
	Invalid
	Unauthorized
	Forbidden
	NotFound
	Conflict
	RateLimited
	TooLarge
	Overloaded
	Timeout
	// SlowBody: the client did not send its request in time.
	SlowBody
	// MediaType: a body in a format the route does not read.
	MediaType
	// BadGateway: no upstream could be reached.
	BadGateway
	// Method: the route exists, not with this method.
	Method
)

// Error is an error relay answers with.
type Error struct {
	Kind    Kind
	Message string
	// Field names the invalid request field, for validation errors.
	Field string
	// RetryAfter, when positive, is how many seconds the caller should
	// wait before trying again.
	RetryAfter int
	// UpstreamType, when set, is the error type the upstream used; relay
	// passes it on rather than inventing its own.
	UpstreamType string
}

func (e *Error) Error() string { return e.Message }

// New returns an Error of kind with message msg.
func New(kind Kind, msg string) *Error { return &Error{Kind: kind, Message: msg} }

// InvalidField returns a validation error naming field.
func InvalidField(field, msg string) *Error {
	return &Error{Kind: Invalid, Message: msg, Field: field}
}

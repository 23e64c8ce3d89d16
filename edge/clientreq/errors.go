package clientreq

import "errors"

// Kinds of malformed request, for errors.Is on an *Error.
var (
	ErrEmpty        = errors.New("empty body")
	ErrSyntax       = errors.New("invalid JSON")
	ErrTooDeep      = errors.New("nesting too deep")
	ErrNotObject    = errors.New("body is not a JSON object")
	ErrModel        = errors.New("bad model")
	ErrStream       = errors.New("bad stream")
	ErrDuplicateKey = errors.New("duplicate key")
)

// Error is a request body relay refuses to forward. Its message is meant for
// the client (the edge sends it as a 400 invalid_request_error) and never
// quotes the body, which may hold a prompt.
type Error struct {
	Kind error // one of the Err* kinds above
	Msg  string
}

func (e *Error) Error() string { return e.Msg }

// Unwrap lets errors.Is(err, ErrModel) and friends see the kind.
func (e *Error) Unwrap() error { return e.Kind }

func newError(kind error, msg string) *Error { return &Error{Kind: kind, Msg: msg} }

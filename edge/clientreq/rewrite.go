package clientreq

import (
	"encoding/json"
	"errors"
)

// RewriteModel returns a copy of body whose top-level "model" value is
// upstream, JSON-quoted. Only the bytes of that value change: whitespace, key
// order, escapes and every nested "model" key (in tool schemas, say) stay as
// the client sent them, so the upstream sees the client's request with one
// substitution. body itself is never modified.
//
// The body must pass the same checks as ParseClaude (an *Error otherwise). An
// upstream name that is empty or malformed is a configuration error and
// comes back as a plain error.
func RewriteModel(body []byte, upstream string) ([]byte, error) {
	if msg := checkModelName(upstream); msg != "" {
		return nil, errors.New("clientreq: upstream " + msg)
	}
	start, err := object(body)
	if err != nil {
		return nil, err
	}
	vs, ve := -1, -1
	err = members(body, start, func(key []byte, s, e int) error {
		if string(key) != "model" {
			return nil
		}
		if vs >= 0 {
			return newError(ErrDuplicateKey, `duplicate key "model" in request body`)
		}
		if body[s] != '"' {
			return newError(ErrModel, "model must be a string")
		}
		vs, ve = s, e
		return nil
	})
	if err != nil {
		return nil, err
	}
	if vs < 0 {
		return nil, missingModel()
	}
	quoted, err := json.Marshal(upstream) // cannot fail for a valid UTF-8 string
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, len(body)-(ve-vs)+len(quoted))
	out = append(out, body[:vs]...)
	out = append(out, quoted...)
	return append(out, body[ve:]...), nil
}

package httpx

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"relay/edge/fault"
)

// OK answers an admin success.
func OK(c echo.Context, status int, data any) error {
	return c.JSON(status, map[string]any{"success": true, "data": data})
}

// maxJSONDepth bounds nesting of admin JSON bodies; deeper bodies are refused
// before decoding so no decoder recursion can be driven by a client.
const maxJSONDepth = 32

// DecodeJSON reads the body as one JSON object into v, refusing unknown
// fields, trailing data and excessive nesting, with a message that names the
// offending field.
func DecodeJSON(c echo.Context, v any) error {
	body, err := ReadBody(c)
	if err != nil {
		return err
	}
	return UnmarshalStrict(body, v)
}

// ErrBodyTooLarge and ErrBodyUnreadable are the answers of ReadBody.
var (
	ErrBodyTooLarge   = fault.New(fault.TooLarge, "request body too large")
	ErrBodyUnreadable = fault.New(fault.Invalid, "could not read the request body")
)

// maxPresizedBody bounds the buffer allocated up front from Content-Length:
// a client's claim is not a reason to allocate more than usual requests need.
const maxPresizedBody = 8 << 20

// ReadBody reads the request body within the body limit. A body over the
// limit, declared or chunked, is refused with 413 after reading at most the
// limit.
func ReadBody(c echo.Context) ([]byte, error) {
	r := c.Request()
	var body []byte
	var err error
	if n := r.ContentLength; n > 0 && n <= maxPresizedBody {
		// One allocation of the announced size, where io.ReadAll would grow
		// its buffer step by step. net/http ends the body there.
		body = make([]byte, n)
		_, err = io.ReadFull(r.Body, body)
	} else {
		body, err = io.ReadAll(r.Body)
	}
	if err == nil {
		return body, nil
	}
	if errors.Is(err, ErrSlowBody) {
		return nil, ErrSlowBody
	}
	var mbe *http.MaxBytesError
	var he *echo.HTTPError
	if errors.As(err, &mbe) || (errors.As(err, &he) && he.Code == http.StatusRequestEntityTooLarge) {
		return nil, ErrBodyTooLarge
	}
	return nil, ErrBodyUnreadable
}

func UnmarshalStrict(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return fault.New(fault.Invalid, "request body must be a JSON object")
	}
	// encoding/json would store invalid UTF-8 as U+FFFD: refuse it instead.
	if !utf8.Valid(body) {
		return fault.New(fault.Invalid, "request body must be valid UTF-8")
	}
	if jsonDepth(body) > maxJSONDepth {
		return fault.New(fault.Invalid, "request body is nested too deeply")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if dec.More() {
		return fault.New(fault.Invalid, "request body must hold a single JSON object")
	}
	return nil
}

func jsonError(err error) error {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		field := te.Field
		if field == "" {
			return fault.New(fault.Invalid, "request body must be a JSON object")
		}
		return fault.InvalidField(field, fmt.Sprintf("%s must be %s", field, jsonKind(te.Type.Kind().String())))
	case errors.As(err, &se):
		return fault.New(fault.Invalid, fmt.Sprintf("malformed JSON at byte %d", se.Offset))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return fault.InvalidField(field, fmt.Sprintf("unknown field %s", field))
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return fault.New(fault.Invalid, "malformed JSON: unexpected end")
	}
	return fault.New(fault.Invalid, "malformed JSON")
}

func jsonKind(k string) string {
	switch k {
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "slice", "array":
		return "an array"
	case "map", "struct", "ptr":
		return "an object"
	}
	return "a number"
}

// jsonDepth returns the deepest nesting of objects and arrays in b, ignoring
// brackets inside strings.
func jsonDepth(b []byte) int {
	depth, deepest, inString, escaped := 0, 0, false, false
	for _, ch := range b {
		switch {
		case escaped:
			escaped = false
		case inString:
			if ch == '\\' {
				escaped = true
			} else if ch == '"' {
				inString = false
			}
		case ch == '"':
			inString = true
		case ch == '{' || ch == '[':
			depth++
			deepest = max(deepest, depth)
		case ch == '}' || ch == ']':
			depth--
		}
	}
	return deepest
}

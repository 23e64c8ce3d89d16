package edge

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"
)

// Kind classifies an error independently of the dialect it is written in.
type Kind uint8

// Error kinds.
const (
	KindInternal Kind = iota
	KindInvalid
	KindUnauthorized
	KindForbidden
	KindNotFound
	KindConflict
	KindRateLimited
	KindTooLarge
	KindOverloaded
	KindTimeout
	// KindSlowBody: the client did not send its body in time (408).
	KindSlowBody
	// KindMediaType: an admin body that is not JSON (415).
	KindMediaType
	// KindBadGateway: no upstream could be reached (502).
	KindBadGateway
	// KindMethod: the route exists, not with this method (405).
	KindMethod
)

// Error is an error relay answers with. The error handler writes it in the
// dialect of the route.
type Error struct {
	Status  int
	Kind    Kind
	Message string
	// Field names the invalid request field, for admin validation errors.
	Field string
	// RetryAfter, when positive, is sent as Retry-After (seconds).
	RetryAfter int
	// UpstreamType, when set, is the error type the upstream used; relay
	// passes it on rather than inventing its own.
	UpstreamType string
}

func (e *Error) Error() string { return e.Message }

// newError returns an Error with the status that fits kind.
func newError(kind Kind, msg string) *Error {
	return &Error{Status: kindStatus[kind], Kind: kind, Message: msg}
}

func invalidField(field, msg string) *Error {
	e := newError(KindInvalid, msg)
	e.Field = field
	return e
}

var kindStatus = map[Kind]int{
	KindInternal:     http.StatusInternalServerError,
	KindInvalid:      http.StatusBadRequest,
	KindUnauthorized: http.StatusUnauthorized,
	KindForbidden:    http.StatusForbidden,
	KindNotFound:     http.StatusNotFound,
	KindConflict:     http.StatusConflict,
	KindRateLimited:  http.StatusTooManyRequests,
	KindTooLarge:     http.StatusRequestEntityTooLarge,
	KindOverloaded:   http.StatusServiceUnavailable,
	KindTimeout:      http.StatusGatewayTimeout,
	KindSlowBody:     http.StatusRequestTimeout,
	KindMediaType:    http.StatusUnsupportedMediaType,
	KindBadGateway:   http.StatusBadGateway,
	KindMethod:       http.StatusMethodNotAllowed,
}

// adminCodes are the codes of the admin API's error shape.
var adminCodes = map[Kind]string{
	KindInternal:     "internal_error",
	KindInvalid:      "validation_error",
	KindUnauthorized: "unauthorized",
	KindForbidden:    "forbidden",
	KindNotFound:     "not_found",
	KindConflict:     "conflict",
	KindRateLimited:  "rate_limited",
	KindTooLarge:     "payload_too_large",
	KindOverloaded:   "unavailable",
	KindTimeout:      "timeout",
	KindSlowBody:     "request_timeout",
	KindMediaType:    "unsupported_media_type",
	KindBadGateway:   "bad_gateway",
	KindMethod:       "method_not_allowed",
}

// anthropicTypes are the error types of Anthropic's error shape.
var anthropicTypes = map[Kind]string{
	KindInternal:     "api_error",
	KindInvalid:      "invalid_request_error",
	KindUnauthorized: "authentication_error",
	KindForbidden:    "permission_error",
	KindNotFound:     "not_found_error",
	KindConflict:     "invalid_request_error",
	KindRateLimited:  "rate_limit_error",
	KindTooLarge:     "request_too_large",
	KindOverloaded:   "overloaded_error",
	KindTimeout:      "api_error",
	KindSlowBody:     "invalid_request_error",
	KindMediaType:    "invalid_request_error",
	KindBadGateway:   "api_error",
	KindMethod:       "invalid_request_error",
}

// openAITypes and openAICodes are the type and code of OpenAI's error shape.
var openAITypes = map[Kind]string{
	KindInternal:     "server_error",
	KindInvalid:      "invalid_request_error",
	KindUnauthorized: "authentication_error",
	KindForbidden:    "permission_error",
	KindNotFound:     "not_found_error",
	KindConflict:     "invalid_request_error",
	KindRateLimited:  "rate_limit_error",
	KindTooLarge:     "invalid_request_error",
	KindOverloaded:   "server_error",
	KindTimeout:      "server_error",
	KindSlowBody:     "invalid_request_error",
	KindMediaType:    "invalid_request_error",
	KindBadGateway:   "server_error",
	KindMethod:       "invalid_request_error",
}

var openAICodes = map[Kind]string{
	KindInternal:     "internal_error",
	KindInvalid:      "invalid_request",
	KindUnauthorized: "invalid_api_key",
	KindForbidden:    "permission_denied",
	KindNotFound:     "not_found",
	KindConflict:     "conflict",
	KindRateLimited:  "rate_limit_exceeded",
	KindTooLarge:     "request_too_large",
	KindOverloaded:   "overloaded",
	KindTimeout:      "timeout",
	KindSlowBody:     "request_timeout",
	KindMediaType:    "unsupported_media_type",
	KindBadGateway:   "bad_gateway",
	KindMethod:       "method_not_allowed",
}

// dialect is the error shape of a route group.
type dialect uint8

const (
	dialectAdmin dialect = iota
	dialectAnthropic
	dialectOpenAI
)

func dialectOf(path string) dialect {
	switch {
	case strings.HasPrefix(path, "/api/v1/"), strings.HasPrefix(path, "/claude/"):
		return dialectAnthropic
	case strings.HasPrefix(path, "/openai/"):
		return dialectOpenAI
	}
	return dialectAdmin
}

// errorBody returns the JSON body of e in dialect d.
func errorBody(d dialect, e *Error) any {
	switch d {
	case dialectAnthropic:
		typ := anthropicTypes[e.Kind]
		if e.UpstreamType != "" {
			typ = e.UpstreamType
		}
		return map[string]any{"type": "error", "error": map[string]string{"type": typ, "message": e.Message}}
	case dialectOpenAI:
		typ := openAITypes[e.Kind]
		if e.UpstreamType != "" {
			typ = e.UpstreamType
		}
		return map[string]any{"error": map[string]any{"message": e.Message, "type": typ, "code": openAICodes[e.Kind]}}
	}
	body := map[string]string{"code": adminCodes[e.Kind], "message": e.Message}
	if e.Field != "" {
		body["field"] = e.Field
	}
	return map[string]any{"success": false, "error": body}
}

// handleError is Echo's error handler: every error leaves here, in the
// dialect of its route, without internals.
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	abandonBody(c)
	var e *Error
	var he *echo.HTTPError
	switch {
	case errors.As(err, &e):
	case errors.As(err, &he):
		e = fromHTTPError(he)
	default:
		logger(c).Error().Err(err).Msg("internal error")
		e = newError(KindInternal, "internal error")
	}
	if e.Kind == KindInternal {
		s.metrics.internalErrors.Inc()
	}
	if e.RetryAfter > 0 {
		c.Response().Header().Set("Retry-After", strconv.Itoa(e.RetryAfter))
	}
	d := dialectOf(c.Request().URL.Path)
	if c.Request().Method == http.MethodHead {
		_ = c.NoContent(e.Status)
		return
	}
	_ = c.JSON(e.Status, errorBody(d, e))
}

func fromHTTPError(he *echo.HTTPError) *Error {
	msg := http.StatusText(he.Code)
	if m, ok := he.Message.(string); ok && he.Code < 500 {
		msg = m
	}
	kind := KindInternal
	for k, st := range kindStatus {
		if st == he.Code {
			kind = k
		}
	}
	return &Error{Status: he.Code, Kind: kind, Message: msg}
}

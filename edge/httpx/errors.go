package httpx

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"relay/edge/fault"
)

// Status is the HTTP status of an error of kind k.
func Status(k fault.Kind) int { return kindStatus[k] }

var kindStatus = map[fault.Kind]int{
	fault.Internal:     http.StatusInternalServerError,
	fault.Invalid:      http.StatusBadRequest,
	fault.Unauthorized: http.StatusUnauthorized,
	fault.Forbidden:    http.StatusForbidden,
	fault.NotFound:     http.StatusNotFound,
	fault.Conflict:     http.StatusConflict,
	fault.RateLimited:  http.StatusTooManyRequests,
	fault.TooLarge:     http.StatusRequestEntityTooLarge,
	fault.Overloaded:   http.StatusServiceUnavailable,
	fault.Timeout:      http.StatusGatewayTimeout,
	fault.SlowBody:     http.StatusRequestTimeout,
	fault.MediaType:    http.StatusUnsupportedMediaType,
	fault.BadGateway:   http.StatusBadGateway,
	fault.Method:       http.StatusMethodNotAllowed,
}

// adminCodes are the codes of the admin API's error shape.
var adminCodes = map[fault.Kind]string{
	fault.Internal:     "internal_error",
	fault.Invalid:      "validation_error",
	fault.Unauthorized: "unauthorized",
	fault.Forbidden:    "forbidden",
	fault.NotFound:     "not_found",
	fault.Conflict:     "conflict",
	fault.RateLimited:  "rate_limited",
	fault.TooLarge:     "payload_too_large",
	fault.Overloaded:   "unavailable",
	fault.Timeout:      "timeout",
	fault.SlowBody:     "request_timeout",
	fault.MediaType:    "unsupported_media_type",
	fault.BadGateway:   "bad_gateway",
	fault.Method:       "method_not_allowed",
}

// anthropicTypes are the error types of Anthropic's error shape.
var anthropicTypes = map[fault.Kind]string{
	fault.Internal:     "api_error",
	fault.Invalid:      "invalid_request_error",
	fault.Unauthorized: "authentication_error",
	fault.Forbidden:    "permission_error",
	fault.NotFound:     "not_found_error",
	fault.Conflict:     "invalid_request_error",
	fault.RateLimited:  "rate_limit_error",
	fault.TooLarge:     "request_too_large",
	fault.Overloaded:   "overloaded_error",
	fault.Timeout:      "api_error",
	fault.SlowBody:     "invalid_request_error",
	fault.MediaType:    "invalid_request_error",
	fault.BadGateway:   "api_error",
	fault.Method:       "invalid_request_error",
}

// openAITypes and openAICodes are the type and code of OpenAI's error shape.
var openAITypes = map[fault.Kind]string{
	fault.Internal:     "server_error",
	fault.Invalid:      "invalid_request_error",
	fault.Unauthorized: "authentication_error",
	fault.Forbidden:    "permission_error",
	fault.NotFound:     "not_found_error",
	fault.Conflict:     "invalid_request_error",
	fault.RateLimited:  "rate_limit_error",
	fault.TooLarge:     "invalid_request_error",
	fault.Overloaded:   "server_error",
	fault.Timeout:      "server_error",
	fault.SlowBody:     "invalid_request_error",
	fault.MediaType:    "invalid_request_error",
	fault.BadGateway:   "server_error",
	fault.Method:       "invalid_request_error",
}

var openAICodes = map[fault.Kind]string{
	fault.Internal:     "internal_error",
	fault.Invalid:      "invalid_request",
	fault.Unauthorized: "invalid_api_key",
	fault.Forbidden:    "permission_denied",
	fault.NotFound:     "not_found",
	fault.Conflict:     "conflict",
	fault.RateLimited:  "rate_limit_exceeded",
	fault.TooLarge:     "request_too_large",
	fault.Overloaded:   "overloaded",
	fault.Timeout:      "timeout",
	fault.SlowBody:     "request_timeout",
	fault.MediaType:    "unsupported_media_type",
	fault.BadGateway:   "bad_gateway",
	fault.Method:       "method_not_allowed",
}

// crsTitles are the "error" strings of Claude Relay Service's error shape
// where it has its own; other kinds use the status text.
var crsTitles = map[fault.Kind]string{
	fault.Internal:     "Internal server error",
	fault.Invalid:      "Invalid request",
	fault.Unauthorized: "Invalid API key",
	fault.RateLimited:  "Too many requests",
}

// Dialect is the error shape of a route group.
type Dialect uint8

const (
	DialectAdmin Dialect = iota
	DialectAnthropic
	DialectOpenAI
	// DialectCRS is Claude Relay Service's error shape, for the routes
	// relay answers as it does (/apiStats/): {"error", "message"}.
	DialectCRS
)

func DialectOf(path string) Dialect {
	switch {
	case strings.HasPrefix(path, "/api/v1/"), strings.HasPrefix(path, "/claude/"):
		return DialectAnthropic
	case strings.HasPrefix(path, "/openai/"):
		return DialectOpenAI
	case strings.HasPrefix(path, "/apiStats/"):
		return DialectCRS
	}
	return DialectAdmin
}

// ErrorBody returns the JSON body of e in dialect d.
func ErrorBody(d Dialect, e *fault.Error) any {
	switch d {
	case DialectAnthropic:
		typ := anthropicTypes[e.Kind]
		if e.UpstreamType != "" {
			typ = e.UpstreamType
		}
		return map[string]any{"type": "error", "error": map[string]string{"type": typ, "message": e.Message}}
	case DialectOpenAI:
		typ := openAITypes[e.Kind]
		if e.UpstreamType != "" {
			typ = e.UpstreamType
		}
		return map[string]any{"error": map[string]any{"message": e.Message, "type": typ, "code": openAICodes[e.Kind]}}
	case DialectCRS:
		title := crsTitles[e.Kind]
		if title == "" {
			title = http.StatusText(kindStatus[e.Kind])
		}
		return map[string]string{"error": title, "message": e.Message}
	}
	body := map[string]string{"code": adminCodes[e.Kind], "message": e.Message}
	if e.Field != "" {
		body["field"] = e.Field
	}
	return map[string]any{"success": false, "error": body}
}

// WriteError answers err in the dialect of the request's route, without
// internals: a *fault.Error as it is, an Echo HTTP error by its status,
// anything else as a logged internal error. It reports whether the answer
// was an internal error.
func WriteError(c echo.Context, err error) (internal bool) {
	if c.Response().Committed {
		return false
	}
	AbandonBody(c)
	var e *fault.Error
	var he *echo.HTTPError
	switch {
	case errors.As(err, &e):
	case errors.As(err, &he):
		e = fromHTTPError(he)
	default:
		Logger(c).Error().Err(err).Msg("internal error")
		e = fault.New(fault.Internal, "internal error")
	}
	if e.RetryAfter > 0 {
		c.Response().Header().Set("Retry-After", strconv.Itoa(e.RetryAfter))
	}
	status := kindStatus[e.Kind]
	if he != nil && e.Kind == fault.Internal {
		status = he.Code
	}
	if c.Request().Method == http.MethodHead {
		_ = c.NoContent(status)
	} else {
		_ = c.JSON(status, ErrorBody(DialectOf(c.Request().URL.Path), e))
	}
	return e.Kind == fault.Internal
}

func fromHTTPError(he *echo.HTTPError) *fault.Error {
	msg := http.StatusText(he.Code)
	if m, ok := he.Message.(string); ok && he.Code < 500 {
		msg = m
	}
	kind := fault.Internal
	for k, st := range kindStatus {
		if st == he.Code {
			kind = k
		}
	}
	return fault.New(kind, msg)
}

package upstreamtest

import (
	"math"
	"net/http"
	"strconv"
	"time"
)

// DefaultText is the answer of a Reply whose Text is empty.
const DefaultText = "Hello from the fake upstream."

// Forever as a stall duration stalls until the client goes away or the
// server closes.
const Forever time.Duration = math.MaxInt64

// AfterHeaders as the position of a mid-stream fault (StallAfter,
// CutAfter, ErrorAfter) places it right after the status line and headers,
// before the first event.
const AfterHeaders = -1

// Reply is what the server answers one request: content and usage, or a
// fault. The zero Reply answers DefaultText with zero usage.
//
// Positions count whole SSE events written (for a non-stream answer, the
// JSON body counts as two halves). A position of 0 is off; a position at
// or beyond the last event places the fault just before the terminal event
// (message_stop, response.completed), or between the two body halves.
type Reply struct {
	// Text is the answer; "" means DefaultText.
	Text string
	// Deltas is how many text deltas the stream splits Text into; 0 means 3.
	Deltas int
	// Thinking, when set, precedes the text: a thinking block (Anthropic)
	// or a reasoning item with this summary (OpenAI).
	Thinking string
	// Model is the model named in the answer; "" echoes the request's.
	Model string
	// StopReason is Anthropic's stop_reason; "" means "end_turn".
	StopReason string
	// Usage is reported exactly as given.
	Usage Usage
	// RepeatUsage makes Anthropic's message_delta repeat the input and
	// cache figures beside output_tokens, as some providers do.
	RepeatUsage bool
	// Terminal is OpenAI's final status: "" or "completed",
	// "incomplete" (max_output_tokens) or "failed" (usage null).
	Terminal string

	// Status, other than 0 and 200, answers that status with the API's
	// error JSON instead of content.
	Status int
	// ErrorType is the error type of the error JSON or error event; ""
	// derives it from Status (for an event: overloaded_error for
	// Anthropic, server_error for OpenAI).
	ErrorType string
	// ErrorMessage is the error's message; "" derives one.
	ErrorMessage string
	// Body, when set, replaces the generated body verbatim (any status;
	// on a stream it is sent as one event). Set Content-Type in Header.
	Body []byte
	// Header is added to the response headers, over the defaults.
	Header http.Header

	// Hangup closes the connection without answering (after HeaderDelay).
	Hangup bool
	// HeaderDelay stalls before the status line; Forever stalls until the
	// client gives up.
	HeaderDelay time.Duration
	// EventDelay pauses before every event after the first.
	EventDelay time.Duration
	// StallAfter and StallFor pause the stream for StallFor after
	// StallAfter events, then go on. StallFor 0 with StallAfter set means
	// Forever.
	StallAfter int
	StallFor   time.Duration
	// CutAfter aborts the connection after that many events: the client
	// sees the stream end without its terminal event (or a short body).
	CutAfter int
	// ErrorAfter sends the API's error event after that many events and
	// ends the stream cleanly. Streams only.
	ErrorAfter int
	// Trickle writes each event in pieces of this many bytes, flushing
	// each, TrickleDelay apart.
	Trickle      int
	TrickleDelay time.Duration
}

// Usage is the token usage a Reply reports, each field written to the wire
// as given. The APIs count differently: Anthropic's input_tokens excludes
// cache reads and writes, OpenAI's includes its cached tokens, and OpenAI's
// output_tokens includes its reasoning tokens.
type Usage struct {
	// InputTokens is input_tokens.
	InputTokens int
	// OutputTokens is the final output_tokens (Anthropic's message_delta,
	// which is cumulative; message_start reports at most 1).
	OutputTokens int
	// CacheCreation5m and CacheCreation1h are Anthropic's cache writes, in
	// cache_creation.ephemeral_{5m,1h}_input_tokens; their sum is
	// cache_creation_input_tokens.
	CacheCreation5m int
	CacheCreation1h int
	// NoCacheBreakdown omits the cache_creation object, leaving only
	// cache_creation_input_tokens (writes then count as 5-minute ones).
	NoCacheBreakdown bool
	// CacheRead is Anthropic's cache_read_input_tokens or OpenAI's
	// input_tokens_details.cached_tokens.
	CacheRead int
	// ReasoningTokens is OpenAI's output_tokens_details.reasoning_tokens.
	ReasoningTokens int
}

// DefaultUsage is the usage of the server's initial default Reply.
var DefaultUsage = Usage{InputTokens: 25, OutputTokens: 9, CacheCreation5m: 100, CacheCreation1h: 50, CacheRead: 200}

// Header builds an http.Header from name, value pairs.
func Header(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

// RateLimited is a 429 rate_limit_error. A positive retryAfter sets
// retry-after (whole seconds, rounded up); a non-zero reset sets
// anthropic-ratelimit-unified-reset (Unix seconds) with
// anthropic-ratelimit-unified-status: rejected.
func RateLimited(retryAfter time.Duration, reset time.Time) Reply {
	h := http.Header{}
	if retryAfter > 0 {
		h.Set("retry-after", strconv.FormatInt(int64((retryAfter+time.Second-1)/time.Second), 10))
	}
	if !reset.IsZero() {
		h.Set("anthropic-ratelimit-unified-status", "rejected")
		h.Set("anthropic-ratelimit-unified-reset", strconv.FormatInt(reset.Unix(), 10))
	}
	return Reply{Status: http.StatusTooManyRequests, Header: h}
}

// Overloaded is Anthropic's 529 overloaded_error.
func Overloaded() Reply { return Reply{Status: 529} }

// Unauthorized is a 401 (authentication_error, invalid_api_key).
func Unauthorized() Reply { return Reply{Status: http.StatusUnauthorized} }

// Forbidden is a 403 (permission_error).
func Forbidden() Reply { return Reply{Status: http.StatusForbidden} }

// ServerError is a 500 (api_error, server_error).
func ServerError() Reply { return Reply{Status: http.StatusInternalServerError} }

package usage

import "relay/events"

// openaiUsage is the usage object of the Responses API, in a terminal event's
// response and in a non-streaming Response.
type openaiUsage struct {
	InputTokens        count `json:"input_tokens"`
	OutputTokens       count `json:"output_tokens"`
	InputTokensDetails struct {
		CachedTokens count `json:"cached_tokens"`
	} `json:"input_tokens_details"`
	OutputTokensDetails struct {
		ReasoningTokens count `json:"reasoning_tokens"`
	} `json:"output_tokens_details"`
}

// apply sets t from u. The figures keep OpenAI's meaning (input includes the
// cached tokens, output includes the reasoning tokens), as events.Tokens says.
func (u *openaiUsage) apply(t *events.Tokens) {
	t.InputTokens = u.InputTokens.n
	t.OutputTokens = u.OutputTokens.n
	t.CacheReadTokens = u.InputTokensDetails.CachedTokens.n
	t.ReasoningTokens = u.OutputTokensDetails.ReasoningTokens.n
}

// openaiError is an error object of the Responses API: in an error event (at
// the top level, or nested under "error" by some providers) and in the
// response of response.failed.
type openaiError struct {
	Code    string `json:"code"`
	Type    string `json:"type"`
	Message string `json:"message"`
}

// kind prefers the code ("rate_limit_exceeded", "server_error"), which says
// more than the type ("invalid_request_error").
func (e *openaiError) kind() string {
	if e.Code != "" {
		return e.Code
	}
	return e.Type
}

// openaiEvent observes one Responses API event of the given kind and reports
// whether it is terminal. data is the payload if already extracted.
func (r *Reader) openaiEvent(kind, data, ev []byte) (terminal bool) {
	switch string(kind) {
	case "response.created", "response.in_progress":
		// The model is known this early; noting it here keeps it for a stream
		// cut before its terminal event.
		if r.model == "" {
			if resp, ok := member(r.data(data, ev), "response"); ok {
				if v, ok := member(resp, "model"); ok {
					r.setModel(v)
				}
			}
		}
	case "response.completed", "response.incomplete":
		r.openaiResponse(r.data(data, ev), false)
		return true
	case "response.failed":
		r.openaiResponse(r.data(data, ev), true)
		return true
	case "error":
		r.openaiError(r.data(data, ev))
		return true
	}
	return false
}

func (r *Reader) openaiResponse(data []byte, failed bool) {
	resp, ok := member(data, "response")
	if !ok {
		if failed {
			r.setError("", "")
		}
		return
	}
	if v, ok := member(resp, "model"); ok {
		r.setModel(v)
	}
	if v, ok := member(resp, "usage"); ok {
		var u openaiUsage
		if decode(v, &u) {
			u.apply(&r.tokens)
			r.sawUsage = true
		}
	}
	if failed {
		var e openaiError
		if v, ok := member(resp, "error"); ok {
			decode(v, &e)
		}
		r.setError(e.kind(), e.Message)
	}
}

func (r *Reader) openaiError(data []byte) {
	var e openaiError
	if v, ok := member(data, "error"); ok && decode(v, &e) {
		r.setError(e.kind(), e.Message)
		return
	}
	// The documented shape: code and message beside "type":"error", which
	// names the event, not the error.
	var top struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	decode(data, &top)
	r.setError(top.Code, top.Message)
}

package upstreamtest

import "net/http"

// Anthropic Messages API bodies and events.

type anthUsage struct {
	InputTokens              int                `json:"input_tokens"`
	CacheCreationInputTokens int                `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     int                `json:"cache_read_input_tokens"`
	CacheCreation            *anthCacheCreation `json:"cache_creation,omitempty"`
	OutputTokens             int                `json:"output_tokens"`
	ServiceTier              string             `json:"service_tier,omitempty"`
}

type anthCacheCreation struct {
	Ephemeral5m int `json:"ephemeral_5m_input_tokens"`
	Ephemeral1h int `json:"ephemeral_1h_input_tokens"`
}

// anthDeltaUsage is message_delta's usage: output_tokens, and with
// RepeatUsage the input and cache figures too.
type anthDeltaUsage struct {
	InputTokens              *int `json:"input_tokens,omitempty"`
	CacheCreationInputTokens *int `json:"cache_creation_input_tokens,omitempty"`
	CacheReadInputTokens     *int `json:"cache_read_input_tokens,omitempty"`
	OutputTokens             int  `json:"output_tokens"`
}

type anthBlock struct {
	Type      string  `json:"type"`
	Text      *string `json:"text,omitempty"`
	Thinking  *string `json:"thinking,omitempty"`
	Signature *string `json:"signature,omitempty"`
}

type anthMessage struct {
	ID           string      `json:"id"`
	Type         string      `json:"type"`
	Role         string      `json:"role"`
	Model        string      `json:"model"`
	Content      []anthBlock `json:"content"`
	StopReason   *string     `json:"stop_reason"`
	StopSequence *string     `json:"stop_sequence"`
	Usage        anthUsage   `json:"usage"`
}

type anthDelta struct {
	Type      string `json:"type"`
	Text      string `json:"text,omitempty"`
	Thinking  string `json:"thinking,omitempty"`
	Signature string `json:"signature,omitempty"`
}

type anthError struct {
	Type      string        `json:"type"`
	Error     anthErrorBody `json:"error"`
	RequestID string        `json:"request_id,omitempty"`
}

type anthErrorBody struct {
	Type    string `json:"type"`
	Message string `json:"message"`
}

const anthSignature = "dXBzdHJlYW10ZXN0LXNpZ25hdHVyZQ=="

func ptr[T any](v T) *T { return &v }

func (a answer) anthUsage(outputTokens int) anthUsage {
	u := a.Usage
	au := anthUsage{
		InputTokens:              u.InputTokens,
		CacheCreationInputTokens: u.CacheCreation5m + u.CacheCreation1h,
		CacheReadInputTokens:     u.CacheRead,
		OutputTokens:             outputTokens,
		ServiceTier:              "standard",
	}
	if !u.NoCacheBreakdown {
		au.CacheCreation = &anthCacheCreation{Ephemeral5m: u.CacheCreation5m, Ephemeral1h: u.CacheCreation1h}
	}
	return au
}

func (a answer) stopReason() string {
	if a.StopReason == "" {
		return "end_turn"
	}
	return a.StopReason
}

// anthropicMessage is the non-stream answer.
func anthropicMessage(a answer) []byte {
	var content []anthBlock
	if a.Thinking != "" {
		content = append(content, anthBlock{Type: "thinking", Thinking: ptr(a.Thinking), Signature: ptr(anthSignature)})
	}
	content = append(content, anthBlock{Type: "text", Text: ptr(a.text())})
	return mustJSON(anthMessage{
		ID: "msg_" + a.id, Type: "message", Role: "assistant", Model: a.model,
		Content:    content,
		StopReason: ptr(a.stopReason()),
		Usage:      a.anthUsage(a.Usage.OutputTokens),
	})
}

// anthropicStream is the stream's events in order: message_start,
// [thinking block,] content_block_start, ping, content_block_delta...,
// content_block_stop, message_delta, message_stop.
func anthropicStream(a answer) [][]byte {
	type start struct {
		Type    string      `json:"type"`
		Message anthMessage `json:"message"`
	}
	type blockStart struct {
		Type         string    `json:"type"`
		Index        int       `json:"index"`
		ContentBlock anthBlock `json:"content_block"`
	}
	type blockDelta struct {
		Type  string    `json:"type"`
		Index int       `json:"index"`
		Delta anthDelta `json:"delta"`
	}
	type blockStop struct {
		Type  string `json:"type"`
		Index int    `json:"index"`
	}
	type messageDelta struct {
		Type  string `json:"type"`
		Delta struct {
			StopReason   string  `json:"stop_reason"`
			StopSequence *string `json:"stop_sequence"`
		} `json:"delta"`
		Usage anthDeltaUsage `json:"usage"`
	}
	type typed struct {
		Type string `json:"type"`
	}

	var evs [][]byte
	add := func(name string, v any) { evs = append(evs, sseEvent(name, v)) }
	add("message_start", start{Type: "message_start", Message: anthMessage{
		ID: "msg_" + a.id, Type: "message", Role: "assistant", Model: a.model,
		Content: []anthBlock{},
		Usage:   a.anthUsage(min(1, a.Usage.OutputTokens)),
	}})
	index := 0
	pinged := false
	ping := func() {
		if !pinged {
			add("ping", typed{Type: "ping"})
			pinged = true
		}
	}
	if a.Thinking != "" {
		add("content_block_start", blockStart{Type: "content_block_start", Index: index,
			ContentBlock: anthBlock{Type: "thinking", Thinking: ptr(""), Signature: ptr("")}})
		ping()
		for _, d := range splitText(a.Thinking, 2) {
			add("content_block_delta", blockDelta{Type: "content_block_delta", Index: index,
				Delta: anthDelta{Type: "thinking_delta", Thinking: d}})
		}
		add("content_block_delta", blockDelta{Type: "content_block_delta", Index: index,
			Delta: anthDelta{Type: "signature_delta", Signature: anthSignature}})
		add("content_block_stop", blockStop{Type: "content_block_stop", Index: index})
		index++
	}
	add("content_block_start", blockStart{Type: "content_block_start", Index: index,
		ContentBlock: anthBlock{Type: "text", Text: ptr("")}})
	ping()
	for _, d := range a.deltas() {
		add("content_block_delta", blockDelta{Type: "content_block_delta", Index: index,
			Delta: anthDelta{Type: "text_delta", Text: d}})
	}
	add("content_block_stop", blockStop{Type: "content_block_stop", Index: index})
	md := messageDelta{Type: "message_delta", Usage: anthDeltaUsage{OutputTokens: a.Usage.OutputTokens}}
	md.Delta.StopReason = a.stopReason()
	if a.RepeatUsage {
		u := a.anthUsage(a.Usage.OutputTokens)
		md.Usage.InputTokens = ptr(u.InputTokens)
		md.Usage.CacheCreationInputTokens = ptr(u.CacheCreationInputTokens)
		md.Usage.CacheReadInputTokens = ptr(u.CacheReadInputTokens)
	}
	add("message_delta", md)
	add("message_stop", typed{Type: "message_stop"})
	return evs
}

// anthropicErrorEvent is the mid-stream error event.
func anthropicErrorEvent(a answer) []byte {
	typ, msg := a.ErrorType, a.ErrorMessage
	if typ == "" {
		typ = "overloaded_error"
	}
	if msg == "" {
		msg = "Overloaded"
	}
	return sseEvent("error", anthError{Type: "error", Error: anthErrorBody{Type: typ, Message: msg}})
}

// anthropicErrorBody is the JSON of an error status.
func anthropicErrorBody(status int, typ, msg, requestID string) []byte {
	if typ == "" {
		typ = anthropicErrorType(status)
	}
	if msg == "" {
		msg = errorMessage(status)
	}
	return mustJSON(anthError{Type: "error", Error: anthErrorBody{Type: typ, Message: msg}, RequestID: requestID})
}

func anthropicErrorType(status int) string {
	switch status {
	case http.StatusBadRequest:
		return "invalid_request_error"
	case http.StatusUnauthorized:
		return "authentication_error"
	case http.StatusForbidden:
		return "permission_error"
	case http.StatusNotFound:
		return "not_found_error"
	case http.StatusRequestEntityTooLarge:
		return "request_too_large"
	case http.StatusTooManyRequests:
		return "rate_limit_error"
	case 529:
		return "overloaded_error"
	}
	if status >= 500 {
		return "api_error"
	}
	return "invalid_request_error"
}

func errorMessage(status int) string {
	if status == 529 {
		return "Overloaded"
	}
	if t := http.StatusText(status); t != "" {
		return t
	}
	return "Error"
}

// anthropicModels is GET /v1/models.
func anthropicModels(models []string) []byte {
	type model struct {
		Type        string `json:"type"`
		ID          string `json:"id"`
		DisplayName string `json:"display_name"`
		CreatedAt   string `json:"created_at"`
	}
	list := struct {
		Data    []model `json:"data"`
		HasMore bool    `json:"has_more"`
		FirstID *string `json:"first_id"`
		LastID  *string `json:"last_id"`
	}{Data: []model{}}
	for _, id := range models {
		list.Data = append(list.Data, model{Type: "model", ID: id, DisplayName: id, CreatedAt: "2025-09-29T00:00:00Z"})
	}
	if len(models) > 0 {
		list.FirstID, list.LastID = ptr(models[0]), ptr(models[len(models)-1])
	}
	return mustJSON(list)
}

// countTokens is POST /v1/messages/count_tokens.
func countTokens(n int) []byte {
	return mustJSON(struct {
		InputTokens int `json:"input_tokens"`
	}{n})
}

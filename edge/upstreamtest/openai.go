package upstreamtest

import "net/http"

// OpenAI Responses API bodies and events.

type oaUsage struct {
	InputTokens        int `json:"input_tokens"`
	InputTokensDetails struct {
		CachedTokens int `json:"cached_tokens"`
	} `json:"input_tokens_details"`
	OutputTokens        int `json:"output_tokens"`
	OutputTokensDetails struct {
		ReasoningTokens int `json:"reasoning_tokens"`
	} `json:"output_tokens_details"`
	TotalTokens int `json:"total_tokens"`
}

type oaResponse struct {
	ID                string         `json:"id"`
	Object            string         `json:"object"`
	CreatedAt         int64          `json:"created_at"`
	Status            string         `json:"status"`
	Error             *oaErrorDetail `json:"error"`
	IncompleteDetails *oaIncomplete  `json:"incomplete_details"`
	Model             string         `json:"model"`
	Output            []oaItem       `json:"output"`
	Usage             *oaUsage       `json:"usage"`
}

type oaErrorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

type oaIncomplete struct {
	Reason string `json:"reason"`
}

type oaItem struct {
	ID               string    `json:"id"`
	Type             string    `json:"type"`
	Status           string    `json:"status,omitempty"`
	Summary          []oaPart  `json:"summary,omitempty"`
	Content          *[]oaPart `json:"content,omitempty"`
	Role             string    `json:"role,omitempty"`
	EncryptedContent string    `json:"encrypted_content,omitempty"`
}

// compactionTrigger is the input item with which Codex (0.169, on OpenAI's
// own provider) asks POST /responses to compact the conversation; the
// answer's output is then exactly one compaction item.
var compactionTrigger = []byte(`"type":"compaction_trigger"`)

type oaPart struct {
	Type        string `json:"type"`
	Annotations *[]any `json:"annotations,omitempty"`
	Text        string `json:"text"`
}

type oaErrorEnvelope struct {
	Error oaError `json:"error"`
}

type oaError struct {
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    *string `json:"code"`
}

func (a answer) oaUsage() *oaUsage {
	u := &oaUsage{InputTokens: a.Usage.InputTokens, OutputTokens: a.Usage.OutputTokens}
	u.InputTokensDetails.CachedTokens = a.Usage.CacheRead
	u.OutputTokensDetails.ReasoningTokens = a.Usage.ReasoningTokens
	u.TotalTokens = u.InputTokens + u.OutputTokens
	return u
}

func (a answer) oaResponse(status string, output []oaItem, usage *oaUsage) oaResponse {
	if output == nil {
		output = []oaItem{}
	}
	return oaResponse{ID: "resp_" + a.id, Object: "response", CreatedAt: a.created,
		Status: status, Model: a.model, Output: output, Usage: usage}
}

func (a answer) oaTextPart(text string) oaPart {
	return oaPart{Type: "output_text", Annotations: &[]any{}, Text: text}
}

// oaItems is the output: [a reasoning item,] the message; or, for a
// compaction, one compaction item whose opaque content is the text.
func (a answer) oaItems() []oaItem {
	if a.compaction {
		return []oaItem{{ID: "cmp_" + a.id, Type: "compaction", EncryptedContent: a.text()}}
	}
	var items []oaItem
	if a.Thinking != "" {
		items = append(items, oaItem{ID: "rs_" + a.id, Type: "reasoning",
			Summary: []oaPart{{Type: "summary_text", Text: a.Thinking}}})
	}
	return append(items, oaItem{ID: "msg_" + a.id, Type: "message", Status: "completed",
		Content: &[]oaPart{a.oaTextPart(a.text())}, Role: "assistant"})
}

// oaFinal is the response in its terminal state.
func (a answer) oaFinal() (eventName string, r oaResponse) {
	switch a.Terminal {
	case "incomplete":
		r = a.oaResponse("incomplete", a.oaItems(), a.oaUsage())
		r.IncompleteDetails = &oaIncomplete{Reason: "max_output_tokens"}
		return "response.incomplete", r
	case "failed":
		r = a.oaResponse("failed", nil, nil)
		r.Error = &oaErrorDetail{Code: "server_error", Message: "The model failed to generate a response."}
		return "response.failed", r
	}
	return "response.completed", a.oaResponse("completed", a.oaItems(), a.oaUsage())
}

// openaiResponse is the non-stream answer.
func openaiResponse(a answer) []byte {
	_, r := a.oaFinal()
	return mustJSON(r)
}

// openaiCompaction is the answer of POST /responses/compact, OpenAI's
// compacted response: object "response.compaction", the output items that
// replace the conversation (here one compaction item whose opaque
// encrypted_content is the reply's text) and the compaction's usage.
func openaiCompaction(a answer) []byte {
	type compactionItem struct {
		ID               string `json:"id"`
		Type             string `json:"type"`
		EncryptedContent string `json:"encrypted_content"`
	}
	return mustJSON(struct {
		ID        string           `json:"id"`
		Object    string           `json:"object"`
		CreatedAt int64            `json:"created_at"`
		Output    []compactionItem `json:"output"`
		Usage     *oaUsage         `json:"usage"`
	}{"resp_" + a.id, "response.compaction", a.created,
		[]compactionItem{{"cmp_" + a.id, "compaction", a.text()}}, a.oaUsage()})
}

// openaiModels is OpenAI's model list (GET /models).
func openaiModels(ids []string, created int64) []byte {
	type model struct {
		ID      string `json:"id"`
		Object  string `json:"object"`
		Created int64  `json:"created"`
		OwnedBy string `json:"owned_by"`
	}
	list := struct {
		Object string  `json:"object"`
		Data   []model `json:"data"`
	}{"list", []model{}}
	for _, id := range ids {
		list.Data = append(list.Data, model{id, "model", created, "openai"})
	}
	return mustJSON(list)
}

// openaiStream is the stream's events in order: response.created,
// response.in_progress, [reasoning item added and done,]
// response.output_item.added, response.content_part.added,
// response.output_text.delta..., response.output_text.done,
// response.content_part.done, response.output_item.done, and the terminal
// response.completed (or .incomplete, .failed). sequence_number counts
// from 0.
func openaiStream(a answer) [][]byte {
	type responseEvent struct {
		Type     string     `json:"type"`
		Sequence int        `json:"sequence_number"`
		Response oaResponse `json:"response"`
	}
	type itemEvent struct {
		Type        string `json:"type"`
		Sequence    int    `json:"sequence_number"`
		OutputIndex int    `json:"output_index"`
		Item        oaItem `json:"item"`
	}
	type partEvent struct {
		Type         string `json:"type"`
		Sequence     int    `json:"sequence_number"`
		ItemID       string `json:"item_id"`
		OutputIndex  int    `json:"output_index"`
		ContentIndex int    `json:"content_index"`
		Part         oaPart `json:"part"`
	}
	type deltaEvent struct {
		Type         string `json:"type"`
		Sequence     int    `json:"sequence_number"`
		ItemID       string `json:"item_id"`
		OutputIndex  int    `json:"output_index"`
		ContentIndex int    `json:"content_index"`
		Delta        string `json:"delta"`
		Logprobs     []any  `json:"logprobs"`
	}
	type textDoneEvent struct {
		Type         string `json:"type"`
		Sequence     int    `json:"sequence_number"`
		ItemID       string `json:"item_id"`
		OutputIndex  int    `json:"output_index"`
		ContentIndex int    `json:"content_index"`
		Text         string `json:"text"`
		Logprobs     []any  `json:"logprobs"`
	}

	var evs [][]byte
	seq := func() int { return len(evs) }
	add := func(name string, v any) { evs = append(evs, sseEvent(name, v)) }

	inProgress := a.oaResponse("in_progress", nil, nil)
	add("response.created", responseEvent{"response.created", seq(), inProgress})
	add("response.in_progress", responseEvent{"response.in_progress", seq(), inProgress})
	items := a.oaItems()
	if a.compaction {
		add("response.output_item.added", itemEvent{"response.output_item.added", seq(), 0, items[0]})
		add("response.output_item.done", itemEvent{"response.output_item.done", seq(), 0, items[0]})
		name, final := a.oaFinal()
		add(name, responseEvent{name, seq(), final})
		return evs
	}
	out := 0
	if a.Thinking != "" {
		added := items[0]
		added.Summary = []oaPart{}
		add("response.output_item.added", itemEvent{"response.output_item.added", seq(), out, added})
		add("response.output_item.done", itemEvent{"response.output_item.done", seq(), out, items[0]})
		out++
	}
	msgID := "msg_" + a.id
	add("response.output_item.added", itemEvent{"response.output_item.added", seq(), out,
		oaItem{ID: msgID, Type: "message", Status: "in_progress", Content: &[]oaPart{}, Role: "assistant"}})
	add("response.content_part.added", partEvent{"response.content_part.added", seq(), msgID, out, 0, a.oaTextPart("")})
	for _, d := range a.deltas() {
		add("response.output_text.delta", deltaEvent{"response.output_text.delta", seq(), msgID, out, 0, d, []any{}})
	}
	add("response.output_text.done", textDoneEvent{"response.output_text.done", seq(), msgID, out, 0, a.text(), []any{}})
	add("response.content_part.done", partEvent{"response.content_part.done", seq(), msgID, out, 0, a.oaTextPart(a.text())})
	add("response.output_item.done", itemEvent{"response.output_item.done", seq(), out, items[out]})
	name, final := a.oaFinal()
	add(name, responseEvent{name, seq(), final})
	return evs
}

// openaiErrorEvent is the mid-stream error event, numbered seq.
func openaiErrorEvent(a answer, seq int) []byte {
	code, msg := a.ErrorType, a.ErrorMessage
	if code == "" {
		code = "server_error"
	}
	if msg == "" {
		msg = "The server had an error while processing your request."
	}
	return sseEvent("error", struct {
		Type     string  `json:"type"`
		Code     string  `json:"code"`
		Message  string  `json:"message"`
		Param    *string `json:"param"`
		Sequence int     `json:"sequence_number"`
	}{"error", code, msg, nil, seq})
}

// openaiErrorBody is the JSON of an error status.
func openaiErrorBody(status int, typ, msg string) []byte {
	defType, code := openaiErrorType(status)
	if typ == "" {
		typ = defType
	}
	if msg == "" {
		msg = errorMessage(status)
	}
	e := oaError{Message: msg, Type: typ}
	if code != "" {
		e.Code = &code
	}
	return mustJSON(oaErrorEnvelope{Error: e})
}

// openaiErrorType is the error type and code OpenAI answers a status with.
func openaiErrorType(status int) (typ, code string) {
	switch status {
	case http.StatusUnauthorized:
		return "invalid_request_error", "invalid_api_key"
	case http.StatusForbidden:
		return "invalid_request_error", "unsupported_country_region_territory"
	case http.StatusNotFound:
		return "invalid_request_error", "not_found"
	case http.StatusTooManyRequests:
		return "requests", "rate_limit_exceeded"
	}
	if status >= 500 {
		return "server_error", ""
	}
	return "invalid_request_error", ""
}

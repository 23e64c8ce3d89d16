package usage

import (
	"testing"

	"relay/events"
)

const anthropicMessage = `{
  "id": "msg_013Zva2CMHLNnXjNJJKqJ2EF",
  "type": "message",
  "role": "assistant",
  "model": "claude-opus-4-5-20251101",
  "content": [{"type": "text", "text": "Hi! My name is Claude. {\"usage\":{\"input_tokens\":1}}"}],
  "stop_reason": "end_turn",
  "stop_sequence": null,
  "usage": {
    "input_tokens": 2095,
    "cache_creation_input_tokens": 2051,
    "cache_read_input_tokens": 10000,
    "cache_creation": {"ephemeral_5m_input_tokens": 51, "ephemeral_1h_input_tokens": 2000},
    "output_tokens": 503,
    "service_tier": "standard"
  }
}`

const openaiResponse = `{
  "id": "resp_67ccd3a9da748190baa7f1570fe91ac604becb25c45c1d41",
  "object": "response",
  "created_at": 1741476777,
  "status": "completed",
  "error": null,
  "incomplete_details": null,
  "instructions": null,
  "model": "gpt-5-mini-2025-08-07",
  "output": [
    {"type": "reasoning", "id": "rs_1", "summary": []},
    {"type": "message", "id": "msg_1", "status": "completed", "role": "assistant",
     "content": [{"type": "output_text", "text": "The image depicts a \"usage\": [scenic] {landscape}.", "annotations": []}]}
  ],
  "usage": {
    "input_tokens": 328,
    "input_tokens_details": {"cached_tokens": 256},
    "output_tokens": 52,
    "output_tokens_details": {"reasoning_tokens": 20},
    "total_tokens": 380
  }
}`

func TestFromJSON(t *testing.T) {
	tests := []struct {
		name  string
		body  string
		d     Dialect
		want  events.Tokens
		model string
		ok    bool
	}{
		{"anthropic message", anthropicMessage, Anthropic,
			events.Tokens{InputTokens: 2095, OutputTokens: 503, CacheCreateTokens: 2051, CacheCreate1hTokens: 2000, CacheReadTokens: 10000},
			"claude-opus-4-5-20251101", true},
		{"anthropic without cache fields", `{"type":"message","model":"claude-haiku-4-5-20251001","usage":{"input_tokens":12,"output_tokens":6}}`, Anthropic,
			events.Tokens{InputTokens: 12, OutputTokens: 6}, "claude-haiku-4-5-20251001", true},
		{"openai response", openaiResponse, OpenAI,
			events.Tokens{InputTokens: 328, OutputTokens: 52, CacheReadTokens: 256, ReasoningTokens: 20},
			"gpt-5-mini-2025-08-07", true},
		{"escaped model", `{"model":"gpt-5\u002dnano","usage":{"input_tokens":1,"output_tokens":2}}`, OpenAI,
			events.Tokens{InputTokens: 1, OutputTokens: 2}, "gpt-5-nano", true},
		{"usage before a truncation", `{"usage":{"input_tokens":1,"output_tokens":2},"model":"x","output":[{"te`, OpenAI,
			events.Tokens{}, "", false},
		{"anthropic error body", `{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`, Anthropic, events.Tokens{}, "", false},
		{"openai error body", `{"error":{"message":"Incorrect API key provided","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}`, OpenAI, events.Tokens{}, "", false},
		{"unknown dialect", anthropicMessage, 0, events.Tokens{}, "", false},
		{"usage null", `{"model":"m","usage":null}`, Anthropic, events.Tokens{}, "", false},
		{"usage a string", `{"model":"m","usage":"12"}`, OpenAI, events.Tokens{}, "", false},
		{"usage broken", `{"model":"m","usage":{"input_tokens":12`, Anthropic, events.Tokens{}, "", false},
		{"nested usage only", `{"response":{"usage":{"input_tokens":3}}}`, OpenAI, events.Tokens{}, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, model, ok := FromJSON([]byte(tt.body), tt.d)
			if got != tt.want || model != tt.model || ok != tt.ok {
				t.Errorf("FromJSON = %+v, %q, %v; want %+v, %q, %v", got, model, ok, tt.want, tt.model, tt.ok)
			}
		})
	}
}

func TestFromJSONGarbage(t *testing.T) {
	for _, body := range []string{
		"", " ", "null", "{", "}", "[]", `[{"usage":{"input_tokens":1}}]`, `"usage"`, "{\"usage\"", `{"usage":}`,
		`{"usage":{"input_tokens":1}`, `{"usage" {"input_tokens":1}}`, `{usage:{"input_tokens":1}}`,
		`{"a":"\"usage\":{\"input_tokens\":1}"}`, `{"a":"\\","usage":`, "\xff\xfe{\"usage\":{}}", `{"a":tru`, `{"a":1,,"usage":{}}`,
		`{"a":[1,2,{"b":"}"}],"x":`, "data: {\"usage\":{\"input_tokens\":1}}\n\n",
	} {
		for _, d := range []Dialect{Anthropic, OpenAI} {
			if got, model, ok := FromJSON([]byte(body), d); ok || got != (events.Tokens{}) || model != "" {
				t.Errorf("FromJSON(%q, %v) = %+v, %q, %v; want nothing", body, d, got, model, ok)
			}
		}
	}
}

func TestMember(t *testing.T) {
	tests := []struct {
		obj, key, want string
		ok             bool
	}{
		{`{"type":"message_start"}`, "type", `"message_start"`, true},
		{` { "a" : 1 , "type" : "x" } `, "type", `"x"`, true},
		{`{"a":{"type":"inner"},"type":"outer"}`, "type", `"outer"`, true},
		{`{"a":[{"type":"inner"},"]}"],"type":"outer"}`, "type", `"outer"`, true},
		{`{"a":"say \"type\": \\","type":"outer"}`, "type", `"outer"`, true},
		{`{"a":-1.5e3,"b":true,"c":null,"d":{}}`, "d", `{}`, true},
		{`{"a":-1.5e3,"b":true,"c":null,"d":{}}`, "c", `null`, true},
		{`{"type":"a","type":"b"}`, "type", `"a"`, true},
		{`{}`, "type", ``, false},
		{`{"a":1}`, "type", ``, false},
		{`{"a":1 "type":"x"}`, "type", ``, false},
		{`["type","x"]`, "type", ``, false},
		{`{"a":"unterminated`, "type", ``, false},
		{`{"a":{"b":1}`, "type", ``, false},
		{`{"a":}`, "a", ``, false},
		{`{"t\u0079pe":"x"}`, "type", ``, false},
	}
	for _, tt := range tests {
		got, ok := member([]byte(tt.obj), tt.key)
		if string(got) != tt.want || ok != tt.ok {
			t.Errorf("member(%s, %q) = %s, %v; want %s, %v", tt.obj, tt.key, got, ok, tt.want, tt.ok)
		}
	}
}

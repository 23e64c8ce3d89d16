package clientreq

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// Values observed from Claude Code 2.1.328 and Codex CLI 0.169.0 (UPSTREAMS.md).
const (
	testSessionID = "6f1c2a9e-3b7d-4e58-9a0c-1d2e3f4a5b6c"
	testDeviceID  = "9c4e8f0a1b2c3d4e5f60718293a4b5c6d7e8f9012345678901234567890abcde"
	billingBlock  = "x-anthropic-billing-header: cc_version=2.1.328.a1b; cc_entrypoint=sdk-cli;"
	agentSDKLine  = "You are a Claude agent, built on Anthropic's Claude Agent SDK."
)

var (
	jsonUserID   = fmt.Sprintf(`{"device_id":%q,"account_uuid":"","session_id":%q}`, testDeviceID, testSessionID)
	legacyUserID = "user_" + testDeviceID + "_account__session_" + testSessionID
)

// claudeCodeHeaders is what `claude -p` sends (minus credentials).
func claudeCodeHeaders() http.Header {
	h := http.Header{}
	h.Set("User-Agent", "claude-cli/2.1.328 (external, sdk-cli)")
	h.Set("x-app", "cli")
	h.Set("anthropic-version", "2023-06-01")
	h.Set("anthropic-beta", "claude-code-20250219,interleaved-thinking-2025-05-14,context-management-2025-06-27")
	h.Set("X-Claude-Code-Session-Id", testSessionID)
	h.Set("X-Stainless-Lang", "js")
	h.Set("X-Stainless-Package-Version", "0.70.0")
	h.Set("anthropic-dangerous-direct-browser-access", "true")
	h.Set("Accept-Encoding", "gzip, deflate, br, zstd")
	h.Set("x-api-key", "cr_0000")
	return h
}

// codexHeaders is what `codex exec` sends (minus credentials).
func codexHeaders() http.Header {
	h := http.Header{}
	h.Set("User-Agent", "codex_exec/0.169.0 (Debian 12.0.0; x86_64) xterm (codex_exec; 0.169.0)")
	h.Set("originator", "codex_exec")
	h.Set("session-id", testSessionID)
	h.Set("thread-id", testSessionID)
	h.Set("x-client-request-id", "0b8d7c6e-5f4a-4b3c-9d2e-1f0a9b8c7d6e")
	h.Set("x-codex-turn-metadata", `{"session_id":"`+testSessionID+`","turn_id":"1","model":"gpt-6.1-sol"}`)
	h.Set("Accept", "text/event-stream")
	h.Set("Authorization", "Bearer cr_0000")
	return h
}

type textBlock struct {
	Type         string          `json:"type"`
	Text         string          `json:"text"`
	CacheControl json.RawMessage `json:"cache_control,omitempty"`
}

// claudeCodeBody builds a body shaped like Claude Code 2.1.328's first
// request: billing header and agent line, a long system prompt, 12 tools with
// nested input schemas (whose properties include a "model" key), metadata in
// the JSON format, thinking, context management. About 30 KB.
func claudeCodeBody(tb testing.TB) []byte {
	tb.Helper()
	ephemeral := json.RawMessage(`{"type":"ephemeral"}`)
	prompt := strings.Repeat("You are an interactive agent that helps users with software engineering tasks. "+
		"Use the instructions below and the tools available to you to assist the user.\n", 90)
	type tool struct {
		Name        string         `json:"name"`
		Description string         `json:"description"`
		InputSchema map[string]any `json:"input_schema"`
	}
	names := []string{"Task", "Bash", "Glob", "Grep", "Read", "Edit", "Write", "NotebookEdit", "WebFetch", "TodoWrite", "WebSearch", "BashOutput"}
	tools := make([]tool, len(names))
	for i, n := range names {
		tools[i] = tool{
			Name:        n,
			Description: strings.Repeat("Performs the "+n+" operation with care; read the usage notes before calling it. ", 12),
			InputSchema: map[string]any{
				"type":     "object",
				"$schema":  "http://json-schema.org/draft-07/schema#",
				"required": []string{"command"},
				"properties": map[string]any{
					"command": map[string]any{"type": "string", "description": "The command to execute"},
					"model":   map[string]any{"type": "string", "enum": []string{"sonnet", "opus", "haiku"}},
					"options": map[string]any{"type": "array", "items": map[string]any{"type": "object", "properties": map[string]any{"k": map[string]any{"type": "string"}}}},
				},
				"additionalProperties": false,
			},
		}
	}
	body := struct {
		Model    string            `json:"model"`
		Messages []any             `json:"messages"`
		System   []textBlock       `json:"system"`
		Tools    []tool            `json:"tools"`
		Metadata map[string]string `json:"metadata"`
		MaxTok   int               `json:"max_tokens"`
		Thinking map[string]string `json:"thinking"`
		Context  json.RawMessage   `json:"context_management"`
		Output   json.RawMessage   `json:"output_config"`
		Stream   bool              `json:"stream"`
	}{
		Model: "claude-opus-5-5",
		Messages: []any{map[string]any{"role": "user", "content": []textBlock{
			{Type: "text", Text: "<system-reminder>\nAs you answer the user's questions, you can use the following context.\n</system-reminder>"},
			{Type: "text", Text: "say hi", CacheControl: ephemeral},
		}}},
		System: []textBlock{
			{Type: "text", Text: billingBlock},
			{Type: "text", Text: agentSDKLine, CacheControl: ephemeral},
			{Type: "text", Text: prompt, CacheControl: ephemeral},
		},
		Tools:    tools,
		Metadata: map[string]string{"user_id": jsonUserID},
		MaxTok:   128000,
		Thinking: map[string]string{"type": "adaptive"},
		Context:  json.RawMessage(`{"edits":[{"type":"clear_thinking_20251015","keep":"all"}]}`),
		Output:   json.RawMessage(`{"effort":"high"}`),
		Stream:   true,
	}
	b, err := json.Marshal(body)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// codexBody builds a body shaped like Codex CLI 0.169.0's (no instructions).
func codexBody() []byte {
	return []byte(`{"model":"gpt-6.1-sol","input":[{"type":"message","role":"user","content":[{"type":"input_text","text":"say hi"}]}],` +
		`"tools":[{"type":"function","name":"shell","parameters":{"type":"object","properties":{"model":{"type":"string"}}}}],` +
		`"tool_choice":"auto","parallel_tool_calls":false,"reasoning":{"effort":"medium"},"store":false,"stream":true,` +
		`"include":["reasoning.encrypted_content"],"prompt_cache_key":"` + testSessionID + `","client_metadata":{}}`)
}

func mustParseClaude(tb testing.TB, body []byte) Request {
	tb.Helper()
	req, err := ParseClaude(body)
	if err != nil {
		tb.Fatalf("ParseClaude: %v", err)
	}
	return req
}

func requireKind(tb testing.TB, err, kind error) {
	tb.Helper()
	var e *Error
	if !errors.As(err, &e) {
		tb.Fatalf("err = %v (%T), want *Error", err, err)
	}
	if !errors.Is(err, kind) {
		tb.Fatalf("err = %v (kind %v), want kind %v", err, e.Kind, kind)
	}
	if e.Msg == "" {
		tb.Fatal("empty message")
	}
}

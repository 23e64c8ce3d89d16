package upstreamtest

import (
	"net/http"
	"strings"
	"testing"
)

func TestAnthropicStreamSequenceAndUsage(t *testing.T) {
	s := New(t)
	usage := Usage{InputTokens: 11, OutputTokens: 42, CacheCreation5m: 300, CacheCreation1h: 700, CacheRead: 5000}
	s.Enqueue(Reply{Text: "The quick brown fox", Deltas: 4, Usage: usage})
	resp := post(t, s, "/v1/messages?beta=true", claudeStream)
	equal(t, "status", resp.StatusCode, 200)
	equal(t, "content type", resp.Header.Get("Content-Type"), "text/event-stream; charset=utf-8")
	evs := events(t, resp)
	equal(t, "events", Names(evs), []string{
		"message_start", "content_block_start", "ping",
		"content_block_delta", "content_block_delta", "content_block_delta", "content_block_delta",
		"content_block_stop", "message_delta", "message_stop",
	})
	for _, e := range evs {
		var typed struct{ Type string }
		decode(t, e.Data, &typed)
		equal(t, "data type of "+e.Name, typed.Type, e.Name)
	}

	var start struct {
		Message struct {
			ID, Model string
			Usage     struct {
				InputTokens              int `json:"input_tokens"`
				CacheCreationInputTokens int `json:"cache_creation_input_tokens"`
				CacheReadInputTokens     int `json:"cache_read_input_tokens"`
				OutputTokens             int `json:"output_tokens"`
				CacheCreation            *struct {
					Ephemeral5m int `json:"ephemeral_5m_input_tokens"`
					Ephemeral1h int `json:"ephemeral_1h_input_tokens"`
				} `json:"cache_creation"`
			}
		}
	}
	decode(t, evs[0].Data, &start)
	u := start.Message.Usage
	equal(t, "model", start.Message.Model, "claude-sonnet-4-5-20250929")
	equal(t, "input", u.InputTokens, 11)
	equal(t, "cache creation", u.CacheCreationInputTokens, 1000)
	equal(t, "cache read", u.CacheReadInputTokens, 5000)
	equal(t, "start output", u.OutputTokens, 1)
	if u.CacheCreation == nil || u.CacheCreation.Ephemeral5m != 300 || u.CacheCreation.Ephemeral1h != 700 {
		t.Errorf("cache_creation = %+v", u.CacheCreation)
	}

	var text strings.Builder
	for _, e := range evs[3:7] {
		var d struct{ Delta struct{ Type, Text string } }
		decode(t, e.Data, &d)
		equal(t, "delta type", d.Delta.Type, "text_delta")
		text.WriteString(d.Delta.Text)
	}
	equal(t, "text", text.String(), "The quick brown fox")

	var md struct {
		Delta struct {
			StopReason string `json:"stop_reason"`
		}
		Usage map[string]int
	}
	decode(t, evs[8].Data, &md)
	equal(t, "stop reason", md.Delta.StopReason, "end_turn")
	equal(t, "message_delta usage", md.Usage, map[string]int{"output_tokens": 42})
}

func TestAnthropicUsageVariants(t *testing.T) {
	s := New(t)
	s.Enqueue(Reply{Usage: Usage{InputTokens: 3, OutputTokens: 4, CacheCreation5m: 5, NoCacheBreakdown: true, CacheRead: 6}, RepeatUsage: true})
	evs := events(t, post(t, s, "/v1/messages", claudeStream))
	var start struct {
		Message struct{ Usage map[string]any }
	}
	decode(t, evs[0].Data, &start)
	if _, ok := start.Message.Usage["cache_creation"]; ok {
		t.Error("cache_creation present with NoCacheBreakdown")
	}
	var md struct{ Usage map[string]int }
	decode(t, evs[len(evs)-2].Data, &md)
	equal(t, "repeated usage", md.Usage, map[string]int{
		"input_tokens": 3, "cache_creation_input_tokens": 5, "cache_read_input_tokens": 6, "output_tokens": 4,
	})
}

func TestAnthropicThinkingBlock(t *testing.T) {
	s := New(t)
	s.Enqueue(Reply{Thinking: "let me think", Text: "ok"})
	evs := events(t, post(t, s, "/v1/messages", claudeStream))
	equal(t, "events", Names(evs), []string{
		"message_start", "content_block_start", "ping", "content_block_delta", "content_block_delta",
		"content_block_delta", "content_block_stop", "content_block_start", "content_block_delta",
		"content_block_delta", "content_block_stop", "message_delta", "message_stop",
	})
	var sig struct {
		Index int
		Delta struct{ Type string }
	}
	decode(t, evs[5].Data, &sig)
	equal(t, "signature delta", sig.Delta.Type, "signature_delta")
	var textStart struct {
		Index        int
		ContentBlock struct{ Type string } `json:"content_block"`
	}
	decode(t, evs[7].Data, &textStart)
	equal(t, "text block", textStart, struct {
		Index        int
		ContentBlock struct{ Type string } `json:"content_block"`
	}{1, struct{ Type string }{"text"}})
}

func TestAnthropicNonStream(t *testing.T) {
	s := New(t)
	s.Enqueue(Reply{Text: "whole", Model: "claude-haiku-4-5-20251001", Usage: Usage{InputTokens: 7, OutputTokens: 8, CacheRead: 9}})
	resp := post(t, s, "/v1/messages", claudeOnce)
	equal(t, "content type", resp.Header.Get("Content-Type"), "application/json")
	if resp.Header.Get("request-id") == "" {
		t.Error("no request-id header")
	}
	var msg struct {
		Type, Role, Model string
		StopReason        string `json:"stop_reason"`
		Content           []struct{ Type, Text string }
		Usage             map[string]any
	}
	decode(t, readAll(t, resp.Body), &msg)
	equal(t, "type", msg.Type, "message")
	equal(t, "model", msg.Model, "claude-haiku-4-5-20251001")
	equal(t, "content", msg.Content, []struct{ Type, Text string }{{"text", "whole"}})
	equal(t, "output tokens", msg.Usage["output_tokens"], any(float64(8)))
	equal(t, "cache read", msg.Usage["cache_read_input_tokens"], any(float64(9)))
}

func TestCountTokensAndModels(t *testing.T) {
	s := New(t)
	s.SetDefault(Reply{Usage: Usage{InputTokens: 1234}})
	equal(t, "count_tokens", strings.TrimSpace(readAll(t, post(t, s, "/v1/messages/count_tokens", claudeOnce).Body)), `{"input_tokens":1234}`)

	s.SetModels("claude-a", "claude-b")
	resp := do(t, t.Context(), s, http.MethodGet, "/v1/models", "")
	var list struct {
		Data []struct {
			ID, Type string
		}
		HasMore bool   `json:"has_more"`
		FirstID string `json:"first_id"`
		LastID  string `json:"last_id"`
	}
	decode(t, readAll(t, resp.Body), &list)
	equal(t, "models", len(list.Data), 2)
	equal(t, "first/last", list.FirstID+","+list.LastID, "claude-a,claude-b")
	equal(t, "type", list.Data[0].Type, "model")
}

func TestUnknownRouteAndMethodAndBadJSON(t *testing.T) {
	s := New(t)
	equal(t, "unknown route", post(t, s, "/v2/nothing", "{}").StatusCode, 404)
	equal(t, "wrong method", do(t, t.Context(), s, http.MethodGet, "/v1/messages", "").StatusCode, 405)
	resp := post(t, s, "/v1/messages", "{not json")
	equal(t, "bad json", resp.StatusCode, 400)
	var e struct{ Error struct{ Type string } }
	decode(t, readAll(t, resp.Body), &e)
	equal(t, "bad json type", e.Error.Type, "invalid_request_error")
	equal(t, "counted", s.Count("/v2/nothing"), 1)
}

package upstreamtest

import (
	"context"
	"net/http"
	"testing"
)

type oaUsageWire struct {
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

func TestOpenAIStreamSequenceAndUsage(t *testing.T) {
	for _, path := range []string{"/responses", "/v1/responses"} {
		t.Run(path, func(t *testing.T) {
			s := New(t)
			s.Enqueue(Reply{Text: "abcdef", Deltas: 2, Usage: Usage{InputTokens: 1000, CacheRead: 800, OutputTokens: 300, ReasoningTokens: 200}})
			resp := post(t, s, path, codexStream)
			equal(t, "content type", resp.Header.Get("Content-Type"), "text/event-stream; charset=utf-8")
			evs := events(t, resp)
			equal(t, "events", Names(evs), []string{
				"response.created", "response.in_progress", "response.output_item.added",
				"response.content_part.added", "response.output_text.delta", "response.output_text.delta",
				"response.output_text.done", "response.content_part.done", "response.output_item.done",
				"response.completed",
			})
			text := ""
			for i, e := range evs {
				var ev struct {
					Type     string
					Sequence int `json:"sequence_number"`
					Delta    string
				}
				decode(t, e.Data, &ev)
				equal(t, "type", ev.Type, e.Name)
				equal(t, "sequence_number", ev.Sequence, i)
				text += ev.Delta
			}
			equal(t, "text", text, "abcdef")
			var done struct {
				Response struct {
					Status, Model string
					Usage         oaUsageWire
				}
			}
			decode(t, evs[len(evs)-1].Data, &done)
			equal(t, "status", done.Response.Status, "completed")
			equal(t, "model", done.Response.Model, "gpt-5-codex")
			u := done.Response.Usage
			equal(t, "usage", []int{u.InputTokens, u.InputTokensDetails.CachedTokens, u.OutputTokens, u.OutputTokensDetails.ReasoningTokens, u.TotalTokens},
				[]int{1000, 800, 300, 200, 1300})
		})
	}
}

func TestOpenAITerminalsAndReasoning(t *testing.T) {
	s := New(t)
	s.Enqueue(Reply{Terminal: "incomplete", Usage: Usage{InputTokens: 5, OutputTokens: 6}},
		Reply{Terminal: "failed"},
		Reply{Thinking: "pondering", Deltas: 1})

	evs := events(t, post(t, s, "/responses", codexStream))
	last := evs[len(evs)-1]
	equal(t, "incomplete event", last.Name, "response.incomplete")
	var inc struct {
		Response struct {
			Status            string
			IncompleteDetails struct{ Reason string } `json:"incomplete_details"`
			Usage             oaUsageWire
		}
	}
	decode(t, last.Data, &inc)
	equal(t, "incomplete", inc.Response.Status+"/"+inc.Response.IncompleteDetails.Reason, "incomplete/max_output_tokens")
	equal(t, "incomplete usage", inc.Response.Usage.OutputTokens, 6)

	evs = events(t, post(t, s, "/responses", codexStream))
	last = evs[len(evs)-1]
	var failed struct {
		Response struct {
			Status string
			Usage  *oaUsageWire
			Error  struct{ Code string }
		}
	}
	decode(t, last.Data, &failed)
	equal(t, "failed", last.Name+"/"+failed.Response.Status+"/"+failed.Response.Error.Code, "response.failed/failed/server_error")
	if failed.Response.Usage != nil {
		t.Error("failed response carries usage")
	}

	evs = events(t, post(t, s, "/responses", codexStream))
	equal(t, "with reasoning", Names(evs)[:5], []string{
		"response.created", "response.in_progress", "response.output_item.added", "response.output_item.done", "response.output_item.added",
	})
	var item struct {
		OutputIndex int `json:"output_index"`
		Item        struct{ Type string }
	}
	decode(t, evs[4].Data, &item)
	equal(t, "message item index", item.OutputIndex, 1)
}

func TestOpenAINonStream(t *testing.T) {
	s := New(t)
	s.Enqueue(Reply{Text: "done", Usage: Usage{InputTokens: 10, CacheRead: 4, OutputTokens: 3}})
	resp := post(t, s, "/v1/responses", codexOnce)
	if resp.Header.Get("x-request-id") == "" {
		t.Error("no x-request-id header")
	}
	var r struct {
		Object, Status string
		Output         []struct {
			Type    string
			Content []struct{ Type, Text string }
		}
		Usage oaUsageWire
	}
	decode(t, readAll(t, resp.Body), &r)
	equal(t, "object", r.Object+"/"+r.Status, "response/completed")
	equal(t, "text", r.Output[0].Content[0].Text, "done")
	equal(t, "cached", r.Usage.InputTokensDetails.CachedTokens, 4)
	equal(t, "total", r.Usage.TotalTokens, 13)
}

func TestOpenAICompactionAnswersJSONWithUsage(t *testing.T) {
	for _, path := range []string{"/responses/compact", "/v1/responses/compact"} {
		t.Run(path, func(t *testing.T) {
			s := New(t)
			s.Enqueue(Reply{Text: "summary-blob", Usage: Usage{InputTokens: 5000, CacheRead: 4000, OutputTokens: 70, ReasoningTokens: 20}})
			resp := post(t, s, path, `{"model":"gpt-5-codex","input":[{"role":"user","content":"hi"}],"instructions":"compact"}`)
			equal(t, "status", resp.StatusCode, 200)
			equal(t, "content type", resp.Header.Get("Content-Type"), "application/json")
			var got struct {
				ID, Object string
				CreatedAt  int64 `json:"created_at"`
				Output     []struct {
					ID, Type         string
					EncryptedContent string `json:"encrypted_content"`
				}
				Usage oaUsageWire
			}
			decode(t, readAll(t, resp.Body), &got)
			equal(t, "object", got.Object, "response.compaction")
			if got.ID == "" || got.CreatedAt == 0 || len(got.Output) != 1 {
				t.Fatalf("compaction %+v", got)
			}
			equal(t, "item", []string{got.Output[0].Type, got.Output[0].EncryptedContent}, []string{"compaction", "summary-blob"})
			u := got.Usage
			equal(t, "usage", []int{u.InputTokens, u.InputTokensDetails.CachedTokens, u.OutputTokens, u.OutputTokensDetails.ReasoningTokens, u.TotalTokens},
				[]int{5000, 4000, 70, 20, 5070})
			equal(t, "recorded path", s.Requests()[0].Path, path)
		})
	}
}

func TestOpenAIModelList(t *testing.T) {
	s := New(t)
	resp := do(t, context.Background(), s, http.MethodGet, "/models", "")
	equal(t, "status", resp.StatusCode, 200)
	var got struct {
		Object string
		Data   []struct{ ID, Object string }
	}
	decode(t, readAll(t, resp.Body), &got)
	equal(t, "object", got.Object, "list")
	var ids []string
	for _, m := range got.Data {
		equal(t, "model object", m.Object, "model")
		ids = append(ids, m.ID)
	}
	equal(t, "ids", ids, DefaultOpenAIModels)
}

func TestOpenAICompactionTriggerAnswersOneCompactionItem(t *testing.T) {
	s := New(t)
	s.Enqueue(Reply{Text: "opaque-summary", Usage: Usage{InputTokens: 900, OutputTokens: 40}})
	body := `{"model":"gpt-5","stream":true,"input":[{"type":"message","role":"user","content":[{"type":"input_text","text":"hi"}]},{"type":"compaction_trigger"}]}`
	evs := events(t, post(t, s, "/responses", body))
	equal(t, "events", Names(evs), []string{"response.created", "response.in_progress", "response.output_item.added", "response.output_item.done", "response.completed"})
	var done struct {
		Item struct {
			Type             string
			EncryptedContent string `json:"encrypted_content"`
		}
	}
	decode(t, evs[3].Data, &done)
	equal(t, "item", []string{done.Item.Type, done.Item.EncryptedContent}, []string{"compaction", "opaque-summary"})
	var completed struct {
		Response struct {
			Output []struct{ Type string }
			Usage  oaUsageWire
		}
	}
	decode(t, evs[4].Data, &completed)
	if len(completed.Response.Output) != 1 || completed.Response.Output[0].Type != "compaction" || completed.Response.Usage.InputTokens != 900 {
		t.Fatalf("completed %+v", completed.Response)
	}
}

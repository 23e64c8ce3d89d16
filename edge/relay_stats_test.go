package edge_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"relay/edge/edgetest"
	"relay/edge/upstreamtest"
	"relay/events"
	"relay/projections"
	"relay/store/redistest"
)

// A few hundred requests with known usage through relay (streaming and not,
// some failed over, some cut mid-stream, some aborted by the client, some
// refused): every statistic equals the sum of the client's own record of
// completed answers plus the raw events of the rest, and the sum of the raw
// events, exactly.
func TestStatisticsEqualTheClientRecordAndTheEvents(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		e := newRelayEnv(t, b, 3)
		e.UpdateKey(t, "key1", `{"enableModelRestriction":true,"restrictedModels":["claude-forbidden"]}`)
		usageOf := func(i int) upstreamtest.Usage {
			return upstreamtest.Usage{InputTokens: 100 + i, OutputTokens: 10 + i%7, CacheCreation5m: i % 5, CacheCreation1h: i % 3, CacheRead: i % 11}
		}
		const n = 200
		// The fake answers by request order; faults are spread through.
		var mu sync.Mutex
		next := 0
		e.up.SetScript(func(r *upstreamtest.Request) (upstreamtest.Reply, bool) {
			mu.Lock()
			i := next
			next++
			mu.Unlock()
			rep := upstreamtest.Reply{Usage: usageOf(i)}
			switch {
			case i == 3 || i == 60:
				// Failed over, invisible to the client; each overload takes
				// its account out for 10 minutes, so only two.
				rep = upstreamtest.Overloaded()
			case i%23 == 5:
				rep.CutAfter = 3 // mid-stream failure: partial usage
			}
			return rep, true
		})
		type record struct {
			id       string
			complete bool
			refused  bool
			tokens   events.Tokens
		}
		var recMu sync.Mutex
		var client []record
		var wg sync.WaitGroup
		sem := make(chan struct{}, 8)
		for i := range n {
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				body := claudeBody
				switch {
				case i%10 == 1:
					body = strings.Replace(claudeBody, `"stream":true`, `"stream":false`, 1)
				case i%29 == 7:
					body = strings.Replace(claudeBody, "claude-sonnet-4-5-20250929", "claude-forbidden", 1)
				}
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, e.HTTP.URL+"/api/v1/messages", strings.NewReader(body))
				req.Header.Set("x-api-key", e.key)
				resp, err := e.HTTP.Client().Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				var got []byte
				if i%31 == 9 && strings.Contains(body, `"stream":true`) {
					// The client walks away after the first bytes.
					buf := make([]byte, 64)
					_, _ = resp.Body.Read(buf)
					cancel()
				} else {
					got, _ = io.ReadAll(resp.Body)
				}
				resp.Body.Close()
				r := record{id: resp.Header.Get("X-Request-Id"), refused: resp.StatusCode == http.StatusForbidden}
				// The client's own record of a complete answer: the usage
				// the answer itself reported.
				isJSON := strings.HasPrefix(string(got), "{")
				if resp.StatusCode == 200 && (strings.Contains(string(got), "event: message_stop") || isJSON) {
					r.complete = true
					r.tokens = usageFromAnswer(t, got)
				}
				recMu.Lock()
				client = append(client, r)
				recMu.Unlock()
			})
		}
		wg.Wait()
		// One usage event per request that reached the upstream; the
		// refused ones are counted apart.
		refusedByClient := 0
		for _, r := range client {
			if r.refused {
				refusedByClient++
			}
		}
		us := e.WaitUsage(t, n-refusedByClient)
		if len(us) != n-refusedByClient {
			t.Fatalf("%d usage events for %d requests, %d of them refused", len(us), n, refusedByClient)
		}
		byID := map[string]events.Usage{}
		for _, u := range us {
			if _, dup := byID[u.ID]; dup {
				t.Fatalf("two usage events for request %s", u.ID)
			}
			byID[u.ID] = u
		}
		fromEvents := edgetest.FoldRefusals(edgetest.FoldUsage(us), e.RefusalCounts(t))
		// The client's record: the usage of each answer it received whole,
		// the event's word for the rest (it never saw them whole).
		var clientUsage []events.Usage
		complete := 0
		for _, r := range client {
			u, ok := byID[r.id]
			if r.refused {
				if ok {
					t.Fatalf("refused request %s has a usage event %+v", r.id, u)
				}
				continue
			}
			if !ok {
				t.Fatalf("request %s has no usage event", r.id)
			}
			if r.complete {
				complete++
				if u.Tokens != r.tokens || u.Outcome != "ok" {
					t.Fatalf("client saw %+v, event says %+v", r.tokens, u)
				}
				clientUsage = append(clientUsage, events.Usage{Outcome: "ok", Tokens: r.tokens, CostNanos: u.CostNanos})
			} else {
				clientUsage = append(clientUsage, u)
			}
		}
		fromClient := edgetest.FoldUsage(clientUsage)
		fromClient.Refused = int64(refusedByClient)
		e.WaitUsageProjected(t)
		r := e.Do(t, http.MethodGet, "/api/v2/keys/key1/stats", e.AdminToken(t), nil)
		var out struct {
			Data struct {
				Total projections.UsageCounters `json:"total"`
			} `json:"data"`
		}
		if err := json.Unmarshal(r.Body, &out); err != nil || r.Status != 200 {
			t.Fatalf("stats: %d %s", r.Status, r.Body)
		}
		if edgetest.ProjectedTotals(out.Data.Total) != fromEvents || fromEvents != fromClient {
			t.Fatalf("stats %+v\nevents %+v\nclient %+v", out.Data.Total, fromEvents, fromClient)
		}
		t.Logf("%d requests: %d complete, %d refused; stats equal the client record and the events: %+v", n, complete, fromEvents.Refused, fromEvents)
		if complete < n/2 || fromEvents.Refused == 0 {
			t.Fatalf("the mix did not happen: %d complete, %d refused", complete, fromEvents.Refused)
		}
	})
}

// usageFromAnswer reads the usage an Anthropic answer (SSE or JSON) reported
// to the client.
func usageFromAnswer(t *testing.T, body []byte) events.Tokens {
	t.Helper()
	type usage struct {
		InputTokens   int64 `json:"input_tokens"`
		OutputTokens  int64 `json:"output_tokens"`
		CacheCreation int64 `json:"cache_creation_input_tokens"`
		CacheRead     int64 `json:"cache_read_input_tokens"`
		Breakdown     *struct {
			OneHour int64 `json:"ephemeral_1h_input_tokens"`
		} `json:"cache_creation"`
	}
	var tok events.Tokens
	take := func(u usage) {
		tok.InputTokens, tok.CacheCreateTokens, tok.CacheReadTokens = u.InputTokens, u.CacheCreation, u.CacheRead
		if u.Breakdown != nil {
			tok.CacheCreate1hTokens = u.Breakdown.OneHour
		}
	}
	if !strings.HasPrefix(strings.TrimSpace(string(body)), "event:") {
		var msg struct{ Usage usage }
		if err := json.Unmarshal(body, &msg); err != nil {
			t.Fatalf("answer %q: %v", body, err)
		}
		take(msg.Usage)
		tok.OutputTokens = msg.Usage.OutputTokens
		return tok
	}
	evs, err := upstreamtest.ReadEvents(strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range evs {
		var d struct {
			Message struct{ Usage usage }
			Usage   usage
		}
		_ = json.Unmarshal([]byte(ev.Data), &d)
		switch ev.Name {
		case "message_start":
			take(d.Message.Usage)
		case "message_delta":
			tok.OutputTokens = d.Usage.OutputTokens
		}
	}
	return tok
}

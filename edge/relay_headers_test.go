package edge_test

import (
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"relay/edge/upstreamtest"
	"relay/events"
	"relay/store/redistest"
)

// hostileHeaders are headers a client may send that must never reach an
// upstream: organisation and project selectors, credentials, cookies,
// forwarding headers and anything relay does not know.
var hostileHeaders = []string{
	"OpenAI-Organization", "OpenAI-Project", "Anthropic-Organization", "Anthropic-Workspace",
	"ChatGPT-Account-Id", "Cookie", "Proxy-Authorization",
	"X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "Forwarded", "X-Real-Ip",
	"X-Evil", "Accept-Encoding",
}

// relayWithHeaders sends one relay request on platform with the given
// client headers and returns the status.
func relayWithHeaders(t *testing.T, e relayEnv, platform string, hdr http.Header) int {
	t.Helper()
	path, body := "/api/v1/messages?beta=true", claudeBody
	if platform == "codex" {
		path, body = "/openai/responses", `{"model":"gpt-5","stream":true,"input":"hi"}`
	}
	req, _ := http.NewRequest(http.MethodPost, e.HTTP.URL+path, strings.NewReader(body))
	for name, vs := range hdr {
		req.Header[name] = vs
	}
	req.Header.Set("Authorization", "Bearer "+e.key)
	resp, err := e.HTTP.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// TestUpstreamGetsOnlyAllowedClientHeaders sends, on each platform, what
// the real client sends plus every hostile header; the fake upstream
// records what arrived. The client's identifying headers arrive as sent;
// no hostile header arrives, and the credential is the account's.
func TestUpstreamGetsOnlyAllowedClientHeaders(t *testing.T) {
	for _, tc := range []struct {
		platform string
		allowed  [][2]string // sent by the client, must arrive as is
		authName string
		authWant string
	}{
		{"claude", [][2]string{
			{"Content-Type", "application/json"},
			{"Accept", "application/json"},
			{"User-Agent", "claude-cli/2.1.328 (external, sdk-cli)"},
			{"Anthropic-Version", "2023-06-01"},
			{"Anthropic-Beta", "claude-code-20250219,interleaved-thinking-2025-05-14"},
			{"Anthropic-Dangerous-Direct-Browser-Access", "true"},
			{"X-App", "cli"},
			{"X-Claude-Code-Session-Id", "850cae98-fe87-42cf-a9d0-d2b70ca0d553"},
			{"X-Stainless-Lang", "js"},
			{"X-Stainless-Retry-Count", "0"},
		}, "X-Api-Key", "sk-ant-upstream-secret-0"},
		{"codex", [][2]string{
			{"Content-Type", "application/json"},
			{"Accept", "text/event-stream"},
			{"User-Agent", "codex_exec/0.169.0 (Debian 12.0.0; x86_64) xterm (codex_exec; 0.169.0)"},
			{"Originator", "codex_exec"},
			{"Session-Id", "01a23f75-dacf-71c0-a471-72dba3dda4d6"},
			{"Thread-Id", "01a23f75-dacf-71c0-a471-72dba3dda4d6"},
			{"X-Client-Request-Id", "01a23f75-dacf-71c0-a471-72dba3dda4d6"},
			{"X-Codex-Window-Id", "01a23f75-dacf-71c0-a471-72dba3dda4d6:0"},
			{"X-Codex-Turn-Metadata", `{"session_id":"01a23f75","model":"gpt-5"}`},
			{"X-Codex-Beta-Features", "remote_compaction_v2"},
			{"X-Openai-Internal-Codex-Responses-Lite", "true"},
		}, "Authorization", "Bearer sk-openai-upstream-secret"},
	} {
		t.Run(tc.platform, func(t *testing.T) {
			redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
				e := newRelayEnv(t, b, 1)
				e.CreateAccount(t, events.Account{ID: "cx", Platform: events.PlatformCodex, APIURL: e.up.URL, IsActive: true, Schedulable: true}, "sk-openai-upstream-secret")
				hdr := http.Header{}
				for _, kv := range tc.allowed {
					hdr.Set(kv[0], kv[1])
				}
				for _, name := range hostileHeaders {
					hdr.Set(name, "hostile-"+strings.ToLower(name))
				}
				if st := relayWithHeaders(t, e, tc.platform, hdr); st != http.StatusOK {
					t.Fatalf("status %d", st)
				}
				seen := e.up.Request(t, 0)
				for _, kv := range tc.allowed {
					if got := seen.Header.Values(kv[0]); len(got) != 1 || got[0] != kv[1] {
						t.Errorf("%s: upstream got %q, want %q", kv[0], got, kv[1])
					}
				}
				for _, name := range hostileHeaders {
					if got := seen.Header.Values(name); len(got) != 0 {
						t.Errorf("%s reached the upstream: %q", name, got)
					}
				}
				if got := seen.Header.Values(tc.authName); len(got) != 1 || got[0] != tc.authWant {
					t.Errorf("%s = %q, want the account's %q", tc.authName, got, tc.authWant)
				}
				for name, vs := range seen.Header {
					for _, v := range vs {
						if strings.Contains(v, "hostile-") || strings.Contains(v, strings.TrimPrefix(e.key, "cr_")) {
							t.Errorf("upstream header %s = %q came from the client", name, v)
						}
					}
				}
			})
		})
	}
}

// TestHopByHopHeadersNamedByConnectionAreDropped: a header the client's
// Connection header names is hop-by-hop even when the allow-list has it.
func TestHopByHopHeadersNamedByConnectionAreDropped(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		e := newRelayEnv(t, b, 1)
		hdr := http.Header{}
		hdr.Set("Connection", "X-App, keep-alive")
		hdr.Set("X-App", "cli")
		hdr.Set("Anthropic-Version", "2023-06-01")
		if st := relayWithHeaders(t, e, "claude", hdr); st != http.StatusOK {
			t.Fatalf("status %d", st)
		}
		seen := e.up.Request(t, 0)
		if seen.Header.Get("X-App") != "" || seen.Header.Get("Anthropic-Version") != "2023-06-01" {
			t.Fatalf("upstream headers %v", seen.Header)
		}
	})
}

// TestOrganizationHeaderCannotTakeThePoolOffline reproduces issue 13's
// pool takeover: an upstream that answers 401 to any request naming an
// organisation it does not know, several Codex accounts, and one client
// request carrying OpenAI-Organization: org-bogus. Before the allow-list,
// relay forwarded the header, got 401 from every account in turn and marked
// them all unauthorized for 30 minutes. Now no account is marked and the
// next ordinary request succeeds.
func TestOrganizationHeaderCannotTakeThePoolOffline(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		e := newRelayEnv(t, b, 0)
		ids := []string{"cx0", "cx1", "cx2"}
		for i, id := range ids {
			e.CreateAccount(t, events.Account{ID: id, Platform: events.PlatformCodex, APIURL: e.up.URL, IsActive: true, Schedulable: true}, fmt.Sprintf("sk-openai-upstream-%d", i))
		}
		e.up.SetScript(func(r *upstreamtest.Request) (upstreamtest.Reply, bool) {
			for name := range r.Header {
				if strings.HasPrefix(strings.ToLower(name), "openai-") {
					return upstreamtest.Unauthorized(), true
				}
			}
			return upstreamtest.Reply{}, false
		})
		hdr := http.Header{}
		hdr.Set("OpenAI-Organization", "org-bogus")
		hdr.Set("OpenAI-Project", "proj-bogus")
		first := relayWithHeaders(t, e, "codex", hdr)
		for _, id := range ids {
			if st := e.AccountState(id); st.State != "" {
				t.Errorf("account %s marked %q until %v by one client's header", id, st.State, st.Until)
			}
		}
		if first != http.StatusOK {
			t.Errorf("the request with the organisation header got %d", first)
		}
		if st := relayWithHeaders(t, e, "codex", http.Header{}); st != http.StatusOK {
			t.Fatalf("the next ordinary request got %d", st)
		}
		for _, r := range e.up.Requests() {
			if r.Status != http.StatusOK {
				t.Errorf("upstream answered %d to request %d", r.Status, r.Index)
			}
		}
	})
}

// TestClientMalformedRequestNeverMarksTheAccount: a 400 from the upstream
// is the request's fault, not the account's: it is passed to the client
// once, without failover, and the account stays available.
func TestClientMalformedRequestNeverMarksTheAccount(t *testing.T) {
	for _, tc := range []struct {
		platform string
		status   int
	}{
		{"claude", http.StatusBadRequest},
		{"codex", http.StatusBadRequest},
		{"claude", http.StatusRequestEntityTooLarge},
		{"codex", http.StatusNotFound},
		{"codex", http.StatusUnprocessableEntity},
	} {
		t.Run(fmt.Sprintf("%s-%d", tc.platform, tc.status), func(t *testing.T) {
			redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
				e := newRelayEnv(t, b, 2)
				e.CreateAccount(t, events.Account{ID: "cx0", Platform: events.PlatformCodex, APIURL: e.up.URL, IsActive: true, Schedulable: true}, "sk-openai-upstream-0")
				e.CreateAccount(t, events.Account{ID: "cx1", Platform: events.PlatformCodex, APIURL: e.up.URL, IsActive: true, Schedulable: true}, "sk-openai-upstream-1")
				e.up.Enqueue(upstreamtest.Reply{Status: tc.status})
				if st := relayWithHeaders(t, e, tc.platform, http.Header{}); st != tc.status {
					t.Fatalf("client got %d, want the upstream's %d", st, tc.status)
				}
				if n := e.up.Total(); n != 1 {
					t.Fatalf("%d upstream calls: a %d failed over", n, tc.status)
				}
				for _, id := range []string{"acct0", "acct1", "cx0", "cx1"} {
					if st := e.AccountState(id); st.State != "" {
						t.Fatalf("account %s marked %q by a %d", id, st.State, tc.status)
					}
				}
				us := e.WaitUsage(t, 1)
				if len(us[0].AttemptLog) != 0 || us[0].Attempts != 1 {
					t.Fatalf("usage %+v", us[0])
				}
				if st := relayWithHeaders(t, e, tc.platform, http.Header{}); st != http.StatusOK {
					t.Fatalf("next request got %d", st)
				}
			})
		})
	}
}

// TestOAuthBetaIsNotForwarded: an anthropic-beta that switches the
// upstream to OAuth would make it refuse the account's API key (401) and
// take the account out of the pool; relay drops that beta and keeps the
// others.
func TestOAuthBetaIsNotForwarded(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		e := newRelayEnv(t, b, 1)
		for i, tc := range []struct {
			sent []string
			want []string
		}{
			{[]string{"claude-code-20250219,oauth-2025-04-20,interleaved-thinking-2025-05-14"}, []string{"claude-code-20250219,interleaved-thinking-2025-05-14"}},
			{[]string{"OAuth-2025-04-20"}, nil},
			{[]string{" oauth-2025-04-20 , claude-code-20250219", "context-management-2025-06-27"}, []string{"claude-code-20250219", "context-management-2025-06-27"}},
		} {
			hdr := http.Header{"Anthropic-Beta": tc.sent}
			if st := relayWithHeaders(t, e, "claude", hdr); st != http.StatusOK {
				t.Fatalf("%q: status %d", tc.sent, st)
			}
			if got := e.up.Request(t, i).Header.Values("Anthropic-Beta"); !slices.Equal(got, tc.want) {
				t.Errorf("sent %q: upstream got %q, want %q", tc.sent, got, tc.want)
			}
		}
		if st := e.AccountState("acct0"); st.State != "" {
			t.Fatalf("account marked %q", st.State)
		}
	})
}

package edge_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"relay/edge/edgetest"
	"relay/edge/upstreamtest"
	"relay/events"
	"relay/store/redistest"
)

// compactEnv is relay with two Codex accounts, each on its own fake
// upstream, so that where a request went is beyond doubt.
type compactEnv struct {
	*edgetest.Env
	ups map[string]*upstreamtest.Server // account id -> its upstream
	key string
}

func newCompactEnv(t *testing.T, b redistest.Backend) compactEnv {
	t.Helper()
	env := edgetest.Start(t, b, edgetest.Options{})
	e := compactEnv{Env: env, ups: map[string]*upstreamtest.Server{}}
	for _, id := range []string{"cxA", "cxB"} {
		up := upstreamtest.New(t)
		up.SetDefault(upstreamtest.Reply{Text: "from-" + id, Usage: upstreamtest.Usage{InputTokens: 100, OutputTokens: 10}})
		env.CreateAccount(t, events.Account{ID: id, Platform: events.PlatformCodex, Name: id, APIURL: up.URL, IsActive: true, Schedulable: true}, "sk-openai-"+id)
		e.ups[id] = up
	}
	e.key = env.CreateKey(t, events.Key{ID: "key1", Name: "k", IsActive: true})
	return e
}

// countsOn returns how many requests on path each account's upstream saw.
func (e compactEnv) countsOn(path string) map[string]int {
	n := map[string]int{}
	for id, up := range e.ups {
		n[id] = up.Count(path)
	}
	return n
}

// compactBody is a compaction request as a client writes it: odd spacing,
// key order and escapes that a re-encoding would change, and no
// prompt_cache_key.
const compactBody = "{\"input\":[{\"type\":\"message\",\"role\":\"user\",\"content\":[{\"type\":\"input_text\",\"text\":\"say \\u0068i\"}]}] ,\n \"model\":\"gpt-5\",\"instructions\":\"Summarise.\",  \"parallel_tool_calls\":false,\"tools\":[]}"

func TestCodexCompactionRelayedToTheSessionsAccount(t *testing.T) {
	cases := []struct {
		name, path string
		header     string // the session's header, or
		inBody     bool   // prompt_cache_key in the body
	}{
		{name: "session-id header", path: "/openai/responses/compact", header: "session-id"},
		{name: "session_id header, v1 path", path: "/openai/v1/responses/compact", header: "session_id"},
		{name: "prompt_cache_key", path: "/openai/responses/compact", inBody: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newCompactEnv(t, redistest.Embedded(t))
			const session = "019a0000-0000-7000-8000-00000000beef"
			withSession := func(body string) (string, []string) {
				if tc.inBody {
					return strings.Replace(body, `{`, `{"prompt_cache_key":"`+session+`",`, 1), nil
				}
				return body, []string{tc.header, session}
			}
			// Another conversation first: the least recently used
			// account is then the one the session does not hold.
			if resp, body := post(t, e.Env, "/openai/responses", e.key, `{"model":"gpt-5","stream":true,"input":"other"}`, "session-id", "another-session"); resp.StatusCode != 200 {
				t.Fatalf("other session: %d %s", resp.StatusCode, body)
			}
			body, hdr := withSession(`{"model":"gpt-5","stream":true,"input":"say hi"}`)
			if resp, b := post(t, e.Env, "/openai/responses", e.key, body, hdr...); resp.StatusCode != 200 {
				t.Fatalf("session turn: %d %s", resp.StatusCode, b)
			}
			us := e.UsageEvents(t)
			holder, other := us[1].AccountID, us[0].AccountID
			if holder == other {
				t.Fatalf("both conversations on %s: the test needs them apart", holder)
			}

			e.ups[holder].Enqueue(upstreamtest.Reply{Text: "compacted", Usage: upstreamtest.Usage{InputTokens: 5000, CacheRead: 4000, OutputTokens: 70, ReasoningTokens: 20}})
			cbody, chdr := withSession(compactBody)
			resp, got := post(t, e.Env, tc.path, e.key, cbody, append(chdr, "Authorization", "Bearer "+e.key)...)
			if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
				t.Fatalf("compact: %d %v %s", resp.StatusCode, resp.Header, got)
			}
			var out struct {
				Object string
				Output []struct {
					Type             string
					EncryptedContent string `json:"encrypted_content"`
				}
			}
			if err := json.Unmarshal(got, &out); err != nil || out.Object != "response.compaction" || len(out.Output) != 1 || out.Output[0].EncryptedContent != "compacted" {
				t.Fatalf("compaction answer %s (%v)", got, err)
			}
			if n := e.countsOn("/responses/compact"); n[holder] != 1 || n[other] != 0 {
				t.Fatalf("compactions per account %v, want 1 on %s (the session's), 0 on %s", n, holder, other)
			}
			seen := e.ups[holder].Requests()
			up := seen[len(seen)-1]
			if string(up.Body) != cbody {
				t.Fatalf("body changed on the way:\n sent %q\n got  %q", cbody, up.Body)
			}
			if up.Header.Get("Authorization") != "Bearer sk-openai-"+holder || strings.Contains(fmt.Sprint(up.Header), strings.TrimPrefix(e.key, "cr_")) {
				t.Fatalf("upstream credentials: %v", up.Header)
			}

			// Exactly one usage event, the compaction's own usage, priced.
			all := e.UsageEvents(t)
			if len(all) != 3 {
				t.Fatalf("%d usage events after 3 requests: %+v", len(all), all)
			}
			u := all[2]
			want := events.Tokens{InputTokens: 5000, CacheReadTokens: 4000, OutputTokens: 70, ReasoningTokens: 20}
			if u.ID == "" || u.AccountID != holder || u.Platform != "codex" || u.Stream || u.Outcome != events.OutcomeOK || u.Status != 200 || u.Tokens != want || u.ChosenBy != "sticky" {
				t.Fatalf("usage %+v", u)
			}
			// gpt-5: 1000 input at 1.25, 4000 cached at 0.125, 70 output at
			// 10 dollars per million: 1250 + 500 + 700 micro-dollars, exactly 2,450,000 n$.
			if !u.Priced || u.CostNanos != 2_450_000 {
				t.Fatalf("cost %d n$ priced %v, want 2450000", u.CostNanos, u.Priced)
			}

			// The session goes on, on the same account.
			if resp, b := post(t, e.Env, "/openai/responses", e.key, body, hdr...); resp.StatusCode != 200 {
				t.Fatalf("turn after the compaction: %d %s", resp.StatusCode, b)
			}
			if last := e.UsageEvents(t)[3]; last.AccountID != holder {
				t.Fatalf("turn after the compaction went to %s, not %s", last.AccountID, holder)
			}
		})
	}
}

func TestCodexCompactionFailsOverBeforeTheFirstByte(t *testing.T) {
	e := newCompactEnv(t, redistest.Embedded(t))
	const session = "019a0000-0000-7000-8000-00000000cafe"
	if resp, b := post(t, e.Env, "/openai/responses", e.key, `{"model":"gpt-5","stream":true,"input":"hi"}`, "session-id", session); resp.StatusCode != 200 {
		t.Fatalf("turn: %d %s", resp.StatusCode, b)
	}
	holder := e.UsageEvents(t)[0].AccountID
	other := map[string]string{"cxA": "cxB", "cxB": "cxA"}[holder]
	e.ups[holder].Enqueue(upstreamtest.Overloaded())
	e.ups[other].Enqueue(upstreamtest.Reply{Text: "compacted-elsewhere", Usage: upstreamtest.Usage{InputTokens: 300, OutputTokens: 30}})
	resp, got := post(t, e.Env, "/openai/responses/compact", e.key, compactBody, "session-id", session)
	if resp.StatusCode != 200 || !strings.Contains(string(got), "compacted-elsewhere") {
		t.Fatalf("compact: %d %s", resp.StatusCode, got)
	}
	if n := e.countsOn("/responses/compact"); n[holder] != 1 || n[other] != 1 {
		t.Fatalf("compactions per account %v, want one each", n)
	}
	if b := e.ups[other].Requests(); string(b[len(b)-1].Body) != compactBody {
		t.Fatalf("retried body changed: %q", b[len(b)-1].Body)
	}
	all := e.UsageEvents(t)
	if len(all) != 2 {
		t.Fatalf("%d usage events, want 2: %+v", len(all), all)
	}
	u := all[1]
	if u.AccountID != other || u.Attempts != 2 || u.Outcome != events.OutcomeOK || u.Tokens.InputTokens != 300 || len(u.AttemptLog) != 1 || u.AttemptLog[0].AccountID != holder || u.AttemptLog[0].Status != 529 {
		t.Fatalf("usage %+v", u)
	}
	if st := e.AccountState(holder); st.State != events.StateOverloaded {
		t.Fatalf("%s state %q, want overloaded", holder, st.State)
	}
}

func TestCodexCompactionRefusals(t *testing.T) {
	e := newCompactEnv(t, redistest.Embedded(t))
	claudeOnly := e.CreateKey(t, events.Key{ID: "claude-only", IsActive: true, Permissions: "claude"})
	restricted := e.CreateKey(t, events.Key{ID: "restricted", IsActive: true, EnableModelRestriction: true, RestrictedModels: []string{"gpt-5"}})
	cases := []struct {
		name, key, body string
		status          int
		typ, code       string
	}{
		{"malformed JSON", e.key, `{"model":"gpt-5","input":[`, 400, "invalid_request_error", "invalid_request"},
		{"not an object", e.key, `["gpt-5"]`, 400, "invalid_request_error", "invalid_request"},
		{"no model", e.key, `{"input":"hi"}`, 400, "invalid_request_error", "invalid_request"},
		{"no key", "", compactBody, 401, "authentication_error", "invalid_api_key"},
		{"wrong key", "cr_" + strings.Repeat("x", 64), compactBody, 401, "authentication_error", "invalid_api_key"},
		{"claude-only key", claudeOnly, compactBody, 403, "permission_error", "permission_denied"},
		{"restricted model", restricted, compactBody, 403, "permission_error", "permission_denied"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, got := post(t, e.Env, "/openai/v1/responses/compact", tc.key, tc.body)
			var out struct {
				Error struct{ Message, Type, Code string }
			}
			if err := json.Unmarshal(got, &out); err != nil || resp.StatusCode != tc.status || out.Error.Type != tc.typ || out.Error.Code != tc.code || out.Error.Message == "" {
				t.Fatalf("got %d %s, want %d in OpenAI's shape with type %s code %s", resp.StatusCode, got, tc.status, tc.typ, tc.code)
			}
		})
	}
	for id, up := range e.ups {
		if n := up.Total(); n != 0 {
			t.Errorf("%s's upstream saw %d refused requests", id, n)
		}
	}
}

func TestOpenAIModelsListsWhatTheKeyMayUse(t *testing.T) {
	env := edgetest.Start(t, redistest.Embedded(t), edgetest.Options{})
	up := upstreamtest.New(t)
	env.CreateAccount(t, events.Account{ID: "fixed", Platform: events.PlatformCodex, APIURL: up.URL, IsActive: true, Schedulable: true,
		SupportedModels: map[string]string{"gpt-5-codex": "gpt-5-codex", "house-model": "gpt-5"}}, "sk-1")
	env.CreateAccount(t, events.Account{ID: "any", Platform: events.PlatformCodex, APIURL: up.URL, IsActive: true, Schedulable: true}, "sk-2")
	env.CreateAccount(t, events.Account{ID: "off", Platform: events.PlatformCodex, APIURL: up.URL, IsActive: false, Schedulable: true,
		SupportedModels: map[string]string{"retired-model": "gpt-5"}}, "sk-3")
	env.CreateAccount(t, events.Account{ID: "claude", Platform: events.PlatformClaudeConsole, APIURL: up.URL, IsActive: true, Schedulable: true,
		SupportedModels: map[string]string{"claude-only-model": "claude-sonnet-4-5-20250929"}}, "sk-4")
	all := env.CreateKey(t, events.Key{ID: "all", IsActive: true})
	restricted := env.CreateKey(t, events.Key{ID: "restricted", IsActive: true, EnableModelRestriction: true, RestrictedModels: []string{"gpt-5", "house-model"}})
	dedicated := env.CreateKey(t, events.Key{ID: "dedicated", IsActive: true, CodexAccountID: "fixed"})
	claudeOnly := env.CreateKey(t, events.Key{ID: "claude-only", IsActive: true, Permissions: "claude"})

	priced := []string{"gpt-5", "gpt-5-codex", "gpt-5-mini", "gpt-5-nano"}
	cases := []struct {
		name, path, key string
		status          int
		want            []string
		errType         string
	}{
		{"every reachable model", "/openai/models", all, 200, append(slices.Clone(priced), "house-model"), ""},
		{"v1 path", "/openai/v1/models", all, 200, append(slices.Clone(priced), "house-model"), ""},
		{"restrictions applied", "/openai/models", restricted, 200, []string{"gpt-5-codex", "gpt-5-mini", "gpt-5-nano"}, ""},
		{"dedicated account only", "/openai/models", dedicated, 200, []string{"gpt-5-codex", "house-model"}, ""},
		{"no key", "/openai/models", "", 401, nil, "authentication_error"},
		{"claude-only key", "/openai/models", claudeOnly, 403, nil, "permission_error"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, env.HTTP.URL+tc.path, nil)
			if tc.key != "" {
				req.Header.Set("Authorization", "Bearer "+tc.key)
			}
			resp, err := env.HTTP.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var out struct {
				Object string
				Data   []struct {
					ID, Object string
					OwnedBy    string `json:"owned_by"`
					Created    *int64
				}
				Error struct{ Type, Message string }
			}
			if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d (%+v)", resp.StatusCode, tc.status, out)
			}
			if tc.status != 200 {
				if out.Error.Type != tc.errType || out.Error.Message == "" {
					t.Fatalf("error %+v, want OpenAI's shape with type %s", out.Error, tc.errType)
				}
				return
			}
			var ids []string
			for _, m := range out.Data {
				if m.Object != "model" || m.Created == nil || m.OwnedBy == "" {
					t.Errorf("entry %+v: want object model, created and owned_by", m)
				}
				ids = append(ids, m.ID)
			}
			slices.Sort(tc.want)
			if out.Object != "list" || !slices.Equal(ids, tc.want) {
				t.Fatalf("object %q ids %v, want list %v", out.Object, ids, tc.want)
			}
		})
	}
	if up.Total() != 0 {
		t.Fatalf("listing models called the upstream %d times", up.Total())
	}
}

// TestClaudeModelsOfADedicatedKey: a key bound to an account lists that
// account's models only, as the scheduler serves it from that account only.
func TestClaudeModelsOfADedicatedKey(t *testing.T) {
	env := edgetest.Start(t, redistest.Embedded(t), edgetest.Options{})
	up := upstreamtest.New(t)
	env.CreateAccount(t, events.Account{ID: "bound", Platform: events.PlatformClaudeConsole, APIURL: up.URL, IsActive: true, Schedulable: true,
		SupportedModels: map[string]string{"claude-sonnet-4-5-20250929": "claude-sonnet-4-5-20250929"}}, "sk-1")
	env.CreateAccount(t, events.Account{ID: "pool", Platform: events.PlatformClaudeConsole, APIURL: up.URL, IsActive: true, Schedulable: true,
		SupportedModels: map[string]string{"claude-haiku-4-5-20251001": "claude-haiku-4-5-20251001"}}, "sk-2")
	shared := env.CreateKey(t, events.Key{ID: "shared", IsActive: true})
	bound := env.CreateKey(t, events.Key{ID: "bound", IsActive: true, ClaudeConsoleAccountID: "bound"})
	for _, tc := range []struct {
		key  string
		want []string
	}{
		{shared, []string{"claude-haiku-4-5-20251001", "claude-sonnet-4-5-20250929"}},
		{bound, []string{"claude-sonnet-4-5-20250929"}},
	} {
		req, _ := http.NewRequest(http.MethodGet, env.HTTP.URL+"/api/v1/models", nil)
		req.Header.Set("x-api-key", tc.key)
		resp, err := env.HTTP.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var out struct{ Data []struct{ ID string } }
		err = json.NewDecoder(resp.Body).Decode(&out)
		resp.Body.Close()
		var ids []string
		for _, m := range out.Data {
			ids = append(ids, m.ID)
		}
		if err != nil || resp.StatusCode != 200 || !slices.Equal(ids, tc.want) {
			t.Errorf("models %d %v (%v), want %v", resp.StatusCode, ids, err, tc.want)
		}
	}
}

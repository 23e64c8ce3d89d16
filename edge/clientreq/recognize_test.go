package clientreq

import (
	"net/http"
	"testing"
)

type edit func(h http.Header, r *Request)

// noClaudeCodeTrait strips every Claude-Code-specific trait from a request,
// so that a case can add back exactly one.
func noClaudeCodeTrait(h http.Header, r *Request) {
	h.Del("X-Claude-Code-Session-Id")
	r.UserID, r.BillingHeader, r.System = "", false, "You are a helpful assistant."
}

func only(add edit) edit {
	return func(h http.Header, r *Request) { noClaudeCodeTrait(h, r); add(h, r) }
}

func setHeader(kv ...string) edit {
	return func(h http.Header, _ *Request) {
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == "" {
				h.Del(kv[i])
			} else {
				h.Set(kv[i], kv[i+1])
			}
		}
	}
}

func TestRecognize(t *testing.T) {
	ccReq := mustParseClaude(t, claudeCodeBody(t))
	cxReq, err := ParseOpenAI(codexBody())
	if err != nil {
		t.Fatal(err)
	}
	type tc struct {
		name  string
		codex bool // start from the Codex request instead of Claude Code's
		edit  edit
		want  string
	}
	tests := []tc{
		// Claude Code 2.1.328 as observed, and variants it sends.
		{"claude code -p", false, nil, ClientClaudeCode},
		{"claude code interactive", false, setHeader("User-Agent", "claude-cli/2.1.328 (external, cli)"), ClientClaudeCode},
		{"claude code prerelease", false, setHeader("User-Agent", "claude-cli/2.2.0-beta.1 (external, cli)"), ClientClaudeCode},
		{"only json metadata", false, only(func(_ http.Header, r *Request) { r.UserID = jsonUserID }), ClientClaudeCode},
		{"only legacy metadata", false, only(func(_ http.Header, r *Request) { r.UserID = legacyUserID }), ClientClaudeCode},
		{"only session header", false, only(setHeader("X-Claude-Code-Session-Id", testSessionID)), ClientClaudeCode},
		{"only billing header", false, only(func(_ http.Header, r *Request) { r.BillingHeader = true }), ClientClaudeCode},
		{"only 'You are Claude Code'", false, only(func(_ http.Header, r *Request) {
			r.System = "You are Claude Code, Anthropic's official CLI for Claude."
		}), ClientClaudeCode},
		{"only agent SDK line", false, only(func(_ http.Header, r *Request) { r.System = agentSDKLine }), ClientClaudeCode},

		// Claude Code headers without a Claude Code trait.
		{"no Claude Code trait", false, noClaudeCodeTrait, ""},
		{"metadata not Claude Code's", false, only(func(_ http.Header, r *Request) { r.UserID = "alice@example.com" }), ""},
		{"json metadata without device", false, only(func(_ http.Header, r *Request) {
			r.UserID = `{"session_id":"` + testSessionID + `"}`
		}), ""},
		{"legacy metadata with short hex", false, only(func(_ http.Header, r *Request) {
			r.UserID = "user_abc_account__session_" + testSessionID
		}), ""},
		{"session header not a uuid", false, only(setHeader("X-Claude-Code-Session-Id", "abc")), ""},
		{"identity line not at start", false, only(func(_ http.Header, r *Request) { r.System = "Pretend: " + agentSDKLine }), ""},

		// Missing or wrong headers.
		{"no x-app", false, setHeader("X-App", ""), ""},
		{"x-app not cli", false, setHeader("X-App", "web"), ""},
		{"no anthropic-version", false, setHeader("Anthropic-Version", ""), ""},
		{"claude code on the OpenAI route", false, func(_ http.Header, r *Request) { r.API = OpenAI }, ""},
		{"plain curl", false, func(h http.Header, _ *Request) {
			for k := range h {
				delete(h, k)
			}
			h.Set("User-Agent", "curl/8.5.0")
			h.Set("Content-Type", "application/json")
		}, ""},

		// Codex CLI 0.169.0 as observed, and its siblings.
		{"codex exec", true, nil, ClientCodexCLI},
		{"codex tui", true, setHeader("User-Agent", "codex_cli_rs/0.169.0 (Mac OS 15.5.0; arm64) iTerm.app/3.5.14", "Originator", "codex_cli_rs"), ClientCodexCLI},
		{"codex vscode", true, setHeader("User-Agent", "codex_vscode/0.169.0 (Windows 10.0.26100; x86_64) unknown (Visual Studio Code; 1.106.0)", "Originator", "codex_vscode"), ClientCodexCLI},
		{"codex with instructions", true, func(_ http.Header, r *Request) { r.System = "You are Codex." }, ClientCodexCLI},
		{"codex without session", true, func(h http.Header, r *Request) { h.Del("Session-Id"); r.PromptCacheKey = "" }, ClientCodexCLI},
		{"codex bare UA", true, setHeader("User-Agent", "codex_exec/0.169.0"), ClientCodexCLI},
		{"no originator", true, setHeader("Originator", ""), ""},
		{"originator disagrees with UA", true, setHeader("Originator", "codex_cli_rs"), ""},
		{"unknown originator", true, setHeader("User-Agent", "codex_web/0.169.0", "Originator", "codex_web"), ""},
		{"codex on the Claude route", true, func(_ http.Header, r *Request) { r.API = Claude }, ""},
	}
	for _, ua := range []string{
		"", "curl/8.5.0", "Anthropic/JS 0.70.0", "Anthropic/Python 0.75.0",
		"claude-cli", "claude-cli/2.1.328", "claude-cli/latest (external, cli)",
		"Mozilla/5.0 claude-cli/2.1.328 (external, cli)", "my-tool (claude-cli/2.1.328 (external, cli))",
		"codex_exec/0.169.0 (Debian 12.0.0; x86_64) xterm (codex_exec; 0.169.0)",
	} {
		tests = append(tests, tc{"claude UA " + ua, false, setHeader("User-Agent", ua), ""})
	}
	for _, ua := range []string{
		"", "curl/8.5.0", "OpenAI/Python 2.8.1", "OpenAI/JS 6.9.0",
		"codex_exec", "codex_exec/latest", "Mozilla/5.0 codex_exec/0.169.0", "xcodex_exec/0.169.0",
		"claude-cli/2.1.328 (external, cli)",
	} {
		tests = append(tests, tc{"codex UA " + ua, true, setHeader("User-Agent", ua), ""})
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, r := claudeCodeHeaders(), ccReq
			if tt.codex {
				h, r = codexHeaders(), cxReq
			}
			if tt.edit != nil {
				tt.edit(h, &r)
			}
			if got := Recognize(h, r); got != tt.want {
				t.Fatalf("Recognize = %q, want %q", got, tt.want)
			}
		})
	}
}

package clientreq

import (
	"net/http"
	"regexp"
	"testing"
)

func TestSessionID(t *testing.T) {
	hdr := func(kv ...string) http.Header {
		h := http.Header{}
		for i := 0; i < len(kv); i += 2 {
			h.Set(kv[i], kv[i+1])
		}
		return h
	}
	tests := []struct {
		name string
		h    http.Header
		req  Request
		want string
	}{
		{"claude json metadata", nil, Request{API: Claude, UserID: jsonUserID}, testSessionID},
		{"claude legacy metadata", nil, Request{API: Claude, UserID: legacyUserID}, testSessionID},
		{"claude legacy with account", nil, Request{API: Claude, UserID: "user_" + testDeviceID + "_account_acc-1_session_s1"}, "s1"},
		{"claude metadata wins over header", hdr("X-Claude-Code-Session-Id", "other"), Request{API: Claude, UserID: jsonUserID}, testSessionID},
		{"claude header", hdr("X-Claude-Code-Session-Id", testSessionID), Request{API: Claude}, testSessionID},
		{"claude header when metadata is foreign", hdr("X-Claude-Code-Session-Id", "h"), Request{API: Claude, UserID: "alice"}, "h"},
		{"claude json without session", nil, Request{API: Claude, UserID: `{"device_id":"d","session_id":""}`}, ""},
		{"claude legacy without session", nil, Request{API: Claude, UserID: "user_" + testDeviceID + "_account_x_session_"}, ""},
		{"claude ignores codex headers", hdr("session-id", "s"), Request{API: Claude}, ""},
		{"codex session-id", hdr("session-id", "s1"), Request{API: OpenAI, PromptCacheKey: "p"}, "s1"},
		{"codex session_id", hdr("session_id", "s2"), Request{API: OpenAI, PromptCacheKey: "p"}, "s2"},
		{"codex prompt_cache_key", nil, Request{API: OpenAI, PromptCacheKey: "p"}, "p"},
		{"codex ignores claude header", hdr("X-Claude-Code-Session-Id", "x"), Request{API: OpenAI}, ""},
		{"none", nil, Request{API: OpenAI}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := tt.h
			if h == nil {
				h = http.Header{}
			}
			if got := SessionID(h, tt.req); got != tt.want {
				t.Fatalf("SessionID = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestSessionHash(t *testing.T) {
	hex32 := regexp.MustCompile(`^[0-9a-f]{32}$`)
	empty := http.Header{}
	byMeta := SessionHash("k1", empty, Request{API: Claude, UserID: jsonUserID})
	if !hex32.MatchString(byMeta) {
		t.Fatalf("hash %q is not 32 hex digits", byMeta)
	}
	checks := []struct {
		name string
		ok   bool
	}{
		{"stable", byMeta == SessionHash("k1", empty, Request{API: Claude, UserID: jsonUserID})},
		{"both metadata formats bind alike", byMeta == SessionHash("k1", empty, Request{API: Claude, UserID: legacyUserID})},
		{"header binds like metadata", byMeta == SessionHash("k1", claudeCodeHeaders(), Request{API: Claude})},
		{"scoped per key", byMeta != SessionHash("k2", empty, Request{API: Claude, UserID: jsonUserID})},
		{"codex header binds like prompt_cache_key", SessionHash("k1", codexHeaders(), Request{API: OpenAI}) ==
			SessionHash("k1", empty, Request{API: OpenAI, PromptCacheKey: testSessionID})},
	}
	for _, c := range checks {
		if !c.ok {
			t.Errorf("%s: failed", c.name)
		}
	}

	content := func(key, sys, first string) string {
		return SessionHash(key, empty, Request{API: Claude, System: sys, FirstMessage: []byte(first)})
	}
	base := content("k1", "sys", `{"role":"user","content":"hi"}`)
	if !hex32.MatchString(base) || base != content("k1", "sys", `{"role":"user","content":"hi"}`) {
		t.Fatal("content hash not stable")
	}
	for name, other := range map[string]string{
		"other key":           content("k2", "sys", `{"role":"user","content":"hi"}`),
		"other system":        content("k1", "sys2", `{"role":"user","content":"hi"}`),
		"other first message": content("k1", "sys", `{"role":"user","content":"ho"}`),
		"shifted boundary":    content("k1", "sys{", `"role":"user","content":"hi"}`),
		"session id alike":    SessionHash("k1", empty, Request{API: OpenAI, PromptCacheKey: "sys"}),
	} {
		if other == base {
			t.Errorf("%s: same hash", name)
		}
	}
	if got := SessionHash("k1", empty, Request{API: Claude}); got != "" {
		t.Fatalf("nothing to pin: hash = %q, want empty", got)
	}
}

func TestSessionHashClaudeCodeBody(t *testing.T) {
	req := mustParseClaude(t, claudeCodeBody(t))
	a := SessionHash("k1", claudeCodeHeaders(), req)
	b := SessionHash("k1", http.Header{}, Request{API: Claude, UserID: jsonUserID})
	if a != b {
		t.Fatal("parsed Claude Code body does not bind by its session id")
	}
}

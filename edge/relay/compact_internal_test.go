package relay

import "testing"

// TestCompactUpstreamURL: the compaction goes to apiUrl + /responses/compact,
// and an apiUrl that already names /responses (as some accounts' do) is
// its base, as for /responses itself.
func TestCompactUpstreamURL(t *testing.T) {
	cases := []struct{ apiURL, path, want string }{
		{"https://api.openai.com/v1", CodexCompact.upstreamPath, "https://api.openai.com/v1/responses/compact"},
		{"https://api.openai.com/v1/", CodexCompact.upstreamPath, "https://api.openai.com/v1/responses/compact"},
		{"https://api.openai.com/v1/responses", CodexCompact.upstreamPath, "https://api.openai.com/v1/responses/compact"},
		{"https://gw.example/openai/responses/", CodexCompact.upstreamPath, "https://gw.example/openai/responses/compact"},
		{"https://gw.example/x/responses/compact", CodexCompact.upstreamPath, "https://gw.example/x/responses/compact"},
		// What the other routes did before is unchanged.
		{"https://api.openai.com/v1", CodexResponses.upstreamPath, "https://api.openai.com/v1/responses"},
		{"https://api.openai.com/v1/responses", CodexResponses.upstreamPath, "https://api.openai.com/v1/responses"},
		{"https://api.anthropic.com", ClaudeMessages.upstreamPath, "https://api.anthropic.com/v1/messages"},
		{"https://api.anthropic.com/v1/messages", ClaudeCountTokens.upstreamPath, "https://api.anthropic.com/v1/messages/count_tokens"},
	}
	for _, tc := range cases {
		if got := upstreamURL(tc.apiURL, tc.path, ""); got != tc.want {
			t.Errorf("upstreamURL(%q, %q) = %q, want %q", tc.apiURL, tc.path, got, tc.want)
		}
	}
}

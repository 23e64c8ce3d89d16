package relay

import (
	"relay/edge/clientreq"
	"relay/edge/usage"
	"relay/events"
)

// Route is what differs between the Claude and the Codex relay routes.
type Route struct {
	// platform is the usage platform and the key permission it needs.
	platform string
	// accountPlatform is the platform of the accounts that serve it.
	accountPlatform string
	// upstreamPath is appended to an account's apiUrl (unless it already
	// ends with it).
	upstreamPath string
	dialect      usage.Dialect
	parse        func([]byte) (clientreq.Request, error)
}

// Usage platforms, also the permissions a key needs.
const (
	platformClaude = "claude"
	platformCodex  = "codex"
)

// The relay routes.
var (
	ClaudeMessages = Route{
		platform: platformClaude, accountPlatform: events.PlatformClaudeConsole,
		upstreamPath: "/v1/messages", dialect: usage.Anthropic, parse: clientreq.ParseClaude,
	}
	ClaudeCountTokens = Route{
		platform: platformClaude, accountPlatform: events.PlatformClaudeConsole,
		upstreamPath: "/v1/messages/count_tokens", dialect: usage.Anthropic, parse: clientreq.ParseClaude,
	}
	CodexResponses = Route{
		platform: platformCodex, accountPlatform: events.PlatformCodex,
		upstreamPath: "/responses", dialect: usage.OpenAI, parse: clientreq.ParseOpenAI,
	}
	// CodexCompact is the Responses API's compaction (POST
	// /responses/compact): a JSON answer whose usage is priced like any
	// other. It is scheduled like CodexResponses, on the session's sticky
	// account, which holds the conversation's cache.
	CodexCompact = Route{
		platform: platformCodex, accountPlatform: events.PlatformCodex,
		upstreamPath: "/responses/compact", dialect: usage.OpenAI, parse: clientreq.ParseOpenAI,
	}
)

// dedicatedAccount returns the account a key is bound to on this route.
func (r Route) dedicatedAccount(k events.Key) string {
	if r.platform == platformClaude {
		return k.ClaudeConsoleAccountID
	}
	return k.CodexAccountID
}

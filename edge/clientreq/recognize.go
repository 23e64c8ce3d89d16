package clientreq

import (
	"net/http"
	"regexp"
	"strings"
)

// Client names, as used in a key's allowedClients.
const (
	ClientClaudeCode = "claude_code"
	ClientCodexCLI   = "codex_cli"
)

// Recognize names the CLI that sent a request: ClientClaudeCode,
// ClientCodexCLI, or "" for anything else. Claude Code is only recognized on
// the Claude API and Codex only on the OpenAI API, since neither speaks the
// other's.
//
// Every header and body field can be forged, so this is no authentication.
// Its job, as in peer gateways, is to keep keys that are restricted to a CLI
// from being used by accident from other tools: a script with a copied key,
// an SDK, curl. Hence several independent traits are required, each of which
// such tools lack unless someone copies them on purpose.
func Recognize(h http.Header, req Request) string {
	switch {
	case req.API == Claude && isClaudeCode(h, req):
		return ClientClaudeCode
	case req.API == OpenAI && isCodex(h):
		return ClientCodexCLI
	}
	return ""
}

// claudeUA matches Claude Code's User-Agent, "claude-cli/2.1.328 (external,
// sdk-cli)": anchored, so that a UA merely containing the token (a browser,
// "my-tool claude-cli/1.0") does not pass, and with a semantic version
// followed by the parenthesized entry point, as every 1.x and 2.x sends.
var claudeUA = regexp.MustCompile(`^claude-cli/\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.+-]*)? \(`)

// Claude Code's own identity lines, which open its system prompt (or follow
// the billing header): interactive use, then -p / Agent SDK use.
var claudeIdentities = []string{
	"You are Claude Code, Anthropic's official CLI for Claude",
	"You are a Claude agent, built on Anthropic's Claude Agent SDK",
}

// isClaudeCode requires all of:
//   - the claude-cli User-Agent: names the product; the bare SDKs say
//     "Anthropic/JS ..." and curl "curl/8.x".
//   - x-app: cli, set by Claude Code on top of the Anthropic SDK it embeds;
//     plain SDK use lacks it.
//   - anthropic-version, which every Anthropic SDK sends; without it the
//     request was assembled by hand around a copied User-Agent.
//   - one trait of Claude Code's requests themselves (claudeCodeTrait), so a
//     script that copies the headers but builds its own body does not pass.
func isClaudeCode(h http.Header, req Request) bool {
	return claudeUA.MatchString(h.Get("User-Agent")) &&
		h.Get("X-App") == "cli" &&
		h.Get("Anthropic-Version") != "" &&
		claudeCodeTrait(h, req)
}

// claudeCodeTrait reports one thing only Claude Code sends: its session
// metadata in either format, its session header, or its system prompt.
func claudeCodeTrait(h http.Header, req Request) bool {
	if s, ok := userIDSession(req.UserID); ok && isUUID(s) {
		return true
	}
	if isUUID(strings.TrimSpace(h.Get("X-Claude-Code-Session-Id"))) {
		return true
	}
	if req.BillingHeader {
		return true
	}
	sys := strings.TrimSpace(req.System)
	for _, id := range claudeIdentities {
		if strings.HasPrefix(sys, id) {
			return true
		}
	}
	return false
}

// Codex originators (the originator header and the User-Agent's product
// token): codex exec, the interactive TUI, the IDE extension.
var codexOriginators = map[string]bool{
	"codex_exec":   true,
	"codex_cli_rs": true,
	"codex_vscode": true,
}

// codexUA matches "codex_exec/0.169.0 (Debian 12.0.0; x86_64) xterm
// (codex_exec; 0.169.0)" and its siblings, capturing the product token.
var codexUA = regexp.MustCompile(`^([a-z_]+)/\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.+-]*)?(?: |$)`)

// isCodex requires a Codex User-Agent (anchored, a known product token and a
// version: not "OpenAI/Python" or "curl/8.x") and an originator header equal
// to that token. Codex derives both from one value, so a mismatch means a
// hand-made request; the header is also one that neither the OpenAI SDKs nor
// curl send. Codex may omit instructions, so the body is not consulted.
func isCodex(h http.Header) bool {
	m := codexUA.FindStringSubmatch(h.Get("User-Agent"))
	return m != nil && codexOriginators[m[1]] && h.Get("Originator") == m[1]
}

package clientreq

import (
	"fmt"
	"unicode/utf8"
)

// API is the wire format a request came in.
type API uint8

const (
	Claude API = iota + 1 // Anthropic Messages API (/api/v1/messages)
	OpenAI                // OpenAI Responses API (/openai/responses)
)

// Request is what relay needs to know about a relay request body. Byte
// slices alias the parsed body; keep the body unmodified while they are used.
type Request struct {
	API    API
	Model  string // as requested; non-empty
	Stream bool

	// UserID is Claude's metadata.user_id verbatim ("" when absent or not
	// a string). Claude Code puts its session id in it.
	UserID string

	// System is the first text of the system prompt: Claude's system string
	// or first text block, OpenAI's instructions. Claude Code's leading
	// billing-header block is skipped (BillingHeader reports it): it carries
	// the client's version, not the conversation, so it would make every
	// Claude Code session look alike.
	System        string
	BillingHeader bool

	// FirstMessage is the raw JSON of the conversation's first item:
	// messages[0] (Claude), or the first input item or the input string
	// (OpenAI). Only hashed, never decoded.
	FirstMessage []byte

	// PromptCacheKey is OpenAI's prompt_cache_key; Codex sets it to its
	// session id.
	PromptCacheKey string
}

// maxModelLen bounds a model name. Real ids are under 100 bytes; the name
// ends up in events, metrics labels and Redis keys, so junk stops here.
const maxModelLen = 256

// billingHeaderPrefix starts the first system block of Claude Code 2.x.
const billingHeaderPrefix = "x-anthropic-billing-header"

func parseModel(raw []byte) (string, error) {
	s, ok := unquote(raw)
	if !ok {
		return "", newError(ErrModel, "model must be a string")
	}
	if msg := checkModelName(s); msg != "" {
		return "", newError(ErrModel, msg)
	}
	return s, nil
}

// checkModelName says what is wrong with a model name, or "" if nothing is.
func checkModelName(s string) string {
	switch {
	case s == "":
		return "model must be a non-empty string"
	case len(s) > maxModelLen:
		return fmt.Sprintf("model is longer than %d bytes", maxModelLen)
	case !utf8.ValidString(s):
		return "model is not valid UTF-8"
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return "model must not contain control characters"
		}
	}
	return ""
}

func parseStream(raw []byte) (bool, error) {
	switch string(raw) {
	case "true":
		return true, nil
	case "false", "null":
		return false, nil
	}
	return false, newError(ErrStream, "stream must be a boolean")
}

// keySet tracks which top-level keys were seen, to refuse duplicates of the
// keys relay reads: with {"model":"a","model":"b"} relay and the upstream
// could each believe a different one, which would defeat model restrictions.
type keySet uint16

func (s *keySet) once(bit keySet, name string) error {
	if *s&bit != 0 {
		return newError(ErrDuplicateKey, fmt.Sprintf("duplicate key %q in request body", name))
	}
	*s |= bit
	return nil
}

const (
	keyModel keySet = 1 << iota
	keyStream
	keyMetadata
	keySystem
	keyMessages
	keyInstructions
	keyInput
	keyPromptCacheKey
)

func missingModel() error { return newError(ErrModel, "model is required") }

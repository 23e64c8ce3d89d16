package clientreq

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
)

// SessionID returns the session id the client itself declares (DESIGN 7), or
// "" if it declares none. Claude: the session part of metadata.user_id
// (either format), else the X-Claude-Code-Session-Id header. OpenAI: the
// session-id or session_id header, else prompt_cache_key.
func SessionID(h http.Header, req Request) string {
	switch req.API {
	case Claude:
		if s, _ := userIDSession(req.UserID); s != "" {
			return s
		}
		return strings.TrimSpace(h.Get("X-Claude-Code-Session-Id"))
	case OpenAI:
		for _, name := range []string{"Session-Id", "Session_id"} {
			if s := strings.TrimSpace(h.Get(name)); s != "" {
				return s
			}
		}
		return strings.TrimSpace(req.PromptCacheKey)
	}
	return ""
}

// SessionHash returns the key the scheduler binds a sticky account to: 32 hex
// digits of a SHA-256 over the API key id and the client's session id, or,
// when the client declares none, over the system text and the raw first
// message (stable across the turns of one conversation). It is "" when the
// request carries nothing to pin.
//
// The key id is part of the digest so that two API keys never share a
// binding, even when their clients send the same session id or prompt: one
// key's traffic must not steer or observe another's account choice.
func SessionHash(keyID string, h http.Header, req Request) string {
	if id := SessionID(h, req); id != "" {
		// The same tag for the header and the metadata form: Claude Code
		// sends the same id in both, and either alone must hit one binding.
		return digest(keyID, "session", id)
	}
	if req.System == "" && len(req.FirstMessage) == 0 {
		return ""
	}
	return digest(keyID, "content", req.System, string(req.FirstMessage))
}

// digest hashes length-prefixed parts, so that no two different part lists
// (say "ab"+"c" and "a"+"bc") produce the same input.
func digest(parts ...string) string {
	h := sha256.New()
	var n [binary.MaxVarintLen64]byte
	h.Write([]byte("relay.session.v1"))
	for _, p := range parts {
		h.Write(n[:binary.PutUvarint(n[:], uint64(len(p)))])
		h.Write([]byte(p))
	}
	var sum [sha256.Size]byte
	return hex.EncodeToString(h.Sum(sum[:0])[:16])
}

// userIDSession returns the session part of a Claude Code metadata.user_id,
// and whether the value has one of Claude Code's two shapes:
//
//	user_<64 hex>_account_<account uuid or empty>_session_<uuid>   (until 2.0)
//	{"device_id":"<64 hex>","account_uuid":"...","session_id":"<uuid>"}  (2.1+)
func userIDSession(userID string) (session string, claudeCode bool) {
	if strings.HasPrefix(userID, "{") {
		var v struct {
			DeviceID  *string `json:"device_id"`
			SessionID string  `json:"session_id"`
		}
		if json.Unmarshal([]byte(userID), &v) != nil {
			return "", false
		}
		s := strings.TrimSpace(v.SessionID)
		return s, s != "" && v.DeviceID != nil && isHex(*v.DeviceID, 64)
	}
	rest, ok := strings.CutPrefix(userID, "user_")
	if !ok || len(rest) < 64 || !isHex(rest[:64], 64) {
		return "", false
	}
	rest, ok = strings.CutPrefix(rest[64:], "_account_")
	if !ok {
		return "", false
	}
	i := strings.LastIndex(rest, "_session_")
	if i < 0 {
		return "", false
	}
	s := rest[i+len("_session_"):]
	return s, s != ""
}

func isHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// isUUID reports whether s has the 8-4-4-4-12 hex shape.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch i {
		case 8, 13, 18, 23:
			if s[i] != '-' {
				return false
			}
		default:
			if !isHex(s[i:i+1], 1) {
				return false
			}
		}
	}
	return true
}

package clientreq

import "strings"

// ParseClaude reads an Anthropic Messages API body: model, stream,
// metadata.user_id, the first system text and the first message. The body
// must be a JSON object no deeper than MaxDepth with a non-empty string
// model; anything else is an *Error. Other members (messages beyond the
// first, tools, thinking, ...) are skipped without being decoded.
func ParseClaude(body []byte) (Request, error) {
	req := Request{API: Claude}
	start, err := object(body)
	if err != nil {
		return Request{}, err
	}
	var seen keySet
	err = members(body, start, func(key []byte, s, e int) error {
		v := body[s:e]
		var err error
		switch string(key) {
		case "model":
			if err = seen.once(keyModel, "model"); err == nil {
				req.Model, err = parseModel(v)
			}
		case "stream":
			if err = seen.once(keyStream, "stream"); err == nil {
				req.Stream, err = parseStream(v)
			}
		case "metadata":
			if err = seen.once(keyMetadata, "metadata"); err == nil {
				req.UserID = metadataUserID(v)
			}
		case "system":
			if err = seen.once(keySystem, "system"); err == nil {
				req.System, req.BillingHeader = claudeSystem(v)
			}
		case "messages":
			if err = seen.once(keyMessages, "messages"); err == nil {
				req.FirstMessage = firstElement(v)
			}
		}
		return err
	})
	if err != nil {
		return Request{}, err
	}
	if seen&keyModel == 0 {
		return Request{}, missingModel()
	}
	return req, nil
}

// metadataUserID returns metadata.user_id if it is a string. A malformed
// metadata is left for the upstream to refuse: relay only reads it.
func metadataUserID(v []byte) string {
	if v[0] != '{' {
		return ""
	}
	var id string
	_ = members(v, 0, func(key []byte, s, e int) error {
		if string(key) == "user_id" {
			id, _ = unquote(v[s:e])
		}
		return nil
	})
	return id
}

// claudeSystem returns the first text of a system prompt given as a string
// or a list of blocks, skipping a leading Claude Code billing header, and
// whether that header was there.
func claudeSystem(v []byte) (text string, billing bool) {
	if v[0] == '"' {
		text, _ = unquote(v)
		return text, false
	}
	if v[0] != '[' {
		return "", false
	}
	first := true
	elements(v, func(block []byte) bool {
		t, ok := blockText(block)
		if !ok {
			return true
		}
		if first && strings.HasPrefix(t, billingHeaderPrefix) {
			first, billing = false, true
			return true
		}
		text = t
		return false
	})
	return text, billing
}

// blockText returns the text of a {"type":"text","text":...} block.
func blockText(block []byte) (string, bool) {
	if block[0] != '{' {
		return "", false
	}
	var typ, text []byte
	_ = members(block, 0, func(key []byte, s, e int) error {
		switch string(key) {
		case "type":
			typ = block[s:e]
		case "text":
			text = block[s:e]
		}
		return nil
	})
	if string(typ) != `"text"` || text == nil {
		return "", false
	}
	return unquote(text)
}

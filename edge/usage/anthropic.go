package usage

import "relay/events"

// anthropicUsage is the usage object of the Messages API, in message_start,
// message_delta and a non-streaming Message.
type anthropicUsage struct {
	InputTokens              count `json:"input_tokens"`
	OutputTokens             count `json:"output_tokens"`
	CacheCreationInputTokens count `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     count `json:"cache_read_input_tokens"`
	CacheCreation            struct {
		Ephemeral5m count `json:"ephemeral_5m_input_tokens"`
		Ephemeral1h count `json:"ephemeral_1h_input_tokens"`
	} `json:"cache_creation"`
}

// merge folds u into t. Input and cache figures replace earlier ones only when
// non-zero: message_start carries them, and some providers repeat them (or
// send them only) in message_delta, where a zero means "not reported" rather
// than "none". Output tokens are cumulative, so the latest figure wins.
func (u *anthropicUsage) merge(t *events.Tokens) {
	if v := u.InputTokens.n; v > 0 {
		t.InputTokens = v
	}
	if u.OutputTokens.set {
		t.OutputTokens = u.OutputTokens.n
	}
	create := u.CacheCreationInputTokens.n
	if create == 0 {
		// A provider that gives only the TTL breakdown still wrote to the cache.
		create = u.CacheCreation.Ephemeral5m.n + u.CacheCreation.Ephemeral1h.n
	}
	if create > 0 {
		t.CacheCreateTokens = create
	}
	if v := u.CacheCreation.Ephemeral1h.n; v > 0 {
		t.CacheCreate1hTokens = v
	}
	if v := u.CacheReadInputTokens.n; v > 0 {
		t.CacheReadTokens = v
	}
}

// anthropicEvent observes one Messages API event of the given kind and
// reports whether it is terminal. data is the payload if already extracted.
func (r *Reader) anthropicEvent(kind, data, ev []byte) (terminal bool) {
	switch string(kind) {
	case "message_start":
		msg, ok := member(r.data(data, ev), "message")
		if !ok {
			return false
		}
		if v, ok := member(msg, "model"); ok {
			r.setModel(v)
		}
		if v, ok := member(msg, "usage"); ok {
			r.anthropicUsage(v)
		}
	case "message_delta":
		if v, ok := member(r.data(data, ev), "usage"); ok {
			r.anthropicUsage(v)
		}
	case "message_stop":
		return true
	case "error":
		var e struct {
			Type    string `json:"type"`
			Message string `json:"message"`
		}
		if v, ok := member(r.data(data, ev), "error"); ok {
			decode(v, &e)
		}
		r.setError(e.Type, e.Message)
		return true
	}
	return false
}

func (r *Reader) anthropicUsage(v []byte) {
	var u anthropicUsage
	if decode(v, &u) {
		u.merge(&r.tokens)
		r.sawUsage = true
	}
}

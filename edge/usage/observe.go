package usage

// Dialect names the upstream API whose events a Reader observes. The zero
// Dialect frames events but observes nothing.
type Dialect uint8

const (
	// Anthropic is the Messages API (POST /v1/messages).
	Anthropic Dialect = iota + 1
	// OpenAI is the Responses API (POST /responses).
	OpenAI
)

func (d Dialect) String() string {
	switch d {
	case Anthropic:
		return "anthropic"
	case OpenAI:
		return "openai"
	}
	return "unknown"
}

// observe notes what the event ev, just framed, says about the request.
// It decides from the event's name alone, a string comparison, whether the
// event is one of the few worth decoding; the rest cost nothing more.
func (r *Reader) observe(ev []byte) {
	if r.dialect != Anthropic && r.dialect != OpenAI {
		return
	}
	kind := r.frame.eventName(ev)
	var data []byte
	if len(kind) == 0 {
		// Without an "event:" field the kind is the payload's "type"; both
		// APIs put it first, so this reads a few bytes.
		data = r.frame.payload(ev)
		kind, _ = stringValue(data, "type")
	}
	var terminal bool
	switch r.dialect {
	case Anthropic:
		terminal = r.anthropicEvent(kind, data, ev)
	case OpenAI:
		terminal = r.openaiEvent(kind, data, ev)
	}
	if terminal {
		r.terminal, r.lastTerminal = true, true
	}
}

// data returns the event's payload, reusing one already extracted.
func (r *Reader) data(data, ev []byte) []byte {
	if data != nil {
		return data
	}
	return r.frame.payload(ev)
}

// setModel records the model named by the raw JSON value v, without
// allocating when it is the one already recorded.
func (r *Reader) setModel(v []byte) {
	if m, ok := jsonString(v, r.model); ok && m != "" {
		r.model = m
	}
}

func (r *Reader) setError(typ, msg string) {
	r.errType, r.errMsg, r.sawError = typ, msg, true
}

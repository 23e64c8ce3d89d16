package usagelog

import (
	"errors"
	"time"

	"relay/events"
)

// Event is one usage event as read from USAGE. Data is the events.Usage
// payload exactly as stored (an events.RefusalsCounted payload when
// Counted); the fields are decoded from it on first use.
type Event struct {
	// Seq is the event's stream sequence.
	Seq uint64
	// Stored is when USAGE stored the event: the time --since and --until
	// compare, and the ledger's own clock.
	Stored time.Time
	// Subject is relay.usage.<platform>.<keyId>.
	Subject string
	// Data is the payload (the envelope's "data" member), raw.
	Data []byte
	// Counted marks a count of refused requests (usage.refusals_counted):
	// Fields().Count requests of one key, reason and minute, refused
	// before any upstream was tried.
	Counted bool

	fields Fields
	parsed bool
}

// Fields are the members of an events.Usage payload the ledger reads. The
// attempt log and exclusions are left in Data. The strings share Data's
// bytes (never modified): keeping one keeps the payload; strings.Clone
// what is kept long.
type Fields struct {
	ID            string
	Time          string // as written (RFC 3339); see EventTime
	KeyID         string
	AccountID     string
	Platform      string
	Model         string
	UpstreamModel string
	SessionHash   string
	Client        string
	Stream        bool
	Status        int64
	Outcome       string
	Reason        string
	Attempts      int64
	events.Tokens
	// CostNanos and CostMicros are the members as written: read the cost
	// with Nanos.
	CostNanos  int64
	CostMicros int64
	Priced     bool
	DurationMs int64
	TTFTMs     int64
	// Counted and Count: the event is a count of Count refusals
	// (Event.Counted), not one request.
	Counted bool
	Count   int64
}

// Nanos is the event's cost in nano-dollars (events.CostNanos).
func (f *Fields) Nanos() int64 { return events.CostNanos(f.CostNanos, f.CostMicros) }

// Fields decodes the payload's members once and returns them.
func (e *Event) Fields() *Fields {
	if !e.parsed {
		e.parsed = true
		e.fields = parseUsage(e.Data)
		e.fields.Counted = e.Counted
		if !e.Counted {
			e.fields.Count = 0
		}
	}
	return &e.fields
}

// EventTime is the usage event's own time (when the request was made), in
// loc: what day and hour buckets use.
func (e *Event) EventTime(loc *time.Location) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, e.Fields().Time)
	if err != nil {
		return time.Time{}, err
	}
	return t.In(loc), nil
}

// Refused reports whether the request was refused after authentication (a
// limit), or the event counts such refusals. Refusals are counted apart
// from requests, as the stats read models count them
// (projections.FieldRefused); every other outcome, no_account included, is
// a request.
func (f *Fields) Refused() bool { return f.Counted || f.Outcome == events.OutcomeRefused }

// Refusals is how many refused requests the event stands for: Count for a
// count of refusals, 1 for one refused request, else 0.
func (f *Fields) Refusals() int64 {
	switch {
	case f.Counted:
		return max(f.Count, 0)
	case f.Outcome == events.OutcomeRefused:
		return 1
	}
	return 0
}

// errNotUsage reports a message of USAGE that is neither a usage.recorded
// nor a usage.refusals_counted envelope; replay counts and skips it.
var errNotUsage = errors.New("ledger: not a usage event")

// payload returns the "data" member of a usage.recorded or
// usage.refusals_counted envelope without decoding either; counted says
// which.
func payload(env []byte) (data []byte, counted bool, err error) {
	var typ []byte
	ok := members(env, func(key, val []byte) bool {
		switch string(key) {
		case "type":
			typ = val
		case "data":
			data = val
		}
		return true // read to the end: a truncated envelope is refused
	})
	counted = string(typ) == `"`+events.UsageRefusalsCounted+`"`
	if !ok || data == nil || len(data) == 0 || data[0] != '{' || (string(typ) != `"`+events.UsageRecorded+`"` && !counted) {
		return nil, false, errNotUsage
	}
	return data, counted, nil
}

func parseUsage(data []byte) Fields {
	var f Fields
	members(data, func(key, v []byte) bool {
		switch string(key) {
		case "id":
			f.ID = str(v)
		case "time":
			f.Time = str(v)
		case "keyId":
			f.KeyID = str(v)
		case "accountId":
			f.AccountID = str(v)
		case "platform":
			f.Platform = str(v)
		case "model":
			f.Model = str(v)
		case "upstreamModel":
			f.UpstreamModel = str(v)
		case "sessionHash":
			f.SessionHash = str(v)
		case "client":
			f.Client = str(v)
		case "stream":
			f.Stream = string(v) == "true"
		case "status":
			f.Status = num(v)
		case "outcome":
			f.Outcome = str(v)
		case "reason":
			f.Reason = str(v)
		case "attempts":
			f.Attempts = num(v)
		case "inputTokens":
			f.InputTokens = num(v)
		case "outputTokens":
			f.OutputTokens = num(v)
		case "cacheCreateTokens":
			f.CacheCreateTokens = num(v)
		case "cacheCreate1hTokens":
			f.CacheCreate1hTokens = num(v)
		case "cacheReadTokens":
			f.CacheReadTokens = num(v)
		case "reasoningTokens":
			f.ReasoningTokens = num(v)
		case "costNanos":
			f.CostNanos = num(v)
		case "costMicros":
			f.CostMicros = num(v)
		case "priced":
			f.Priced = string(v) == "true"
		case "durationMs":
			f.DurationMs = num(v)
		case "ttftMs":
			f.TTFTMs = num(v)
		case "count":
			f.Count = num(v)
		}
		return true
	})
	return f
}

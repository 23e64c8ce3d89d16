package events

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"time"
)

// UsageRefusalsCounted is a count of requests refused before any upstream
// was tried (stream USAGE): one event per key, platform, reason and minute
// from each edge, however many requests were refused. Refusals are counted,
// not stored one by one, so a flood of them cannot grow storage without
// bound (DESIGN.md section 5). Older streams may also hold usage.recorded
// events with outcome refused, one per request; readers fold both.
const UsageRefusalsCounted = "usage.refusals_counted"

// Refusal reasons: the closed set an edge counts under. A reason outside it
// is counted as RefusalOther, so the edge's tally stays bounded whatever
// its callers pass.
const (
	RefusalBodyTooLarge        = "body_too_large"
	RefusalBodyUnreadable      = "body_unreadable"
	RefusalInvalidRequest      = "invalid_request"
	RefusalPermission          = "permission"
	RefusalClient              = "client"
	RefusalModel               = "model"
	RefusalConcurrency         = "concurrency"
	RefusalRequests            = "requests"
	RefusalSpendUnknown        = "spend_unknown"
	RefusalSpendStale          = "spend_stale"
	RefusalTotalCostLimit      = "total_cost_limit"
	RefusalDailyCostLimit      = "daily_cost_limit"
	RefusalWeeklyOpusCostLimit = "weekly_opus_cost_limit"
	RefusalWindowCostLimit     = "window_cost_limit"
	// RefusalNoAccount: no account could take the request (503), so no
	// upstream was tried.
	RefusalNoAccount = "no_account"
	RefusalOther     = "other"
)

// RefusalReasons lists every reason of the closed set.
var RefusalReasons = []string{
	RefusalBodyTooLarge, RefusalBodyUnreadable, RefusalInvalidRequest, RefusalPermission,
	RefusalClient, RefusalModel, RefusalConcurrency, RefusalRequests, RefusalSpendUnknown,
	RefusalSpendStale, RefusalTotalCostLimit, RefusalDailyCostLimit, RefusalWeeklyOpusCostLimit,
	RefusalWindowCostLimit, RefusalNoAccount, RefusalOther,
}

// RefusalReason returns reason if it is one of RefusalReasons, else
// RefusalOther.
func RefusalReason(reason string) string {
	for _, r := range RefusalReasons {
		if r == reason {
			return r
		}
	}
	return RefusalOther
}

// RefusalsCounted is the payload of UsageRefusalsCounted. Its member names
// are those of Usage where they mean the same, so a reader of the raw
// ledger (relay replay --format ndjson) sees outcome "refused" and the
// reason as on a per-request refusal, with Count requests behind it.
type RefusalsCounted struct {
	KeyID    string `json:"keyId"`
	Platform string `json:"platform"`
	// Outcome is always OutcomeRefused.
	Outcome string `json:"outcome"`
	Reason  string `json:"reason"`
	// Time is the start of the minute (UTC) the refusals fell in.
	Time time.Time `json:"time"`
	// Count is how many requests were refused in that minute for that
	// reason, on that edge (> 0).
	Count int64 `json:"count"`
	// First and Last are the times of the first and last of them.
	First time.Time `json:"first"`
	Last  time.Time `json:"last"`
	// Edge names the edge process that counted them (random per process
	// start), so two edges' counts of one minute are two events.
	Edge string `json:"edge"`
}

// RefusalsCountedID is the event id (and Nats-Msg-Id) of a count: fixed by
// the edge process, key, platform, reason, minute and flush number, so a
// retried publish of the same count is stored once, while two flushes of
// one minute (a flush at shutdown, then the rest) are two events.
func RefusalsCountedID(edge, keyID, platform, reason string, minute time.Time, flush uint64) string {
	h := sha256.New()
	for _, s := range []string{edge, keyID, platform, reason, strconv.FormatInt(minute.Unix(), 10), strconv.FormatUint(flush, 10)} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

package projections

import (
	"strconv"
	"strings"
	"time"

	"relay/events"
)

// Usage statistics are counters: every usage event turns into a list of
// Deltas (UsageDeltas), each naming a logical counter and an amount. Store
// turns the deltas into Redis writes applied atomically with the usage
// checkpoint, so counters commute: events may be applied in any order, by
// several workers, and each exactly once.

// Dimension names what a counter is counted for.
type Dimension string

// Dimensions of the usage counters.
const (
	DimAll      Dimension = "all"      // everything; ID ""
	DimKey      Dimension = "key"      // ID: API key id
	DimAccount  Dimension = "account"  // ID: upstream account id
	DimModel    Dimension = "model"    // ID: model as requested (StatsModel)
	DimPlatform Dimension = "platform" // ID: platform
	// DimKeyModel and DimAccountModel count one key's (account's) usage of
	// one model; ID is PairID(keyID, model).
	DimKeyModel     Dimension = "keymodel"
	DimAccountModel Dimension = "acctmodel"
)

// Granularity is the width of a counter's time bucket.
type Granularity string

// Granularities. Hour, day, week and month buckets are calendar buckets in
// the projection's time zone; second and minute buckets are absolute (Unix
// time), for rolling windows.
const (
	GranSecond Granularity = "s"   // label: Unix seconds
	GranMinute Granularity = "m"   // label: Unix minutes
	GranHour   Granularity = "h"   // label: local start, "2006-01-02T15-0700"
	GranDay    Granularity = "d"   // label: local date, "2006-01-02"
	GranWeek   Granularity = "w"   // label: the week's Monday, "2006-01-02"
	GranMonth  Granularity = "mo"  // label: "2006-01"
	GranAll    Granularity = "all" // label: ""
)

// Counter fields. Every stats bucket (hour, day, month, all) of every
// dimension counts the fields from FieldRequests to FieldUnpriced.
const (
	// FieldRequests counts requests that reached the relay's upstream
	// handling: every event whose outcome is not refused.
	FieldRequests = "requests"
	// FieldRefused counts requests refused after authentication, before
	// any upstream was tried: usage.recorded events with outcome refused
	// (older streams) plus the counts of usage.refusals_counted.
	FieldRefused = "refused"
	// FieldErrors counts requests (not refusals) that failed: status >= 400
	// or an outcome other than ok.
	FieldErrors              = "errors"
	FieldInputTokens         = "inputTokens"
	FieldOutputTokens        = "outputTokens"
	FieldCacheCreateTokens   = "cacheCreateTokens"
	FieldCacheCreate1hTokens = "cacheCreate1hTokens"
	FieldCacheReadTokens     = "cacheReadTokens"
	FieldReasoningTokens     = "reasoningTokens"
	FieldCostNanos           = "costNanos"
	// FieldTTFTSumMs and FieldTTFTCount give the average time to first
	// token over the requests that reported one (TTFTMs > 0).
	FieldTTFTSumMs = "ttftSumMs"
	FieldTTFTCount = "ttftCount"
	// FieldUnpriced counts requests whose model had no price.
	FieldUnpriced = "unpriced"

	// FieldOpusCostNanos is the cost of Opus models, in a key's week buckets.
	FieldOpusCostNanos = "opusCostNanos"
	// FieldTokens is TotalTokens, in the second buckets of DimAll.
	FieldTokens = "tokens"
	// FieldLastUsedAt and FieldFirstUsedAt are the newest and oldest event
	// times (Unix ms) in the all-time bucket of DimKey, DimAccount and
	// DimAll (there: the newest event applied at all).
	FieldLastUsedAt  = "lastUsedAt"
	FieldFirstUsedAt = "firstUsedAt"
)

// Agg says how a delta combines with the counter.
type Agg uint8

// Aggregations.
const (
	AggSum Agg = iota // add Amount
	AggMax            // keep the largest value
	AggMin            // keep the smallest value
)

// Retention of the buckets, counted from the end of each bucket.
const (
	HourlyRetention = 7 * 24 * time.Hour
	DailyDays       = 400 // daily buckets are kept 400 local days
	WeeklyRetention = 7 * 24 * time.Hour
	// MaxSpendWindow is the longest rolling window (rateLimitWindow) a
	// key's spend is summed for to the minute: the key's minute buckets are
	// kept that long, plus an hour of slack for clock skew between edge and
	// Redis. Longer windows are summed from daily buckets.
	MaxSpendWindow     = 7 * 24 * time.Hour
	KeyMinuteRetention = MaxSpendWindow + time.Hour
	// AccountMinuteRetention keeps an account's minute buckets for daily
	// quotas that reset at any time of day (quotaResetTime).
	AccountMinuteRetention = 25 * time.Hour
	// SecondRetention keeps the per-second request and token rates.
	SecondRetention = 5 * time.Minute
)

// MaxModelLen bounds the model name a counter is kept under: the model is
// whatever the client asked for.
const MaxModelLen = 128

// Delta is one change of one logical counter: the bucket of granularity
// Gran labelled Label, of ID in dimension Dim, field Field.
type Delta struct {
	Dim    Dimension
	ID     string
	Gran   Granularity
	Label  string
	Field  string
	Amount int64
	Agg    Agg
	// ExpireAt is when the bucket may be dropped; zero keeps it forever.
	// It depends on the bucket only, never on when the event is applied,
	// so a rebuild expires the same buckets at the same moments.
	ExpireAt time.Time
}

// UsageOptions parameterise UsageDeltas.
type UsageOptions struct {
	// Loc is the time zone of the calendar buckets; nil means UTC.
	Loc *time.Location
	// IsOpus reports whether a model counts toward the weekly Opus limit
	// (pricing.Table.IsOpus); nil counts no model.
	IsOpus func(model string) bool
}

func (o UsageOptions) loc() *time.Location {
	if o.Loc == nil {
		return time.UTC
	}
	return o.Loc
}

// StatsGrans are the granularities of the stats buckets.
var StatsGrans = []Granularity{GranHour, GranDay, GranMonth, GranAll}

// HasBuckets reports whether dimension d keeps stats buckets of granularity
// g: every dimension keeps all of StatsGrans, except DimPlatform, which
// keeps days and all time only (every bucket costs a write per field per
// event, and nothing reads platforms by the hour or month).
func HasBuckets(d Dimension, g Granularity) bool {
	switch g {
	case GranDay, GranAll:
		return true
	case GranHour, GranMonth:
		return d != DimPlatform
	}
	return false
}

// UsageDeltas returns the counter deltas of one usage event. Buckets come
// from u.Time (the caller sets it, from the envelope's time when the payload
// has none) in o.Loc. Deltas with a zero amount are left out. The result is
// deterministic: the same event and options always give the same list.
func UsageDeltas(u events.Usage, o UsageOptions) []Delta {
	var s usageSum
	s.add(u, o)
	return s.deltas(o.loc())
}

// UsageBatchDeltas returns deltas whose fold equals folding UsageDeltas of
// each event. Events of one key, account, model and platform within one
// second share every bucket, so their amounts are summed first: a batch of
// such events costs about as many deltas as one event.
func UsageBatchDeltas(us []events.Usage, o UsageOptions) []Delta {
	type groupKey struct {
		keyID, accountID, model, platform string
		sec                               int64
		opus                              bool
	}
	var order []*usageSum
	groups := make(map[groupKey]*usageSum, 4)
	for _, u := range us {
		k := groupKey{u.KeyID, u.AccountID, StatsModel(u.Model), usagePlatform(u), unixFloor(u.Time, time.Second), isOpus(u, o)}
		g, ok := groups[k]
		if !ok {
			g = &usageSum{}
			groups[k] = g
			order = append(order, g)
		}
		g.add(u, o)
	}
	var out []Delta
	for _, g := range order {
		out = append(out, g.deltas(o.loc())...)
	}
	return out
}

// RefusalDeltas returns the counter deltas of one count of refusals
// (events.UsageRefusalsCounted): r.Count added to the refused field of the
// key, its platform and the whole, in every stats bucket of r.Time, and the
// key's and the whole's first and last use from r.First and r.Last, as that
// many usage.recorded refusals of that minute would. Counts carry no model,
// so they are not counted per model. A count that is not positive adds
// nothing.
func RefusalDeltas(r events.RefusalsCounted, o UsageOptions) []Delta {
	if r.Count <= 0 {
		return nil
	}
	loc := o.loc()
	t := r.Time
	platform := r.Platform
	if platform == "" {
		platform = "unknown"
	}
	type target struct {
		dim Dimension
		id  string
	}
	targets := []target{{DimAll, ""}, {DimPlatform, platform}}
	if r.KeyID != "" {
		targets = append(targets, target{DimKey, r.KeyID})
	}
	out := make([]Delta, 0, len(targets)*len(StatsGrans)+4)
	for _, g := range StatsGrans {
		label, exp := BucketLabel(g, t, loc), BucketExpiry(g, t, loc)
		for _, tg := range targets {
			if HasBuckets(tg.dim, g) {
				out = append(out, Delta{Dim: tg.dim, ID: tg.id, Gran: g, Label: label, Field: FieldRefused, Amount: r.Count, ExpireAt: exp})
			}
		}
	}
	first, last := r.First, r.Last
	if first.IsZero() {
		first = t
	}
	if last.IsZero() {
		last = first
	}
	for _, tg := range targets {
		if tg.dim == DimPlatform {
			continue
		}
		out = append(out,
			Delta{Dim: tg.dim, ID: tg.id, Gran: GranAll, Field: FieldLastUsedAt, Amount: last.UnixMilli(), Agg: AggMax},
			Delta{Dim: tg.dim, ID: tg.id, Gran: GranAll, Field: FieldFirstUsedAt, Amount: first.UnixMilli(), Agg: AggMin})
	}
	return out
}

// Stats fields in the order their deltas are listed.
const (
	sumRequests = iota
	sumRefused
	sumErrors
	sumTTFTSumMs
	sumTTFTCount
	sumUnpriced
	sumInputTokens
	sumOutputTokens
	sumCacheCreateTokens
	sumCacheCreate1hTokens
	sumCacheReadTokens
	sumReasoningTokens
	sumCostNanos
	numSumFields
)

var sumFieldNames = [numSumFields]string{
	FieldRequests, FieldRefused, FieldErrors, FieldTTFTSumMs, FieldTTFTCount, FieldUnpriced,
	FieldInputTokens, FieldOutputTokens, FieldCacheCreateTokens, FieldCacheCreate1hTokens,
	FieldCacheReadTokens, FieldReasoningTokens, FieldCostNanos,
}

// usageSum is what one or more usage events with the same counter
// coordinates (key, account, model, platform, second, Opus or not) add.
type usageSum struct {
	n                                 int
	t                                 time.Time // the first event's: every bucket is the same for all
	keyID, accountID, model, platform string
	opus                              bool
	fields                            [numSumFields]int64
	firstMs, lastMs                   int64
	tokens                            int64
}

func usagePlatform(u events.Usage) string {
	if u.Platform == "" {
		return "unknown"
	}
	return u.Platform
}

func isOpus(u events.Usage, o UsageOptions) bool {
	return o.IsOpus != nil && (o.IsOpus(u.Model) || (u.UpstreamModel != "" && o.IsOpus(u.UpstreamModel)))
}

func (s *usageSum) add(u events.Usage, o UsageOptions) {
	ms := u.Time.UnixMilli()
	if s.n == 0 {
		s.t, s.keyID, s.accountID, s.model, s.platform = u.Time, u.KeyID, u.AccountID, StatsModel(u.Model), usagePlatform(u)
		s.opus = isOpus(u, o)
		s.firstMs, s.lastMs = ms, ms
	}
	s.n++
	s.firstMs, s.lastMs = min(s.firstMs, ms), max(s.lastMs, ms)
	f := &s.fields
	if u.Outcome == events.OutcomeRefused {
		f[sumRefused]++
	} else {
		f[sumRequests]++
		if u.Status >= 400 || u.Outcome != events.OutcomeOK {
			f[sumErrors]++
		}
		if u.TTFTMs > 0 {
			f[sumTTFTSumMs] += u.TTFTMs
			f[sumTTFTCount]++
		}
		if !u.Priced {
			f[sumUnpriced]++
		}
	}
	// Tokens and cost count whatever the outcome: a refusal carries none,
	// and money reported is never dropped.
	f[sumInputTokens] += u.InputTokens
	f[sumOutputTokens] += u.OutputTokens
	f[sumCacheCreateTokens] += u.CacheCreateTokens
	f[sumCacheCreate1hTokens] += u.CacheCreate1hTokens
	f[sumCacheReadTokens] += u.CacheReadTokens
	f[sumReasoningTokens] += u.ReasoningTokens
	f[sumCostNanos] += u.Nanos()
	s.tokens += TotalTokens(u)
}

// deltas lists what s adds, zero amounts left out.
func (s *usageSum) deltas(loc *time.Location) []Delta {
	t := s.t
	type target struct {
		dim Dimension
		id  string
	}
	targets := make([]target, 0, 7)
	targets = append(targets, target{DimAll, ""}, target{DimPlatform, s.platform}, target{DimModel, s.model})
	if s.keyID != "" {
		targets = append(targets, target{DimKey, s.keyID}, target{DimKeyModel, PairID(s.keyID, s.model)})
	}
	if s.accountID != "" {
		targets = append(targets, target{DimAccount, s.accountID}, target{DimAccountModel, PairID(s.accountID, s.model)})
	}
	nonZero := 0
	for _, n := range s.fields {
		if n != 0 {
			nonZero++
		}
	}

	out := make([]Delta, 0, len(targets)*len(StatsGrans)*nonZero+16)
	for _, g := range StatsGrans {
		label, exp := BucketLabel(g, t, loc), BucketExpiry(g, t, loc)
		for _, tg := range targets {
			if !HasBuckets(tg.dim, g) {
				continue
			}
			for i, n := range s.fields {
				if n != 0 {
					out = append(out, Delta{Dim: tg.dim, ID: tg.id, Gran: g, Label: label, Field: sumFieldNames[i], Amount: n, ExpireAt: exp})
				}
			}
		}
	}

	for _, tg := range []target{{DimAll, ""}, {DimKey, s.keyID}, {DimAccount, s.accountID}} {
		if tg.dim != DimAll && tg.id == "" {
			continue
		}
		out = append(out,
			Delta{Dim: tg.dim, ID: tg.id, Gran: GranAll, Field: FieldLastUsedAt, Amount: s.lastMs, Agg: AggMax},
			Delta{Dim: tg.dim, ID: tg.id, Gran: GranAll, Field: FieldFirstUsedAt, Amount: s.firstMs, Agg: AggMin})
	}

	cost := s.fields[sumCostNanos]
	if s.keyID != "" && cost != 0 {
		wl, we := BucketLabel(GranWeek, t, loc), BucketExpiry(GranWeek, t, loc)
		out = append(out, Delta{Dim: DimKey, ID: s.keyID, Gran: GranWeek, Label: wl, Field: FieldCostNanos, Amount: cost, ExpireAt: we})
		if s.opus {
			out = append(out, Delta{Dim: DimKey, ID: s.keyID, Gran: GranWeek, Label: wl, Field: FieldOpusCostNanos, Amount: cost, ExpireAt: we})
		}
		out = append(out, minuteDelta(DimKey, s.keyID, t, cost, KeyMinuteRetention))
	}
	if s.accountID != "" && cost != 0 {
		out = append(out, minuteDelta(DimAccount, s.accountID, t, cost, AccountMinuteRetention))
	}

	sl, se := BucketLabel(GranSecond, t, loc), BucketExpiry(GranSecond, t, loc)
	if n := s.fields[sumRequests]; n != 0 {
		out = append(out, Delta{Dim: DimAll, Gran: GranSecond, Label: sl, Field: FieldRequests, Amount: n, ExpireAt: se})
	}
	if s.tokens != 0 {
		out = append(out, Delta{Dim: DimAll, Gran: GranSecond, Label: sl, Field: FieldTokens, Amount: s.tokens, ExpireAt: se})
	}
	return out
}

func minuteDelta(dim Dimension, id string, t time.Time, cost int64, retention time.Duration) Delta {
	m := unixFloor(t, time.Minute)
	end := time.Unix((m+1)*60, 0)
	return Delta{Dim: dim, ID: id, Gran: GranMinute, Label: strconv.FormatInt(m, 10), Field: FieldCostNanos, Amount: cost, ExpireAt: end.Add(retention)}
}

// TotalTokens is every token of a request counted once: input, output,
// cache writes and cache reads. Codex (OpenAI) reports cache reads inside
// the input tokens and reasoning inside the output, so they are not added
// again.
func TotalTokens(u events.Usage) int64 {
	n := u.InputTokens + u.OutputTokens + u.CacheCreateTokens
	if u.Platform != events.PlatformCodex {
		n += u.CacheReadTokens
	}
	return n
}

// StatsModel is the name a model's counters are kept under: the requested
// model, "unknown" when empty, cut to MaxModelLen bytes.
func StatsModel(model string) string {
	if model == "" {
		return "unknown"
	}
	if len(model) > MaxModelLen {
		model = strings.ToValidUTF8(model[:MaxModelLen], "")
	}
	return model
}

// PairID is the ID of a DimKeyModel or DimAccountModel counter. Key and
// account ids never contain ':', so the pair splits at its first one.
func PairID(id, model string) string { return id + ":" + model }

// SplitPairID is the inverse of PairID.
func SplitPairID(pair string) (id, model string) {
	id, model, _ = strings.Cut(pair, ":")
	return id, model
}

// unixFloor is t in whole units since the Unix epoch, rounded down.
func unixFloor(t time.Time, unit time.Duration) int64 {
	n := t.UnixNano()
	u := int64(unit)
	q := n / u
	if n%u < 0 {
		q--
	}
	return q
}

// BucketStart returns the start of the bucket of granularity g holding t, in
// loc. GranAll starts at the zero time.
func BucketStart(g Granularity, t time.Time, loc *time.Location) time.Time {
	if loc == nil {
		loc = time.UTC
	}
	lt := t.In(loc)
	switch g {
	case GranSecond:
		return time.Unix(unixFloor(t, time.Second), 0).In(loc)
	case GranMinute:
		return time.Unix(unixFloor(t, time.Minute)*60, 0).In(loc)
	case GranHour:
		// Truncate the wall clock, not absolute time: local hours of zones
		// with a half-hour offset do not start on UTC hours.
		return lt.Add(-(time.Duration(lt.Minute())*time.Minute + time.Duration(lt.Second())*time.Second + time.Duration(lt.Nanosecond())))
	case GranDay:
		y, m, d := lt.Date()
		return time.Date(y, m, d, 0, 0, 0, 0, loc)
	case GranWeek:
		y, m, d := lt.Date()
		back := (int(lt.Weekday()) + 6) % 7 // days since Monday
		return time.Date(y, m, d-back, 0, 0, 0, 0, loc)
	case GranMonth:
		y, m, _ := lt.Date()
		return time.Date(y, m, 1, 0, 0, 0, 0, loc)
	}
	return time.Time{}
}

// NextBucket returns the start of the bucket after the one starting at
// start (a BucketStart result).
func NextBucket(g Granularity, start time.Time, loc *time.Location) time.Time {
	if loc == nil {
		loc = time.UTC
	}
	ls := start.In(loc)
	y, m, d := ls.Date()
	switch g {
	case GranSecond:
		return start.Add(time.Second)
	case GranMinute:
		return start.Add(time.Minute)
	case GranHour:
		// An hour later, truncated again: across a half-hour DST shift the
		// next local hour starts less than an hour later.
		return BucketStart(GranHour, start.Add(time.Hour), loc)
	case GranDay:
		return time.Date(y, m, d+1, 0, 0, 0, 0, loc)
	case GranWeek:
		return time.Date(y, m, d+7, 0, 0, 0, 0, loc)
	case GranMonth:
		return time.Date(y, m+1, 1, 0, 0, 0, 0, loc)
	}
	return time.Time{}
}

// BucketLabel names the bucket of granularity g holding t, in loc.
func BucketLabel(g Granularity, t time.Time, loc *time.Location) string {
	switch g {
	case GranSecond:
		return strconv.FormatInt(unixFloor(t, time.Second), 10)
	case GranMinute:
		return strconv.FormatInt(unixFloor(t, time.Minute), 10)
	case GranAll:
		return ""
	}
	s := BucketStart(g, t, loc)
	switch g {
	case GranHour:
		// The offset tells apart the two 01:00 hours of a DST fall-back.
		return s.Format("2006-01-02T15-0700")
	case GranDay, GranWeek:
		return s.Format(time.DateOnly)
	case GranMonth:
		return s.Format("2006-01")
	}
	return ""
}

// BucketExpiry returns when the bucket of granularity g holding t may be
// dropped: its end plus the retention of g; zero for buckets kept forever
// (month, all). Minute buckets have two retentions (keys and accounts):
// their deltas carry their own expiry.
func BucketExpiry(g Granularity, t time.Time, loc *time.Location) time.Time {
	if loc == nil {
		loc = time.UTC
	}
	s := BucketStart(g, t, loc)
	switch g {
	case GranSecond:
		return s.Add(time.Second + SecondRetention)
	case GranHour:
		return NextBucket(GranHour, s, loc).Add(HourlyRetention)
	case GranDay:
		y, m, d := s.Date()
		return time.Date(y, m, d+1+DailyDays, 0, 0, 0, 0, loc)
	case GranWeek:
		return NextBucket(GranWeek, s, loc).Add(WeeklyRetention)
	}
	return time.Time{}
}

// UsageCounters are the stats counters of one bucket, or a sum of buckets.
type UsageCounters struct {
	Requests            int64 `json:"requests"`
	Refused             int64 `json:"refused"`
	Errors              int64 `json:"errors"`
	InputTokens         int64 `json:"inputTokens"`
	OutputTokens        int64 `json:"outputTokens"`
	CacheCreateTokens   int64 `json:"cacheCreateTokens"`
	CacheCreate1hTokens int64 `json:"cacheCreate1hTokens"`
	CacheReadTokens     int64 `json:"cacheReadTokens"`
	ReasoningTokens     int64 `json:"reasoningTokens"`
	CostNanos           int64 `json:"costNanos"`
	TTFTSumMs           int64 `json:"ttftSumMs"`
	TTFTCount           int64 `json:"ttftCount"`
	Unpriced            int64 `json:"unpriced"`
}

// Add adds n to the counter named field and reports whether the field is
// one of UsageCounters'.
func (c *UsageCounters) Add(field string, n int64) bool {
	switch field {
	case FieldRequests:
		c.Requests += n
	case FieldRefused:
		c.Refused += n
	case FieldErrors:
		c.Errors += n
	case FieldInputTokens:
		c.InputTokens += n
	case FieldOutputTokens:
		c.OutputTokens += n
	case FieldCacheCreateTokens:
		c.CacheCreateTokens += n
	case FieldCacheCreate1hTokens:
		c.CacheCreate1hTokens += n
	case FieldCacheReadTokens:
		c.CacheReadTokens += n
	case FieldReasoningTokens:
		c.ReasoningTokens += n
	case FieldCostNanos:
		c.CostNanos += n
	case FieldTTFTSumMs:
		c.TTFTSumMs += n
	case FieldTTFTCount:
		c.TTFTCount += n
	case FieldUnpriced:
		c.Unpriced += n
	default:
		return false
	}
	return true
}

// Plus returns the field-wise sum of c and o.
func (c UsageCounters) Plus(o UsageCounters) UsageCounters {
	c.Requests += o.Requests
	c.Refused += o.Refused
	c.Errors += o.Errors
	c.InputTokens += o.InputTokens
	c.OutputTokens += o.OutputTokens
	c.CacheCreateTokens += o.CacheCreateTokens
	c.CacheCreate1hTokens += o.CacheCreate1hTokens
	c.CacheReadTokens += o.CacheReadTokens
	c.ReasoningTokens += o.ReasoningTokens
	c.CostNanos += o.CostNanos
	c.TTFTSumMs += o.TTFTSumMs
	c.TTFTCount += o.TTFTCount
	c.Unpriced += o.Unpriced
	return c
}

// IsZero reports whether every counter is 0.
func (c UsageCounters) IsZero() bool { return c == UsageCounters{} }

// AvgTTFTMs is the mean time to first token in ms, rounded half up; 0 when
// no request reported one.
func (c UsageCounters) AvgTTFTMs() int64 {
	if c.TTFTCount <= 0 {
		return 0
	}
	return (c.TTFTSumMs*2 + c.TTFTCount) / (c.TTFTCount * 2)
}

// Tokens is the sum of input, output, cache-write and cache-read tokens as
// counted (for Codex, cache reads are also inside input).
func (c UsageCounters) Tokens() int64 {
	return c.InputTokens + c.OutputTokens + c.CacheCreateTokens + c.CacheReadTokens
}

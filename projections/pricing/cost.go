package pricing

import (
	"math"
	"math/bits"

	"relay/events"
)

// perMTok converts a sum of tokens × (µ$ per million tokens) into nano-dollars:
// µ$/MTok is 10⁻¹² USD per token, a nano-dollar 10⁻⁹ USD.
const perMTok = 1_000

// Cost returns the cost of one request to model, in nano-dollars, and
// whether the model is priced. An unknown model costs 0 with priced=false.
//
// Tokens are priced by the model's dialect:
//
//	Anthropic: input×Input + output×Output + read×CacheRead
//	           + (cacheCreate − cacheCreate1h)×CacheWrite5m + cacheCreate1h×CacheWrite1h
//	OpenAI:    (input − read)×Input + read×CacheRead + output×Output (+ the same cache-write terms)
//
// Cache writes without a 1-hour breakdown are therefore 5-minute writes.
// Reasoning tokens are part of the output tokens in both APIs and are never
// priced a second time.
//
// Inconsistent counts never lower the price below what was reported: a
// negative count is 0; when cacheCreate1h exceeds cacheCreate the 5-minute
// part is 0 and every reported 1-hour token is still priced at the 1-hour
// rate; when an OpenAI cacheRead exceeds input the uncached part is 0 and
// every cached token is still priced at the cached rate.
//
// Exactness: every price with up to three decimals in USD per million tokens
// (every list price, and so the built-in table) is a whole number of
// nano-dollars per token, so the cost is exact and never rounded. A price
// file may give up to six decimals; then the exact numerator Σ tokens × price,
// summed in 128 bits (each term < 2^63 × 2^40, so the sum cannot overflow), is
// divided by 1_000 and rounded half up once. A result beyond math.MaxInt64 n$
// (about 9.2 billion USD) saturates at math.MaxInt64.
func (t *Table) Cost(model string, tok events.Tokens) (nanos int64, priced bool) {
	p, ok := t.Price(model)
	if !ok {
		return 0, false
	}
	return p.cost(tok), true
}

func (p Price) cost(tok events.Tokens) int64 {
	in := max(tok.InputTokens, 0)
	read := max(tok.CacheReadTokens, 0)
	if p.CachedIncludedInInput {
		in = max(in-read, 0) // both non-negative: no overflow
	}
	write1h := max(tok.CacheCreate1hTokens, 0)
	write5m := max(max(tok.CacheCreateTokens, 0)-write1h, 0)

	var sum uint128
	sum.addMul(in, p.Input)
	sum.addMul(max(tok.OutputTokens, 0), p.Output)
	sum.addMul(write5m, p.CacheWrite5m)
	sum.addMul(write1h, p.CacheWrite1h)
	sum.addMul(read, p.CacheRead)
	return sum.divRoundHalfUp(perMTok)
}

// uint128 is an unsigned 128-bit accumulator.
type uint128 struct{ hi, lo uint64 }

// addMul adds x × y; both must be non-negative.
func (a *uint128) addMul(x, y int64) {
	hi, lo := bits.Mul64(uint64(x), uint64(y))
	var carry uint64
	a.lo, carry = bits.Add64(a.lo, lo, 0)
	a.hi, _ = bits.Add64(a.hi, hi, carry)
}

// divRoundHalfUp returns a / d rounded half up, saturated at math.MaxInt64.
func (a uint128) divRoundHalfUp(d uint64) int64 {
	qhi := a.hi / d
	qlo, rem := bits.Div64(a.hi%d, a.lo, d) // a.hi%d < d: Div64 cannot panic
	if rem >= d-rem {                       // 2×rem >= d, without overflow
		var carry uint64
		qlo, carry = bits.Add64(qlo, 1, 0)
		qhi += carry
	}
	if qhi != 0 || qlo > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(qlo)
}

// ChargedModel is the model a request is priced by: the one the upstream
// says it used, else the one the client asked for.
func ChargedModel(model, upstreamModel string) string {
	if upstreamModel != "" {
		return upstreamModel
	}
	return model
}

// RequestCost is what a recorded request costs under t, the one rule the
// edge (when it records a request) and re-pricing (`relay replay
// --reprice`) share: priced by ChargedModel; a refused request, or one no
// account took, reached no upstream and costs nothing.
func (t *Table) RequestCost(outcome, model, upstreamModel string, tok events.Tokens) (nanos int64, priced bool) {
	if outcome == events.OutcomeRefused || outcome == events.OutcomeNoAccount {
		return 0, true
	}
	return t.Cost(ChargedModel(model, upstreamModel), tok)
}

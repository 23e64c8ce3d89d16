// Package pricing is relay's one pricing table: list prices per model, the
// rule that turns a request's token counts into a cost, and a watcher that
// keeps the table current with an optional PRICING_FILE.
//
// Money is integer micro-dollars (int64, 1 USD = 1_000_000 µ$). Prices are
// micro-dollars per million tokens, so $3.75/MTok is stored as 3_750_000.
// A cost is computed as one exact 128-bit sum of tokens × price, divided by
// one million and rounded half up once (see Table.Cost). float64 appears only
// in the display helpers MicrosToUSD and USDToMicros.
//
// A model is priced only by its exact id or by an explicit alias of the
// table; an unknown model is never priced as another one (no prefix or fuzzy
// matching): Cost reports priced=false and 0, and the usage event says so.
//
// Imports: the standard library and relay/events only. No logging, no clock
// inside the pricing rule, no package-level state: every *Table is built by
// Builtin, New or Load and is immutable afterwards.
package pricing

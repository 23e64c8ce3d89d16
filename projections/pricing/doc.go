// Package pricing is relay's one pricing table: list prices per model, the
// rule that turns a request's token counts into a cost, and a watcher that
// keeps the table current with an optional PRICING_FILE.
//
// Money is integer nano-dollars (int64, 1 USD = 1_000_000_000 n$). Prices are
// micro-dollars per million tokens, so $3.75/MTok is stored as 3_750_000;
// every list price (up to three decimals of USD/MTok) is then a whole number
// of nano-dollars per token, and a request's cost is exact (see Table.Cost).
// Configured limits and quotas stay micro-dollars (MicrosToNanos compares
// them). float64 appears only in the display helpers NanosToUSD,
// MicrosToUSD and USDToMicros.
//
// A model is priced only by its exact id or by an explicit alias of the
// table; an unknown model is never priced as another one (no prefix or fuzzy
// matching): Cost reports priced=false and 0, and the usage event says so.
//
// Imports: the standard library and relay/events only. No logging, no clock
// inside the pricing rule, no package-level state: every *Table is built by
// Builtin, New or Load and is immutable afterwards.
package pricing

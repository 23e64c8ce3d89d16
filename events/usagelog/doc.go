// Package usagelog reads the USAGE stream as a ledger: it replays usage
// events in stream order over a time window, filters them, and writes them
// out raw (NDJSON, CSV), folds them into aggregates (requests, refusals,
// tokens, cost per day, hour, key, account, model or platform), or
// re-prices them with another price rule. Nothing is ever written back: the
// stream is the record and this package only reads it. `relay replay`, the
// edge's usage export (Export) and its live feed (Live) are built on it.
//
// Replay streams: one ordered consumer seeks the window's start on the
// server, events are handed over one at a time, and only the envelope
// fields a query needs are extracted at byte level. The payload bytes are
// written as they were stored, never re-encoded.
//
// Time travel: the window is the time each event was stored, the ledger's
// own clock, so a replay up to T sees the ledger exactly as it stood at T.
// "What had key X spent as of T" is
//
//	relay replay --until T --key X --group-by key
//
// (cost summed exactly in nano-dollars; add day to see it per day).
//
// Imports: relay/events and nats.go's jetstream, nothing else of ours, so
// the edge, the workers and cmd/relay may all import it. Prices come in as
// a Pricer function rather than from relay/projections/pricing.
package usagelog

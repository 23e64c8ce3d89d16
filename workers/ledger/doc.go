// Package ledger reads the USAGE stream as a ledger: it replays usage events
// in stream order over a time window, filters them, and writes them out raw
// (NDJSON, CSV), folds them into aggregates (requests, refusals, tokens,
// cost per day, hour, key, account, model or platform), or re-prices them
// with another price table. Nothing is ever written back: the stream is the
// record and this package only reads it.
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
// (cost summed exactly in micro-dollars; add day to see it per day).
//
// Imports: relay/events, relay/events/streams (nothing else of ours),
// relay/projections/pricing and nats.go. Never relay/store or relay/edge.
package ledger

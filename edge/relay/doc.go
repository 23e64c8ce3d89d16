// Package relay is the hot path of the edge: what coding agents call. It
// authenticates an API key from the in-memory catalog, applies the key's
// permissions and limits, admits the request and chooses an account in one
// Redis round trip, calls the upstream (failing over to another account
// before the first byte reaches the client), passes the answer through as
// it comes while observing its usage, and records exactly one usage event
// per request that reached an upstream (spooled to disk when NATS cannot
// take it), or counts the refusal.
//
// Imports: relay/events (and events/streams), relay/projections (and its
// subpackages), relay/store, relay/edge/catalog, relay/edge/fault,
// relay/edge/httpx and the relay's own helpers (clientreq, usage,
// upstreams, secrets). Never the admin packages.
package relay

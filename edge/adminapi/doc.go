// Package adminapi answers the admin REST API of DESIGN.md section 4:
// sign-in and admin tokens, keys, accounts, statistics, the audit log, and
// the OpenAPI description with its Swagger UI. Writes are events on CONFIG
// (or STATE), answered once the projection and this edge's catalog hold
// them (read-your-writes).
//
// Imports: relay/events, relay/projections, relay/store, relay/edge/catalog,
// relay/edge/fault, relay/edge/httpx and relay/edge/secrets. Never the
// relay's hot path.
package adminapi

// Package edge is relay's HTTP front: the relay routes coding agents call,
// the admin REST API, and the operational endpoints. It authenticates keys
// and admins from an in-memory catalog folded from CONFIG and STATE, publishes
// every change as an event, and answers admin writes once the projection has
// caught up with them (read-your-writes).
//
// Every route is listed in routes.go. Errors leave through one handler that
// speaks the dialect of the route: Anthropic's for /api/v1 and /claude,
// OpenAI's for /openai, relay's own for /api/v2.
//
// Imports: relay/events (and its subpackages), relay/projections (and its
// subpackages), relay/store, Echo, nats.go, zerolog, golang-jwt, bcrypt and
// the Prometheus client, and github.com/swaggo/files/v2 for the Swagger UI
// assets. Never relay/workers.
package edge

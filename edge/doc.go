// Package edge builds relay's HTTP front: the Echo server, its routes
// (routes.go is the table of contents), the middleware every request goes
// through (request id and access log, security headers, body limits and
// deadlines, the admin API's 405 answers), /health, /ready and /metrics,
// and the graceful shutdown. What the routes do lives below it:
//
//   - relay/edge/relay: the hot path coding agents call;
//   - relay/edge/adminapi: the admin REST API;
//   - relay/edge/catalog: the in-memory configuration both read;
//   - relay/edge/httpx and relay/edge/fault: the shared HTTP vocabulary
//     (error shapes per route dialect, request ids, JSON answers).
//
// Imports: those packages, relay/events, relay/projections, relay/store,
// Echo, nats.go, zerolog and the Prometheus client. Never relay/workers.
package edge

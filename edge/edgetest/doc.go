// Package edgetest runs a whole relay for HTTP-level tests: an embedded
// JetStream server, a Redis backend, the projectors and an edge behind an
// httptest server, composed the way `relay serve` composes them.
//
// It is test support only, the one place besides cmd/relay that composes
// edge with workers. Imports: relay's packages, httptest and the test
// helpers of events and store.
package edgetest

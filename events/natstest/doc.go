// Package natstest starts an embedded nats-server with JetStream for tests,
// the way httptest starts an HTTP server: on a random loopback port, storing
// under t.TempDir(), shut down by t.Cleanup.
//
// Imports: relay/events/streams, nats-server and nats.go.
package natstest

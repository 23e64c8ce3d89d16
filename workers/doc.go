// Package workers runs the projectors: durable JetStream consumers that fold
// the streams into Redis through package store, using the pure folds of
// package projections.
//
// The consume loop is generic: decode, apply (the writes and the checkpoint in
// one atomic step), then acknowledge. An event that can never be applied is
// terminated with a reason and counted, and its sequence still advances the
// checkpoint, so one bad event cannot stall a projection. Several worker
// processes may share each consumer.
//
// The notifier (notify*.go) is one more set of durable consumers: triggers
// on STATE and USAGE and periodic checks queue notifications on NOTIFY, and
// a delivery consumer sends them to the channels (DESIGN.md section 9).
//
// Imports: relay/events (and events/streams, events/notify),
// relay/projections, relay/store, nats.go, zerolog and the Prometheus
// client. Never relay/edge.
package workers

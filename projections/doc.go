// Package projections folds events into read models. Every fold here is pure:
// no clock, no Redis, no logging, so the same events always give the same
// models, whether folded by a worker into Redis, by an edge into memory, or by
// a test.
//
// Two shapes: document views (a key, an account, an admin, an account's
// health), each guarded by the sequence of the last event applied to it, and
// counter deltas (usage statistics) that store applies atomically with the
// projection's checkpoint.
//
// Imports: relay/events (and its pure subpackages) only.
package projections

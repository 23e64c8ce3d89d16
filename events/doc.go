// Package events defines relay's facts: the envelope every event travels in,
// the past-tense event types with their stable wire names, the payload of
// each, the subjects they are published on and a closed decoder.
//
// The event streams are relay's source of truth; everything in Redis is a
// projection of them. Wire names are part of the contract and never derive
// from Go type names.
//
// Imports: the standard library only. Stream provisioning and publishing
// live in events/streams; the embedded test server in events/natstest.
package events

// Package store is the only package that talks to Redis. It keeps the read
// models the workers project from the streams (under a versioned prefix, so
// a rebuild can fill a new version while the old one serves) and the
// request-time state that must be atomic across edges (leases, windows,
// sticky sessions) under a prefix of its own that rebuilds never touch.
//
// Every projection write goes through one Lua script that applies the
// writes together with the projection's checkpoint, so an event applied
// once is never applied again.
//
// Imports: relay/events, relay/projections and go-redis.
package store

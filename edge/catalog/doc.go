// Package catalog keeps relay's configuration and account health in memory:
// keys, accounts and admins folded from CONFIG, account states from STATE,
// followed live by ordered consumers. The relay reads configuration from it
// without a Redis round trip, and an admin write waits on it to see its own
// change.
//
// Imports: relay/events, relay/events/streams, relay/projections, nats.go and
// zerolog.
package catalog

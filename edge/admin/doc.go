// Package admin holds relay's admin actions as plain Go, free of any
// transport: create, change, delete and restore keys and accounts, sign in
// and change a password, and the queries behind the admin views (lists,
// statistics, audit, availability). Each action takes a typed input and
// answers a view or an error naming the field at fault (fault.Error), so
// the REST API (relay/edge/adminapi) and the web console encode and decode
// and never re-implement a rule.
//
// Writes are events on CONFIG (or STATE), published expecting the entity's
// version, and return once the Redis read model and this edge's catalog
// hold them (read-your-writes).
//
// Imports: relay/events, relay/projections, relay/store, relay/edge/catalog,
// relay/edge/fault and relay/edge/secrets. No HTTP.
package admin

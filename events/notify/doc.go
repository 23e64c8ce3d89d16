// Package notify is the transport-free part of notification channels that
// both the admin actions (edge) and the notifier (workers) use: validation
// of a channel's fields with errors naming the field, the events an admin
// action publishes (channel created, updated, a test message queued), and
// the address rule of outgoing deliveries.
//
// Imports: relay/events and the standard library only.
package notify

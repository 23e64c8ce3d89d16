// Package streams provisions relay's JetStream streams and moves envelopes in
// and out of them: publishing with the event id as Nats-Msg-Id (and, for
// entity updates, an expected last subject sequence), and turning a stored
// message back into an envelope with its stream sequence.
//
// Imports: relay/events and the nats.go client.
package streams

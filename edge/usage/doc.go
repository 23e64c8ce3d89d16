// Package usage observes token usage in upstream responses on the relay's hot
// path, without changing a byte of them.
//
// A [Reader] cuts an upstream Server-Sent Events stream into whole events and
// hands back each event's raw bytes exactly as received, so the relay can
// forward (and flush) them one by one while the Reader notes the usage, the
// model, the terminal event and any in-band error. It never buffers more than
// the event at hand, never re-encodes anything, and has no line-length limit
// short of [Reader.MaxEventBytes]. Only the few events that carry usage are
// decoded; the many content deltas are recognised by their name and skipped.
//
// [FromJSON] does the same for a complete non-streaming response body.
//
// Two dialects are understood: Anthropic Messages and OpenAI Responses
// ([Anthropic], [OpenAI]). Counts are reported as the upstream reports them
// (see [events.Tokens]); nothing is priced here.
//
// The package imports only the standard library and relay/events.
package usage

// Package clientreq reads what relay needs to know from an inbound relay
// request, without decoding more of the body than that: the requested model,
// whether the client wants a stream, the session identity the scheduler pins
// an account to, and which CLI (if any) sent it.
//
// The body is scanned, never re-encoded: ParseClaude and ParseOpenAI locate
// the top-level members with a byte scanner and decode only the small values
// they need, and RewriteModel splices the upstream model name into the
// original bytes. Every other byte reaches the upstream exactly as the client
// sent it.
//
// Errors for malformed bodies are *Error values whose message is safe to send
// back to the client (it never echoes the body); the edge answers them with
// 400 invalid_request_error.
//
// Imports: the standard library only.
package clientreq

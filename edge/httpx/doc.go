// Package httpx is the HTTP vocabulary the edge's packages share: a
// fault.Error written in the dialect of its route (Anthropic's for /api/v1
// and /claude, OpenAI's for /openai, relay's own for /api/v2) with the
// status its kind calls for, the request id and request-scoped logger, the
// admin API's success envelope, strict JSON bodies read within the body
// limit and deadline, and the client address behind trusted proxies.
//
// Imports: relay/edge/fault, Echo and zerolog.
package httpx

// Package upstreamtest is a fake Anthropic and OpenAI upstream for tests
// and benchmarks, named like net/http/httptest on which it runs.
//
// It speaks POST /v1/messages (stream or not, per the body's "stream"),
// POST /v1/messages/count_tokens, GET /v1/models, POST /responses and
// /v1/responses (OpenAI Responses), POST /responses/compact and
// /v1/responses/compact (a JSON compaction with its usage) and GET /models
// (OpenAI's list), with the event sequences and usage fields of the real
// APIs, flushing after every SSE event. A /responses request whose input
// holds a compaction_trigger item (Codex's remote compaction) gets one
// compaction item as its output, as OpenAI answers it.
//
//	up := upstreamtest.New(t) // closed when t ends; up.URL is an account's apiUrl
//	up.Enqueue(upstreamtest.RateLimited(30*time.Second, time.Time{}),
//		upstreamtest.Reply{Text: "hi", Usage: upstreamtest.Usage{InputTokens: 10, OutputTokens: 2}})
//	... drive relay ...
//	r := up.WaitCanceled(t, 1, time.Second) // the client's disconnect reached us
//
// What each request gets is a Reply: the answer text and exact usage
// figures, or a scripted fault (an error status with headers, a hang-up,
// a stall, a cut, an error event, delays, a trickle). A request takes the
// next Reply of the queue (Enqueue); when the queue is empty, the Script
// (SetScript), which sees the request (path, model, headers) and may
// decline; else the default Reply (SetDefault). A test thereby knows the
// usage relay must observe, without any test-only request header, which
// relay would forward from the client anyway.
//
// The server records every request (method, path, query, headers, body,
// and whether and when its context was cancelled) and counts requests per
// path and in flight; accessors are safe for concurrent use and the Wait
// methods block on change notifications, not sleeps.
//
// NewFast serves one precomputed Reply from prebuilt byte slices and
// records nothing but the counters: the upstream for benchmarks.
//
// ReadEvents parses an SSE stream, for asserting on what relay sends.
//
// This package imports the standard library only.
package upstreamtest

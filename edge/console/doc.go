// Package console is relay's web console for admins (DESIGN.md section 8):
// server-rendered html/template pages, one CSS file and a little
// hand-written JavaScript, all embedded in the binary and served under
// /console/.
//
// The console holds no rule of its own: every read and every change goes
// through a Backend, the same admin actions the REST API calls. It owns only
// what belongs to a browser: the session cookie, CSRF tokens, the language
// and theme preferences, HTML rendering and the SVG charts.
//
// It may import relay/events, relay/projections (the usage counters the
// pages show), relay/edge/fault (so the admin actions' errors pass through
// unchanged) and relay/edge/httpx; never the store, NATS or the edge
// server itself: cmd/relay or edge wires an adapter from the admin actions
// to Backend. It imports relay/edge/admin only for the key holder's view
// (KeyHolder, the public page /stats) and relay/edge/secrets to mask the
// key that page shows.
package console

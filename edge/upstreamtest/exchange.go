package upstreamtest

import (
	"bytes"
	"net/http"
	"time"
)

// exchange answers one request of a normal server, faults included.
type exchange struct {
	s   *Server
	w   http.ResponseWriter
	r   *http.Request
	rc  *http.ResponseController
	req *Request
	id  string // unique suffix of the answer's ids

	// Read by the handler's deferred record, on the same goroutine.
	status  int
	events  int
	aborted bool
}

func (x *exchange) serve(rt route, rep Reply, jsonErr error) {
	if !x.wait(rep.HeaderDelay) {
		return
	}
	if rep.Hangup {
		x.hangup()
		return
	}
	a := x.s.answerFor(rep, x.req, x.id)
	a.compaction = rt.kind == kindResponses && bytes.Contains(x.req.Body, compactionTrigger)
	h := x.w.Header()
	if rep.Status != 0 && rep.Status != http.StatusOK {
		x.writeError(rep, rt.api)
		return
	}
	if jsonErr != nil && rt.kind != kindModels && rt.kind != kindOpenAIModels {
		x.writeError(Reply{Status: http.StatusBadRequest, ErrorMessage: "body: " + jsonErr.Error(), Header: rep.Header}, rt.api)
		return
	}

	var parts [][]byte // events, or the two halves of a JSON body
	var errEvent []byte
	stream := x.req.Stream && (rt.kind == kindMessages || rt.kind == kindResponses)
	switch {
	case rep.Body != nil && stream:
		parts = [][]byte{rep.Body}
	case rep.Body != nil:
		parts = halves(rep.Body)
	case rt.kind == kindMessages && stream:
		parts, errEvent = anthropicStream(a), anthropicErrorEvent(a)
	case rt.kind == kindMessages:
		parts = halves(anthropicMessage(a))
	case rt.kind == kindResponses && stream:
		parts = openaiStream(a)
		if at := positionOf(rep.ErrorAfter, len(parts)); at >= 0 {
			errEvent = openaiErrorEvent(a, at) // numbered after the events before it
		}
	case rt.kind == kindResponses:
		parts = halves(openaiResponse(a))
	case rt.kind == kindCountTokens:
		parts = halves(countTokens(rep.Usage.InputTokens))
	case rt.kind == kindModels:
		parts = halves(anthropicModels(x.s.modelList()))
	case rt.kind == kindCompact:
		parts = halves(openaiCompaction(a))
	case rt.kind == kindOpenAIModels:
		parts = halves(openaiModels(DefaultOpenAIModels, x.s.created))
	}
	if stream {
		h.Set("Content-Type", "text/event-stream; charset=utf-8")
		h.Set("Cache-Control", "no-cache")
	} else {
		h.Set("Content-Type", "application/json")
		errEvent = nil
	}
	for k, v := range rep.Header {
		h[http.CanonicalHeaderKey(k)] = v
	}
	x.send(rep, http.StatusOK, parts, errEvent)
}

// positionOf resolves a fault position against n parts: -1 when off, 0
// for AfterHeaders, else at most n-1 (before the terminal part).
func positionOf(k, n int) int {
	switch {
	case k == AfterHeaders:
		return 0
	case k <= 0:
		return -1
	}
	return min(k, n-1)
}

// send writes the status and the parts, flushing each, with rep's delays
// and mid-stream faults.
func (x *exchange) send(rep Reply, status int, parts [][]byte, errEvent []byte) {
	x.status = status
	x.w.WriteHeader(status)
	if x.rc.Flush() != nil {
		return
	}
	stallAt, cutAt, errAt := positionOf(rep.StallAfter, len(parts)), positionOf(rep.CutAfter, len(parts)), positionOf(rep.ErrorAfter, len(parts))
	stallFor := rep.StallFor
	if stallFor <= 0 {
		stallFor = Forever
	}
	for i := 0; ; i++ {
		if i == stallAt && !x.wait(stallFor) {
			return
		}
		if i == errAt && errEvent != nil {
			x.write(rep, errEvent)
			return
		}
		if i == cutAt {
			x.abort()
		}
		if i == len(parts) {
			return
		}
		if i > 0 && !x.wait(rep.EventDelay) {
			return
		}
		if !x.write(rep, parts[i]) {
			return
		}
	}
}

// write writes one part, in trickles if asked, and flushes; false when
// the client is gone.
func (x *exchange) write(rep Reply, b []byte) bool {
	step := len(b)
	if rep.Trickle > 0 {
		step = rep.Trickle
	}
	for off := 0; off < len(b); off += step {
		if off > 0 && !x.wait(rep.TrickleDelay) {
			return false
		}
		if _, err := x.w.Write(b[off:min(off+step, len(b))]); err != nil {
			return false
		}
		if x.rc.Flush() != nil {
			return false
		}
	}
	x.events++
	return true
}

// writeError answers rep.Status with the API's error JSON (or rep.Body).
func (x *exchange) writeError(rep Reply, api API) {
	body := rep.Body
	if body == nil {
		if api == OpenAI {
			body = openaiErrorBody(rep.Status, rep.ErrorType, rep.ErrorMessage)
		} else {
			body = anthropicErrorBody(rep.Status, rep.ErrorType, rep.ErrorMessage, "req_"+x.id)
		}
	}
	h := x.w.Header()
	h.Set("Content-Type", "application/json")
	if api == Anthropic && rep.Status == 529 {
		h.Set("x-should-retry", "true")
	}
	for k, v := range rep.Header {
		h[http.CanonicalHeaderKey(k)] = v
	}
	x.send(rep, rep.Status, halves(body), nil)
}

// wait pauses for d; false if the client or the server went away first.
func (x *exchange) wait(d time.Duration) bool {
	if d <= 0 {
		return true
	}
	var timeout <-chan time.Time
	if d != Forever {
		t := time.NewTimer(d)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case <-timeout:
		return true
	case <-x.r.Context().Done():
	case <-x.s.quit:
	}
	return false
}

// hangup closes the connection without a response.
func (x *exchange) hangup() {
	x.aborted = true
	conn, _, err := x.rc.Hijack()
	if err != nil {
		x.abort()
	}
	conn.Close()
}

// abort ends the response mid-way; net/http closes the connection
// without finishing the body, and does not log this panic.
func (x *exchange) abort() {
	x.aborted = true
	panic(http.ErrAbortHandler)
}

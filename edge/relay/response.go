package relay

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"relay/edge/fault"
	"relay/edge/httpx"
	"relay/edge/usage"
	"relay/events"
)

// maxBufferedBody bounds a non-streaming upstream body relay reads whole
// (it must see the usage before releasing the answer).
const maxBufferedBody = 64 << 20

// maxErrorBody bounds the upstream error body kept to pass on when every
// attempt failed.
const maxErrorBody = 64 << 10

func (a *attempt) close() {
	if a.resp != nil {
		a.resp.Body.Close()
	}
	a.cancel()
}

// keepErrorBody reads a failed attempt's (small) body so it can be passed on
// if no other account does better.
func (a *attempt) keepErrorBody() {
	b, _ := io.ReadAll(io.LimitReader(a.resp.Body, maxErrorBody))
	a.resp.Body.Close()
	a.resp.Body = io.NopCloser(strings.NewReader(string(b)))
}

// passFailure answers after every attempt failed: with the last upstream
// answer when there was one (its status tells the client what happened, and
// its Retry-After when to come back), else 504 when it did not answer in
// time, 502 when it could not be reached, 503 otherwise.
func (x *exchange) passFailure(last *attempt, lastErr error) error {
	x.u.Outcome = events.OutcomeUpstreamError
	if last == nil || last.resp == nil {
		switch {
		case errors.Is(lastErr, errFirstByteTimeout):
			x.u.Outcome = events.OutcomeTimeout
			return fault.New(fault.Timeout, "the upstream did not answer in time")
		case errors.Is(lastErr, errUpstreamConnect):
			return fault.New(fault.BadGateway, "upstream connect error: the upstream could not be reached")
		}
		return fault.New(fault.Overloaded, "every upstream account failed; try again shortly")
	}
	defer last.close()
	x.u.Status = last.resp.StatusCode
	body, _ := io.ReadAll(io.LimitReader(last.resp.Body, maxErrorBody))
	x.publishUsage()
	return x.writeBuffered(last.resp, body)
}

// respond relays an upstream answer that ends the attempts: a success (SSE
// or JSON) or a client error of the request itself.
func (x *exchange) respond(ctx context.Context, a *attempt) error {
	defer a.close()
	x.u.Status = a.resp.StatusCode
	if a.resp.StatusCode >= 400 {
		x.u.Outcome = events.OutcomeUpstreamError
	}
	if strings.HasPrefix(a.resp.Header.Get("Content-Type"), "text/event-stream") {
		return x.stream(ctx, a)
	}
	body, err := io.ReadAll(io.LimitReader(a.resp.Body, maxBufferedBody+1))
	x.firstByte = time.Now()
	if err != nil || len(body) > maxBufferedBody {
		if ctx.Err() != nil {
			x.u.Outcome = events.OutcomeClientClosed
			return nil
		}
		x.u.Outcome = events.OutcomeUpstreamError
		return fault.New(fault.Overloaded, "the upstream answer could not be read")
	}
	if a.resp.StatusCode < 300 {
		if tok, model, ok := usage.FromJSON(body, x.rt.dialect); ok {
			x.u.Tokens = tok
			if model != "" && x.u.UpstreamModel == "" {
				x.u.UpstreamModel = model
			}
		}
	}
	// The answer is complete: record it before the client can see it.
	x.settle()
	return x.writeBuffered(a.resp, body)
}

// writeBuffered writes a complete upstream answer.
func (x *exchange) writeBuffered(resp *http.Response, body []byte) error {
	w := x.c.Response()
	copyHeader(w.Header(), resp.Header)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(body)
	return nil
}

// HeaderUpstreamRequestID carries the upstream's own X-Request-Id (OpenAI's)
// to the client, for a ticket with the provider.
const HeaderUpstreamRequestID = "X-Upstream-Request-Id"

// copyHeader copies an upstream response's end-to-end headers. The
// upstream's X-Request-Id travels as X-Upstream-Request-Id: the client's
// X-Request-Id stays relay's own, the id of the request's usage event.
func copyHeader(dst, src http.Header) {
	hop := src.Clone()
	removeHopHeaders(hop)
	hop.Del("Content-Length")
	if id := hop.Values(httpx.HeaderRequestID); len(id) > 0 {
		hop.Del(httpx.HeaderRequestID)
		hop[HeaderUpstreamRequestID] = id
	}
	for k, vv := range hop {
		dst[k] = vv
	}
}

var readerPool = sync.Pool{New: func() any { return usage.NewReader(nil, 0) }}

// stream passes an SSE answer through event by event, flushing before each
// wait for the upstream, while the usage reader watches it. The terminal
// event is held back until the usage event is stored, so no client receives
// a complete answer that is not recorded.
func (x *exchange) stream(ctx context.Context, a *attempt) error {
	w := x.c.Response()
	// A client that stops reading must not hold the stream, its leases and
	// its goroutine forever: every write has the idle timeout to complete.
	rc := http.NewResponseController(w)
	writeBy := func() { _ = rc.SetWriteDeadline(time.Now().Add(x.s.cfg.StreamIdleTimeout)) }
	copyHeader(w.Header(), a.resp.Header)
	writeBy()
	w.WriteHeader(a.resp.StatusCode)
	w.Flush()
	idle := newIdleReader(a.resp.Body, x.s.cfg.StreamIdleTimeout, a.cancel)
	defer idle.stop()
	clientGone := false
	// Events are flushed when relay is about to wait for the upstream, not
	// one by one: what arrived in one read leaves in one write, as with
	// httputil.ReverseProxy, and nothing waits behind a blocking read.
	src := &flushBeforeRead{r: idle, flush: func() {
		writeBy()
		if rc.Flush() != nil {
			clientGone = true
		}
	}}
	r := readerPool.Get().(*usage.Reader)
	r.Reset(src, x.rt.dialect)
	defer func() { r.Reset(nil, 0); readerPool.Put(r) }()
	for {
		ev, err := r.Next()
		if len(ev) > 0 {
			if x.firstByte.IsZero() {
				x.firstByte = time.Now()
			}
			if r.LastEventTerminal() && !x.published {
				x.observe(r)
				if _, _, failed := r.UpstreamError(); failed {
					x.u.Outcome = events.OutcomeUpstreamError
				}
				x.settle()
			}
			if !clientGone {
				writeBy()
				if _, werr := w.Write(ev); werr != nil {
					clientGone = true
				} else {
					src.dirty = true
				}
			}
		}
		if err == nil {
			if clientGone {
				a.cancel()
			}
			continue
		}
		x.observe(r)
		switch {
		case errors.Is(err, io.EOF) && r.Terminal():
			return nil
		case ctx.Err() != nil || clientGone:
			x.u.Outcome = events.OutcomeClientClosed
			return nil
		}
		// The stream broke after the client got its first bytes: no retry
		// can hide that, so end it with an error the client understands,
		// record what was observed, and abort the response rather than
		// faking a clean end.
		x.u.Outcome = events.OutcomeUpstreamError
		msg := "upstream stream ended unexpectedly"
		switch {
		case idle.fired():
			x.u.Outcome, msg = events.OutcomeTimeout, "upstream stream stalled"
		case x.s.halted.Err() != nil:
			msg = "relay is shutting down; retry the request"
		}
		x.publishUsage()
		writeBy()
		_, _ = w.Write(errorEvent(x.rt.dialect, msg))
		_ = rc.Flush()
		panic(http.ErrAbortHandler)
	}
}

// observe copies what the usage reader saw into the usage event.
func (x *exchange) observe(r *usage.Reader) {
	if r.HasUsage() {
		x.u.Tokens = r.Usage()
	}
	if m := r.Model(); m != "" && x.u.UpstreamModel == "" {
		x.u.UpstreamModel = m
	}
}

// errorEvent is a terminal SSE error event in the route's dialect.
func errorEvent(d usage.Dialect, msg string) []byte {
	if d == usage.OpenAI {
		return fmt.Appendf(nil, "event: error\ndata: {\"type\":\"error\",\"code\":\"upstream_error\",\"message\":%q,\"param\":null}\n\n", msg)
	}
	return fmt.Appendf(nil, "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"api_error\",\"message\":%q}}\n\n", msg)
}

// flushBeforeRead flushes what was written to the client before each read of
// the upstream, the one moment relay may wait.
type flushBeforeRead struct {
	r     io.Reader
	flush func()
	dirty bool // written since the last flush
}

func (f *flushBeforeRead) Read(p []byte) (int, error) {
	if f.dirty {
		f.dirty = false
		f.flush()
	}
	return f.r.Read(p)
}

// idleReader cancels the upstream call when no byte arrives for a while: a
// stalled stream must not hold a client, a lease and a goroutine forever.
type idleReader struct {
	r       io.Reader
	timeout time.Duration
	timer   *time.Timer
	mu      sync.Mutex // mu protects didFire
	didFire bool
}

func newIdleReader(r io.Reader, timeout time.Duration, cancel context.CancelFunc) *idleReader {
	ir := &idleReader{r: r, timeout: timeout}
	ir.timer = time.AfterFunc(timeout, func() {
		ir.mu.Lock()
		ir.didFire = true
		ir.mu.Unlock()
		cancel()
	})
	return ir
}

func (ir *idleReader) Read(p []byte) (int, error) {
	n, err := ir.r.Read(p)
	if n > 0 {
		ir.timer.Reset(ir.timeout)
	}
	return n, err
}

func (ir *idleReader) stop() { ir.timer.Stop() }

func (ir *idleReader) fired() bool {
	ir.mu.Lock()
	defer ir.mu.Unlock()
	return ir.didFire
}

var _ io.Reader = (*idleReader)(nil)

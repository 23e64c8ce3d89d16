package httpx

import (
	"errors"
	"io"
	"mime"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"relay/edge/fault"
)

const ctxBody = "relay.body"

// ErrSlowBody answers a request whose body did not arrive in time.
var ErrSlowBody = fault.New(fault.SlowBody, "the request body did not arrive in time")

// BodyDeadline bounds the time a client takes to send its request body
// (base, plus a second for every rate bytes received) with a read deadline on the
// connection, set for this request only and grown as bytes arrive: an
// http.Server.ReadTimeout would be one fixed bound for every route and
// every body size. Once the body is read the deadline is lifted (net/http's
// watch for the client's disconnect reads without one), so it never bounds
// how long the answer, a stream say, takes.
func BodyDeadline(base time.Duration, rate int64) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			r := c.Request()
			if r.ContentLength == 0 || r.Body == nil || r.Body == http.NoBody {
				return next(c)
			}
			b := &deadlineBody{ReadCloser: r.Body, ctl: http.NewResponseController(c.Response()),
				start: time.Now(), base: base, rate: rate}
			if b.extend() != nil {
				return next(c) // a writer without deadlines (not a connection)
			}
			r.Body = b
			c.Set(ctxBody, b)
			return next(c)
		}
	}
}

// deadlineBody is a request body read under a deadline that grows with the
// bytes received.
type deadlineBody struct {
	io.ReadCloser
	ctl   *http.ResponseController
	start time.Time
	base  time.Duration
	rate  int64
	n     int64
	// done: the body was read to its end.
	done bool
}

var _ io.ReadCloser = (*deadlineBody)(nil)

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n += int64(n)
	switch {
	case err == io.EOF:
		b.done = true
		_ = b.ctl.SetReadDeadline(time.Time{})
	case err != nil:
		var ne net.Error
		if errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
			err = ErrSlowBody
		}
	case n > 0:
		_ = b.extend()
	}
	return n, err
}

func (b *deadlineBody) extend() error { return b.ctl.SetReadDeadline(b.deadline()) }

// deadline is when the body must be in, given the bytes received so far.
func (b *deadlineBody) deadline() time.Time {
	d := b.base
	if b.rate > 0 {
		d += time.Duration(b.n * int64(time.Second) / b.rate)
	}
	return b.start.Add(d)
}

// abandonGrace is how long net/http may go on reading a body the answer
// did not need, after the answer has left (see AbandonBody).
const abandonGrace = time.Second

// AbandonBody stops waiting for a body the answer does not need (a refusal
// before or while reading it). net/http reads what remains of a body before
// it sends the answer, so a client refused for its missing key would wait
// for its whole upload; with Connection: close the answer leaves at once.
// net/http then reads on a little so the closing connection does not reset
// the answer away (it stops after 256 KiB, or at the deadline, here at most
// abandonGrace away).
func AbandonBody(c echo.Context) {
	b, ok := c.Get(ctxBody).(*deadlineBody)
	if !ok || b.done {
		return
	}
	c.Response().Header().Set("Connection", "close")
	if grace := time.Now().Add(abandonGrace); grace.Before(b.deadline()) {
		_ = b.ctl.SetReadDeadline(grace)
	}
}

// RequireJSON answers 415 to an admin write whose body is not JSON (a
// missing Content-Type included): the admin API reads JSON only, and a
// form or text body is a mistake or a cross-site form.
func RequireJSON(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		switch r.Method {
		case http.MethodPost, http.MethodPut, http.MethodPatch:
		default:
			return next(c)
		}
		if r.ContentLength == 0 || strings.HasSuffix(c.Path(), "/*") {
			return next(c) // no body, or no route: nothing will read it
		}
		if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
			return fault.New(fault.MediaType, "request body must be JSON, sent with Content-Type: application/json")
		}
		return next(c)
	}
}

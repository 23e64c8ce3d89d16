package adminapi

import (
	"context"
	"errors"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"relay/edge/fault"
	"relay/edge/httpx"
	"relay/events/usagelog"
)

// The usage export (GET /api/v2/usage/export) and live feed (GET
// /api/v2/usage/live): the ledger itself, read from USAGE through the
// analyst's read-only connection (Deps.Usage) by package events/usagelog,
// which `relay replay` uses too. This reads the query, answers the errors
// that come before the first byte in the admin shape, and streams.

// exportWriteTimeout bounds each write of an export to its client, and
// liveWriteTimeout each write of a live feed: the server has no
// WriteTimeout (streams are long), so a client that stops reading is
// dropped by these instead of holding its handler forever. The deadline
// moves with every write, so a long download on a good link is never cut.
const (
	exportWriteTimeout = time.Minute
	liveWriteTimeout   = 10 * time.Second
)

// errUsageOff answers the export and the live feed on an edge without the
// analyst's NATS connection.
var errUsageOff = fault.New(fault.Overloaded, "usage export and live feed are off on this edge: it has no analyst NATS credentials (set NATS_ANALYST_USER/NATS_ANALYST_PASSWORD or NATS_ANALYST_CREDS)")

// paramFault turns the parameter errors of usagelog's parsers into one
// validation error naming the first bad parameter and saying what is wrong
// with each.
func paramFault(err error) error {
	var pe *usagelog.ParamError
	if !errors.As(err, &pe) {
		return fault.New(fault.Invalid, err.Error())
	}
	return fault.InvalidField(pe.Param, strings.ReplaceAll(err.Error(), "\n", "; "))
}

// streamWriter writes a streamed answer: the status and headers at the
// first byte (so an error before it can still be answered in the admin
// shape), every write flushed at once, each under a write deadline that
// moves with it.
type streamWriter struct {
	c       echo.Context
	ctl     *http.ResponseController
	timeout time.Duration
	header  func(http.Header)
	started bool
}

func newStreamWriter(c echo.Context, timeout time.Duration, header func(http.Header)) *streamWriter {
	return &streamWriter{c: c, ctl: http.NewResponseController(c.Response().Writer), timeout: timeout, header: header}
}

// start writes the status and headers.
func (w *streamWriter) start() error {
	if w.started {
		return nil
	}
	w.started = true
	w.header(w.c.Response().Header())
	_ = w.ctl.SetWriteDeadline(time.Now().Add(w.timeout))
	w.c.Response().WriteHeader(http.StatusOK)
	return w.ctl.Flush()
}

func (w *streamWriter) Write(p []byte) (int, error) {
	if !w.started {
		if err := w.start(); err != nil {
			return 0, err
		}
	}
	_ = w.ctl.SetWriteDeadline(time.Now().Add(w.timeout))
	n, err := w.c.Response().Write(p)
	if err == nil {
		err = w.ctl.Flush()
	}
	return n, err
}

// done lifts the write deadline: the connection may serve another request.
func (w *streamWriter) done() { _ = w.ctl.SetWriteDeadline(time.Time{}) }

// UsageExport streams the usage events of a window as a CSV or NDJSON
// download: exactly what `relay replay` writes for the same window,
// filters and format. Bad parameters answer 400 naming the first; an
// error before the first byte answers 503; one after it aborts the
// response, so a truncated file never looks complete.
func (s *API) UsageExport(c echo.Context) error {
	req, err := usagelog.ParseExportRequest(c.QueryParams(), time.Now(), s.cfg.Location)
	if err != nil {
		return paramFault(err)
	}
	if s.usage == nil {
		return errUsageOff
	}
	w := newStreamWriter(c, exportWriteTimeout, func(h http.Header) {
		h.Set(echo.HeaderContentType, req.ContentType())
		h.Set(echo.HeaderContentDisposition, mime.FormatMediaType("attachment", map[string]string{"filename": req.Filename()}))
	})
	defer w.done()
	log := httpx.Logger(c)
	start := time.Now()
	st, err := usagelog.Export(c.Request().Context(), s.usage, req, w)
	if err == nil {
		err = w.start() // an empty NDJSON export writes no byte
	}
	if err != nil {
		if !w.started {
			log.Warn().Err(err).Msg("usage export: cannot read USAGE")
			return fault.New(fault.Overloaded, "usage export unavailable: the USAGE stream cannot be read now; try again")
		}
		log.Warn().Err(err).Uint64("rows", st.Rows).Int64("bytes", st.Bytes).Msg("usage export cut")
		panic(http.ErrAbortHandler)
	}
	log.Info().Uint64("rows", st.Rows).Int64("bytes", st.Bytes).Dur("took", time.Since(start)).
		Str("format", string(req.Format)).Msg("usage export")
	return nil
}

// UsageLive is a server-sent event stream of the usage events stored from
// the moment it opened that pass the query's filters (usagelog.Live): an
// SSE comment once the feed follows USAGE, one event per request (or count
// of refusals), and a comment after a quiet heartbeat interval. It ends
// when the client goes, when the edge shuts down (HaltStreams), or, for a
// reader fell more than its buffer behind, at once.
func (s *API) UsageLive(c echo.Context) error {
	filter, err := usagelog.ParseLiveFilter(c.QueryParams())
	if err != nil {
		return paramFault(err)
	}
	if s.usage == nil {
		return errUsageOff
	}
	if s.halt.Err() != nil {
		return fault.New(fault.Overloaded, "this edge is shutting down")
	}
	ctx, cancel := context.WithCancel(c.Request().Context())
	defer cancel()
	defer context.AfterFunc(s.halt, cancel)()
	w := newStreamWriter(c, liveWriteTimeout, func(h http.Header) {
		h.Set(echo.HeaderContentType, "text/event-stream")
		h.Set("X-Accel-Buffering", "no") // nginx: pass each event on at once
	})
	defer w.done()
	log := httpx.Logger(c)
	var buf []byte
	var sent uint64
	err = usagelog.Live(ctx, s.usage, usagelog.LiveOptions{
		Filter:         filter,
		Buffer:         s.cfg.LiveBuffer,
		HeartbeatEvery: s.cfg.LiveHeartbeat,
		Heartbeat: func() error {
			_, err := w.Write([]byte(": heartbeat\n\n"))
			return err
		},
		// The first bytes say the feed is following: every event stored
		// from then on comes. A failure here shows at the next write.
		Ready: func() { _, _ = w.Write([]byte(": following USAGE\n\n")) },
		// A reader that fell behind is dropped at once: the write it may be
		// blocked in fails now rather than at its deadline.
		OnDrop: func() {
			log.Warn().Msg("usage live feed: the reader fell behind and is dropped")
			_ = w.ctl.SetWriteDeadline(time.Now())
		},
	}, func(e *usagelog.Event) error {
		buf = usagelog.AppendSSE(buf[:0], e)
		_, err := w.Write(buf)
		sent++
		return err
	})
	switch {
	case err == nil: // the client went, or the edge shuts down
		log.Info().Uint64("events", sent).Msg("usage live feed ended")
		return nil
	case !w.started:
		log.Warn().Err(err).Msg("usage live feed: cannot follow USAGE")
		return fault.New(fault.Overloaded, "usage live feed unavailable: the USAGE stream cannot be followed now; try again")
	}
	log.Warn().Err(err).Uint64("events", sent).Msg("usage live feed cut")
	panic(http.ErrAbortHandler)
}

// HaltStreams ends the open live feeds and refuses new ones: the edge
// shuts down, and a feed never ends by itself.
func (s *API) HaltStreams() { s.stopHalt() }

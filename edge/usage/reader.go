package usage

import (
	"errors"
	"io"

	"relay/events"
)

// DefaultMaxEventBytes is the largest event a Reader accepts unless its
// MaxEventBytes says otherwise. It is far above any real event (a large tool
// input or an encrypted reasoning blob is a few MiB) and low enough that a
// runaway upstream cannot make one request hold gigabytes.
const DefaultMaxEventBytes = 64 << 20

// ErrEventTooLarge is returned by [Reader.Next] when one event grows past
// MaxEventBytes without ending. The bytes of that event are not returned: the
// relay cannot forward it whole, so it should abort the response.
var ErrEventTooLarge = errors.New("usage: SSE event larger than MaxEventBytes")

const (
	// initialBufSize holds many ordinary events, so one upstream read (a TLS
	// record is at most 16 KiB) rarely needs a second buffer fill.
	initialBufSize = 32 << 10
	// retainBufSize bounds what Reset keeps, so a pooled Reader that once met
	// a huge event does not pin its buffer forever.
	retainBufSize = 1 << 20
	// maxEmptyReads mirrors bufio: a source that keeps returning 0, nil is broken.
	maxEmptyReads = 100
)

// Reader splits a Server-Sent Events byte stream into whole events and
// observes the usage they carry.
//
// Guarantees:
//   - The slices returned by Next, concatenated, are exactly the bytes read
//     from the source, whatever the line endings and however the source splits
//     its reads. Nothing is reordered, re-encoded or dropped (except after
//     [ErrEventTooLarge], which ends the stream).
//   - Each slice returned with a nil error is one whole event: its lines and
//     the blank line that ends it. Blank lines that precede an event (and the
//     '\n' of a "\r\n" split across reads) belong to the next slice.
//   - An event is returned as soon as its blank line has been read; the Reader
//     never waits for more input to return a complete event.
//   - Memory is the largest event seen (bounded by MaxEventBytes), reused from
//     event to event: steady-state reading does not allocate.
//
// A Reader is not safe for concurrent use; Usage and the other accessors are
// meant to be called between calls to Next on the same goroutine.
type Reader struct {
	// MaxEventBytes bounds one event, blank lines before it included; zero or
	// less means DefaultMaxEventBytes. Set it before the first call to Next;
	// Reset keeps it.
	MaxEventBytes int

	src     io.Reader
	dialect Dialect
	buf     []byte
	start   int   // where the current event begins in buf
	end     int   // end of the bytes read into buf
	err     error // first error from src, reported once buf is drained
	done    bool  // err has been returned; Next only repeats it

	frame frame

	tokens       events.Tokens
	sawUsage     bool
	model        string
	terminal     bool
	lastTerminal bool
	errType      string
	errMsg       string
	sawError     bool
}

// NewReader returns a Reader of src for the dialect d. The buffer is allocated
// on the first call to Next.
func NewReader(src io.Reader, d Dialect) *Reader {
	r := &Reader{}
	r.Reset(src, d)
	return r
}

// Reset makes r read src as if newly made by NewReader, keeping its buffer
// (unless it grew past 1 MiB) and MaxEventBytes, so Readers can be pooled.
func (r *Reader) Reset(src io.Reader, d Dialect) {
	buf := r.buf
	if cap(buf) > retainBufSize {
		buf = nil
	}
	*r = Reader{
		MaxEventBytes: r.MaxEventBytes,
		src:           src,
		dialect:       d,
		buf:           buf,
		frame:         r.frame.reset(),
	}
}

// Next returns the raw bytes of the next event. The slice is valid until the
// next call to Next or Reset.
//
// At the end of the source Next returns what is left together with an error:
//   - io.EOF when the stream ended cleanly (the slice, possibly empty, then
//     holds only blank lines);
//   - io.ErrUnexpectedEOF when the stream ended inside an event: the slice is
//     that partial event, as received (its usage, if any, is still observed,
//     since the upstream produced it);
//   - the source's own error, with the bytes read before it;
//   - ErrEventTooLarge, with no bytes.
//
// Callers forward any returned bytes before looking at the error. Once an
// error is returned, later calls return nil and the same error.
func (r *Reader) Next() ([]byte, error) {
	r.lastTerminal = false
	if r.done {
		return nil, r.err
	}
	if r.buf == nil {
		r.buf = make([]byte, initialBufSize)
	}
	for {
		if n, ok := r.frame.scan(r.buf[r.start:r.end]); ok {
			ev := r.buf[r.start : r.start+n]
			r.start += n
			r.observe(ev)
			r.frame.next(n)
			return ev, nil
		}
		if r.err != nil {
			return r.drain()
		}
		if err := r.fill(); err != nil {
			r.err, r.done = err, true
			return nil, err
		}
	}
}

// drain returns the bytes left when the source has ended.
func (r *Reader) drain() ([]byte, error) {
	rest := r.buf[r.start:r.end]
	r.start = r.end
	r.done = true
	partial := r.frame.finish(rest)
	if r.err == io.EOF {
		if !partial {
			return orNil(rest), io.EOF
		}
		r.err = io.ErrUnexpectedEOF
	}
	if partial {
		r.observe(rest)
	}
	return orNil(rest), r.err
}

func orNil(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

// fill reads more of the source, making room first. Read errors are kept in
// r.err so the bytes read before them are framed first; only ErrEventTooLarge
// is returned.
func (r *Reader) fill() error {
	limit := r.MaxEventBytes
	if limit <= 0 {
		limit = DefaultMaxEventBytes
	}
	if r.end-r.start >= limit {
		return ErrEventTooLarge
	}
	if r.start > 0 {
		// Only the unfinished event moves; it is usually a few bytes.
		r.end = copy(r.buf, r.buf[r.start:r.end])
		r.start = 0
	}
	if r.end == len(r.buf) {
		nb := make([]byte, min(2*len(r.buf), limit))
		copy(nb, r.buf[:r.end])
		r.buf = nb
	}
	// Never read past the limit, so an oversized event is caught at exactly
	// MaxEventBytes rather than at whatever the buffer size happens to be.
	room := r.buf[r.end:min(len(r.buf), limit)]
	for range maxEmptyReads {
		n, err := r.src.Read(room)
		if n < 0 || n > len(room) {
			r.err = errors.New("usage: source returned an invalid count from Read")
			return nil
		}
		r.end += n
		if err != nil {
			r.err = err
			return nil
		}
		if n > 0 {
			return nil
		}
	}
	r.err = io.ErrNoProgress
	return nil
}

// Usage returns the token counts observed so far. Once Terminal is true they
// are the upstream's final figures for the request.
func (r *Reader) Usage() events.Tokens { return r.tokens }

// HasUsage reports whether any usage figures were observed, which tells a
// genuine zero from a stream that never reported usage.
func (r *Reader) HasUsage() bool { return r.sawUsage }

// Model returns the model the upstream says it used, or "" if none was seen.
func (r *Reader) Model() string { return r.model }

// Terminal reports whether a terminal event has been returned by Next, by this
// call or an earlier one: message_stop or error (Anthropic); response.completed,
// response.incomplete, response.failed or error (OpenAI).
func (r *Reader) Terminal() bool { return r.terminal }

// LastEventTerminal reports whether the event returned by the latest call to
// Next (a partial one at the end of the stream included) is a terminal event,
// so the relay can hold it back until the usage it closes has been recorded.
func (r *Reader) LastEventTerminal() bool { return r.lastTerminal }

// UpstreamError returns the error the upstream reported in the stream: an
// error event, or (OpenAI) response.failed. typ is the Anthropic error type
// (such as "overloaded_error") or the OpenAI error code, falling back to its
// type; either may be empty if the upstream left it out. ok is false when no
// such error was seen. A later error replaces an earlier one.
func (r *Reader) UpstreamError() (typ, msg string, ok bool) {
	return r.errType, r.errMsg, r.sawError
}

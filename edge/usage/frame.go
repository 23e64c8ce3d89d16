package usage

import "bytes"

// bom may open a stream; the SSE spec says to ignore it.
var bom = []byte("\xEF\xBB\xBF")

// span is a byte range relative to the start of the current event, so it
// survives the buffer being compacted or grown under it.
type span struct{ start, end int }

// frame is the incremental SSE line scanner of a Reader. It looks at each
// buffered byte once, however the bytes arrive, and records where the event
// name and data lines of the current event are.
type frame struct {
	nl, cr    finder
	line      int  // start of the line being scanned
	pendingCR bool // a line ended in '\r' at the end of the bytes read: a '\n' next belongs to it
	sawLine   bool // a line of the stream was seen, so a BOM can no longer occur
	content   bool // the current event has a non-blank line
	hasName   bool
	name      span
	data      []span
	joined    []byte // scratch for events with several data lines
}

// reset clears the frame for a new stream, keeping its scratch memory.
func (f frame) reset() frame {
	return frame{data: f.data[:0], joined: f.joined[:0]}
}

// scan scans b, the buffered bytes of the current event (b only grows between
// calls until the event is complete), and returns the event's length once its
// terminating blank line has been read.
func (f *frame) scan(b []byte) (int, bool) {
	for {
		if f.pendingCR {
			if f.line >= len(b) {
				return 0, false
			}
			f.pendingCR = false
			if b[f.line] == '\n' {
				f.line++
			}
		}
		nl := f.nl.find(b, f.line, '\n')
		cr := f.cr.find(b, f.line, '\r')
		eol := nl
		if cr >= 0 && (nl < 0 || cr < nl) {
			eol = cr
		}
		if eol < 0 {
			return 0, false
		}
		next := eol + 1
		if b[eol] == '\r' {
			// A '\r' ends its line at once, even at the end of the bytes read:
			// waiting for a possible '\n' would hold back a complete event.
			if next == len(b) {
				f.pendingCR = true
			} else if b[next] == '\n' {
				next++
			}
		}
		blank := f.field(b[f.line:eol], f.line)
		f.line = next
		if blank && f.content {
			return next, true
		}
	}
}

// field notes one line of the current event, starting at offset off, and
// reports whether it is blank. Blank lines before any other line of the event
// are kept with it rather than returned as an empty event.
func (f *frame) field(l []byte, off int) (blank bool) {
	if !f.sawLine {
		f.sawLine = true
		if bytes.HasPrefix(l, bom) {
			l, off = l[len(bom):], off+len(bom)
		}
	}
	if len(l) == 0 {
		return true
	}
	f.content = true
	if l[0] == ':' {
		return false // comment
	}
	name, v := l, len(l)
	if c := bytes.IndexByte(l, ':'); c >= 0 {
		name, v = l[:c], c+1
		if v < len(l) && l[v] == ' ' {
			v++
		}
	}
	switch string(name) {
	case "event":
		f.name, f.hasName = span{off + v, off + len(l)}, true
	case "data":
		f.data = append(f.data, span{off + v, off + len(l)})
	}
	return false
}

// finish notes the unterminated last line when the stream ends inside it and
// reports whether an unfinished event is left.
func (f *frame) finish(b []byte) bool {
	if f.line < len(b) {
		f.field(b[f.line:], f.line)
		f.line = len(b)
	}
	return f.content
}

// next moves the frame past a returned event of n bytes.
func (f *frame) next(n int) {
	f.nl.shift(n)
	f.cr.shift(n)
	f.line -= n
	f.content, f.hasName = false, false
	f.data = f.data[:0]
}

// payload returns the event's data: the data lines joined by '\n' as the SSE
// spec says. A single data line, the usual case, is not copied.
func (f *frame) payload(ev []byte) []byte {
	switch len(f.data) {
	case 0:
		return nil
	case 1:
		return ev[f.data[0].start:f.data[0].end]
	}
	f.joined = f.joined[:0]
	for i, s := range f.data {
		if i > 0 {
			f.joined = append(f.joined, '\n')
		}
		f.joined = append(f.joined, ev[s.start:s.end]...)
	}
	return f.joined
}

// eventName returns the value of the event's "event:" field, or nil.
func (f *frame) eventName(ev []byte) []byte {
	if !f.hasName {
		return nil
	}
	return ev[f.name.start:f.name.end]
}

// finder finds the next occurrence of one byte in a growing buffer. It
// remembers how far it has searched, so a line arriving in many reads, or a
// line ending that never occurs ('\r' in most streams), costs one pass over
// the bytes rather than one per line or per read.
type finder struct {
	at    int  // offset of the byte found, valid when found
	found bool // at is the first occurrence at or after the offsets searched from
	done  int  // offsets below this have been searched
}

func (f *finder) find(b []byte, from int, c byte) int {
	if f.found && f.at >= from {
		return f.at
	}
	s := max(from, f.done)
	if i := bytes.IndexByte(b[s:], c); i >= 0 {
		f.at, f.found, f.done = s+i, true, s+i+1
		return f.at
	}
	f.found, f.done = false, len(b)
	return -1
}

func (f *finder) shift(n int) {
	f.at -= n
	f.done = max(f.done-n, 0)
}

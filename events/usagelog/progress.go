package usagelog

import (
	"fmt"
	"io"
	"time"
)

// Progress reports a replay's progress on w (stderr): on a terminal one
// line rewritten in place, elsewhere a line every few seconds; and a final
// count. Use Update as Query.Progress and call Done at the end.
type Progress struct {
	w     io.Writer
	tty   bool
	label string
	start time.Time
	last  time.Time
	now   func() time.Time
}

// NewProgress returns a reporter whose lines start with label ("replay").
func NewProgress(w io.Writer, tty bool, label string) *Progress {
	p := &Progress{w: w, tty: tty, label: label, now: time.Now}
	p.start = p.now()
	p.last = p.start // the first line after one interval: short replays print only Done's
	return p
}

// Update implements Query.Progress.
func (p *Progress) Update(st Stats) {
	now := p.now()
	every := 5 * time.Second
	if p.tty {
		every = 250 * time.Millisecond
	}
	if now.Sub(p.last) < every {
		return
	}
	p.last = now
	line := fmt.Sprintf("%s: %d read, %d matched, seq %d of %d, at %s, %.0f/s",
		p.label, st.Read, st.Matched, st.Seq, st.End, st.Stored.UTC().Format(time.RFC3339), rate(st.Read, now.Sub(p.start)))
	if p.tty {
		fmt.Fprintf(p.w, "\r%s\x1b[K", line)
	} else {
		fmt.Fprintln(p.w, line)
	}
}

// Done prints the final count.
func (p *Progress) Done(st Stats) {
	d := p.now().Sub(p.start)
	if p.tty {
		fmt.Fprint(p.w, "\r\x1b[K")
	}
	fmt.Fprintf(p.w, "%s: %d events matched of %d read", p.label, st.Matched, st.Read)
	if st.Skipped > 0 {
		fmt.Fprintf(p.w, " (%d not usage events, skipped)", st.Skipped)
	}
	fmt.Fprintf(p.w, " in %s (%.0f events/s)\n", d.Round(time.Millisecond), rate(st.Read, d))
}

func rate(n uint64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

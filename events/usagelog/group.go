package usagelog

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"relay/events"
)

// Dim is a --group-by dimension.
type Dim string

// Dimensions. Day and hour buckets are calendar buckets of the usage
// event's own time (when the request was made) in the replay's time zone;
// key, platform, account and model are the event's fields (model as
// requested).
const (
	DimDay      Dim = "day"
	DimHour     Dim = "hour"
	DimKey      Dim = "key"
	DimAccount  Dim = "account"
	DimModel    Dim = "model"
	DimPlatform Dim = "platform"
)

// ParseDims reads a --group-by list ("day,key"). Unknown and repeated
// dimensions are errors.
func ParseDims(s string) ([]Dim, error) {
	var dims []Dim
	for part := range strings.SplitSeq(s, ",") {
		d := Dim(strings.TrimSpace(part))
		switch d {
		case DimDay, DimHour, DimKey, DimAccount, DimModel, DimPlatform:
		default:
			return nil, fmt.Errorf("unknown group-by dimension %q: want a comma list of day, hour, key, account, model, platform", part)
		}
		if slices.Contains(dims, d) {
			return nil, fmt.Errorf("group-by dimension %q given twice", d)
		}
		dims = append(dims, d)
	}
	return dims, nil
}

// Column is the output column (and JSON member) of d: the usage event's
// field name where there is one.
func (d Dim) Column() string {
	switch d {
	case DimKey:
		return "keyId"
	case DimAccount:
		return "accountId"
	}
	return string(d)
}

// Bucket labels: a local date, and a local hour with its UTC offset, both
// sorting in time order as text.
const (
	dayLayout  = time.DateOnly
	hourLayout = "2006-01-02T15:00Z07:00"
)

// grouper assigns events to groups, one per distinct tuple of dimension
// values, and remembers the tuples.
type grouper struct {
	dims  []Dim
	loc   *time.Location
	index map[string]int
	keys  [][]string
	buf   []byte
	vals  []string
}

func newGrouper(dims []Dim, loc *time.Location) *grouper {
	if loc == nil {
		loc = time.UTC
	}
	return &grouper{dims: dims, loc: loc, index: make(map[string]int)}
}

// group returns the index of e's group, and whether the group is new.
func (g *grouper) group(e *Event) (int, bool) {
	g.vals = g.vals[:0]
	for _, d := range g.dims {
		g.vals = append(g.vals, g.value(d, e))
	}
	g.buf = g.buf[:0]
	for _, v := range g.vals {
		g.buf = append(g.buf, v...)
		g.buf = append(g.buf, 0)
	}
	if i, ok := g.index[string(g.buf)]; ok { // no allocation on a hit
		return i, false
	}
	i := len(g.keys)
	g.index[string(g.buf)] = i
	key := make([]string, len(g.vals))
	for j, v := range g.vals {
		key[j] = strings.Clone(v) // not the message's bytes (str shares them)
	}
	g.keys = append(g.keys, key)
	return i, true
}

func (g *grouper) value(d Dim, e *Event) string {
	u := e.Fields()
	switch d {
	case DimKey:
		if u.KeyID == "" {
			_, key, _ := events.UsageOf(e.Subject)
			return key
		}
		return u.KeyID
	case DimPlatform:
		if u.Platform == "" {
			platform, _, _ := events.UsageOf(e.Subject)
			return platform
		}
		return u.Platform
	case DimAccount:
		return u.AccountID
	case DimModel:
		return u.Model
	case DimDay, DimHour:
		// Fast path for the usual UTC time in UTC buckets: the label is a
		// prefix of the text.
		if g.loc == time.UTC && len(u.Time) >= 20 && u.Time[len(u.Time)-1] == 'Z' && u.Time[10] == 'T' {
			if d == DimDay {
				return u.Time[:10]
			}
			return u.Time[:13] + ":00Z"
		}
		t, err := e.EventTime(g.loc)
		if err != nil {
			t = e.Stored.In(g.loc) // no usable event time: when it was recorded
		}
		if d == DimDay {
			return t.Format(dayLayout)
		}
		return t.Format(hourLayout)
	}
	return ""
}

// order returns the group indexes sorted by their tuples.
func (g *grouper) order() []int {
	idx := make([]int, len(g.keys))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int { return slices.Compare(g.keys[a], g.keys[b]) })
	return idx
}

func (g *grouper) columns() []string {
	cols := make([]string, len(g.dims))
	for i, d := range g.dims {
		cols[i] = d.Column()
	}
	return cols
}

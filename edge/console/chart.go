package console

import (
	"fmt"
	"html"
	"html/template"
	"strconv"
	"strings"
	"time"
)

// The chart of requests and cost over time, drawn as SVG on the server: a
// bar per bucket for requests (left axis) and a line for cost (right axis).
// It needs no JavaScript and no other host: every bucket carries a <title>,
// which browsers show as its tooltip. Colours come from the stylesheet
// (classes c-*), so the chart follows the theme.

const (
	chartW, chartH                    = 720, 240
	padLeft, padRight, padTop, padBot = 58, 74, 12, 26
	chartTicks                        = 4
	maxXLabels                        = 8
	emptyCostTop                      = chartTicks * 10_000_000 // $0.04 in nano-dollars
)

// chartInput is what renderChart draws.
type chartInput struct {
	Granularity Granularity
	Buckets     []Bucket
	Loc         *time.Location
	L           *Locale
}

// niceCeil returns the smallest 1, 2 or 5 times a power of ten that is at
// least v (1 for v <= 0), so axis ticks fall on round numbers.
func niceCeil(v int64) int64 {
	if v <= 0 {
		return 1
	}
	for p := int64(1); ; p *= 10 {
		for _, m := range []int64{1, 2, 5} {
			if m*p >= v {
				return m * p
			}
		}
		if p > (1<<62)/10 {
			return v
		}
	}
}

// countTop is the top of a count axis: chartTicks steps of a round whole
// number (1, 2, 2.5 or 5 times a power of ten, never a fraction), so that
// every tick is a whole count where it stands (a top of 1 would label its
// ticks 0.25, 0.5 and 0.75).
func countTop(v int64) int64 {
	need := max((v+chartTicks-1)/chartTicks, 1)
	for p := int64(1); ; p *= 10 {
		steps := []int64{p, 2 * p, 5 * p}
		if p >= 10 {
			steps = []int64{p, 2 * p, 5 * p / 2, 5 * p}
		}
		for _, step := range steps {
			if step >= need {
				return step * chartTicks
			}
		}
		if p > (1<<62)/100 {
			return v
		}
	}
}

// axisCount writes an axis label short enough for a phone's width: K from
// a thousand in English, 万 from ten thousand in Chinese, no separators.
func axisCount(lang string, n int64) string {
	switch {
	case n >= 10_000:
		return compact(lang, n)
	case n >= 1000 && lang != "zh-CN":
		tenths := (n + 50) / 100
		if tenths%10 == 0 {
			return strconv.FormatInt(tenths/10, 10) + "K"
		}
		return strconv.FormatInt(tenths/10, 10) + "." + strconv.FormatInt(tenths%10, 10) + "K"
	}
	return strconv.FormatInt(n, 10)
}

func bucketLabel(g Granularity, t time.Time, loc *time.Location) string {
	t = t.In(loc)
	if g == Hourly {
		return t.Format("15:04")
	}
	return t.Format("01-02")
}

func bucketTitle(g Granularity, t time.Time, loc *time.Location) string {
	t = t.In(loc)
	if g == Hourly {
		return t.Format("2006-01-02 15:04")
	}
	return t.Format("2006-01-02")
}

// renderChart draws in. Every text it writes is escaped here: the result is
// trusted HTML.
func renderChart(in chartInput) template.HTML {
	var b strings.Builder
	l := in.L
	n := len(in.Buckets)
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %d %d" role="img" aria-label="%s" xmlns="http://www.w3.org/2000/svg">`,
		chartW, chartH, html.EscapeString(l.T("chart.aria")))
	if n == 0 {
		fmt.Fprintf(&b, `<text class="c-empty" x="%d" y="%d" text-anchor="middle">%s</text></svg>`,
			chartW/2, chartH/2, html.EscapeString(l.T("chart.empty")))
		return template.HTML(b.String())
	}
	var maxReq, maxCost int64
	for _, bk := range in.Buckets {
		maxReq, maxCost = max(maxReq, bk.Requests), max(maxCost, bk.CostNanos)
	}
	reqTop := countTop(maxReq)
	costTop := niceCeil(maxCost)
	if maxCost == 0 {
		costTop = emptyCostTop // ticks of a cent, not of a nano-dollar
	}
	plotW := float64(chartW - padLeft - padRight)
	plotH := float64(chartH - padTop - padBot)
	bottom := float64(chartH - padBot)
	yReq := func(v int64) float64 { return bottom - float64(v)/float64(reqTop)*plotH }
	yCost := func(v int64) float64 { return bottom - float64(v)/float64(costTop)*plotH }
	slot := plotW / float64(n)

	// Grid and both axes' labels.
	for i := 0; i <= chartTicks; i++ {
		y := bottom - plotH*float64(i)/chartTicks
		fmt.Fprintf(&b, `<line class="c-grid" x1="%d" x2="%d" y1="%.1f" y2="%.1f"/>`, padLeft, chartW-padRight, y, y)
		fmt.Fprintf(&b, `<text class="c-axis" x="%d" y="%.1f" text-anchor="end">%s</text>`,
			padLeft-6, y+4, html.EscapeString(axisCount(l.Tag, reqTop*int64(i)/chartTicks)))
		fmt.Fprintf(&b, `<text class="c-axis c-axis-cost" x="%d" y="%.1f">%s</text>`,
			chartW-padRight+6, y+4, html.EscapeString(formatUSD(costTop*int64(i)/chartTicks)))
	}
	// Bars, each under a hover target that spans its slot.
	every := (n + maxXLabels - 1) / maxXLabels
	for i, bk := range in.Buckets {
		x := float64(padLeft) + slot*float64(i)
		barW := max(slot*0.7, 1)
		title := l.F("chart.tooltip", bucketTitle(in.Granularity, bk.Start, in.Loc), groupDigits(bk.Requests), formatUSD(bk.CostNanos))
		fmt.Fprintf(&b, `<g class="c-bucket"><title>%s</title><rect class="c-hover" x="%.1f" y="%d" width="%.1f" height="%.1f"/>`,
			html.EscapeString(title), x, padTop, slot, plotH)
		if bk.Requests > 0 {
			y := yReq(bk.Requests)
			fmt.Fprintf(&b, `<rect class="c-bar" x="%.1f" y="%.1f" width="%.1f" height="%.1f"/>`, x+(slot-barW)/2, y, barW, bottom-y)
		}
		b.WriteString(`</g>`)
		if i%every == 0 {
			fmt.Fprintf(&b, `<text class="c-axis" x="%.1f" y="%d" text-anchor="middle">%s</text>`,
				x+slot/2, chartH-8, html.EscapeString(bucketLabel(in.Granularity, bk.Start, in.Loc)))
		}
	}
	// The cost line over the bars.
	b.WriteString(`<polyline class="c-line" points="`)
	for i, bk := range in.Buckets {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%.1f,%.1f", float64(padLeft)+slot*(float64(i)+0.5), yCost(bk.CostNanos))
	}
	b.WriteString(`"/>`)
	if n <= 48 {
		for i, bk := range in.Buckets {
			fmt.Fprintf(&b, `<circle class="c-dot" cx="%.1f" cy="%.1f" r="2.5"/>`, float64(padLeft)+slot*(float64(i)+0.5), yCost(bk.CostNanos))
		}
	}
	fmt.Fprintf(&b, `<line class="c-base" x1="%d" x2="%d" y1="%.1f" y2="%.1f"/>`, padLeft, chartW-padRight, bottom, bottom)
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

package console

import (
	"encoding/xml"
	"strings"
	"testing"
	"time"
)

type svgDoc struct {
	XMLName xml.Name   `xml:"svg"`
	Groups  []svgGroup `xml:"g"`
	Texts   []svgText  `xml:"text"`
	Lines   []struct {
		Class  string `xml:"class,attr"`
		Points string `xml:"points,attr"`
	} `xml:"polyline"`
}

type svgGroup struct {
	Title string    `xml:"title"`
	Rects []svgRect `xml:"rect"`
}

type svgRect struct {
	Class  string  `xml:"class,attr"`
	Y      float64 `xml:"y,attr"`
	Height float64 `xml:"height,attr"`
}

type svgText struct {
	Class string `xml:"class,attr"`
	Text  string `xml:",chardata"`
}

func parseChart(t *testing.T, html string) svgDoc {
	t.Helper()
	var doc svgDoc
	if err := xml.Unmarshal([]byte(html), &doc); err != nil {
		t.Fatalf("chart is not well-formed SVG: %v\n%s", err, html)
	}
	return doc
}

func TestChartDrawsBarsAndCostLine(t *testing.T) {
	locales, err := loadLocales(assetsFS)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 12, 4, 0, 0, 0, 0, time.UTC)
	var buckets []Bucket
	for i, n := range []int64{0, 10, 40, 20} {
		b := Bucket{Start: start.Add(time.Duration(i) * time.Hour)}
		b.Requests, b.CostNanos = n, n*100_000_000
		buckets = append(buckets, b)
	}
	doc := parseChart(t, string(renderChart(chartInput{Granularity: Hourly, Buckets: buckets, Loc: time.UTC, L: locales["en"]})))
	if len(doc.Groups) != 4 {
		t.Fatalf("%d buckets drawn, want 4", len(doc.Groups))
	}
	heights := map[int64]float64{}
	for i, g := range doc.Groups {
		var bar *svgRect
		for j := range g.Rects {
			if g.Rects[j].Class == "c-bar" {
				bar = &g.Rects[j]
			}
		}
		n := buckets[i].Requests
		if n == 0 {
			if bar != nil {
				t.Errorf("bucket %d has no requests but a bar", i)
			}
			continue
		}
		if bar == nil {
			t.Fatalf("bucket %d has no bar", i)
		}
		heights[n] = bar.Height
		// Every bar stands on the same baseline.
		if got := bar.Y + bar.Height; got < float64(chartH-padBot)-0.2 || got > float64(chartH-padBot)+0.2 {
			t.Errorf("bucket %d ends at %v, not the baseline", i, got)
		}
	}
	// Heights are proportional; 40 against an axis topped at 40 (four
	// whole steps of 10).
	if r := heights[40] / heights[20]; r < 1.99 || r > 2.01 {
		t.Errorf("bar 40 is %.2f times bar 20, want 2", r)
	}
	plotH := float64(chartH - padTop - padBot)
	if got := heights[40] / plotH; got < 0.99 || got > 1.01 {
		t.Errorf("bar 40 fills %.2f of the plot, want 1 (axis top 40)", got)
	}
	if doc.Groups[2].Title != "2026-12-04 02:00: 40 requests, $4.00" {
		t.Errorf("tooltip %q", doc.Groups[2].Title)
	}
	var labels, axis []string
	for _, tx := range doc.Texts {
		if strings.Contains(tx.Class, "c-axis-cost") {
			axis = append(axis, tx.Text)
		} else {
			labels = append(labels, tx.Text)
		}
	}
	if !contains(labels, "40") || !contains(labels, "30") || !contains(labels, "00:00") || !contains(labels, "03:00") {
		t.Errorf("labels %v lack the axis ticks 30 and 40 and the hours", labels)
	}
	if !contains(axis, "$5.00") {
		t.Errorf("cost axis %v lacks its top $5.00", axis)
	}
	if len(doc.Lines) != 1 || len(strings.Fields(doc.Lines[0].Points)) != 4 {
		t.Errorf("cost line %+v, want one polyline of 4 points", doc.Lines)
	}
}

func TestChartDailyLabelsAreThinned(t *testing.T) {
	locales, _ := loadLocales(assetsFS)
	start := time.Date(2026, 11, 5, 0, 0, 0, 0, time.UTC)
	var buckets []Bucket
	for i := range 30 {
		buckets = append(buckets, Bucket{Start: start.AddDate(0, 0, i)})
	}
	doc := parseChart(t, string(renderChart(chartInput{Granularity: Daily, Buckets: buckets, Loc: time.UTC, L: locales["en"]})))
	dates := 0
	for _, tx := range doc.Texts {
		if strings.Count(tx.Text, "-") == 1 && len(tx.Text) == 5 {
			dates++
		}
	}
	if dates == 0 || dates > maxXLabels {
		t.Errorf("%d date labels, want 1..%d", dates, maxXLabels)
	}
	if len(doc.Groups) != 30 {
		t.Errorf("%d buckets", len(doc.Groups))
	}
}

func TestChartEmptyAndEscaped(t *testing.T) {
	locales, _ := loadLocales(assetsFS)
	l := &Locale{Tag: "en", msgs: map[string]string{"chart.empty": `<b>"none"</b>`, "chart.aria": `a"b<`}}
	for k, v := range locales["en"].msgs {
		if _, ok := l.msgs[k]; !ok {
			l.msgs[k] = v
		}
	}
	html := string(renderChart(chartInput{Granularity: Daily, Loc: time.UTC, L: l}))
	parseChart(t, html)
	if strings.Contains(html, "<b>") || !strings.Contains(html, "&lt;b&gt;") || strings.Contains(html, `a"b<`) {
		t.Errorf("chart text not escaped: %s", html)
	}
}

func TestAxisCount(t *testing.T) {
	for _, tc := range []struct {
		lang string
		n    int64
		want string
	}{
		{"en", 500, "500"}, {"en", 1500, "1.5K"}, {"en", 2000, "2K"}, {"en", 50_000, "50K"},
		{"zh-CN", 2000, "2000"}, {"zh-CN", 50_000, "5万"},
	} {
		if got := axisCount(tc.lang, tc.n); got != tc.want {
			t.Errorf("axisCount(%s, %d) = %q, want %q", tc.lang, tc.n, got, tc.want)
		}
	}
}

func TestNiceCeil(t *testing.T) {
	for v, want := range map[int64]int64{0: 1, 1: 1, 3: 5, 7: 10, 11: 20, 40: 50, 51: 100, 1_234_567: 2_000_000} {
		if got := niceCeil(v); got != want {
			t.Errorf("niceCeil(%d) = %d, want %d", v, got, want)
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// A count axis has whole ticks: its top is four round whole steps.
func TestCountTopHasWholeTicks(t *testing.T) {
	for v, want := range map[int64]int64{0: 4, 1: 4, 4: 4, 5: 8, 9: 20, 10: 20, 20: 20, 21: 40, 90: 100, 100: 100, 101: 200, 1000: 1000, 1001: 2000} {
		got := countTop(v)
		if got != want || got < v || got%chartTicks != 0 {
			t.Errorf("countTop(%d) = %d, want %d", v, got, want)
		}
	}
}

// A chart without usage labels its axes with whole requests and cents.
func TestEmptyChartHasReadableAxes(t *testing.T) {
	locales, err := loadLocales(assetsFS)
	if err != nil {
		t.Fatal(err)
	}
	svg := string(renderChart(chartInput{Granularity: Daily, Buckets: []Bucket{{}, {}, {}}, Loc: time.UTC, L: locales["en"]}))
	for _, want := range []string{">4<", ">1<", ">$0.0400<", ">$0.0100<"} {
		if !strings.Contains(svg, want) {
			t.Errorf("an empty chart lacks the label %s", want)
		}
	}
	if strings.Contains(svg, "$0.0000") {
		t.Error("an empty chart labels its cost axis in nano-dollars")
	}
}

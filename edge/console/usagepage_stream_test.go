package console

import (
	"bytes"
	"context"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"relay/events"
	"relay/events/natstest"
	"relay/events/streams"
	"relay/events/usagelog"
)

// TestUsageOverTheRealStream: the Usage page and its download over a real
// USAGE stream through usagelog.Reports: the table counts what was
// published, and the download is byte for byte usagelog.Export's for the
// window and filter the page shows.
func TestUsageOverTheRealStream(t *testing.T) {
	srv := natstest.Start(t)
	_, js := srv.Connect(t)
	ctx := context.Background()
	models := []string{"claude-sonnet-4-5", "claude-opus-4-1", "gpt-5-codex"}
	base := time.Now().UTC().Add(-2 * time.Hour)
	for i := range 30 {
		platform := events.PlatformClaudeConsole
		if i%3 == 2 {
			platform = events.PlatformCodex
		}
		u := events.Usage{ID: fmt.Sprintf("req-%03d", i), Time: base.Add(time.Duration(i) * time.Minute), KeyID: fmt.Sprintf("k%d", i%2),
			AccountID: "a1", Platform: platform, Model: models[i%3], Status: 200, Outcome: events.OutcomeOK,
			Tokens: events.Tokens{InputTokens: 100, OutputTokens: 10}, CostNanos: 1_000_000}
		env, err := events.NewWithID(u.ID, events.UsageRecorded, u.Time, "key:"+u.KeyID, u.ID, u)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := streams.Publish(ctx, js, events.UsageSubject(u.Platform, u.KeyID), env, nil); err != nil {
			t.Fatal(err)
		}
	}
	// The page pins the window's open end to its clock, to the second: a
	// clock a little ahead keeps the events just stored inside it.
	e, _ := newTestServer(t, newFakeBackend(), func(c *Config) {
		c.UsageReports = usagelog.Reports{JS: js, Loc: time.UTC}
		c.Now = func() time.Time { return time.Now().Add(2 * time.Second) }
	})
	b := newBrowser(t, e)
	b.signIn("correct horse")

	rec := b.get("/console/usage?from=1d&group=model&keyId=k0")
	requireStatus(t, rec, http.StatusOK)
	body := rec.Body.String()
	for _, m := range models {
		// k0 made every other request: 5 of each model's 10.
		if !regexp.MustCompile(`<code>` + m + `</code></td><td class="num">5</td>`).MatchString(body) {
			t.Errorf("the table lacks %s with 5 requests", m)
		}
	}
	requireContains(t, body, "Total (3 groups)", `<td class="num">15</td>`)
	link := regexp.MustCompile(`id="usage-download" href="([^"]+)"`).FindStringSubmatch(body)
	if link == nil {
		t.Fatal("no download link")
	}
	href := html.UnescapeString(link[1])
	got := b.get(href)
	requireStatus(t, got, http.StatusOK)
	req, err := usagelog.ParseExportRequest(mustQuery(t, href), time.Now(), time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	st, err := usagelog.Export(ctx, js, req, &want)
	if err != nil {
		t.Fatal(err)
	}
	if st.Rows != 15 || got.Body.String() != want.String() {
		t.Errorf("download of %d bytes, usagelog.Export %d bytes and %d rows", got.Body.Len(), want.Len(), st.Rows)
	}
	if n := strings.Count(got.Body.String(), "\n"); n != 16 {
		t.Errorf("download has %d lines, want a header and 15 rows", n)
	}
}

func mustQuery(t *testing.T, href string) url.Values {
	t.Helper()
	_, q, _ := strings.Cut(href, "?")
	v, err := url.ParseQuery(q)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

package console

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func sampleRecord(now time.Time) RequestRecord {
	return RequestRecord{
		ID: "req-42", Time: now, KeyID: "k1", KeyName: "ci <bot>", AccountID: "a1", Account: "console-main",
		Platform: "claude-console", Model: "claude-sonnet-4-5", Status: 200,
		InputTokens: 1200, OutputTokens: 300, CacheReadTokens: 10_000, CostNanos: 4_560_000,
		TTFT: 420 * time.Millisecond, Duration: 12_300 * time.Millisecond,
	}
}

func TestLiveFeedStreamsRecordedRequests(t *testing.T) {
	f := newFakeBackend()
	e, _ := newTestServer(t, f)
	b := newBrowser(t, e)
	b.signIn("correct horse")
	srv := httptest.NewServer(e)
	defer srv.Close()

	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/console/live?tz=UTC", nil)
	req.AddCookie(b.cookies[sessionCookie])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("live: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	deadline := time.Now().Add(5 * time.Second)
	for f.followerCount() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the feed never followed the backend")
		}
		time.Sleep(5 * time.Millisecond)
	}
	f.record(sampleRecord(time.Date(2026, 12, 4, 9, 30, 5, 0, time.UTC)))

	lines := bufio.NewScanner(resp.Body)
	var event, data string
	for lines.Scan() {
		line := lines.Text()
		if v, ok := strings.CutPrefix(line, "event: "); ok {
			event = v
		}
		if v, ok := strings.CutPrefix(line, "data: "); ok && event == "request" {
			data = v
			break
		}
	}
	var row liveRow
	if err := json.Unmarshal([]byte(data), &row); err != nil {
		t.Fatalf("event data %q: %v", data, err)
	}
	want := liveRow{ID: "req-42", Time: "09:30:05", TimeFull: "2026-12-04 09:30 UTC", Key: "ci <bot>", Account: "console-main",
		Model: "claude-sonnet-4-5", Status: 200, OK: true, Tokens: "11.5K",
		TokensIn: "input 1,200, output 300, cache write 0, cache read 10,000",
		Cost:     "$0.0046", TTFT: "420 ms", Duration: "12.3 s"}
	if row != want {
		t.Errorf("row\n%+v, want\n%+v", row, want)
	}
	if strings.Contains(data, "<bot>") {
		t.Error("the event carries markup unescaped (the JSON must escape < and >)")
	}
}

func TestCloseEndsLiveFeeds(t *testing.T) {
	f := newFakeBackend()
	e, h := newTestServer(t, f)
	b := newBrowser(t, e)
	b.signIn("correct horse")
	srv := httptest.NewServer(e)
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/console/live", nil)
	req.AddCookie(b.cookies[sessionCookie])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	h.Close()
	done := make(chan error, 1)
	go func() {
		_, err := io.Copy(io.Discard, resp.Body)
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("the feed broke instead of ending: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close left the live feed open")
	}
}

// TestLiveFeedEndsWithItsSession: a password change made elsewhere ends an
// open feed at its next keep-alive.
func TestLiveFeedEndsWithItsSession(t *testing.T) {
	f := newFakeBackend()
	e, h := newTestServer(t, f)
	h.liveKeepAlive = 20 * time.Millisecond
	b := newBrowser(t, e)
	b.signIn("correct horse")
	srv := httptest.NewServer(e)
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/console/live", nil)
	req.AddCookie(b.cookies[sessionCookie])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	f.mu.Lock()
	f.versions["admin"]++ // the password changed
	f.mu.Unlock()
	done := make(chan string, 1)
	go func() {
		body, _ := io.ReadAll(resp.Body)
		done <- string(body)
	}()
	select {
	case body := <-done:
		if !strings.Contains(body, "event: ended\ndata: session\n\n") {
			t.Fatalf("the feed ended without saying why:\n%s", body)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the feed outlived its session")
	}
}

func TestLiveFeedNeedsASession(t *testing.T) {
	e, _ := newTestServer(t, newFakeBackend())
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/console/live", nil))
	if rec.Code != http.StatusSeeOther {
		t.Fatalf("live without a session: %d", rec.Code)
	}
}

func TestOverviewListsRecentRequests(t *testing.T) {
	f := newFakeBackend()
	f.overview.Timezone = "UTC"
	f.recent = []RequestRecord{sampleRecord(time.Date(2026, 12, 4, 9, 30, 5, 0, time.UTC))}
	e, _ := newTestServer(t, f)
	b := newBrowser(t, e)
	b.signIn("correct horse")
	body := b.get("/console/").Body.String()
	requireContains(t, body, `data-src="/console/live?tz=UTC"`, "ci &lt;bot&gt;", "09:30:05", "420 ms", "12.3 s", "$0.0046", `state-active">200`)
	f.recent = nil
	requireContains(t, b.get("/console/").Body.String(), "No request recorded yet.")
}

func TestMillis(t *testing.T) {
	for d, want := range map[time.Duration]string{0: "–", 5 * time.Millisecond: "5 ms", 9999 * time.Millisecond: "9999 ms", 10 * time.Second: "10.0 s", 95 * time.Second: "95.0 s"} {
		if got := millis(d); got != want {
			t.Errorf("millis(%v) = %q, want %q", d, got, want)
		}
	}
}

package console

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/labstack/echo/v4"
)

// The key holder's page in chromium, over a fake KeyHolder (the real edge
// is tested over HTTP in edge/statspage_test.go: edgetest imports edge,
// which imports this package).

func statsHandler(t *testing.T, kh KeyHolder) http.Handler {
	t.Helper()
	e := echo.New()
	h, err := New(Config{Secret: testSecret, Version: "v-test", KeyHolder: kh}, newFakeBackend())
	if err != nil {
		t.Fatal(err)
	}
	h.MountStats(e.Group("/stats"))
	return e
}

// keyLeft reports where the browser still holds secret (or a part of it
// that is no mask): the URL, history, cookies (HttpOnly too), local and
// session storage, and the form's field.
func keyLeft(h *harness, secret string) []string {
	h.T.Helper()
	part := secret[3:20]
	var where []string
	js := `JSON.stringify({url: location.href, history: String(history.state), cookie: document.cookie,
		local: Object.keys(localStorage).map(function (k) { return k + "=" + localStorage.getItem(k); }),
		session: Object.keys(sessionStorage).map(function (k) { return k + "=" + sessionStorage.getItem(k); }),
		field: (document.getElementById("apiKey") || {}).value || "",
		inputs: Array.prototype.map.call(document.querySelectorAll("input"), function (i) { return i.value; })})`
	if got := h.Eval(js); strings.Contains(got, part) {
		where = append(where, "page state: "+got)
	}
	res, err := chromedp.Call(h.Ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{h.Base + "/stats", h.Base + "/"}})
	if err != nil {
		h.T.Fatal(err)
	}
	for _, c := range res.Cookies {
		if strings.Contains(c.Value, part) || strings.Contains(c.Name, part) {
			where = append(where, "cookie "+c.Name)
		}
	}
	return where
}

func TestBrowserKeyHolderSeesUsageAndNearestLimit(t *testing.T) {
	now := time.Now().UTC()
	kh := &fakeKeyHolder{secret: holderSecret, view: sampleHolderView(now)}
	h := newHarness(t, statsHandler(t, kh))

	h.Do(chromedp.Navigate(h.Base+"/stats"), chromedp.WaitVisible(chromedp.ID("apiKey")))
	if got := h.Eval(`document.querySelector("form.form").getAttribute("method") + " " + document.getElementById("apiKey").getAttribute("autocomplete")`); got != "post off" {
		t.Errorf("form method and autocomplete %q, want post off", got)
	}
	h.Screenshot("stats-form")
	h.Do(chromedp.SendKeys(chromedp.ID("apiKey"), holderSecret))
	h.Submit(`.stats-form button[type=submit]`)

	if got := h.Location(); got != "/stats" {
		t.Errorf("after looking the browser is at %s", got)
	}
	if got := h.Text("#holder-key"); got != "cr_...def" {
		t.Errorf("the key shows as %q, want it masked", got)
	}
	if got := h.Text("#nearest"); got != "Nearest limit: Daily cost, $17.50 / $20.00" {
		t.Errorf("nearest limit %q", got)
	}
	if got := h.Eval(`document.querySelector("#holder-usage tbody tr td").textContent`); got != "1,234" {
		t.Errorf("today's requests %q, want 1,234", got)
	}
	if n := h.Eval(`String(document.querySelectorAll("svg.chart rect.c-bar").length)`); n != "30" {
		t.Errorf("the chart has %s bars, want 30", n)
	}
	if where := keyLeft(h, holderSecret); len(where) > 0 {
		t.Errorf("the browser holds the key: %v", where)
	}
	h.Screenshot("stats-answer")

	// Dark, in Chinese, and on a phone.
	h.Submit(`button[name=theme][value="dark"]`)
	h.Submit(`button[name=lang][value="zh-CN"]`)
	if got := h.Eval(`document.documentElement.lang + " " + (document.documentElement.dataset.theme || "")`); got != "zh-CN dark" {
		t.Errorf("after the switches the page is %q", got)
	}
	h.Do(chromedp.SendKeys(chromedp.ID("apiKey"), holderSecret))
	h.Submit(`.stats-form button[type=submit]`)
	if got := h.Text("#holder-key"); got != "cr_...def" {
		t.Errorf("in Chinese the key shows as %q", got)
	}
	h.Screenshot("stats-answer-dark-zh")
	h.Do(chromedp.EmulateViewport(375, 812, chromedp.EmulateMobile))
	h.Do(chromedp.Navigate(h.Base + "/stats"))
	h.Do(chromedp.SendKeys(chromedp.ID("apiKey"), holderSecret))
	h.Submit(`.stats-form button[type=submit]`)
	if w := h.Eval(`String(document.documentElement.scrollWidth)`); w != "375" {
		t.Errorf("the answer at 375 px is %s px wide", w)
	}
	h.Screenshot("stats-answer-375")
	h.Do(chromedp.EmulateReset())
	if where := keyLeft(h, holderSecret); len(where) > 0 {
		t.Errorf("the browser holds the key: %v", where)
	}

	// A bad key: the one answer, politely. The browser reports the 401 as
	// a failed load.
	h.Allow("401")
	h.Do(chromedp.Navigate(h.Base + "/stats"))
	h.Do(chromedp.SendKeys(chromedp.ID("apiKey"), "cr_not-a-key-of-ours-0000000000"))
	h.Submit(`.stats-form button[type=submit]`)
	if got := h.Text(".note.bad"); !strings.Contains(got, "无效") {
		t.Errorf("a bad key got %q", got)
	}
	h.Screenshot("stats-bad-key")
}

// TestBrowserKeyHolderWithoutJavaScript: the page and its switches work
// with JavaScript off.
func TestBrowserKeyHolderWithoutJavaScript(t *testing.T) {
	now := time.Now().UTC()
	h := newHarness(t, statsHandler(t, &fakeKeyHolder{secret: holderSecret, view: sampleHolderView(now)}))
	if _, err := chromedp.Call(h.Ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true}); err != nil {
		t.Fatal(err)
	}
	h.Do(chromedp.Navigate(h.Base+"/stats"), chromedp.WaitVisible(chromedp.ID("apiKey")))
	h.Submit(`button[name=lang][value="zh-CN"]`)
	h.Do(chromedp.SendKeys(chromedp.ID("apiKey"), holderSecret))
	h.Submit(`.stats-form button[type=submit]`)
	if got := h.Text("#holder-key"); got != "cr_...def" {
		t.Errorf("without JavaScript the key shows as %q", got)
	}
	if got := h.Text("h1"); got != "您的密钥用量与限额" {
		t.Errorf("without JavaScript the heading is %q", got)
	}
}

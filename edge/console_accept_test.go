package edge_test

import (
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"relay/edge/console/consoletest"
	"relay/edge/edgetest"
	"relay/edge/upstreamtest"
	"relay/store/redistest"
)

// The web console served by the real edge, over the real admin actions,
// NATS and Redis, in chromium: the whole admin job of DESIGN.md section 8
// from signing in to signing out, with a request relayed through a key
// made in the browser.

// grantClipboard lets the page read and write the clipboard (copy button).
func grantClipboard(t *testing.T, h *consoletest.Harness) {
	t.Helper()
	for _, name := range []string{"clipboard-read", "clipboard-write"} {
		if _, err := chromedp.CallBrowser(h.Ctx, cdpbrowser.SetPermission, cdpbrowser.SetPermissionParams{
			Permission: &cdpbrowser.PermissionDescriptor{Name: name}, Setting: cdpbrowser.PermissionSettingGranted, Origin: h.Base,
		}); err != nil {
			t.Fatalf("granting %s: %v", name, err)
		}
	}
}

// acceptDialogs accepts every confirmation the page asks and counts them.
func acceptDialogs(h *consoletest.Harness) *atomic.Int32 {
	var n atomic.Int32
	dialogs := chromedp.Events(h.Ctx, cdppage.JavascriptDialogOpening)
	go func() {
		for ev, err := range dialogs {
			if err != nil {
				return
			}
			if ev.Type == cdppage.DialogTypeConfirm {
				n.Add(1)
			}
			_, _ = chromedp.Call(h.Ctx, cdppage.HandleJavaScriptDialog, cdppage.HandleJavaScriptDialogParams{Accept: true})
		}
	}()
	return &n
}

// waitPage reloads path until js evaluates to want, within total.
func waitPage(t *testing.T, h *consoletest.Harness, path, js, want string, total time.Duration) {
	t.Helper()
	start := time.Now()
	for {
		h.Do(chromedp.Navigate(h.Base + path))
		got := h.Eval(js)
		if got == want {
			return
		}
		if time.Since(start) > total {
			t.Fatalf("%s: %q after %v, want %q", path, got, total, want)
		}
		time.Sleep(50 * time.Millisecond) // pacing reloads, not synchronisation
	}
}

func TestConsoleBrowserAcceptance(t *testing.T) {
	env := edgetest.Start(t, redistest.Embedded(t), edgetest.Options{})
	up := upstreamtest.New(t)
	up.SetDefault(upstreamtest.Reply{Text: "hello from upstream", Usage: upstreamtest.Usage{InputTokens: 1200, OutputTokens: 345}})
	h := consoletest.New(t, env.Edge.Handler())
	grantClipboard(t, h)
	confirmed := acceptDialogs(h)

	// GET / leads to the console's sign-in; sign in.
	h.Do(chromedp.Navigate(h.Base + "/"))
	if got := h.Location(); got != "/console/login" {
		t.Fatalf("/ led to %s, want the sign-in page", got)
	}
	h.SignIn("admin", edgetest.AdminPassword)

	// An account pointing at the fake upstream.
	h.Do(chromedp.Navigate(h.Base + "/console/accounts/new"))
	h.Do(
		chromedp.SendKeys(chromedp.ID("name"), "fake upstream"),
		chromedp.SendKeys(chromedp.ID("apiUrl"), up.URL),
		chromedp.SendKeys(chromedp.ID("apiKey"), "sk-ant-api03-console-acceptance"),
	)
	h.Submit(`form.accountform button[type=submit]`)
	accountPage := h.Location()
	if !strings.HasPrefix(accountPage, "/console/accounts/") || !strings.HasSuffix(accountPage, "?done=created") {
		h.Screenshot("real-account-refused")
		t.Fatalf("after creating the account the browser is at %s: %s", accountPage, h.Eval(`document.querySelector("main").innerText`))
	}
	h.Screenshot("real-account")

	// A key, its secret copied.
	h.Do(chromedp.Navigate(h.Base + "/console/keys/new"))
	h.Do(chromedp.SendKeys(chromedp.ID("name"), "acceptance key"))
	h.Submit(`form.keyform button[type=submit]`)
	secret := h.Eval(`document.getElementById("secret").textContent`)
	if !strings.HasPrefix(secret, "cr_") {
		t.Fatalf("no secret on the page: %q", secret)
	}
	h.Do(chromedp.Click(chromedp.CSS(`button[data-copy="#secret"]`)))
	deadline := time.Now().Add(2 * time.Second)
	for {
		got, err := chromedp.Run(h.Ctx, chromedp.Evaluate[string](`navigator.clipboard.readText()`, chromedp.EvalAwaitPromise))
		if err == nil && got == secret {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the clipboard holds %q (%v), want the secret", got, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	h.Screenshot("real-key-secret")
	h.Submit(`.secret a.btn`)
	keyPage := h.Location()
	if !strings.HasPrefix(keyPage, "/console/keys/") {
		t.Fatalf("after the secret the browser is at %s", keyPage)
	}

	// The overview's live feed follows from now: open it, then relay.
	h.Do(chromedp.Navigate(h.Base + "/console/"))
	for start := time.Now(); h.Eval(`document.getElementById("live-state").textContent`) != "live"; {
		if time.Since(start) > 5*time.Second {
			t.Fatal("the live feed did not connect")
		}
		time.Sleep(20 * time.Millisecond)
	}
	resp, body := post(t, env, "/api/v1/messages", secret, claudeBody, "anthropic-version", "2023-06-01")
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "message_stop") {
		t.Fatalf("relayed request: %d %.300s", resp.StatusCode, body)
	}
	relayed := time.Now()
	for {
		got := h.Eval(`(function () { var td = document.querySelector("#live tbody tr.fresh td.name"); return td ? td.textContent : ""; })()`)
		if got == "acceptance key" {
			t.Logf("the live feed showed the request %v after it ended", time.Since(relayed).Round(time.Millisecond))
			break
		}
		if time.Since(relayed) > 2*time.Second {
			t.Fatalf("the live feed did not show the request within 2 s (first row %q)", got)
		}
		time.Sleep(20 * time.Millisecond)
	}
	waitPage(t, h, "/console/", `(function () { var n = document.querySelector("#topkeys-h + table .name"); return n ? n.textContent : ""; })()`,
		"acceptance key", 2*time.Second-time.Since(relayed))
	t.Logf("the overview counted the request %v after it ended", time.Since(relayed).Round(time.Millisecond))
	h.Screenshot("real-overview")
	// The key's and the account's pages list the request too.
	for _, page := range []string{keyPage, strings.TrimSuffix(accountPage, "?done=created")} {
		h.Do(chromedp.Navigate(h.Base + page))
		if got := h.Eval(`String(document.querySelectorAll(".grid2 > div:nth-child(2) table tbody tr").length)`); got != "1" {
			t.Errorf("%s lists %s latest requests, want 1", page, got)
		}
	}
	h.Screenshot("real-account-usage")
	// RELAY_README_SHOT=$PWD/docs/console-overview.png writes the README's
	// picture: the overview after a few more requests, 1920x1200 CSS pixels
	// drawn at 1280x800.
	if path := os.Getenv("RELAY_README_SHOT"); path != "" {
		for i := range 11 {
			up.SetDefault(upstreamtest.Reply{Text: "more", Usage: upstreamtest.Usage{InputTokens: 800 + 350*i, OutputTokens: 120 + 90*i, CacheRead: 4000 * i, CacheCreation5m: 300}})
			if resp, body := post(t, env, "/api/v1/messages", secret, claudeBody, "anthropic-version", "2023-06-01"); resp.StatusCode != http.StatusOK {
				t.Fatalf("relayed request: %d %.300s", resp.StatusCode, body)
			}
		}
		waitPage(t, h, "/console/", `document.querySelector("table.figures tbody td").textContent`, "12", 5*time.Second)
		h.Do(chromedp.EmulateViewport(1920, 1200, chromedp.EmulateScale(2.0/3)))
		h.Do(chromedp.Navigate(h.Base + "/console/"))
		shot := consoletest.Run(h, chromedp.CaptureScreenshot())
		if err := os.WriteFile(path, shot, 0o644); err != nil {
			t.Fatal(err)
		}
		h.Do(chromedp.EmulateReset())
	}

	// Edit a limit: an invalid value is refused next to its field, in the
	// admin actions' words.
	h.Do(chromedp.Navigate(h.Base + keyPage))
	h.Do(chromedp.SetValue(chromedp.ID("concurrencyLimit"), "-3"))
	h.Allow("status of 400 (Bad Request) (" + h.Base + keyPage)
	h.Submit(`form.keyform button[type=submit]`)
	if got := h.Text("#concurrencyLimit-err"); got == "" {
		t.Error("no field error next to concurrencyLimit")
	} else {
		t.Logf("field error: %q", got)
	}
	h.Screenshot("real-key-field-error")
	// A dollar amount is read by the admin actions, refused in their words;
	// a good one shows as a bar with the key's usage against it.
	h.Do(chromedp.Navigate(h.Base + keyPage))
	h.Do(chromedp.SetValue(chromedp.ID("dailyCostLimit"), "1.2.3"))
	h.Submit(`form.keyform button[type=submit]`)
	if got := h.Text("#dailyCostLimit-err"); !strings.Contains(got, "dailyCostLimit") {
		t.Errorf("field error %q next to dailyCostLimit", got)
	}
	h.Do(chromedp.Navigate(h.Base + keyPage))
	h.Do(
		chromedp.SetValue(chromedp.ID("dailyCostLimit"), "2.5"),
		chromedp.SetValue(chromedp.ID("rateLimitWindow"), "60"),
		chromedp.SetValue(chromedp.ID("rateLimitRequests"), "100"),
	)
	h.Submit(`form.keyform button[type=submit]`)
	if got := h.Location(); got != keyPage+"?done=saved" {
		t.Fatalf("after saving a limit the browser is at %s", got)
	}
	h.Do(chromedp.Navigate(h.Base + "/console/keys"))
	if got := h.Eval(`(function () { var m = document.querySelector("td.limits .meter-text"); return m ? m.textContent : ""; })()`); !strings.Contains(got, "$2.50") {
		t.Errorf("the keys list shows the daily limit as %q, want it against $2.50", got)
	}
	if got := h.Eval(`Array.from(document.querySelectorAll("td.limits .meter-text")).map(function (m) { return m.textContent; }).join(" | ")`); !strings.Contains(got, "/ 100") {
		t.Errorf("the keys list's limits %q lack the request window (the relay's count of it)", got)
	}
	h.Screenshot("real-keys-limit")
	// The audit log shows the change with its value before.
	h.Do(chromedp.Navigate(h.Base + "/console/audit"))
	if got := h.Eval(`(function () { var rows = document.querySelectorAll("tbody tr"); for (var i = 0; i < rows.length; i++) { var c = rows[i].cells; if (c[0].textContent === "dailyCostLimitMicros" && c[2].textContent === "2500000") return c[1].textContent; } return "missing"; })()`); got != "0" {
		t.Errorf("the audit log shows the daily limit's change from %q, want from 0", got)
	}

	// Delete (confirming) and restore.
	h.Do(chromedp.Navigate(h.Base + keyPage))
	h.Submit(`button[value=delete]`)
	if confirmed.Load() != 1 {
		t.Errorf("%d confirmations asked before deleting, want 1", confirmed.Load())
	}
	if got := h.Location(); got != keyPage+"?done=delete" {
		t.Errorf("after delete the browser is at %s", got)
	}
	h.Submit(`button[value=restore]`)
	if got := h.Location(); got != keyPage+"?done=restore" {
		t.Errorf("after restore the browser is at %s", got)
	}

	// Language and theme.
	h.Do(chromedp.Navigate(h.Base + "/console/"))
	h.Submit(`button[name=lang][value="zh-CN"]`)
	if got := h.Text("h1"); got != "概览" {
		t.Errorf("after switching to Chinese the heading is %q", got)
	}
	h.Submit(`button[name=lang][value="en"]`)
	h.Submit(`button[name=theme][value="dark"]`)
	h.Do(chromedp.Navigate(h.Base + "/console/keys"))
	if got := h.Eval(`document.documentElement.dataset.theme || ""`); got != "dark" {
		t.Errorf("theme %q after choosing dark", got)
	}
	h.Screenshot("real-keys-dark")
	h.Do(chromedp.Navigate(h.Base + "/console/accounts"))
	h.Screenshot("real-accounts-dark")
	h.Do(chromedp.Navigate(h.Base + "/console/audit"))
	h.Screenshot("real-audit-dark")
	h.Submit(`button[name=theme][value="system"]`)

	// Sign out, and the console is closed.
	h.Do(chromedp.Navigate(h.Base + "/console/"))
	h.Submit(`.signout button`)
	h.Do(chromedp.Navigate(h.Base + "/console/"))
	if got := h.Location(); !strings.HasPrefix(got, "/console/login") {
		t.Errorf("after signing out /console/ showed %s", got)
	}
}

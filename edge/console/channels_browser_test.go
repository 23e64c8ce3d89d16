package console

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"relay/events"
)

func channelDemo(t *testing.T) (*harness, *fakeChannels) {
	t.Helper()
	now := time.Now().UTC()
	fc := newFakeChannels(now)
	fc.add("on-call <pager>", events.ChannelSlack, "https://hooks.slack.com/services/T0/B0/secret-path", "")
	e, _ := newTestServer(t, demoBackend(now), func(c *Config) {
		c.Now = func() time.Time { return now }
		c.Channels = fc
	})
	return newHarness(t, e), fc
}

// TestBrowserChannelLifecycle: create a channel, see a bad URL refused next
// to its field, fix it, send a test and see its id and the deliveries,
// then delete the channel after confirming.
func TestBrowserChannelLifecycle(t *testing.T) {
	h, fc := channelDemo(t)
	dialogs := chromedp.Events(h.ctx, cdppage.JavascriptDialogOpening)
	var confirmed atomic.Int32
	go func() {
		for ev, err := range dialogs {
			if err != nil {
				return
			}
			if ev.Type == cdppage.DialogTypeConfirm {
				confirmed.Add(1)
			}
			_, _ = chromedp.Call(h.ctx, cdppage.HandleJavaScriptDialog, cdppage.HandleJavaScriptDialogParams{Accept: true})
		}
	}()
	h.signIn()
	h.submit(`nav a[href="/console/channels"]`)
	if got := h.text("h1"); got != "Notification channels" {
		t.Fatalf("channels heading %q", got)
	}
	h.screenshot("channels")
	h.submit("a.head-btn")
	h.do(
		chromedp.SendKeys(chromedp.ID("name"), "ops webhook"),
		chromedp.SendKeys(chromedp.ID("url"), "not a url"),
		chromedp.SendKeys(chromedp.ID("secret"), "whsec-browser"),
		chromedp.SetValue(chromedp.ID("cooldownSeconds"), "300"),
	)
	h.screenshot("channel-new")
	h.allow("status of 400 (Bad Request) (" + h.base + "/console/channels/new:")
	h.submit(`form.channelform button[type=submit]`)
	if got := h.text("#url-err"); !strings.Contains(got, "url must be") {
		t.Fatalf("url field error %q", got)
	}
	if v := h.eval(`document.getElementById("secret").value`); v != "" {
		t.Errorf("the refused form gave the secret back: %q", v)
	}
	h.screenshot("channel-url-error")
	h.do(
		chromedp.SetValue(chromedp.ID("url"), "https://example.com/relay-hook"),
		chromedp.SendKeys(chromedp.ID("secret"), "whsec-browser"),
	)
	h.submit(`form.channelform button[type=submit]`)
	if got := h.location(); got != "/console/channels/ch-002?done=created" {
		t.Fatalf("after creating the channel the browser is at %s", got)
	}
	if in := fc.inputs[len(fc.inputs)-1]; in.Secret.Value != "whsec-browser" || in.CooldownSeconds.Value != 300 || len(in.Events.Value) != len(events.NotifyTypes) {
		t.Errorf("created with %+v", in)
	}
	h.submit("#send-test")
	if got := h.text("#delivery-id"); got != "dlv-test-1" {
		t.Fatalf("delivery id shown %q", got)
	}
	if n := h.eval(`String(document.querySelectorAll("table.deliveries tbody tr").length)`); n != "2" {
		t.Errorf("%s delivery rows, want 2", n)
	}
	h.screenshot("channel-tested")

	h.do(chromedp.Navigate(h.base + "/console/channels"))
	if got := h.text("table.channels"); !strings.Contains(got, "Delivered") || !strings.Contains(got, "on-call <pager>") {
		t.Errorf("channel list %q", got)
	}
	h.screenshot("channels-list")

	h.do(chromedp.Navigate(h.base + "/console/channels/ch-002"))
	h.submit(`button[value=delete]`)
	if confirmed.Load() != 1 {
		t.Errorf("%d confirmations before deleting, want 1", confirmed.Load())
	}
	if got := h.location(); got != "/console/channels?done=delete" {
		t.Errorf("after delete the browser is at %s", got)
	}
	// The phone width and the other language.
	h.do(chromedp.EmulateViewport(375, 812, chromedp.EmulateMobile), chromedp.Navigate(h.base+"/console/channels/ch-001"))
	h.submit(`button[name=lang][value="zh-CN"]`)
	h.screenshot("channel-phone-zh")
}

// TestBrowserChannelsWithoutJavaScript: create, test and disable work with
// scripts off.
func TestBrowserChannelsWithoutJavaScript(t *testing.T) {
	h, fc := channelDemo(t)
	if _, err := chromedp.Call(h.ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true}); err != nil {
		t.Fatal(err)
	}
	h.signIn()
	h.do(chromedp.Navigate(h.base + "/console/channels/new"))
	h.do(
		chromedp.SendKeys(chromedp.ID("name"), "chat"),
		chromedp.SetValue(chromedp.ID("type"), "telegram"),
		chromedp.SendKeys(chromedp.ID("url"), "https://api.telegram.org/bot1:x/sendMessage?chat_id=1"),
	)
	h.submit(`form.channelform button[type=submit]`)
	if got := h.location(); got != "/console/channels/ch-002?done=created" {
		t.Fatalf("after creating the channel the browser is at %s", got)
	}
	h.submit("#send-test")
	if got := h.text("#delivery-id"); got != "dlv-test-1" {
		t.Fatalf("delivery id shown %q", got)
	}
	h.submit(`button[value=disable]`)
	if it, _ := fc.Channel(t.Context(), "ch-002"); it.Enabled {
		t.Error("disable without JavaScript left the channel enabled")
	}
}

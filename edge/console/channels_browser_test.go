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
	dialogs := chromedp.Events(h.Ctx, cdppage.JavascriptDialogOpening)
	var confirmed atomic.Int32
	go func() {
		for ev, err := range dialogs {
			if err != nil {
				return
			}
			if ev.Type == cdppage.DialogTypeConfirm {
				confirmed.Add(1)
			}
			_, _ = chromedp.Call(h.Ctx, cdppage.HandleJavaScriptDialog, cdppage.HandleJavaScriptDialogParams{Accept: true})
		}
	}()
	signIn(h)
	h.Submit(`nav a[href="/console/channels"]`)
	if got := h.Text("h1"); got != "Notification channels" {
		t.Fatalf("channels heading %q", got)
	}
	h.Screenshot("channels")
	h.Submit("a.head-btn")
	h.Do(
		chromedp.SendKeys(chromedp.ID("name"), "ops webhook"),
		chromedp.SendKeys(chromedp.ID("url"), "not a url"),
		chromedp.SendKeys(chromedp.ID("secret"), "whsec-browser"),
		chromedp.SetValue(chromedp.ID("cooldownSeconds"), "300"),
	)
	h.Screenshot("channel-new")
	h.Allow("status of 400 (Bad Request) (" + h.Base + "/console/channels/new:")
	h.Submit(`form.channelform button[type=submit]`)
	if got := h.Text("#url-err"); !strings.Contains(got, "url must be") {
		t.Fatalf("url field error %q", got)
	}
	if v := h.Eval(`document.getElementById("secret").value`); v != "" {
		t.Errorf("the refused form gave the secret back: %q", v)
	}
	h.Screenshot("channel-url-error")
	h.Do(
		chromedp.SetValue(chromedp.ID("url"), "https://example.com/relay-hook"),
		chromedp.SendKeys(chromedp.ID("secret"), "whsec-browser"),
	)
	h.Submit(`form.channelform button[type=submit]`)
	if got := h.Location(); got != "/console/channels/ch-002?done=created" {
		t.Fatalf("after creating the channel the browser is at %s", got)
	}
	if in := fc.inputs[len(fc.inputs)-1]; in.Secret.Value != "whsec-browser" || in.CooldownSeconds.Value != 300 || len(in.Events.Value) != len(events.NotifyTypes) {
		t.Errorf("created with %+v", in)
	}
	h.Submit("#send-test")
	if got := h.Text("#delivery-id"); got != "dlv-test-1" {
		t.Fatalf("delivery id shown %q", got)
	}
	if n := h.Eval(`String(document.querySelectorAll("table.deliveries tbody tr").length)`); n != "2" {
		t.Errorf("%s delivery rows, want 2", n)
	}
	h.Screenshot("channel-tested")

	h.Do(chromedp.Navigate(h.Base + "/console/channels"))
	if got := h.Text("table.channels"); !strings.Contains(got, "Delivered") || !strings.Contains(got, "on-call <pager>") {
		t.Errorf("channel list %q", got)
	}
	h.Screenshot("channels-list")

	h.Do(chromedp.Navigate(h.Base + "/console/channels/ch-002"))
	h.Submit(`button[value=delete]`)
	if confirmed.Load() != 1 {
		t.Errorf("%d confirmations before deleting, want 1", confirmed.Load())
	}
	if got := h.Location(); got != "/console/channels?done=delete" {
		t.Errorf("after delete the browser is at %s", got)
	}
	// The phone width and the other language.
	h.Do(chromedp.EmulateViewport(375, 812, chromedp.EmulateMobile), chromedp.Navigate(h.Base+"/console/channels/ch-001"))
	h.Submit(`button[name=lang][value="zh-CN"]`)
	h.Screenshot("channel-phone-zh")
}

// TestBrowserChannelsWithoutJavaScript: create, test and disable work with
// scripts off.
func TestBrowserChannelsWithoutJavaScript(t *testing.T) {
	h, fc := channelDemo(t)
	if _, err := chromedp.Call(h.Ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true}); err != nil {
		t.Fatal(err)
	}
	signIn(h)
	h.Do(chromedp.Navigate(h.Base + "/console/channels/new"))
	h.Do(
		chromedp.SendKeys(chromedp.ID("name"), "chat"),
		chromedp.SetValue(chromedp.ID("type"), "telegram"),
		chromedp.SendKeys(chromedp.ID("url"), "https://api.telegram.org/bot1:x/sendMessage?chat_id=1"),
	)
	h.Submit(`form.channelform button[type=submit]`)
	if got := h.Location(); got != "/console/channels/ch-002?done=created" {
		t.Fatalf("after creating the channel the browser is at %s", got)
	}
	h.Submit("#send-test")
	if got := h.Text("#delivery-id"); got != "dlv-test-1" {
		t.Fatalf("delivery id shown %q", got)
	}
	h.Submit(`button[value=disable]`)
	if it, _ := fc.Channel(t.Context(), "ch-002"); it.Enabled {
		t.Error("disable without JavaScript left the channel enabled")
	}
}

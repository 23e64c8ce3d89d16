package main

import (
	"strings"
	"testing"
)

func TestNotifyAllowPrivateSetting(t *testing.T) {
	for v, want := range map[string]bool{"": false, "false": false, "true": true, "1": true} {
		cfg, err := loadConfig(func(k string) string {
			if k == "NOTIFY_ALLOW_PRIVATE" {
				return v
			}
			return ""
		})
		if err != nil || cfg.NotifyAllowPrivate != want {
			t.Errorf("NOTIFY_ALLOW_PRIVATE=%q: %v, %v; want %v", v, cfg.NotifyAllowPrivate, err, want)
		}
	}
	_, err := loadConfig(func(k string) string {
		if k == "NOTIFY_ALLOW_PRIVATE" {
			return "maybe"
		}
		return ""
	})
	if err == nil || !strings.Contains(err.Error(), "NOTIFY_ALLOW_PRIVATE") {
		t.Fatalf("NOTIFY_ALLOW_PRIVATE=maybe: %v", err)
	}
}

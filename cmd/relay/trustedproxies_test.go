package main

import (
	"slices"
	"strings"
	"testing"
)

func TestTrustedProxiesSetting(t *testing.T) {
	for in, want := range map[string][]string{
		"":                               nil,
		"127.0.0.1":                      {"127.0.0.1/32"},
		" 10.0.0.0/8 , ::1, 10.1.2.3/16": {"10.0.0.0/8", "::1/128", "10.1.0.0/16"},
		"fd00::/8,::ffff:192.0.2.1":      {"fd00::/8", "192.0.2.1/32"},
	} {
		cfg, err := loadConfig(func(k string) string {
			if k == "TRUSTED_PROXIES" {
				return in
			}
			return ""
		})
		var got []string
		for _, p := range cfg.TrustedProxies {
			got = append(got, p.String())
		}
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("TRUSTED_PROXIES=%q: %v %v, want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"proxy.local", "10.0.0.0/33", "fe80::1%eth0", "1.2.3"} {
		if _, err := loadConfig(func(k string) string {
			if k == "TRUSTED_PROXIES" {
				return bad
			}
			return ""
		}); err == nil || !strings.Contains(err.Error(), "TRUSTED_PROXIES") {
			t.Errorf("TRUSTED_PROXIES=%q accepted: %v", bad, err)
		}
	}
}

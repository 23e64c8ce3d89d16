package upstreams

import (
	"strings"
	"testing"
	"time"
)

func TestProxyValidate(t *testing.T) {
	ok := Proxy{Protocol: ProtocolHTTP, Host: "proxy.example.com", Port: 3128}
	valid := []Proxy{
		ok,
		{Protocol: ProtocolHTTPS, Host: "10.0.0.1", Port: 443, Username: "u", Password: "p"},
		{Protocol: ProtocolSOCKS5, Host: "::1", Port: 1080},
		{Protocol: ProtocolSOCKS5, Host: "[::1]", Port: 1080, Username: "u"},
		{Protocol: ProtocolSOCKS5, Host: "h", Port: 65535, Username: "u", Password: "p:with:colons"},
	}
	for _, p := range valid {
		if err := p.Validate(); err != nil {
			t.Errorf("%v: %v", p, err)
		}
	}
	invalid := []struct {
		p    Proxy
		want string
	}{
		{Proxy{Protocol: "socks4", Host: "h", Port: 1}, "protocol"},
		{Proxy{Protocol: "HTTP", Host: "h", Port: 1}, "protocol"},
		{Proxy{Protocol: "", Host: "h", Port: 1}, "protocol"},
		{Proxy{Protocol: "http", Host: "", Port: 1}, "empty"},
		{Proxy{Protocol: "http", Host: "http://h", Port: 1}, "bare host"},
		{Proxy{Protocol: "http", Host: "h/path", Port: 1}, "bare host"},
		{Proxy{Protocol: "http", Host: "user@h", Port: 1}, "bare host"},
		{Proxy{Protocol: "http", Host: "h:8080", Port: 8080}, "port"},
		{Proxy{Protocol: "http", Host: "h", Port: 0}, "port"},
		{Proxy{Protocol: "http", Host: "h", Port: -1}, "port"},
		{Proxy{Protocol: "http", Host: "h", Port: 65536}, "port"},
		{Proxy{Protocol: "http", Host: "h", Port: 1, Password: "p"}, "without a username"},
		{Proxy{Protocol: "http", Host: "h", Port: 1, Username: "a:b"}, "':'"},
		{Proxy{Protocol: "socks5", Host: "h", Port: 1, Username: strings.Repeat("u", 256)}, "255"},
	}
	for _, tt := range invalid {
		err := tt.p.Validate()
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v: err = %v, want it to mention %q", tt.p, err, tt.want)
		}
	}
	// Every problem is reported at once.
	err := Proxy{Protocol: "ftp", Port: 0}.Validate()
	if err == nil || strings.Count(err.Error(), "\n") != 2 {
		t.Fatalf("want three problems, got %v", err)
	}
}

func TestProxyString(t *testing.T) {
	p := Proxy{Protocol: ProtocolSOCKS5, Host: "Proxy.Example.com", Port: 1080, Username: "u", Password: "hunter2"}
	if got := p.String(); got != "socks5://u:***@proxy.example.com:1080" {
		t.Fatalf("String = %q", got)
	}
	if got := (Proxy{Protocol: ProtocolHTTP, Host: "::1", Port: 8080}).String(); got != "http://[::1]:8080" {
		t.Fatalf("String = %q", got)
	}
}

func TestConfig(t *testing.T) {
	if err := Defaults().Validate(); err != nil {
		t.Fatal(err)
	}
	if err := (Config{}).Validate(); err != nil {
		t.Fatal(err)
	}
	err := Config{DialTimeout: -time.Second, MaxIdleConnsPerHost: -1}.Validate()
	if err == nil || !strings.Contains(err.Error(), "DialTimeout") || !strings.Contains(err.Error(), "MaxIdleConnsPerHost") {
		t.Fatalf("err = %v", err)
	}
	if _, err := NewPool(Config{KeepAlive: -1}); err == nil {
		t.Fatal("NewPool accepted a negative setting")
	}
	c := Config{DialTimeout: time.Second}.withDefaults()
	if c.DialTimeout != time.Second || c.IdleConnTimeout != Defaults().IdleConnTimeout || c.ResponseHeaderTimeout != 0 {
		t.Fatalf("withDefaults = %+v", c)
	}
}

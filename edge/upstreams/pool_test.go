package upstreams

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// target is an upstream that answers with the protocol it was reached by
// and fails if the transport added Accept-Encoding or leaked proxy
// credentials.
func target(t *testing.T, tlsOn bool) *httptest.Server {
	t.Helper()
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ae := r.Header.Get("Accept-Encoding"); ae != "" {
			http.Error(w, "unexpected Accept-Encoding "+ae, http.StatusBadRequest)
			return
		}
		if r.Header.Get("Proxy-Authorization") != "" {
			http.Error(w, "proxy credentials leaked", http.StatusBadRequest)
			return
		}
		fmt.Fprintf(w, "ok %s", r.Proto)
	})
	srv := httptest.NewUnstartedServer(h)
	if tlsOn {
		srv.EnableHTTP2 = true
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	return srv
}

// testPool returns a pool trusting httptest's certificate, closed at the
// end of the test (before the servers, which were registered earlier).
func testPool(t *testing.T, cfg Config) *Pool {
	t.Helper()
	roots := x509.NewCertPool()
	roots.AddCert(httptest.NewTLSServer(http.NotFoundHandler()).Certificate())
	cfg.TLSClientConfig = &tls.Config{RootCAs: roots}
	p, err := NewPool(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

// viaProxyName rewrites a test server URL to the name only proxies resolve.
func viaProxyName(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	u.Host = net.JoinHostPort(proxiedHost, u.Port())
	return u.String()
}

func port(t *testing.T, srv *httptest.Server) int {
	t.Helper()
	return srv.Listener.Addr().(*net.TCPAddr).Port
}

func get(t *testing.T, rt http.RoundTripper, url string) (int, string, error) {
	t.Helper()
	resp, err := (&http.Client{Transport: rt}).Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

func requireGet(t *testing.T, rt http.RoundTripper, url, want string) {
	t.Helper()
	status, body, err := get(t, rt, url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	if status != http.StatusOK || body != want {
		t.Fatalf("GET %s: %d %q, want 200 %q", url, status, body, want)
	}
}

func TestDirect(t *testing.T) {
	plain, secure := target(t, false), target(t, true)
	p := testPool(t, Config{})
	tr, err := p.Transport(nil)
	if err != nil {
		t.Fatal(err)
	}
	requireGet(t, tr, plain.URL, "ok HTTP/1.1")
	requireGet(t, tr, secure.URL, "ok HTTP/2.0")
}

func TestHTTPProxy(t *testing.T) {
	plain, secure := target(t, false), target(t, true)
	for _, auth := range []bool{false, true} {
		t.Run(fmt.Sprintf("auth=%v", auth), func(t *testing.T) {
			hp := &httpProxy{}
			px := &Proxy{Protocol: ProtocolHTTP, Host: "127.0.0.1"}
			if auth {
				hp.user, hp.pass = "alice", "s3cret:with@odd chars"
				px.Username, px.Password = hp.user, hp.pass
			}
			ps := httptest.NewServer(hp)
			t.Cleanup(ps.Close)
			px.Port = port(t, ps)
			tr, err := testPool(t, Config{}).Transport(px)
			if err != nil {
				t.Fatal(err)
			}
			requireGet(t, tr, viaProxyName(t, secure.URL), "ok HTTP/2.0") // CONNECT, then h2 to the upstream
			requireGet(t, tr, viaProxyName(t, plain.URL), "ok HTTP/1.1")  // forwarded
			if hp.connects.Load() != 1 || hp.forwards.Load() != 1 {
				t.Fatalf("proxy saw %d CONNECTs and %d forwards, want 1 and 1", hp.connects.Load(), hp.forwards.Load())
			}
		})
	}
}

func TestHTTPProxyWrongCredentials(t *testing.T) {
	plain, secure := target(t, false), target(t, true)
	ps := httptest.NewServer(&httpProxy{user: "alice", pass: "right"})
	t.Cleanup(ps.Close)
	px := &Proxy{Protocol: ProtocolHTTP, Host: "127.0.0.1", Port: port(t, ps), Username: "alice", Password: "wrong-password"}
	tr, err := testPool(t, Config{}).Transport(px)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = get(t, tr, viaProxyName(t, secure.URL))
	if err == nil || !strings.Contains(err.Error(), "Proxy Authentication Required") {
		t.Fatalf("CONNECT with wrong credentials: err = %v", err)
	}
	if strings.Contains(err.Error(), "wrong-password") {
		t.Fatalf("error leaks the password: %v", err)
	}
	if status, _, err := get(t, tr, viaProxyName(t, plain.URL)); err != nil || status != http.StatusProxyAuthRequired {
		t.Fatalf("forward with wrong credentials: %d, %v", status, err)
	}
}

// TestHTTPSProxyOfferingH2 reaches the upstream through a TLS proxy that
// would accept HTTP/2: the proxy leg must still speak HTTP/1.1 (CONNECT)
// while the tunnelled upstream leg negotiates h2.
func TestHTTPSProxyOfferingH2(t *testing.T) {
	plain, secure := target(t, false), target(t, true)
	hp := &httpProxy{user: "bob", pass: "pw"}
	ps := httptest.NewUnstartedServer(hp)
	ps.EnableHTTP2 = true
	ps.StartTLS()
	t.Cleanup(ps.Close)
	px := &Proxy{Protocol: ProtocolHTTPS, Host: "127.0.0.1", Port: port(t, ps), Username: "bob", Password: "pw"}
	tr, err := testPool(t, Config{}).Transport(px)
	if err != nil {
		t.Fatal(err)
	}
	requireGet(t, tr, viaProxyName(t, secure.URL), "ok HTTP/2.0")
	requireGet(t, tr, viaProxyName(t, plain.URL), "ok HTTP/1.1")
	if hp.connects.Load() != 1 || hp.forwards.Load() != 1 {
		t.Fatalf("proxy saw %d CONNECTs and %d forwards", hp.connects.Load(), hp.forwards.Load())
	}
}

func TestHTTPSProxyUntrustedCertificate(t *testing.T) {
	secure := target(t, true)
	ps := httptest.NewUnstartedServer(&httpProxy{})
	ps.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake is expected
	ps.StartTLS()
	t.Cleanup(ps.Close)
	p, err := NewPool(Config{}) // system roots only
	if err != nil {
		t.Fatal(err)
	}
	tr, err := p.Transport(&Proxy{Protocol: ProtocolHTTPS, Host: "127.0.0.1", Port: port(t, ps)})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := get(t, tr, viaProxyName(t, secure.URL)); err == nil {
		t.Fatal("proxy with an untrusted certificate accepted")
	}
}

func TestSOCKS5(t *testing.T) {
	plain, secure := target(t, false), target(t, true)
	for _, auth := range []bool{false, true} {
		t.Run(fmt.Sprintf("auth=%v", auth), func(t *testing.T) {
			px := &Proxy{Protocol: ProtocolSOCKS5, Host: "127.0.0.1"}
			if auth {
				px.Username, px.Password = "carol", "pw"
			}
			s := startSOCKS5(t, px.Username, px.Password)
			px.Port = s.port()
			tr, err := testPool(t, Config{}).Transport(px)
			if err != nil {
				t.Fatal(err)
			}
			requireGet(t, tr, viaProxyName(t, secure.URL), "ok HTTP/2.0")
			requireGet(t, tr, viaProxyName(t, plain.URL), "ok HTTP/1.1")
			// The name reached the proxy unresolved (SOCKS5 remote DNS).
			seen := s.seen()
			if len(seen) != 2 || !strings.HasPrefix(seen[0], proxiedHost+":") {
				t.Fatalf("proxy saw targets %v", seen)
			}
		})
	}
}

func TestSOCKS5WrongCredentials(t *testing.T) {
	secure := target(t, true)
	s := startSOCKS5(t, "carol", "right")
	for name, px := range map[string]*Proxy{
		"wrong password": {Protocol: ProtocolSOCKS5, Host: "127.0.0.1", Port: s.port(), Username: "carol", Password: "wrong-password"},
		"no credentials": {Protocol: ProtocolSOCKS5, Host: "127.0.0.1", Port: s.port()},
	} {
		t.Run(name, func(t *testing.T) {
			tr, err := testPool(t, Config{}).Transport(px)
			if err != nil {
				t.Fatal(err)
			}
			_, _, err = get(t, tr, viaProxyName(t, secure.URL))
			if err == nil {
				t.Fatal("request succeeded")
			}
			if strings.Contains(err.Error(), "wrong-password") {
				t.Fatalf("error leaks the password: %v", err)
			}
		})
	}
}

// TestSOCKS5MuteProxy: a proxy that accepts the connection but never
// answers the handshake fails the request after DialTimeout.
func TestSOCKS5MuteProxy(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	tr, err := testPool(t, Config{DialTimeout: 200 * time.Millisecond}).
		Transport(&Proxy{Protocol: ProtocolSOCKS5, Host: "127.0.0.1", Port: ln.Addr().(*net.TCPAddr).Port})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, _, err := get(t, tr, "http://example.com/"); err == nil {
		t.Fatal("request through a mute proxy succeeded")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("took %v, want about the 200ms dial timeout", d)
	}
}

func TestTransportReuse(t *testing.T) {
	p := testPool(t, Config{})
	must := func(px *Proxy) *http.Transport {
		t.Helper()
		tr, err := p.Transport(px)
		if err != nil {
			t.Fatal(err)
		}
		return tr
	}
	base := Proxy{Protocol: ProtocolHTTP, Host: "proxy.internal", Port: 3128, Username: "u", Password: "p"}
	with := func(edit func(*Proxy)) *Proxy { c := base; edit(&c); return &c }

	if must(nil) != must(nil) {
		t.Fatal("direct transport not reused")
	}
	if must(&base) != must(with(func(*Proxy) {})) {
		t.Fatal("same proxy configuration got two transports")
	}
	if must(&base) != must(with(func(p *Proxy) { p.Host = "PROXY.internal" })) {
		t.Fatal("host names differing in case got two transports")
	}
	for name, other := range map[string]*Proxy{
		"direct":   nil,
		"protocol": with(func(p *Proxy) { p.Protocol = ProtocolSOCKS5 }),
		"host":     with(func(p *Proxy) { p.Host = "other.internal" }),
		"port":     with(func(p *Proxy) { p.Port = 3129 }),
		"username": with(func(p *Proxy) { p.Username = "v" }),
		"password": with(func(p *Proxy) { p.Password = "q" }),
		"no auth":  with(func(p *Proxy) { p.Username, p.Password = "", "" }),
	} {
		if must(&base) == must(other) {
			t.Errorf("different %s shares a transport", name)
		}
	}
	if _, err := p.Transport(&Proxy{Protocol: "ftp", Host: "h", Port: 1}); err == nil {
		t.Fatal("invalid proxy accepted")
	}
}

func TestTransportSettings(t *testing.T) {
	p := testPool(t, Config{})
	tr, err := p.Transport(nil)
	if err != nil {
		t.Fatal(err)
	}
	if !tr.DisableCompression || !tr.ForceAttemptHTTP2 || tr.ResponseHeaderTimeout != 0 ||
		tr.MaxIdleConnsPerHost != 256 || tr.IdleConnTimeout != 90*time.Second || tr.TLSHandshakeTimeout != 10*time.Second ||
		tr.Proxy != nil || tr.HTTP2 == nil || tr.HTTP2.SendPingTimeout == 0 {
		t.Fatalf("unexpected transport settings: %+v", tr)
	}
}

// TestConcurrentUse: many goroutines ask for the same proxy's transport and
// use it at once (run with -race).
func TestConcurrentUse(t *testing.T) {
	secure := target(t, true)
	s := startSOCKS5(t, "", "")
	p := testPool(t, Config{})
	px := Proxy{Protocol: ProtocolSOCKS5, Host: "127.0.0.1", Port: s.port()}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		seen = map[*http.Transport]bool{}
	)
	errs := make(chan error, 32*10)
	for range 32 {
		wg.Go(func() {
			for range 10 {
				c := px // each goroutine passes its own copy
				tr, err := p.Transport(&c)
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				seen[tr] = true
				mu.Unlock()
				d, err := p.Transport(nil)
				if err != nil {
					errs <- err
					return
				}
				for _, rt := range []http.RoundTripper{tr, d} {
					u := secure.URL
					if rt == tr {
						u = viaProxyName(t, u)
					}
					status, body, err := get(t, rt, u)
					if err != nil || status != http.StatusOK || body != "ok HTTP/2.0" {
						errs <- fmt.Errorf("GET %s: %d %q %v", u, status, body, err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if len(seen) != 1 {
		t.Fatalf("%d transports for one proxy", len(seen))
	}
}

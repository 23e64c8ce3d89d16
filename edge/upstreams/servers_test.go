package upstreams

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
)

// The test proxies resolve this name themselves, the way real proxies
// resolve upstream names. httptest's certificate is valid for it, and the
// test machine cannot resolve it to the test servers: a request that reaches
// a target through it went through the proxy.
const proxiedHost = "example.com"

func dialTarget(addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	if host == proxiedHost {
		host = "127.0.0.1"
	}
	return net.Dial("tcp", net.JoinHostPort(host, port))
}

// pipe copies between the client connection (read through cr, which may
// hold buffered bytes) and the target until either side stops.
func pipe(c net.Conn, cr io.Reader, dst net.Conn) {
	done := make(chan struct{}, 2)
	go func() { io.Copy(dst, cr); done <- struct{}{} }()
	go func() { io.Copy(c, dst); done <- struct{}{} }()
	<-done
	c.Close()
	dst.Close()
	<-done
}

// httpProxy is a minimal HTTP proxy: CONNECT tunnels and absolute-form
// forwarding, with optional basic auth.
type httpProxy struct {
	user, pass string
	connects   atomic.Int32
	forwards   atomic.Int32
}

func (p *httpProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if p.user != "" {
		want := "Basic " + base64.StdEncoding.EncodeToString([]byte(p.user+":"+p.pass))
		if r.Header.Get("Proxy-Authorization") != want {
			w.Header().Set("Proxy-Authenticate", `Basic realm="test"`)
			http.Error(w, "proxy authentication required", http.StatusProxyAuthRequired)
			return
		}
	}
	if r.Method == http.MethodConnect {
		p.connects.Add(1)
		dst, err := dialTarget(r.Host)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		c, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			dst.Close()
			return
		}
		c.Write([]byte("HTTP/1.1 200 Connection established\r\n\r\n"))
		pipe(c, brw.Reader, dst)
		return
	}
	if !r.URL.IsAbs() {
		http.Error(w, "not a proxy request", http.StatusBadRequest)
		return
	}
	p.forwards.Add(1)
	out := r.Clone(r.Context())
	out.RequestURI = ""
	out.Header.Del("Proxy-Authorization")
	tr := &http.Transport{DisableCompression: true, DialContext: func(_ context.Context, _, addr string) (net.Conn, error) { return dialTarget(addr) }}
	defer tr.CloseIdleConnections()
	resp, err := tr.RoundTrip(out)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	io.Copy(w, resp.Body)
}

// socksServer is a minimal SOCKS5 server (RFC 1928 CONNECT, RFC 1929 auth).
type socksServer struct {
	ln         net.Listener
	user, pass string

	mu      sync.Mutex // mu protects targets
	targets []string   // addresses as the client sent them
}

func startSOCKS5(t *testing.T, user, pass string) *socksServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &socksServer{ln: ln, user: user, pass: pass}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() { s.handle(c) })
		}
	})
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	return s
}

func (s *socksServer) port() int { return s.ln.Addr().(*net.TCPAddr).Port }

func (s *socksServer) seen() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.targets...)
}

func (s *socksServer) handle(c net.Conn) {
	defer c.Close()
	br := bufio.NewReader(c)
	read := func(n int) []byte {
		b := make([]byte, n)
		if _, err := io.ReadFull(br, b); err != nil {
			return nil
		}
		return b
	}
	hello := read(2)
	if hello == nil || hello[0] != 5 {
		return
	}
	method := byte(0x00)
	if s.user != "" {
		method = 0x02
	}
	if !bytes.Contains(read(int(hello[1])), []byte{method}) {
		c.Write([]byte{5, 0xff})
		return
	}
	c.Write([]byte{5, method})
	if method == 0x02 {
		v := read(2)
		if v == nil {
			return
		}
		user := string(read(int(v[1])))
		pl := read(1)
		if pl == nil {
			return
		}
		pass := string(read(int(pl[0])))
		if user != s.user || pass != s.pass {
			c.Write([]byte{1, 1})
			return
		}
		c.Write([]byte{1, 0})
	}
	req := read(4)
	if req == nil || req[1] != 1 { // CONNECT only
		c.Write([]byte{5, 7, 0, 1, 0, 0, 0, 0, 0, 0})
		return
	}
	var host string
	switch req[3] {
	case 1:
		host = net.IP(read(4)).String()
	case 3:
		l := read(1)
		if l == nil {
			return
		}
		host = string(read(int(l[0])))
	case 4:
		host = net.IP(read(16)).String()
	default:
		return
	}
	port := read(2)
	if port == nil {
		return
	}
	addr := net.JoinHostPort(host, strconv.Itoa(int(binary.BigEndian.Uint16(port))))
	s.mu.Lock()
	s.targets = append(s.targets, addr)
	s.mu.Unlock()
	dst, err := dialTarget(addr)
	if err != nil {
		c.Write([]byte{5, 5, 0, 1, 0, 0, 0, 0, 0, 0})
		return
	}
	c.Write([]byte{5, 0, 0, 1, 0, 0, 0, 0, 0, 0})
	pipe(c, br, dst)
}

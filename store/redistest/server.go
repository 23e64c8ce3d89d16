package redistest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// startTimeout bounds how long a redis-server may take to answer PING.
const startTimeout = 10 * time.Second

// errPortTaken reports that redis-server could not bind its port, which
// another process grabbed between our probe and its bind.
var errPortTaken = errors.New("port already in use")

// Server is a redis-server process on a loopback port, without
// persistence. Kill and Start stop it and bring it back on the same port,
// with an empty dataset, as after a crash. Its methods are safe for
// concurrent use.
type Server struct {
	bin       string
	dir       string // working directory, removed by close
	port      int
	databases int

	mu   sync.Mutex // protects proc
	proc *process   // nil while stopped
}

// process is one run of redis-server.
type process struct {
	cmd    *exec.Cmd
	out    *tailBuffer
	waited <-chan error // receives Wait's result once
	exited chan struct{}
}

// NewServer starts a redis-server of the test's own and stops it when the
// test ends. Without redis-server on PATH the test is skipped, or fails
// when the CI environment variable is set.
func NewServer(t testing.TB) *Server {
	t.Helper()
	bin := redisBinary(t)
	s, err := startServer(bin, 16)
	if err != nil {
		t.Fatalf("redistest: %v", err)
	}
	t.Cleanup(s.close)
	return s
}

// Addr is the server's host:port.
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// Port is the server's TCP port; it stays the same across Kill and Start.
func (s *Server) Port() int { return s.port }

// Running reports whether the process is up (it may not answer yet).
func (s *Server) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.proc != nil
}

// PID is the process id of the running redis-server, or 0 while stopped.
func (s *Server) PID() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		return 0
	}
	return s.proc.cmd.Process.Pid
}

// Kill stops the server with SIGKILL, as a crash would, and returns once
// the process is gone and its port is free. Killing a stopped server does
// nothing.
func (s *Server) Kill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		return
	}
	s.proc.kill()
	s.proc = nil
}

// Start starts a stopped server again on the same port, with an empty
// dataset, and returns once it answers PING. Starting a running server
// does nothing.
func (s *Server) Start(t testing.TB) {
	t.Helper()
	if err := s.start(); err != nil {
		t.Fatalf("redistest: %v", err)
	}
}

// Restart is Kill then Start.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.Kill()
	s.Start(t)
}

// startServer starts redis-server on a free loopback port, trying another
// port when the chosen one is taken before redis-server binds it.
func startServer(bin string, databases int) (*Server, error) {
	dir, err := os.MkdirTemp("", "redistest-")
	if err != nil {
		return nil, err
	}
	for range 5 {
		var port int
		port, err = freePort()
		if err != nil {
			break
		}
		s := &Server{bin: bin, dir: dir, port: port, databases: databases}
		err = s.start()
		if err == nil {
			return s, nil
		}
		if !errors.Is(err, errPortTaken) {
			break
		}
	}
	os.RemoveAll(dir)
	return nil, err
}

func (s *Server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc != nil {
		return nil
	}
	out := &tailBuffer{max: 16 << 10}
	cmd := exec.Command(s.bin,
		"--port", strconv.Itoa(s.port),
		"--bind", "127.0.0.1",
		"--save", "",
		"--appendonly", "no",
		"--protected-mode", "no",
		"--databases", strconv.Itoa(s.databases),
		"--dir", s.dir,
		"--loglevel", "warning",
	)
	cmd.Dir = s.dir
	// Never the test binary's own stdout: go test waits for every holder
	// of that pipe to close it.
	cmd.Stdout, cmd.Stderr = out, out
	waited, err := startProcess(cmd)
	if err != nil {
		return fmt.Errorf("start redis-server: %w", err)
	}
	p := &process{cmd: cmd, out: out, waited: waited, exited: make(chan struct{})}
	if err := p.awaitReady(s.Addr()); err != nil {
		p.kill()
		return err
	}
	s.proc = p
	return nil
}

// close kills the server and removes its directory.
func (s *Server) close() {
	s.Kill()
	os.RemoveAll(s.dir)
}

// awaitReady polls PING until the server answers, exits or times out.
func (p *process) awaitReady(addr string) error {
	deadline := time.NewTimer(startTimeout)
	defer deadline.Stop()
	poll := time.NewTicker(10 * time.Millisecond)
	defer poll.Stop()
	for {
		if ping(addr) == nil {
			return nil
		}
		select {
		case err := <-p.waited:
			close(p.exited)
			if strings.Contains(p.out.String(), "in use") {
				return fmt.Errorf("redis-server on %s: %w", addr, errPortTaken)
			}
			return fmt.Errorf("redis-server on %s exited (%v): %s", addr, err, p.out.String())
		case <-deadline.C:
			return fmt.Errorf("redis-server on %s did not answer PING within %v: %s", addr, startTimeout, p.out.String())
		case <-poll.C:
		}
	}
}

// kill sends SIGKILL and waits until the process has been reaped.
func (p *process) kill() {
	select {
	case <-p.exited:
		return
	default:
	}
	_ = p.cmd.Process.Kill()
	<-p.waited
	close(p.exited)
}

// ping sends one inline PING and expects +PONG.
func ping(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(time.Second)); err != nil {
		return err
	}
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if line != "+PONG\r\n" {
		return fmt.Errorf("PING answered %q", line)
	}
	return nil
}

// freePort asks the kernel for a free loopback port. Another process may
// take it before redis-server binds it; startServer retries then.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// redisBinary finds redis-server, or skips the test (fails it under CI).
func redisBinary(t testing.TB) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err == nil {
		return bin
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("redis-server not installed: apt-get install -y redis-server")
	}
	t.Skip("redis-server not on PATH, skipping the real Redis backend (apt-get install -y redis-server; with CI set this fails instead)")
	return ""
}

// tailBuffer keeps the last max bytes written to it; safe for concurrent use.
type tailBuffer struct {
	max int
	mu  sync.Mutex // protects buf
	buf bytes.Buffer
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	if extra := b.buf.Len() - b.max; extra > 0 {
		b.buf.Next(extra)
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.TrimSpace(b.buf.String())
}

package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// proc is a process the harness started: the fake upstream, the bare proxy,
// a relay or a redis-server. Its stdout and stderr go to a log file; the
// first URL on a stdout line containing "listening on" is its address.
type proc struct {
	name    string
	cmd     *exec.Cmd
	stdin   io.WriteCloser // closing it asks our own children to exit
	url     string
	logPath string
	done    chan struct{} // closed when the process has exited
	waitErr error         // set before done closes
}

// startProc starts cmd and, when wantURL is set, waits until it prints its
// address. The process dies with the harness (SIGTERM on the harness's
// death) and is stopped by stop.
func startProc(ctx context.Context, name string, cmd *exec.Cmd, logPath string, wantURL bool) (*proc, error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	p := &proc{name: name, cmd: cmd, logPath: logPath, done: make(chan struct{})}
	cmd.Stderr = logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		logf.Close()
		return nil, err
	}
	if p.stdin, err = cmd.StdinPipe(); err != nil {
		logf.Close()
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	urls := make(chan string, 1)
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(logf, line)
			if !strings.Contains(line, "listening on") {
				continue
			}
			for _, f := range strings.Fields(line) {
				if strings.Contains(f, "://") {
					select {
					case urls <- f:
					default:
					}
					break
				}
			}
		}
	}()
	go func() {
		<-copied // Wait closes stdout: read it all first
		p.waitErr = cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	if !wantURL {
		return p, nil
	}
	select {
	case p.url = <-urls:
		return p, nil
	case <-p.done:
		return nil, fmt.Errorf("%s exited before listening (%v):\n%s", name, p.waitErr, p.logTail())
	case <-time.After(60 * time.Second):
	case <-ctx.Done():
	}
	p.stop()
	return nil, fmt.Errorf("%s did not say where it listens within 60s:\n%s", name, p.logTail())
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

// exited reports whether the process has ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM (and closes stdin), waits up to 30s, then kills. It
// returns the process's exit error, nil for a clean exit.
func (p *proc) stop() error {
	if p.exited() {
		return p.waitErr
	}
	p.stdin.Close()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return p.waitErr
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("%s did not stop within 30s of SIGTERM: killed", p.name)
	}
}

// logTail is the end of the process's log, for error messages.
func (p *proc) logTail() string {
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	if len(b) > 4000 {
		b = b[len(b)-4000:]
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	return "  | " + strings.ReplaceAll(strings.TrimRight(string(b), "\n"), "\n", "\n  | ")
}

// stopAll stops processes in the order given and joins their errors.
func stopAll(ps ...*proc) error {
	var errs []error
	for _, p := range ps {
		if p == nil {
			continue
		}
		if err := p.stop(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", p.name, err))
		}
	}
	return errors.Join(errs...)
}

//go:build cluster

package clustertest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// proc is one relay process (`relay edge` or `relay worker`).
type proc struct {
	name, role string
	cmd        *exec.Cmd
	stdout     string // file paths of its output
	stderr     string
	exited     chan struct{} // closed when the process has been reaped
	waitErr    error         // Wait's result, set before exited closes
	base       string        // http://127.0.0.1:port, once it listens
	killed     bool          // by the test (kill): its exit status says so
}

// startRelay starts `relay <role>` with env (plus PATH) and returns at
// once; wait for it with awaitListening. The process lives until owner
// ends (t or a test above it); failures to start fail t.
func startRelay(t, owner *testing.T, bin, role, name string, env map[string]string) *proc {
	t.Helper()
	dir := owner.TempDir()
	p := &proc{name: name, role: role, stdout: filepath.Join(dir, "stdout"), stderr: filepath.Join(dir, "stderr"), exited: make(chan struct{})}
	out, err := os.Create(p.stdout)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	errf, err := os.Create(p.stderr)
	if err != nil {
		t.Fatal(err)
	}
	defer errf.Close()
	p.cmd = exec.Command(bin, role)
	// Only what the test sets: nothing of the developer's relay
	// configuration leaks in.
	p.cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "TZ=UTC"}
	for k, v := range env {
		p.cmd.Env = append(p.cmd.Env, k+"="+v)
	}
	// Files, not pipes: nothing to drain, and readable at any time.
	p.cmd.Stdout, p.cmd.Stderr = out, errf
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	go func() {
		p.waitErr = p.cmd.Wait()
		close(p.exited)
	}()
	owner.Cleanup(func() {
		p.stop(owner)
		if owner.Failed() {
			owner.Logf("%s (%s) stderr, last lines:\n%s", p.name, p.role, p.tail(30))
		}
	})
	return p
}

var listenLine = regexp.MustCompile(`relay is listening on [^\n]*?(http://\S+)`)

// awaitListening waits until the process says where it listens (an edge
// on stdout, a worker in its "worker started" log line) and its /health
// answers.
func (p *proc) awaitListening(t *testing.T) {
	t.Helper()
	held := poll(90*time.Second, func() bool {
		select {
		case <-p.exited:
			return true
		default:
		}
		if p.role == "edge" {
			b, _ := os.ReadFile(p.stdout)
			if m := listenLine.FindSubmatch(b); m != nil {
				p.base = string(m[1])
			}
		} else if line, ok := p.logLine("worker started"); ok {
			if addr, _ := line["addr"].(string); addr != "" {
				p.base = "http://" + addr
			}
		}
		return p.base != ""
	})
	select {
	case <-p.exited:
		t.Fatalf("%s exited at start (%v):\n%s", p.name, p.waitErr, p.tail(30))
	default:
	}
	if !held {
		t.Fatalf("%s did not say where it listens within 90s:\n%s", p.name, p.tail(30))
	}
	if code, body, err := get(p.base + "/health"); code != http.StatusOK {
		t.Fatalf("%s /health: %d %s %v", p.name, code, body, err)
	}
}

// awaitReady waits until the process's /ready answers 200.
func (p *proc) awaitReady(t *testing.T, within time.Duration) {
	t.Helper()
	var last string
	if !poll(within, func() bool {
		code, body, err := get(p.base + "/ready")
		last = fmt.Sprint(code, " ", string(body), err)
		return code == http.StatusOK
	}) {
		t.Fatalf("%s not ready within %v: %s", p.name, within, last)
	}
}

// identity returns the role and instance of the process's first log line:
// every process names itself in each line it logs.
func (p *proc) identity() (role, instance string) {
	for _, line := range p.logLines() {
		r, _ := line["role"].(string)
		i, _ := line["instance"].(string)
		if r != "" || i != "" {
			return r, i
		}
	}
	return "", ""
}

// logLine returns the first JSON log line whose message is msg.
func (p *proc) logLine(msg string) (map[string]any, bool) {
	for _, line := range p.logLines() {
		if line["message"] == msg {
			return line, true
		}
	}
	return nil, false
}

// logLines parses the JSON lines of stderr (other lines are skipped).
func (p *proc) logLines() []map[string]any {
	b, _ := os.ReadFile(p.stderr)
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil {
			out = append(out, m)
		}
	}
	return out
}

// tail returns the last n lines of stderr, leaving out the access log.
func (p *proc) tail(n int) string {
	b, _ := os.ReadFile(p.stderr)
	var lines []string
	for _, l := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		if !strings.Contains(l, `"message":"request"`) {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// stop sends SIGTERM and waits for a clean exit (SIGKILL after 30s). A
// relay built with -race exits 66 and prints a report when it saw a data
// race: that fails the test.
func (p *proc) stop(t *testing.T) {
	select {
	case <-p.exited:
	default:
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.exited:
		case <-time.After(30 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.exited
			t.Errorf("%s did not stop within 30s of SIGTERM", p.name)
		}
	}
	b, _ := os.ReadFile(p.stderr)
	if bytes.Contains(b, []byte("WARNING: DATA RACE")) {
		t.Errorf("%s: the race detector reported a data race:\n%s", p.name, raceReport(b))
	}
	var ee *exec.ExitError
	if errors.As(p.waitErr, &ee) && !p.killed && !t.Failed() {
		t.Errorf("%s exited with %v:\n%s", p.name, p.waitErr, p.tail(30))
	}
}

// peakRSS is the process's peak resident memory (VmHWM), for sizing.
func (p *proc) peakRSS() string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return "?"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			return strings.Join(strings.Fields(v), " ")
		}
	}
	return "?"
}

// kill stops the process with SIGKILL, as a crash or an OOM kill would.
func (p *proc) kill() {
	p.killed = true
	_ = p.cmd.Process.Kill()
	<-p.exited
}

// raceReport cuts the first race report out of a process's stderr.
func raceReport(b []byte) string {
	s := string(b)
	i := strings.Index(s, "WARNING: DATA RACE")
	s = s[max(0, i-20):]
	if j := strings.Index(s[20:], "=================="); j >= 0 {
		s = s[:20+j]
	}
	return s
}

// metric reads the sum of a Prometheus counter or gauge over the label
// sets that contain every one of labels (`name{a="b"}` style), from the
// process's /metrics.
func (p *proc) metric(t *testing.T, name string, labels ...string) float64 {
	t.Helper()
	code, body, err := getWithToken(p.base+"/metrics", metricsToken)
	if err != nil || code != http.StatusOK {
		t.Fatalf("%s /metrics: %d %v", p.name, code, err)
	}
	var sum float64
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		matches := true
		for _, l := range labels {
			matches = matches && strings.Contains(line, l)
		}
		if !matches {
			continue
		}
		v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		if err == nil {
			sum += v
		}
	}
	return sum
}

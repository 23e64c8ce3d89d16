package redistest

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// TestHelperHoldSharedServer is the child of TestSharedServerDiesWithBinary.
func TestHelperHoldSharedServer(t *testing.T) {
	if os.Getenv("REDISTEST_HELPER") != "hold" {
		t.Skip("helper process only")
	}
	b := Real(t)
	fmt.Printf("SHARED %s %d\n", b.Addr, shared.env.server.PID())
	select {} // until killed
}

func TestSharedServerDiesWithBinary(t *testing.T) {
	if os.Getenv("REDIS_TEST_URL") != "" {
		t.Skip("REDIS_TEST_URL: no shared server of our own")
	}
	redisBinary(t)
	// Become the subreaper of our descendants, so the helper's orphaned
	// redis-server is reparented to us and we can reap it: proof that it
	// died, and no zombie left behind in a container whose init does not
	// reap.
	const prSetChildSubreaper = 36
	if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0); errno != 0 {
		t.Fatalf("prctl(PR_SET_CHILD_SUBREAPER): %v", errno)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperHoldSharedServer$", "-test.v")
	cmd.Env = append(os.Environ(), "REDISTEST_HELPER=hold")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })

	var addr string
	var pid int
	lines := bufio.NewScanner(out)
	for lines.Scan() {
		if _, err := fmt.Sscanf(lines.Text(), "SHARED %s %d", &addr, &pid); err == nil {
			break
		}
	}
	if addr == "" {
		t.Fatal("helper did not report its server")
	}
	if err := ping(addr); err != nil {
		t.Fatalf("helper's server not up: %v", err)
	}

	// SIGKILL: neither TestMain nor any cleanup runs in the helper.
	cmd.Process.Kill()
	cmd.Wait()
	waitFor(t, 5*time.Second, "redis-server outlived its test binary", func() bool {
		var ws syscall.WaitStatus
		got, err := syscall.Wait4(pid, &ws, syscall.WNOHANG, nil)
		return got == pid || err == syscall.ECHILD && ping(addr) != nil
	})
}

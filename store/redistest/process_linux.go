package redistest

import (
	"os/exec"
	"runtime"
	"syscall"
)

// startProcess starts cmd so that the kernel kills it when the test binary
// dies, whatever the cause (panic, timeout, SIGKILL, no TestMain). The
// death signal is tied to the thread that forked, not to the process, so
// the fork happens on a locked thread that stays parked in Wait for the
// child's whole life. Wait's result is sent on the returned channel.
func startProcess(cmd *exec.Cmd) (<-chan error, error) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	started := make(chan error, 1)
	waited := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		waited <- cmd.Wait()
	}()
	if err := <-started; err != nil {
		return nil, err
	}
	return waited, nil
}

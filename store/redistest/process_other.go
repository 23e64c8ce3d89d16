//go:build !linux

package redistest

import "os/exec"

// startProcess starts cmd. Outside Linux nothing kills it if the test
// binary dies abruptly; Main and the test cleanups stop it otherwise.
func startProcess(cmd *exec.Cmd) (<-chan error, error) {
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	return waited, nil
}

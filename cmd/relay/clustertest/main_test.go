//go:build cluster

package clustertest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// binDir holds the relay binary built for this test run.
var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "relay-clustertest-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

var (
	buildOnce sync.Once
	buildPath string
	buildErr  error
)

// relayBinary builds cmd/relay once per test run and returns its path. It
// is built with the race detector when the tests are, so a race inside a
// relay process fails the run too (see proc.stop), and so it reuses the
// packages `go test -race` already compiled.
func relayBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		start := time.Now()
		out := filepath.Join(binDir, "relay")
		args := []string{"build", "-o", out}
		if raceEnabled {
			args = append(args, "-race")
		}
		cmd := exec.Command("go", append(args, "relay/cmd/relay")...)
		if b, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build relay/cmd/relay: %v\n%s", err, b)
			return
		}
		buildPath = out
		t.Logf("built relay (race detector: %v) in %v", raceEnabled, time.Since(start).Round(time.Millisecond))
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildPath
}

//go:build !linux

package ledger_test

import "time"

func cpuTime() time.Duration           { return 0 }
func processCPU(pid int) time.Duration { return 0 }

//go:build !linux

package usagelog_test

import "time"

func cpuTime() time.Duration           { return 0 }
func processCPU(pid int) time.Duration { return 0 }

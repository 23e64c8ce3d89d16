package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// userHZ is the unit of utime and stime in /proc/<pid>/stat. Linux exports
// them in USER_HZ, which it fixes at 100 on every architecture relay runs on.
const userHZ = 100

// procCPU returns the user plus system CPU time process pid has used, all
// threads together.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces: count from the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	// f[0] is field 3 (state): utime is field 14, stime field 15.
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: utime %q stime %q", pid, f[11], f[12])
	}
	return time.Duration(utime+stime) * time.Second / userHZ, nil
}

// procMem returns the peak resident set (VmHWM) and the current one (VmRSS)
// of process pid, in bytes.
func procMem(pid int) (peak, now int64, err error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok || name != "VmHWM" && name != "VmRSS" {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("/proc/%d/status %s: %w", pid, name, err)
		}
		if name == "VmHWM" {
			peak = kb << 10
		} else {
			now = kb << 10
		}
	}
	return peak, now, sc.Err()
}

// tcpSocket is one TCP socket of a process, from /proc/<pid>/net/tcp.
type tcpSocket struct {
	localPort, remotePort int
	state                 string // hex: 0A listen, 01 established
}

// tcpSockets returns process pid's TCP sockets: its socket inodes (from
// /proc/<pid>/fd) matched against /proc/<pid>/net/tcp and tcp6.
func tcpSockets(pid int) ([]tcpSocket, error) {
	fds, err := filepath.Glob(fmt.Sprintf("/proc/%d/fd/*", pid))
	if err != nil {
		return nil, err
	}
	inodes := map[string]bool{}
	for _, fd := range fds {
		target, err := os.Readlink(fd)
		if err != nil {
			continue // closed meanwhile
		}
		if ino, ok := strings.CutPrefix(target, "socket:["); ok {
			inodes[strings.TrimSuffix(ino, "]")] = true
		}
	}
	port := func(addr string) int {
		_, hex, _ := strings.Cut(addr, ":")
		p, _ := strconv.ParseInt(hex, 16, 32)
		return int(p)
	}
	var out []tcpSocket
	for _, table := range []string{"tcp", "tcp6"} {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/%s", pid, table))
		if err != nil {
			continue
		}
		for line := range strings.Lines(string(b)) {
			f := strings.Fields(line)
			// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
			if len(f) < 10 || !inodes[f[9]] {
				continue
			}
			out = append(out, tcpSocket{localPort: port(f[1]), remotePort: port(f[2]), state: f[3]})
		}
	}
	return out, nil
}

// listeningPorts returns the TCP ports process pid listens on.
func listeningPorts(pid int) ([]int, error) {
	socks, err := tcpSockets(pid)
	var ports []int
	for _, s := range socks {
		if s.state == "0A" {
			ports = append(ports, s.localPort)
		}
	}
	return ports, err
}

// connectionsTo counts process pid's established connections to port.
func connectionsTo(pid, port int) int {
	socks, _ := tcpSockets(pid)
	n := 0
	for _, s := range socks {
		if s.state == "01" && s.remotePort == port {
			n++
		}
	}
	return n
}

// loadAverage returns /proc/loadavg's first three figures, to record how
// quiet the machine was.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// A contestant's CPU time is utime + stime (fields 14 and 15 of
// /proc/PID/stat, in clock ticks) of its process and its direct children
// (nginx's workers), read just before and just after the `wrk -c64` run; its
// peak memory is VmHWM from /proc/PID/status of the same processes, summed.

// statTimes returns utime+stime and the parent pid from the text of a
// /proc/PID/stat file. Fields are counted after the last ")": the command
// name (field 2, in parentheses) may itself hold spaces or parentheses.
func statTimes(stat string) (ticks uint64, ppid int, err error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, 0, fmt.Errorf("no command name in %q", stat)
	}
	f := strings.Fields(stat[i+1:]) // f[0] is field 3 (state): field N is f[N-3]
	if len(f) < 13 {
		return 0, 0, fmt.Errorf("too few fields in %q", stat)
	}
	ppid, err1 := strconv.Atoi(f[1])
	utime, err2 := strconv.ParseUint(f[11], 10, 64)
	stime, err3 := strconv.ParseUint(f[12], 10, 64)
	if err := errors.Join(err1, err2, err3); err != nil {
		return 0, 0, fmt.Errorf("parse %q: %w", stat, err)
	}
	return utime + stime, ppid, nil
}

// cpuMicrosPerRequest turns a tick difference over the requests served into
// CPU µs per request, to 2 decimals as it has always been recorded; NaN when
// no request completed.
func cpuMicrosPerRequest(ticksBefore, ticksAfter uint64, requests int64, clockTick int) float64 {
	if requests <= 0 {
		return math.NaN()
	}
	return math.Round(float64(ticksAfter-ticksBefore)*1e6/float64(clockTick)/float64(requests)*100) / 100
}

// vmHWM returns the VmHWM line of a /proc/PID/status text, in KiB.
func vmHWM(status string) (uint64, error) {
	sc := bufio.NewScanner(strings.NewReader(status))
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			f := strings.Fields(rest)
			if len(f) == 2 && f[1] == "kB" {
				return strconv.ParseUint(f[0], 10, 64)
			}
		}
	}
	return 0, errors.New("no VmHWM line")
}

// family is a pid and its direct children (how pgrep -P sees them), read
// from /proc.
func family(pid int) ([]int, error) {
	pids := []int{pid}
	stats, err := filepath.Glob("/proc/[0-9]*/stat")
	if err != nil {
		return nil, err
	}
	for _, path := range stats {
		b, err := os.ReadFile(path)
		if err != nil {
			continue // gone since the listing
		}
		if _, ppid, err := statTimes(string(b)); err == nil && ppid == pid {
			child, _ := strconv.Atoi(filepath.Base(filepath.Dir(path)))
			pids = append(pids, child)
		}
	}
	return pids, nil
}

// cpuTicks is utime+stime of pid and its children. A child gone since it was
// listed has nothing left to count; the process itself must be readable.
func cpuTicks(pid int) (uint64, error) {
	pids, err := family(pid)
	if err != nil {
		return 0, err
	}
	var total uint64
	for _, p := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p))
		if err != nil {
			if p == pid {
				return 0, err
			}
			continue
		}
		t, _, err := statTimes(string(b))
		if err != nil {
			return 0, err
		}
		total += t
	}
	return total, nil
}

// peakRSSMiB is VmHWM of pid and its children, summed, in MiB.
func peakRSSMiB(pid int) (float64, error) {
	pids, err := family(pid)
	if err != nil {
		return 0, err
	}
	var kib uint64
	for _, p := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p))
		if err != nil {
			return 0, fmt.Errorf("VmHWM of pid %d: %w", p, err)
		}
		k, err := vmHWM(string(b))
		if err != nil {
			return 0, fmt.Errorf("VmHWM of pid %d: %w", p, err)
		}
		kib += k
	}
	return float64(kib) / 1024, nil
}

// clockTick is the kernel's clock ticks per second (getconf CLK_TCK): Go has
// no sysconf without cgo.
func clockTick() (int, error) {
	out, err := exec.Command("getconf", "CLK_TCK").Output()
	if err != nil {
		return 0, fmt.Errorf("getconf CLK_TCK: %w", err)
	}
	n, err := strconv.Atoi(string(bytes.TrimSpace(out)))
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("getconf CLK_TCK gave %q", out)
	}
	return n, nil
}

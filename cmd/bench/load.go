package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// wrkResult is what one wrk run measured. Errors are non-2xx/3xx responses
// plus socket errors; Requests all the requests wrk completed.
type wrkResult struct {
	ReqPerSec float64
	P50ms     float64
	P99ms     float64
	Errors    int64
	Requests  int64
}

// h2loadResult is what one h2load run measured. Errors are h2load's
// "failed" requests, which already include the errored and timed-out ones and
// those answered with an error status (adding those too would count them
// twice).
type h2loadResult struct {
	ReqPerSec float64
	Errors    int64
}

// The load runs; every run's arguments are in one place.
func wrkArgs(threads, conns int, d time.Duration, latency bool, headers []string, url string) []string {
	args := []string{fmt.Sprintf("-t%d", threads), fmt.Sprintf("-c%d", conns), fmt.Sprintf("-d%ds", int(d/time.Second))}
	if latency {
		args = append(args, "--latency")
	}
	return append(append(args, headerArgs(headers)...), url)
}

func h2loadArgs(d, warmup time.Duration, headers []string, url string) []string {
	args := []string{"-c", "64", "-m", "10", "-D", strconv.Itoa(int(d / time.Second)), fmt.Sprintf("--warm-up-time=%d", int(warmup/time.Second))}
	return append(append(args, headerArgs(headers)...), url)
}

func headerArgs(headers []string) []string {
	var args []string
	for _, h := range headers {
		args = append(args, "-H", h)
	}
	return args
}

// runTool runs wrk or h2load, keeps its output in file and returns it.
func runTool(ctx context.Context, file, tool string, args ...string) (string, error) {
	out, err := exec.CommandContext(ctx, tool, args...).CombinedOutput()
	if werr := os.WriteFile(file, out, 0o644); werr != nil && err == nil {
		err = werr
	}
	if err != nil {
		return "", fmt.Errorf("%s %s: %w: %s", tool, strings.Join(args, " "), err, tail(string(out), 5))
	}
	return string(out), nil
}

var (
	wrkRequests = regexp.MustCompile(`^\s*(\d+) requests in `)
	wrkNumbers  = regexp.MustCompile(`(\d+),?`)
)

// parseWrk reads `wrk --latency` output.
func parseWrk(out string) (wrkResult, error) {
	var r wrkResult
	var haveRPS, haveP50, haveP99, haveReqs, inDist bool
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		f := strings.Fields(line)
		switch {
		case strings.HasPrefix(line, "Requests/sec:") && len(f) == 2:
			v, err := strconv.ParseFloat(f[1], 64)
			r.ReqPerSec, haveRPS = v, err == nil
		case wrkRequests.MatchString(line):
			n, err := strconv.ParseInt(wrkRequests.FindStringSubmatch(line)[1], 10, 64)
			r.Requests, haveReqs = n, err == nil
		case strings.Contains(line, "Latency Distribution"):
			inDist = true
		case inDist && len(f) == 2 && f[0] == "50%":
			v, err := wrkMillis(f[1])
			r.P50ms, haveP50 = round4(v), err == nil
		case inDist && len(f) == 2 && f[0] == "99%":
			v, err := wrkMillis(f[1])
			r.P99ms, haveP99, inDist = round4(v), err == nil, false
		case strings.Contains(line, "Non-2xx or 3xx responses:"):
			n, err := strconv.ParseInt(f[len(f)-1], 10, 64)
			if err != nil {
				return r, fmt.Errorf("wrk: %q: %w", line, err)
			}
			r.Errors += n
		case strings.Contains(line, "Socket errors:"):
			for _, m := range wrkNumbers.FindAllStringSubmatch(line, -1) {
				n, _ := strconv.ParseInt(m[1], 10, 64)
				r.Errors += n
			}
		}
	}
	if !haveRPS || !haveP50 || !haveP99 || !haveReqs {
		return r, fmt.Errorf("cannot parse wrk output: %s", tail(out, 20))
	}
	return r, nil
}

// wrkMillis converts a wrk duration (118.00us, 1.68ms, 1.02s, 1.00m, 1.00h)
// to milliseconds.
func wrkMillis(v string) (float64, error) {
	for _, u := range []struct {
		suffix string
		ms     float64
	}{{"us", 1e-3}, {"ms", 1}, {"s", 1e3}, {"m", 60e3}, {"h", 3600e3}} {
		if num, ok := strings.CutSuffix(v, u.suffix); ok {
			n, err := strconv.ParseFloat(num, 64)
			if err != nil {
				return 0, fmt.Errorf("wrk duration %q: %w", v, err)
			}
			return n * u.ms, nil
		}
	}
	return 0, fmt.Errorf("wrk duration %q: unknown unit", v)
}

var (
	h2loadRPS    = regexp.MustCompile(`^finished in .*?, ([0-9.]+) req/s`)
	h2loadFailed = regexp.MustCompile(`^requests: .*?(\d+) failed`)
)

// parseH2load reads h2load's summary.
func parseH2load(out string) (h2loadResult, error) {
	var r h2loadResult
	var haveRPS bool
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		if m := h2loadRPS.FindStringSubmatch(line); m != nil {
			v, err := strconv.ParseFloat(m[1], 64)
			r.ReqPerSec, haveRPS = v, err == nil
		}
		if m := h2loadFailed.FindStringSubmatch(line); m != nil {
			n, _ := strconv.ParseInt(m[1], 10, 64)
			r.Errors += n
		}
	}
	if !haveRPS {
		return r, fmt.Errorf("cannot parse h2load output: %s", tail(out, 20))
	}
	return r, nil
}

// tail is the last n lines of s, for error messages.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

package main

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// options are the knobs of a run. Each flag's default comes from the
// environment variable `make bench` has always read, so `make bench QUICK=1`
// and `BENCH_ROUNDS=5 make bench` keep working.
type options struct {
	quick    bool
	rounds   int
	duration time.Duration
	warmup   time.Duration
	portBase int
	keep     bool
	record   string // file to append the markdown section to; "" records nothing
	jsonOut  string // file to write the JSON results to; "" writes none
	goCmd    string
}

// Run lengths: a full run is 3 rounds of 10 s runs after 2 s of warm-up; a
// quick one (QUICK=1) 1 round of 5 s after 1 s.
const (
	fullRounds, quickRounds     = 3, 1
	fullDuration, quickDuration = 10 * time.Second, 5 * time.Second
	fullWarmup, quickWarmup     = 2 * time.Second, 1 * time.Second
	defaultPortBase             = 18000
)

func parseOptions(args []string) (options, error) {
	var o options
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.BoolVar(&o.quick, "quick", truthy(os.Getenv("QUICK")), "1 round of 5 s runs (env QUICK)")
	rounds := fs.Int("rounds", envInt("BENCH_ROUNDS", 0), "rounds (env BENCH_ROUNDS; default 3, quick 1)")
	seconds := fs.Int("duration", envInt("BENCH_DURATION", 0), "seconds per run (env BENCH_DURATION; default 10, quick 5)")
	fs.IntVar(&o.portBase, "port-base", envInt("BENCH_PORT_BASE", defaultPortBase), "ports BASE+1..BASE+6 on 127.0.0.1 are used (env BENCH_PORT_BASE)")
	fs.BoolVar(&o.keep, "keep", os.Getenv("BENCH_KEEP") == "1", "keep the temp dir (env BENCH_KEEP=1)")
	fs.StringVar(&o.record, "record", "", "append the markdown section to this file (make bench RECORD=1: BENCHMARKS.md)")
	fs.StringVar(&o.jsonOut, "json", "", "write the results as JSON to this file")
	fs.StringVar(&o.goCmd, "go", envOr("GO", "go"), "go command that builds sluice and bench-ceiling (env GO)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() != 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	o.rounds, o.duration, o.warmup = fullRounds, fullDuration, fullWarmup
	if o.quick {
		o.rounds, o.duration, o.warmup = quickRounds, quickDuration, quickWarmup
	}
	if *rounds > 0 {
		o.rounds = *rounds
	}
	if *seconds > 0 {
		o.duration = time.Duration(*seconds) * time.Second
	}
	return o, nil
}

// command is how the report names the run: the make line that reproduces it.
func (o options) command() string {
	cmd := "make bench"
	if o.quick {
		cmd += " QUICK=1"
	}
	if o.rounds != map[bool]int{true: quickRounds, false: fullRounds}[o.quick] {
		cmd = fmt.Sprintf("BENCH_ROUNDS=%d %s", o.rounds, cmd)
	}
	if o.duration != map[bool]time.Duration{true: quickDuration, false: fullDuration}[o.quick] {
		cmd = fmt.Sprintf("BENCH_DURATION=%d %s", int(o.duration/time.Second), cmd)
	}
	return cmd
}

// truthy reads QUICK the way the Makefile always has: empty, 0, false and no
// are off, anything else is on.
func truthy(v string) bool {
	switch strings.ToLower(v) {
	case "", "0", "false", "no":
		return false
	}
	return true
}

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil {
		return n
	}
	return def
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

func run(ctx context.Context, o options) (err error) {
	if err := checkTools(); err != nil {
		return err
	}
	tick, err := clockTick()
	if err != nil {
		return err
	}
	machine, vers := describeMachine(), describeVersions(o.goCmd)
	s, err := newStage(ctx, o)
	if s != nil {
		defer func() { s.close(err != nil, o.keep) }()
	}
	if err != nil {
		return err
	}
	if err := s.validate(ctx); err != nil {
		return err
	}
	if err := s.start(ctx); err != nil {
		return err
	}
	if err := s.check(ctx); err != nil {
		return err
	}
	res, err := s.measure(ctx, o, tick)
	if err != nil {
		return err
	}
	res.Machine, res.Versions, res.Command = machine, vers, o.command()
	res.Versions.Sluice = s.sluiceRev
	res.TokenBytes = len(s.token)

	section := renderMarkdown(res)
	fmt.Printf("\n%s\n\n", section)
	if o.jsonOut != "" {
		b, err := json.MarshalIndent(res, "", "  ")
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(o.jsonOut), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(o.jsonOut, append(b, '\n'), 0o644); err != nil {
			return err
		}
		logf("wrote %s", o.jsonOut)
	}
	if o.record != "" {
		if err := appendSection(o.record, section); err != nil {
			return err
		}
		logf("appended to %s", o.record)
	}
	return nil
}

// measure runs the rounds. Contestants alternate a, b, c, d, e within each
// round, so drift on a shared machine lands on every one alike. Per
// contestant and round: a warm-up, `wrk -t2 -c64 --latency` (req/s, p50, p99,
// CPU), `wrk -t1 -c1 --latency` (p50 at one connection); then, for those with
// an h2c URL, `h2load -c64 -m10` over h2c.
func (s *stage) measure(ctx context.Context, o options, tick int) (*results, error) {
	res := &results{
		Date: time.Now().UTC().Format(time.DateOnly), Rounds: o.rounds, ClockTick: tick,
		DurationSeconds: int(o.duration / time.Second), WarmupSeconds: int(o.warmup / time.Second),
		LoadAverage: loadAverage(),
	}
	rows := map[string]*row{}
	for _, key := range contestantKeys {
		rows[key] = &row{Key: key}
		res.Rows = append(res.Rows, rows[key])
	}
	logf("%d round(s), %ds per run, warm-up %ds; about %ds of load", o.rounds, res.DurationSeconds, res.WarmupSeconds,
		o.rounds*(5*(res.WarmupSeconds+2*res.DurationSeconds)+3*(res.WarmupSeconds+res.DurationSeconds)))
	file := func(key, run string, round int) string {
		return s.path(fmt.Sprintf("run.%s.%s.r%d.txt", key, run, round))
	}
	for r := 1; r <= o.rounds; r++ {
		for _, key := range contestantKeys {
			c, row := s.contestants[key], rows[key]
			if _, err := runTool(ctx, file(key, "warm", r), "wrk", wrkArgs(2, 64, o.warmup, false, c.Headers, c.URL)...); err != nil {
				return nil, fmt.Errorf("(%s) warm-up: %w", key, err)
			}
			t0, err := cpuTicks(c.proc.pid())
			if err != nil {
				return nil, fmt.Errorf("(%s) %w", key, err)
			}
			out, err := runTool(ctx, file(key, "c64", r), "wrk", wrkArgs(2, 64, o.duration, true, c.Headers, c.URL)...)
			if err != nil {
				return nil, fmt.Errorf("(%s) %w", key, err)
			}
			t1, err := cpuTicks(c.proc.pid())
			if err != nil {
				return nil, fmt.Errorf("(%s) %w", key, err)
			}
			w, err := parseWrk(out)
			if err != nil {
				return nil, fmt.Errorf("(%s) %w", key, err)
			}
			cpu := cpuMicrosPerRequest(t0, t1, w.Requests, tick)
			res.noteErrors(row, "wrk -c64", r, w.Errors, false)
			row.ReqPerSec = append(row.ReqPerSec, w.ReqPerSec)
			row.P50ms = append(row.P50ms, w.P50ms)
			row.P99ms = append(row.P99ms, w.P99ms)
			row.CPUMicros = append(row.CPUMicros, cpu)

			out, err = runTool(ctx, file(key, "c1", r), "wrk", wrkArgs(1, 1, o.duration, true, c.Headers, c.URL)...)
			if err != nil {
				return nil, fmt.Errorf("(%s) %w", key, err)
			}
			w1, err := parseWrk(out)
			if err != nil {
				return nil, fmt.Errorf("(%s) %w", key, err)
			}
			res.noteErrors(row, "wrk -c1", r, w1.Errors, false)
			row.P50OneConnMs = append(row.P50OneConnMs, w1.P50ms)
			logf("  round %d/%d (%s) wrk -c64: %.2f req/s, p50 %.4f ms, p99 %.4f ms, CPU %.2f µs/req (%d ticks, %d requests); -c1: p50 %.4f ms",
				r, o.rounds, key, w.ReqPerSec, w.P50ms, w.P99ms, cpu, t1-t0, w.Requests, w1.P50ms)
		}
		for _, key := range contestantKeys {
			c, row := s.contestants[key], rows[key]
			if c.H2URL == "" {
				continue
			}
			out, err := runTool(ctx, file(key, "h2", r), "h2load", h2loadArgs(o.duration, o.warmup, c.Headers, c.H2URL)...)
			if err != nil {
				return nil, fmt.Errorf("(%s) %w", key, err)
			}
			h, err := parseH2load(out)
			if err != nil {
				return nil, fmt.Errorf("(%s) %w", key, err)
			}
			res.noteErrors(row, "h2load", r, h.Errors, true)
			row.H2ReqPerSec = append(row.H2ReqPerSec, h.ReqPerSec)
			logf("  round %d/%d (%s) h2load h2c -c64 -m10: %.2f req/s", r, o.rounds, key, h.ReqPerSec)
		}
	}
	// Peak RSS and nginx's worker count, after all runs.
	for _, key := range contestantKeys {
		c := s.contestants[key]
		if !c.proc.alive() {
			return nil, fmt.Errorf("%s died during the runs", c.proc.name)
		}
		rss, err := peakRSSMiB(c.proc.pid())
		if err != nil {
			return nil, err
		}
		rows[key].PeakRSSMiB = number(rss)
	}
	pids, err := family(s.contestants["b"].proc.pid())
	if err != nil {
		return nil, err
	}
	res.NginxWorkers = len(pids) - 1
	return res, nil
}

// appendSection adds a section to the end of a markdown file (made, with a
// title, when missing).
func appendSection(path, section string) error {
	if _, err := os.Stat(path); os.IsNotExist(err) {
		if err := os.WriteFile(path, []byte("# Benchmarks\n"), 0o644); err != nil {
			return err
		}
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintf(f, "\n%s\n", section); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// Command bench is the end-to-end benchmark behind `make bench`: Sluice
// against nginx, all in front of the same nginx upstream, measured with wrk
// and h2load. It prints a markdown section (table, ratios, notes), writes the
// same numbers as JSON, and appends the section to BENCHMARKS.md only when
// asked (-record).
//
// The contestants are in contestants.go, their configs under configs/; one
// round of load per contestant in load.go; CPU and memory from /proc in
// procstat.go; the table and JSON in report.go.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	opts, err := parseOptions(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, opts); err != nil {
		fmt.Fprintln(os.Stderr, "bench: error:", err)
		os.Exit(1)
	}
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
}

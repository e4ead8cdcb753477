package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// process is a server the bench started: an nginx, a sluice edge or
// bench-ceiling. It runs in its own process group, so stopping it reaches
// nginx's workers too.
type process struct {
	name   string
	cmd    *exec.Cmd
	log    string        // its stderr (and stdout, unless discarded)
	exited chan struct{} // closed when it exits
	err    error         // its exit status, once exited is closed
}

// startProcess starts argv with its output going to logFile (stdout to
// /dev/null when quietStdout: sluice's access log).
func startProcess(name, logFile string, quietStdout bool, argv ...string) (*process, error) {
	out, err := os.Create(logFile)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stderr, cmd.Stdout = out, out
	if quietStdout {
		cmd.Stdout = nil // /dev/null
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		out.Close()
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	p := &process{name: name, cmd: cmd, log: logFile, exited: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		out.Close()
		close(p.exited)
	}()
	return p, nil
}

func (p *process) pid() int { return p.cmd.Process.Pid }

func (p *process) alive() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// stop asks the process to exit (sluice drains, nginx stops its workers) and
// kills its group when it has not by the deadline.
func (p *process) stop(deadline time.Time) {
	if !p.alive() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(time.Until(deadline)):
		_ = syscall.Kill(-p.pid(), syscall.SIGKILL)
		<-p.exited
	}
}

// waitReady polls url with client until it answers 2xx, the process exits
// or 15 s pass.
func (p *process) waitReady(ctx context.Context, client *http.Client, url string, headers []string) error {
	deadline := time.Now().Add(15 * time.Second)
	for {
		if !p.alive() {
			return fmt.Errorf("%s exited during startup (%v); see %s", p.name, p.err, p.log)
		}
		status, _, _, err := get(ctx, client, url, headers)
		if err == nil && status/100 == 2 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready at %s within 15 s (last: status %d, %v)", p.name, url, status, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

package main

import (
	"bufio"
	"os"
	"os/exec"
	"runtime"
	"strings"
)

// machine is where a run happened.
type machine struct {
	Cores  int    `json:"cores"`
	CPU    string `json:"cpu"`
	Kernel string `json:"kernel"`
}

// versions of everything measured, as each tool prints its own.
type versions struct {
	Nginx    string `json:"nginx"`
	Wrk      string `json:"wrk"`
	H2load   string `json:"h2load"`
	Go       string `json:"go"`
	Fasthttp string `json:"fasthttp"`
	Sluice   string `json:"sluice"`
}

func describeMachine() machine {
	return machine{Cores: runtime.NumCPU(), CPU: cpuModel(), Kernel: firstLine("uname", "-srm")}
}

func describeVersions(goCmd string) versions {
	v := versions{
		Nginx:    firstLine("nginx", "-v"),
		Wrk:      strings.TrimSpace(strings.SplitN(firstLine("wrk", "-v"), "Copyright", 2)[0]),
		H2load:   firstLine("h2load", "--version"),
		Go:       firstLine(goCmd, "version"),
		Fasthttp: strings.TrimPrefix(firstLine(goCmd, "list", "-m", "-f", "{{.Version}}", "github.com/valyala/fasthttp"), "v"),
	}
	return v
}

// firstLine is the first line a command prints (on stdout or stderr: nginx
// -v and wrk -v use stderr, and wrk -v exits 1); "unknown" when none.
func firstLine(name string, args ...string) string {
	out, _ := exec.Command(name, args...).CombinedOutput()
	line, _, _ := strings.Cut(string(out), "\n")
	if line = strings.TrimSpace(line); line == "" {
		return "unknown"
	}
	return line
}

func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if name, value, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(name) == "model name" {
			return strings.TrimSpace(value)
		}
	}
	return "unknown"
}

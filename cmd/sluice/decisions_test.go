package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sluicegw/sluice/runtime/testkit"
)

// startTail runs `sluice decisions tail ARGS...` and returns its stdout
// lines as they come, once it says on stderr that the tail is live.
func startTail(t *testing.T, env []string, args ...string) <-chan string {
	t.Helper()
	cmd := exec.Command(sluiceBin, append([]string{"decisions", "tail"}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	live := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			select {
			case live <- sc.Text():
			default:
			}
		}
	}()
	select {
	case line := <-live:
		if !strings.HasPrefix(line, "tailing decisions") {
			t.Fatalf("decisions tail %v: %s", args, line)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("decisions tail %v: not live within 20s", args)
	}
	lines := make(chan string, 64)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	return lines
}

func nextLine(t *testing.T, lines <-chan string, what string) string {
	t.Helper()
	select {
	case l, ok := <-lines:
		if !ok {
			t.Fatalf("%s: the tail ended", what)
		}
		return l
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: no line within 10s", what)
		return ""
	}
}

// TestDecisionsTailThroughTheCLI: a publisher and an edge node as separate
// processes (embedded NATS with credentials), a route with an OPA policy;
// `sluice decisions tail` prints each decision with the id the client got
// in X-Sluice-Decision-Id, and `--route orders --deny --json` only the
// denials of orders.
func TestDecisionsTailThroughTheCLI(t *testing.T) {
	data := t.TempDir()
	api, natsAddr, listen := freeAddr(t), freeAddr(t), freeAddr(t)
	startProcess(t, "publisher", "--embedded-nats", "--nats-listen", natsAddr, "--listen", api, "--data", data)
	waitHTTP(t, "http://"+api+"/ui")
	startProcess(t, "edge", "--nats", "nats://"+natsAddr, "--trust", filepath.Join(data, "signing.pub"),
		"--nats-creds", filepath.Join(data, "node.creds"), "--node", "eu-1", "--listen", listen, "--data", t.TempDir())
	env := []string{"SLUICE_PUBLISHER=http://" + api, "SLUICE_TOKEN="}

	policy := t.TempDir()
	os.WriteFile(filepath.Join(policy, "gate.rego"), []byte(`package sluice.authz

default decision := {"allow": false, "status": 403, "reason": "read only"}

decision := {"allow": true} if input.request.method == "GET"
`), 0o644)
	cfg := writeFile(t, "sluice.yaml", fmt.Sprintf(`upstreams: {u: {endpoints: [%s]}}
policies:
  gate: {module: %s, decision_log: {sample: 1}}
routes:
  - {name: orders, match: {path_prefix: /orders}, upstream: u, policy: gate}
  - {name: users, match: {path_prefix: /users}, upstream: u, policy: gate}
`, startEcho(t, "u"), policy))
	if out, code := sluiceRun(t, env, "apply", "-f", cfg, "--data", data); code != 0 {
		t.Fatalf("apply: %d %s", code, out)
	}
	send := func(method, path string) (int, string) {
		req, _ := http.NewRequest(method, "http://"+listen+path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, ""
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, resp.Header.Get("X-Sluice-Decision-Id")
	}
	testkit.WaitFor(t, 30*time.Second, "the node serving the config", func() bool {
		code, _ := send("GET", "/orders/0")
		return code == 200
	})

	all := startTail(t, env, "--data", data)
	denials := startTail(t, env, "--data", data, "--route", "orders", "--deny", "--json")

	type sent struct{ method, path, id string }
	var reqs []sent
	for _, r := range [][2]string{{"GET", "/orders/1"}, {"DELETE", "/users/1"}, {"DELETE", "/orders/1"}} {
		code, id := send(r[0], r[1])
		if id == "" || code == 0 {
			t.Fatalf("%s %s: %d, no decision id", r[0], r[1], code)
		}
		reqs = append(reqs, sent{r[0], r[1], id})
	}
	verdicts := []string{"ALLOW", `DENY 403  users  gate  DELETE /users/1  "read only"`, `DENY 403  orders  gate  DELETE /orders/1  "read only"`}
	for i, r := range reqs {
		line := nextLine(t, all, r.method+" "+r.path)
		want := regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}  eu-1  ` + regexp.QuoteMeta(verdicts[i]) + `.*  decision=` + regexp.QuoteMeta(r.id) + ` request=\S+$`)
		if !want.MatchString(line) {
			t.Errorf("tail line %q, want %s", line, want)
		}
	}
	var d struct {
		ID    string `json:"id"`
		Route string `json:"route"`
		Allow bool   `json:"allow"`
	}
	line := nextLine(t, denials, "the denial of orders")
	if err := json.Unmarshal([]byte(line), &d); err != nil || d.ID != reqs[2].id || d.Route != "orders" || d.Allow {
		t.Fatalf("--route orders --deny --json line %q (%v), want the denial %s", line, err, reqs[2].id)
	}
}

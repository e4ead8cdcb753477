package edge

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/sluicegw/sluice/runtime/fleet"
	"github.com/sluicegw/sluice/runtime/testkit"
	"github.com/sluicegw/sluice/runtime/testkit/natstest"
)

// decisionPolicy writes a policy that allows GET and denies the rest.
func decisionPolicy(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	writeTestFile(t, filepath.Join(dir, "gate.rego"), `package sluice.authz

default decision := {"allow": false, "status": 403, "reason": "read only"}

decision := {"allow": true} if input.request.method == "GET"
`)
	return dir
}

const decisionConfig = `
upstreams: {svc: {endpoints: ["{{.Up}}"]}}
policies:
  gate: {module: "{{.Policy}}", decision_log: {sample: 1}}
routes:
  - {name: guarded, match: {path_prefix: /guarded}, upstream: svc, policy: gate}
  - {name: open, match: {path_prefix: /open}, upstream: svc}
`

// do sends method path to the node and returns the response (body read).
func doMethod(t *testing.T, method, url string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := testClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// metricValue reads one unlabelled series from the node's /metrics.
func metricValue(t *testing.T, n *testNode, name string) float64 {
	t.Helper()
	_, body := get(t, n.adminURL+"/metrics")
	m := regexp.MustCompile(`(?m)^` + name + ` (\S+)$`).FindSubmatch(body)
	if m == nil {
		t.Fatalf("/metrics has no %s", name)
	}
	v, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestDecisionLogsPublishedOverNATS: a node with NATS publishes each logged
// decision on sluice.decisions.NODE with the id its response carried in
// X-Sluice-Decision-Id and its access log line in decision_id; a route
// without a policy carries no id.
func TestDecisionLogsPublishedOverNATS(t *testing.T) {
	url := natstest.Start(t)
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	sub, err := nc.SubscribeSync("sluice.decisions.>")
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	up := startUpstream(t, "svc", nil)
	n := startNode(t, render(t, decisionConfig, map[string]string{"Up": up.url, "Policy": decisionPolicy(t)}),
		func(o *Options, _ *Listeners) { o.NATS, o.NodeID = nc, "node.eu-1" })

	allowed := doMethod(t, "GET", n.url+"/guarded/1")
	denied := doMethod(t, "DELETE", n.url+"/guarded/1")
	open := doMethod(t, "GET", n.url+"/open")
	if allowed.StatusCode != 200 || denied.StatusCode != 403 || open.StatusCode != 200 {
		t.Fatalf("statuses %d %d %d, want 200 403 200", allowed.StatusCode, denied.StatusCode, open.StatusCode)
	}
	if id := open.Header.Get(DecisionHeader); id != "" {
		t.Errorf("a route without a policy answered %s: %s", DecisionHeader, id)
	}
	for _, c := range []struct {
		resp  *http.Response
		allow bool
	}{{allowed, true}, {denied, false}} {
		id := c.resp.Header.Get(DecisionHeader)
		if id == "" {
			t.Fatalf("a response of the guarded route has no %s", DecisionHeader)
		}
		msg, err := sub.NextMsg(5 * time.Second)
		if err != nil {
			t.Fatalf("decision %s not published: %v", id, err)
		}
		if msg.Subject != "sluice.decisions.node_eu-1" {
			t.Errorf("published on %s, want sluice.decisions.node_eu-1 (dots of the node id made underscores)", msg.Subject)
		}
		var rec DecisionRecord
		if err := json.Unmarshal(msg.Data, &rec); err != nil {
			t.Fatalf("decision %s: %v", msg.Data, err)
		}
		if rec.ID != id || rec.Allow != c.allow || rec.Node != "node.eu-1" || rec.Route != "guarded" || rec.Policy != "gate" {
			t.Errorf("decision %+v: want id %s, allow %v, node node.eu-1, route guarded, policy gate", rec, id, c.allow)
		}
		if rec.RequestID != c.resp.Header.Get("X-Request-Id") || rec.Digest != n.Current().Digest {
			t.Errorf("decision request id %q digest %q, want %q %q", rec.RequestID, rec.Digest, c.resp.Header.Get("X-Request-Id"), n.Current().Digest)
		}
		if !strings.Contains(string(rec.Input), `"method":"`+c.resp.Request.Method+`"`) {
			t.Errorf("decision input %s lacks the method the policy read", rec.Input)
		}
		if !c.allow && (rec.Status != 403 || rec.Reason != "read only" || !strings.Contains(string(rec.Result), `"reason":"read only"`)) {
			t.Errorf("deny: status %d reason %q result %s", rec.Status, rec.Reason, rec.Result)
		}
		testkit.WaitFor(t, 5*time.Second, "the access log line with decision_id "+id, func() bool {
			return strings.Contains(n.logs.String(), `"decision_id":"`+id+`"`)
		})
	}
	if v := metricValue(t, n, "sluice_decision_logs_published_total"); v != 2 {
		t.Errorf("published %v decisions, want 2", v)
	}
}

// TestDecisionLogsNeverHoldRequests: with the NATS connection closed every
// decision is dropped and counted, and requests are answered as before.
func TestDecisionLogsNeverHoldRequests(t *testing.T) {
	url := natstest.Start(t)
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	up := startUpstream(t, "svc", nil)
	n := startNode(t, render(t, decisionConfig, map[string]string{"Up": up.url, "Policy": decisionPolicy(t)}),
		func(o *Options, _ *Listeners) { o.NATS = nc })
	nc.Close()
	const requests = 50
	for i := 0; i < requests; i++ {
		if resp := doMethod(t, "DELETE", n.url+"/guarded/x"); resp.StatusCode != 403 || resp.Header.Get(DecisionHeader) == "" {
			t.Fatalf("request %d with NATS closed: %d, id %q", i, resp.StatusCode, resp.Header.Get(DecisionHeader))
		}
	}
	testkit.WaitFor(t, 5*time.Second, "every decision counted as dropped", func() bool {
		return metricValue(t, n, "sluice_decision_logs_dropped_total") == requests
	})
}

// TestDecisionQueueIsBounded: a decision offered to a full queue is
// dropped and counted at once instead of waiting for the publisher.
func TestDecisionQueueIsBounded(t *testing.T) {
	url := natstest.Start(t)
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	reg := prometheus.NewRegistry()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	// A log whose publishing goroutine is not running: nothing drains it.
	l := &decisionLog{nc: nc, subject: fleet.DecisionSubject("n"), log: log, queue: make(chan *pendingDecision, 2),
		published: prometheus.NewCounter(prometheus.CounterOpts{Name: "p"}), dropped: prometheus.NewCounter(prometheus.CounterOpts{Name: "d"})}
	reg.MustRegister(l.published, l.dropped)
	start := time.Now()
	for i := 0; i < 5; i++ {
		l.offer(&pendingDecision{rec: &DecisionRecord{ID: strconv.Itoa(i)}})
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("offering to a full queue took %s", took)
	}
	if len(l.queue) != 2 {
		t.Errorf("queue holds %d, want 2", len(l.queue))
	}
	mf, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range mf {
		if f.GetName() == "d" && f.GetMetric()[0].GetCounter().GetValue() != 3 {
			t.Errorf("dropped %v, want 3", f.GetMetric()[0].GetCounter().GetValue())
		}
	}
}

package edge

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicegw/sluice/runtime/fleet"
	"github.com/sluicegw/sluice/runtime/policy"
)

// DecisionHeader carries the id of the access decision made for a request,
// on every response of a route with a policy; the access log and the
// published decision carry the same id.
const DecisionHeader = "X-Sluice-Decision-Id"

// decisionQueueSize bounds the decisions waiting to be published: past it
// a decision is dropped and counted, never waited for (about 4 MiB of
// 1 KiB decisions).
const decisionQueueSize = 4096

// DecisionRecord is one logged policy decision, as published.
type DecisionRecord struct {
	ID       string    `json:"id"` // as in DecisionHeader
	Time     time.Time `json:"time"`
	Node     string    `json:"node"`
	Route    string    `json:"route"`
	Policy   string    `json:"policy"`
	Revision int64     `json:"revision"` // the fleet revision; 0 for a local config
	// Digest is the fleet revision's digest, or the local config's.
	Digest    string `json:"digest"`
	RequestID string `json:"request_id"`
	Method    string `json:"method"`
	Path      string `json:"path"`
	Allow     bool   `json:"allow"`
	// Status and Reason answer a denied request; Error says why the policy
	// failed (the request was then denied with 503).
	Status int    `json:"status,omitempty"`
	Reason string `json:"reason,omitempty"`
	Error  string `json:"error,omitempty"`
	// Input is the document the policy read (credentials redacted);
	// Result the value its query gave (null when it failed).
	Input  json.RawMessage `json:"input"`
	Result json.RawMessage `json:"result"`
}

// decisionLog publishes logged decisions over NATS from a goroutine of its
// own: a request only offers its decision to a bounded queue; the
// goroutine turns it into JSON and publishes it. A full queue, a NATS connection that is down or closed, or a
// refused publish drops the decision and counts it; the request never
// waits. Decisions are published with a core NATS publish, which the
// stream stores without an acknowledgement to wait for (RATIONALE.md,
// "Decision logs over NATS").
type decisionLog struct {
	nc                 *nats.Conn // nil: nothing is published
	subject            string
	log                *slog.Logger
	queue              chan *pendingDecision
	stop               chan struct{}
	done               chan struct{}
	once               sync.Once
	published, dropped prometheus.Counter
}

func newDecisionLog(nc *nats.Conn, node string, reg *prometheus.Registry, log *slog.Logger) *decisionLog {
	return newDecisionLogSized(nc, node, reg, log, decisionQueueSize)
}

func newDecisionLogSized(nc *nats.Conn, node string, reg *prometheus.Registry, log *slog.Logger, size int) *decisionLog {
	l := &decisionLog{
		nc: nc, subject: fleet.DecisionSubject(node), log: log,
		stop: make(chan struct{}), done: make(chan struct{}),
		published: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sluice_decision_logs_published_total",
			Help: "Logged policy decisions handed to NATS (subject sluice.decisions.NODE).",
		}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sluice_decision_logs_dropped_total",
			Help: "Logged policy decisions dropped: the queue was full, NATS was down or refused them.",
		}),
	}
	reg.MustRegister(l.published, l.dropped)
	if nc == nil {
		close(l.done)
		return l
	}
	l.queue = make(chan *pendingDecision, size)
	go l.run()
	return l
}

// enabled reports whether decisions are published.
func (l *decisionLog) enabled() bool { return l.nc != nil }

// pendingDecision is a decision waiting in the queue: the record without
// its JSON parts, and the OPA values they are made from (immutable copies,
// so the goroutine may read them after the request ended).
type pendingDecision struct {
	rec           *DecisionRecord
	input, result ast.Value
}

// offer queues d for publishing, or drops it when the queue is full.
func (l *decisionLog) offer(d *pendingDecision) {
	if l.nc == nil {
		return
	}
	select {
	case l.queue <- d:
	default:
		l.dropped.Inc()
	}
}

func (l *decisionLog) run() {
	defer close(l.done)
	warned := false
	for {
		select {
		case <-l.stop:
			for { // what the last requests logged goes out before the node stops
				select {
				case d := <-l.queue:
					l.publish(d, &warned)
				default:
					return
				}
			}
		case d := <-l.queue:
			l.publish(d, &warned)
		}
	}
}

// publish hands one decision to NATS. While NATS reconnects, Publish
// buffers (up to the client's reconnect buffer) and then fails: either way
// it returns.
func (l *decisionLog) publish(d *pendingDecision, warned *bool) {
	d.rec.Input, d.rec.Result = policy.InputJSON(d.input), policy.ResultJSON(d.result)
	data, err := json.Marshal(d.rec)
	if err == nil {
		err = l.nc.Publish(l.subject, data)
	}
	if err != nil {
		l.dropped.Inc()
		if !*warned {
			l.log.Warn("decision logs dropped: NATS publish failed", "subject", l.subject, "error", err.Error())
			*warned = true
		}
		return
	}
	*warned = false
	l.published.Inc()
}

// close publishes what is queued and stops the publishing goroutine.
func (l *decisionLog) close() {
	l.once.Do(func() {
		if l.nc != nil {
			close(l.stop)
		}
		<-l.done
	})
}

// decisionRecord is one decision as it waits to be published, made on the
// request path (only for a decision the policy's decision_log keeps): it
// copies what it needs of the request, which the engine reuses, and leaves
// the JSON to the publishing goroutine.
func (n *Node) decisionRecord(snap *Snapshot, r *http.Request, in *policy.Input, route, rid, did string, p *routePolicy, d policy.Decision, err error) *pendingDecision {
	rec := &DecisionRecord{
		ID: did, Time: time.Now().UTC(), Node: n.opts.NodeID, Route: route, Policy: p.name,
		Revision: snap.Fleet.Revision, Digest: snap.Fleet.Digest, RequestID: rid,
		Method: r.Method, Path: r.URL.Path, Allow: err == nil && d.Allow,
	}
	if rec.Digest == "" {
		rec.Digest = snap.Digest
	}
	switch {
	case err != nil:
		rec.Error = err.Error()
		if c := errors.Unwrap(err); c != nil {
			rec.Error = c.Error() // the cause, with the policy's file and line
		}
		rec.Status = http.StatusServiceUnavailable
	case !d.Allow:
		rec.Status, rec.Reason = d.Status, d.Reason
		if rec.Status == 0 {
			rec.Status = http.StatusForbidden
		}
	}
	return &pendingDecision{rec: rec, input: p.policy.LogInput(in), result: d.Raw}
}

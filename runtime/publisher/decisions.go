package publisher

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/sluicegw/sluice/runtime/edge"
	"github.com/sluicegw/sluice/runtime/fleet"
)

// Decision logs: nodes publish the policy decisions their decision_log
// keeps on fleet.DecisionSubjectPrefix + NODE (runtime/edge/decisionlog.go);
// the publisher creates the stream that keeps them and serves them live to
// `sluice decisions tail`.
const (
	// DecisionsStream keeps the decisions of every node.
	DecisionsStream = "SLUICE_DECISIONS"
	// DecisionsMaxAge and DecisionsMaxBytes bound the stream: a day of
	// decisions, at most 1 GiB on each server, the oldest dropped first. A
	// decision is ~0.5-2 KiB, so at the bound that is about a million:
	// enough to look back on an incident, not an audit archive (ship the
	// stream elsewhere for that).
	DecisionsMaxAge   = 24 * time.Hour
	DecisionsMaxBytes = 1 << 30
)

// openDecisions creates or updates the decisions stream (file storage,
// oldest dropped past its bounds).
func openDecisions(ctx context.Context, js jetstream.JetStream, replicas int) error {
	n, err := fleet.ReplicasOf(ctx, js, DecisionsStream, replicas)
	if err != nil {
		return fmt.Errorf("stream %s: %w", DecisionsStream, err)
	}
	_, err = js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name: DecisionsStream, Description: "sluice policy decision logs, from every node",
		Subjects: []string{fleet.DecisionSubjectPrefix + ">"}, Storage: jetstream.FileStorage, Replicas: n,
		MaxAge: DecisionsMaxAge, MaxBytes: DecisionsMaxBytes, Discard: jetstream.DiscardOld,
	})
	if err != nil {
		return fmt.Errorf("stream %s: %w", DecisionsStream, err)
	}
	return nil
}

// DecisionFilter picks the decisions a tail shows.
type DecisionFilter struct {
	Route string // "" for every route
	Deny  bool   // only denials (policy errors included)
}

func (f DecisionFilter) keeps(d *edge.DecisionRecord) bool {
	return (f.Route == "" || d.Route == f.Route) && (!f.Deny || !d.Allow)
}

// TailDecisions calls emit with each decision published from now on that f
// keeps, until ctx ends (then it returns nil) or emit fails. It reads the
// stream with an ephemeral ordered consumer of its own, which goes when the
// tail does. ready is called once the consumer exists: decisions from then
// on are seen.
func (p *Publisher) TailDecisions(ctx context.Context, f DecisionFilter, ready func(), emit func(*edge.DecisionRecord) error) error {
	stream, err := p.js.Stream(ctx, DecisionsStream)
	if err != nil {
		return fmt.Errorf("stream %s: %w", DecisionsStream, err)
	}
	cons, err := stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverNewPolicy})
	if err != nil {
		return fmt.Errorf("stream %s: %w", DecisionsStream, err)
	}
	msgs, err := cons.Messages()
	if err != nil {
		return fmt.Errorf("stream %s: %w", DecisionsStream, err)
	}
	defer msgs.Stop()
	stop := context.AfterFunc(ctx, msgs.Stop)
	defer stop()
	ready()
	for {
		msg, err := msgs.Next()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				return nil
			}
			return fmt.Errorf("stream %s: %w", DecisionsStream, err)
		}
		var d edge.DecisionRecord
		if json.Unmarshal(msg.Data(), &d) != nil || !f.keeps(&d) {
			continue // not a decision (anyone on the subject may publish): skipped
		}
		if err := emit(&d); err != nil {
			return err
		}
	}
}

// serveDecisionTail streams decisions as NDJSON, one per line, each
// flushed as it comes: GET /v1/decisions/tail?route=R&deny=true.
func (p *Publisher) serveDecisionTail(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := DecisionFilter{Route: q.Get("route")}
	if s := q.Get("deny"); s != "" {
		deny, err := strconv.ParseBool(s)
		if err != nil {
			fail(w, http.StatusBadRequest, fmt.Errorf("deny=%q: want true or false", s))
			return
		}
		f.Deny = deny
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	go p.endWhenRevoked(ctx, cancel, r)
	flush := http.NewResponseController(w).Flush
	started := false
	enc := json.NewEncoder(w)
	err := p.TailDecisions(ctx, f, func() {
		started = true
		w.Header().Set("Content-Type", "application/x-ndjson")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusOK)
		_ = flush() // the client knows the tail is live before any decision
	}, func(d *edge.DecisionRecord) error {
		if err := enc.Encode(d); err != nil {
			return err
		}
		return flush()
	})
	if err != nil && !started {
		fail(w, http.StatusServiceUnavailable, err)
		return
	}
	if err != nil && r.Context().Err() == nil {
		p.log.Warn("decision tail ended", "error", err.Error())
	}
}

// tokenRecheck is how often a running tail checks that its token is still
// valid: a token revoked meanwhile ends the tail within it.
var tokenRecheck = 2 * time.Second

// endWhenRevoked calls end once the token r was authenticated with is no
// longer known (revoked), or ctx ends.
func (p *Publisher) endWhenRevoked(ctx context.Context, end context.CancelFunc, r *http.Request) {
	_, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	token = strings.TrimSpace(token)
	t := time.NewTicker(tokenRecheck)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if p.tokens.lookup(token) == nil {
				end()
				return
			}
		}
	}
}

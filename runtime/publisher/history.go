package publisher

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/sluicegw/sluice/runtime/fleet"
)

// History and audit: every apply, promotion, abort and rollback, and every
// token issued or revoked, is one message in a JetStream stream, so it
// outlives the publisher and is shared by publishers on one cluster.
const (
	// HistoryKeep is how many entries the stream keeps; older ones go.
	HistoryKeep = 100_000
	// MaxHistoryPage bounds one page of GET /v1/history.
	MaxHistoryPage = 500
)

// Actions recorded in the history.
const (
	ActionApply       = "apply"
	ActionPromote     = "promote"
	ActionAbort       = "abort"
	ActionRollback    = "rollback"
	ActionTokenCreate = "token-create"
	ActionTokenRevoke = "token-revoke"
	ActionNodeCreds   = "node-creds"
	ActionNodeRevoke  = "node-revoke"
)

// Outcomes recorded in the history.
const (
	OutcomePublished = "published"
	OutcomePromoted  = "promoted"
	OutcomeAborted   = "aborted"
	OutcomeRefused   = "refused" // invalid config, unknown revision, no canary: nothing changed
	OutcomeFailed    = "failed"  // an error part way: see Detail
	OutcomeDone      = "done"
)

// PublisherWho is who the history names for what the publisher decides by
// itself (a canary aborted because a node failed it).
const PublisherWho = "publisher"

// HistoryEntry is one thing done to the fleet.
type HistoryEntry struct {
	// Seq is the entry's place in the stream: pages are asked for with
	// before=Seq.
	Seq    uint64    `json:"seq"`
	Time   time.Time `json:"time"`
	Action string    `json:"action"`
	// Who is the name of the token that did it, or "publisher".
	Who string `json:"who"`
	// User is who the CLI said runs it (its $USER): a hint, not verified.
	User     string `json:"user,omitempty"`
	Revision int64  `json:"revision,omitempty"`
	Digest   string `json:"digest,omitempty"`
	Selector string `json:"selector,omitempty"`
	Note     string `json:"note,omitempty"`
	Outcome  string `json:"outcome"`
	// Detail is the reason for a refusal, failure or abort, or what a
	// token action was about.
	Detail string `json:"detail,omitempty"`
	// Numbers are what a decision was taken on (a gated canary's error
	// rates and latencies).
	Numbers map[string]float64 `json:"numbers,omitempty"`
	// Changes counts what an apply changed against the stable revision.
	Changes *int `json:"changes,omitempty"`
}

// openHistory creates the history stream if missing (file storage, the
// oldest entries dropped past HistoryKeep) and binds to it.
func openHistory(ctx context.Context, js jetstream.JetStream, replicas int) (jetstream.Stream, error) {
	n, err := fleet.ReplicasOf(ctx, js, fleet.HistoryStream, replicas)
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", fleet.HistoryStream, err)
	}
	s, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name: fleet.HistoryStream, Description: "sluice history and audit: applies, promotions, aborts, rollbacks, tokens",
		Subjects: []string{fleet.HistorySubject + ">"}, Storage: jetstream.FileStorage, Replicas: n,
		MaxMsgs: HistoryKeep, Discard: jetstream.DiscardOld,
		// Pages are read by sequence: direct gets skip the JetStream API
		// leader (measured: BENCHMARKS.md).
		AllowDirect: true,
	})
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", fleet.HistoryStream, err)
	}
	return s, nil
}

// audit appends e to the history. The action it records has happened
// whatever becomes of the entry, so a failure to store it is logged, not
// returned.
func (p *Publisher) audit(ctx context.Context, e HistoryEntry) {
	if e.Time.IsZero() {
		e.Time = time.Now().UTC()
	}
	e.Seq = 0
	// Detached from the request: a client that hangs up after the action
	// does not lose its record.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if _, err := p.js.Publish(ctx, fleet.HistorySubject+e.Action, fleet.MustJSON(&e)); err != nil {
		p.log.Error("history entry not stored", "action", e.Action, "revision", e.Revision, "who", e.Who, "error", err)
	}
}

// History returns up to limit entries, newest first, older than the entry
// numbered before (0: from the newest), and the before to ask for the next
// page (0 when there is none). It reads only the entries it returns.
func (p *Publisher) History(ctx context.Context, before uint64, limit int) ([]HistoryEntry, uint64, error) {
	if limit <= 0 || limit > MaxHistoryPage {
		return nil, 0, fmt.Errorf("history: limit %d: want 1 to %d: %w", limit, MaxHistoryPage, fleet.ErrBadRequest)
	}
	info, err := p.history.Info(ctx)
	if err != nil {
		return nil, 0, fmt.Errorf("history: %w", err)
	}
	first, last := info.State.FirstSeq, info.State.LastSeq
	if info.State.Msgs == 0 {
		return []HistoryEntry{}, 0, nil
	}
	seq := last
	if before > 0 {
		if before <= first {
			return []HistoryEntry{}, 0, nil
		}
		seq = min(last, before-1)
	}
	out := make([]HistoryEntry, 0, limit)
	for ; seq >= first && seq > 0 && len(out) < limit; seq-- {
		m, err := p.history.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue // dropped past HistoryKeep meanwhile
		}
		if err != nil {
			return nil, 0, fmt.Errorf("history: entry %d: %w", seq, err)
		}
		var e HistoryEntry
		if err := json.Unmarshal(m.Data, &e); err != nil {
			p.log.Warn("unreadable history entry", "seq", seq, "error", err)
			continue
		}
		e.Seq = m.Sequence
		out = append(out, e)
	}
	var next uint64
	if len(out) > 0 && out[len(out)-1].Seq > first {
		next = out[len(out)-1].Seq
	}
	return out, next, nil
}

package publisher

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/sluicegw/sluice/runtime/artifacts"
	"github.com/sluicegw/sluice/runtime/fleet"
	"github.com/sluicegw/sluice/runtime/fleetpage"
)

// The publisher's HTTP API, used by the CLI and the fleet page. Every /v1
// route needs "Authorization: Bearer TOKEN" (a 401 naming what is wrong
// otherwise) and a token whose role allows it (a 403 naming the role it
// needs otherwise). Roles: read < deploy < admin.
//
//	POST   /v1/artifacts/missing  {"digests": [...]}        → {"missing": [...]}          deploy
//	PUT    /v1/artifacts/{digest} body: the bytes           → 204                         deploy
//	POST   /v1/apply              {"document", "canary", "bake", ...} → revision summary with its diff; 422 when invalid  deploy
//	POST   /v1/diff               {"document"}              → Diff against the stable revision; 422 when invalid  read
//	POST   /v1/rollout/promote                              → revision summary; 409 without a canary  deploy
//	POST   /v1/rollout/abort                                → {"aborted": REV}; 409 without a canary  deploy
//	POST   /v1/rollback           {"revision": N|0}         → revision summary; 404 unknown revision  deploy
//	GET    /v1/status                                       → FleetStatus                 read
//	GET    /v1/fleet                                        → status, recent revisions, history (fleet page)  read
//	GET    /v1/history?limit=N&before=SEQ                   → HistoryPage, newest first   read
//	GET    /v1/whoami                                       → TokenInfo of the caller     read
//	GET    /v1/decisions/tail?route=R&deny=true             → live decisions, NDJSON      read
//	GET    /v1/dashboard                                    → Dashboard: 15-minute charts, running revisions (fleet page)  read
//	POST   /v1/tokens             {"name", "role"}          → NewToken (201); 409 if the name is taken  admin
//	GET    /v1/tokens                                       → {"tokens": [TokenInfo]}     admin
//	DELETE /v1/tokens/{name}                                → 204; 404 unknown name       admin
//	POST   /v1/nodes/{id}/creds   {"public_key", "announce", "expires"} → NodeCreds (201): the node's user JWT  admin
//	POST   /v1/nodes/{id}/revoke  {"public_key"}            → NodeRevocation; 404 unknown node or key  admin
//	GET    /ui                                              → the fleet page (asks for the token)

// AuthorHeader carries who runs the CLI (the user name, as the CLI's
// machine knows it). It is a hint, not a proof: what a revision records as
// its author is the name of the token that made it.
const AuthorHeader = "X-Sluice-Author"

// NewToken is the answer of POST /v1/tokens: the token, shown only once.
type NewToken struct {
	TokenInfo
	Token string `json:"token"`
}

// ApplyRequest is the body of POST /v1/apply.
type ApplyRequest struct {
	Document *fleet.Document `json:"document"`
	Canary   string          `json:"canary,omitempty"`
	// Bake makes the canary metric-gated (a Go duration, "5m"); the
	// bounds default to DefaultMaxErrorRate and DefaultMaxP99Increase.
	Bake           string   `json:"bake,omitempty"`
	MaxErrorRate   *float64 `json:"max_error_rate,omitempty"`
	MaxP99Increase *float64 `json:"max_p99_increase,omitempty"`
	// Note says why, in a line (`sluice apply --note`); it is signed into
	// the revision and shown by the history.
	Note string `json:"note,omitempty"`
}

// MaxNote bounds an apply's note: a line of the history, not a document.
const MaxNote = 200

// note is the request's note, checked: one line of printable text.
func (r *ApplyRequest) note() (string, error) {
	if len(r.Note) > MaxNote {
		return "", fmt.Errorf("--note is %d bytes, at most %d: %w", len(r.Note), MaxNote, fleet.ErrBadRequest)
	}
	for _, c := range r.Note {
		if !unicode.IsPrint(c) {
			return "", fmt.Errorf("--note holds %q: one line of printable text: %w", c, fleet.ErrBadRequest)
		}
	}
	return r.Note, nil
}

// gate is the request's gate, nil without a bake.
func (r *ApplyRequest) gate() (*Gate, error) {
	if r.Bake == "" {
		if r.MaxErrorRate != nil || r.MaxP99Increase != nil {
			return nil, fmt.Errorf("--max-error-rate and --max-p99-increase need --bake: %w", fleet.ErrBadRequest)
		}
		return nil, nil
	}
	d, err := time.ParseDuration(r.Bake)
	if err != nil {
		return nil, fmt.Errorf("--bake %q: not a duration (5m, 90s): %w", r.Bake, fleet.ErrBadRequest)
	}
	g := &Gate{Bake: d, MaxErrorRate: DefaultMaxErrorRate, MaxP99Increase: DefaultMaxP99Increase}
	if r.MaxErrorRate != nil {
		g.MaxErrorRate = *r.MaxErrorRate
	}
	if r.MaxP99Increase != nil {
		g.MaxP99Increase = *r.MaxP99Increase
	}
	return g, nil
}

// RevisionSummary is a revision without its envelope.
type RevisionSummary struct {
	Revision int64     `json:"revision"`
	Digest   string    `json:"digest"`
	Selector string    `json:"selector,omitempty"`
	Stable   bool      `json:"stable"`
	Aborted  bool      `json:"aborted,omitempty"`
	Author   string    `json:"author,omitempty"`
	Created  time.Time `json:"created"`
	Note     string    `json:"note,omitempty"`
	Gate     *Gate     `json:"gate,omitempty"`
	// Diff is what an apply changed against the stable revision (only in
	// the answer to POST /v1/apply).
	Diff *Diff `json:"diff,omitempty"`
}

func summary(r *Revision) RevisionSummary {
	return RevisionSummary{r.Revision, r.Digest, r.Selector, r.Stable, r.Aborted, r.Author, r.Created, r.Note, r.Gate, r.Diff}
}

// ErrorAnswer is every error answer: {"error": "..."}.
type ErrorAnswer struct {
	Error string `json:"error"`
}

// Handler serves the publisher's API and fleet page.
func (p *Publisher) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/artifacts/missing", need(RoleDeploy, func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Digests []string `json:"digests"`
		}
		if !decode(w, r, &req) {
			return
		}
		missing, err := p.MissingArtifacts(r.Context(), req.Digests)
		if err != nil {
			fail(w, http.StatusBadRequest, err)
			return
		}
		reply(w, http.StatusOK, map[string][]string{"missing": missing})
	}))
	mux.HandleFunc("PUT /v1/artifacts/{digest}", need(RoleDeploy, func(w http.ResponseWriter, r *http.Request) {
		digest := r.PathValue("digest")
		if !artifacts.ValidDigest(digest) {
			fail(w, http.StatusBadRequest, fmt.Errorf("artifact %q: not a sha256 digest", digest))
			return
		}
		data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, artifacts.MaxArtifact))
		if err != nil {
			fail(w, http.StatusRequestEntityTooLarge, err)
			return
		}
		if err := p.PutArtifact(r.Context(), digest, data); err != nil {
			fail(w, statusOf(err), err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	mux.HandleFunc("POST /v1/apply", need(RoleDeploy, func(w http.ResponseWriter, r *http.Request) {
		req, ok := decodeDocument(w, r, "apply")
		if !ok {
			return
		}
		req.Document.Author = caller(r).Name
		req.Document.Created = time.Now().UTC()
		var err error
		req.Document.Note, err = req.note()
		var gate *Gate
		if err == nil {
			gate, err = req.gate()
		}
		var rec *Revision
		if err == nil {
			rec, err = p.ApplyGated(r.Context(), req.Document, req.Canary, gate)
		}
		e := entry(r, ActionApply, rec, err)
		e.Selector = req.Canary
		if gate != nil && err == nil {
			e.Detail = fmt.Sprintf("gated: bake %s, max 5xx %g%%, max p99 increase %g%%", gate.Bake, gate.MaxErrorRate, gate.MaxP99Increase)
		}
		if rec != nil && rec.Diff != nil {
			n := rec.Diff.Count()
			e.Changes = &n
		}
		p.audit(r.Context(), e)
		if err != nil {
			fail(w, statusOf(err), err)
			return
		}
		reply(w, http.StatusOK, summary(rec))
	}))
	mux.HandleFunc("POST /v1/diff", need(RoleRead, func(w http.ResponseWriter, r *http.Request) {
		req, ok := decodeDocument(w, r, "diff")
		if !ok {
			return
		}
		d, err := p.Diff(r.Context(), req.Document)
		if err != nil {
			fail(w, statusOf(err), err)
			return
		}
		reply(w, http.StatusOK, d)
	}))
	mux.HandleFunc("POST /v1/rollout/promote", need(RoleDeploy, func(w http.ResponseWriter, r *http.Request) {
		rec, err := p.Promote(r.Context())
		p.audit(r.Context(), entry(r, ActionPromote, rec, err))
		if err != nil {
			fail(w, statusOf(err), err)
			return
		}
		reply(w, http.StatusOK, summary(rec))
	}))
	mux.HandleFunc("POST /v1/rollout/abort", need(RoleDeploy, func(w http.ResponseWriter, r *http.Request) {
		rec, err := p.AbortCanary(r.Context())
		p.audit(r.Context(), entry(r, ActionAbort, rec, err))
		if err != nil {
			fail(w, statusOf(err), err)
			return
		}
		reply(w, http.StatusOK, map[string]int64{"aborted": rec.Revision})
	}))
	mux.HandleFunc("POST /v1/rollback", need(RoleDeploy, func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Revision int64 `json:"revision"`
		}
		if !decode(w, r, &req) {
			return
		}
		rec, err := p.Rollback(r.Context(), req.Revision, caller(r).Name)
		e := entry(r, ActionRollback, rec, err)
		if err != nil {
			e.Note = fmt.Sprintf("rollback to %d", req.Revision)
		}
		p.audit(r.Context(), e)
		if err != nil {
			fail(w, statusOf(err), err)
			return
		}
		reply(w, http.StatusOK, summary(rec))
	}))
	mux.HandleFunc("GET /v1/status", need(RoleRead, func(w http.ResponseWriter, r *http.Request) {
		st, err := p.Status(r.Context())
		if err != nil {
			fail(w, http.StatusInternalServerError, err)
			return
		}
		reply(w, http.StatusOK, st)
	}))
	mux.HandleFunc("GET /v1/fleet", need(RoleRead, func(w http.ResponseWriter, r *http.Request) {
		st, err := p.Status(r.Context())
		if err != nil {
			fail(w, http.StatusInternalServerError, err)
			return
		}
		const recent = 20
		newest := st.Stable
		if st.Canary != nil {
			newest = max(newest, *st.Canary)
		}
		revs, err := p.RecentRevisions(r.Context(), newest, recent)
		if err != nil {
			fail(w, http.StatusInternalServerError, err)
			return
		}
		out := []RevisionSummary{}
		for _, rev := range revs {
			out = append(out, summary(rev))
		}
		history, _, err := p.History(r.Context(), 0, recent)
		if err != nil {
			fail(w, http.StatusInternalServerError, err)
			return
		}
		reply(w, http.StatusOK, map[string]any{"status": st, "revisions": out, "history": history})
	}))
	mux.HandleFunc("GET /v1/history", need(RoleRead, func(w http.ResponseWriter, r *http.Request) {
		limit, before := 50, uint64(0)
		q := r.URL.Query()
		if v := q.Get("limit"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil {
				fail(w, http.StatusBadRequest, fmt.Errorf("history: limit %q: not a number", v))
				return
			}
			limit = n
		}
		if v := q.Get("before"); v != "" {
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				fail(w, http.StatusBadRequest, fmt.Errorf("history: before %q: not an entry number", v))
				return
			}
			before = n
		}
		entries, next, err := p.History(r.Context(), before, limit)
		if err != nil {
			fail(w, statusOf(err), err)
			return
		}
		reply(w, http.StatusOK, HistoryPage{Entries: entries, Next: next})
	}))

	p.nodeCredsRoutes(mux)
	mux.HandleFunc("GET /v1/whoami", need(RoleRead, func(w http.ResponseWriter, r *http.Request) {
		reply(w, http.StatusOK, caller(r))
	}))
	mux.HandleFunc("POST /v1/tokens", need(RoleAdmin, func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Name string `json:"name"`
			Role string `json:"role"`
		}
		if !decode(w, r, &req) {
			return
		}
		token, info, err := p.tokens.create(req.Name, req.Role, caller(r).Name)
		e := entry(r, ActionTokenCreate, nil, err)
		e.Detail = fmt.Sprintf("token %q, role %s", req.Name, req.Role)
		if err != nil {
			e.Detail += ": " + err.Error()
		}
		p.audit(r.Context(), e)
		if err != nil {
			fail(w, statusOf(err), err)
			return
		}
		p.log.Info("token created", "name", info.Name, "role", info.Role, "by", info.CreatedBy)
		reply(w, http.StatusCreated, NewToken{TokenInfo: *info, Token: token})
	}))
	mux.HandleFunc("GET /v1/tokens", need(RoleAdmin, func(w http.ResponseWriter, r *http.Request) {
		reply(w, http.StatusOK, map[string][]TokenInfo{"tokens": p.tokens.list()})
	}))
	mux.HandleFunc("DELETE /v1/tokens/{name}", need(RoleAdmin, func(w http.ResponseWriter, r *http.Request) {
		info, err := p.tokens.revoke(r.PathValue("name"))
		e := entry(r, ActionTokenRevoke, nil, err)
		e.Detail = fmt.Sprintf("token %q", r.PathValue("name"))
		if err != nil {
			e.Detail += ": " + err.Error()
		}
		p.audit(r.Context(), e)
		if err != nil {
			fail(w, statusOf(err), err)
			return
		}
		p.log.Info("token revoked", "name", info.Name, "role", info.Role, "by", caller(r).Name)
		w.WriteHeader(http.StatusNoContent)
	}))

	mux.HandleFunc("GET /v1/decisions/tail", need(RoleRead, p.serveDecisionTail))
	mux.HandleFunc("GET /v1/dashboard", need(RoleRead, p.serveDashboard))

	root := http.NewServeMux()
	root.Handle("/v1/", p.authenticate(mux))
	root.HandleFunc("GET /ui", fleetpage.Serve)
	root.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/ui", http.StatusFound) })
	return root
}

// HistoryPage is the answer of GET /v1/history: entries newest first, and
// the before= to ask for the next page (0: none).
type HistoryPage struct {
	Entries []HistoryEntry `json:"entries"`
	Next    uint64         `json:"next"`
}

// entry is the history entry of an action by the caller of r: its outcome
// from err, its revision from rec.
func entry(r *http.Request, action string, rec *Revision, err error) HistoryEntry {
	e := HistoryEntry{Action: action, Who: caller(r).Name, User: r.Header.Get(AuthorHeader)}
	if len(e.User) > 64 {
		e.User = e.User[:64]
	}
	if rec != nil {
		e.Revision, e.Digest, e.Selector, e.Note = rec.Revision, rec.Digest, rec.Selector, rec.Note
	}
	switch {
	case err == nil:
		e.Outcome = map[string]string{ActionApply: OutcomePublished, ActionRollback: OutcomePublished,
			ActionPromote: OutcomePromoted, ActionAbort: OutcomeAborted}[action]
		if e.Outcome == "" {
			e.Outcome = OutcomeDone
		}
	case statusOf(err) < 500:
		e.Outcome, e.Detail = OutcomeRefused, clip(err.Error())
	default:
		e.Outcome, e.Detail = OutcomeFailed, clip(err.Error())
	}
	return e
}

// clip keeps a reason to 2 KiB: an invalid config can list many problems.
func clip(s string) string {
	const most = 2 << 10
	if len(s) > most {
		return s[:most] + "…"
	}
	return s
}

type callerKey struct{}

// caller is the token a request was authenticated with.
func caller(r *http.Request) *TokenInfo {
	return r.Context().Value(callerKey{}).(*TokenInfo)
}

// authenticate fails closed: no Authorization header, another scheme, or a
// token the publisher does not know is a 401 that says which. A known
// token goes on in the request's context for need and for the record of
// who did what.
func (p *Publisher) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := r.Header.Get("Authorization")
		scheme, token, _ := strings.Cut(h, " ")
		var why string
		var info *TokenInfo
		switch {
		case h == "":
			why = "no Authorization header: send Authorization: Bearer TOKEN (the CLI reads $SLUICE_TOKEN, else the token file in --data)"
		case !strings.EqualFold(scheme, "Bearer"):
			why = fmt.Sprintf("the Authorization header uses the %q scheme: want Bearer TOKEN", scheme)
		default:
			if info = p.tokens.lookup(strings.TrimSpace(token)); info == nil {
				why = "the bearer token is not one this publisher issued (mistyped, revoked, or another publisher's)"
			}
		}
		if info == nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="sluice"`)
			fail(w, http.StatusUnauthorized, fmt.Errorf("%w: %s", fleet.ErrUnauthorized, why))
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), callerKey{}, info)))
	})
}

// need refuses, with a 403 naming the role missing, a caller whose token's
// role does not allow the call.
func need(role string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c := caller(r)
		if !roleAllows(c.Role, role) {
			wanted := "role " + role
			if role != RoleAdmin {
				wanted += " or above"
			}
			fail(w, http.StatusForbidden, fmt.Errorf("%w: %s %s needs a token with %s; token %q has role %s",
				fleet.ErrForbidden, r.Method, r.URL.Path, wanted, c.Name, c.Role))
			return
		}
		h(w, r)
	}
}

func statusOf(err error) int {
	switch {
	case errors.Is(err, fleet.ErrInvalidConfig):
		return http.StatusUnprocessableEntity
	case errors.Is(err, fleet.ErrNoCanary), errors.Is(err, fleet.ErrTokenExists):
		return http.StatusConflict
	case errors.Is(err, fleet.ErrNoRevision), errors.Is(err, jetstream.ErrKeyNotFound), errors.Is(err, fleet.ErrNoToken), errors.Is(err, fleet.ErrUnknownNode):
		return http.StatusNotFound
	case errors.Is(err, fleet.ErrDigestMismatch), errors.Is(err, fleet.ErrBadRequest):
		return http.StatusBadRequest
	}
	var se fleet.SelectorError
	if errors.As(err, &se) {
		return http.StatusBadRequest
	}
	return http.StatusInternalServerError
}

func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, fleet.MaxDocument))
	if err := dec.Decode(v); err != nil && !errors.Is(err, io.EOF) {
		fail(w, http.StatusBadRequest, fmt.Errorf("request body: %w", err))
		return false
	}
	return true
}

func reply(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func fail(w http.ResponseWriter, status int, err error) {
	reply(w, status, ErrorAnswer{Error: err.Error()})
}

// decodeDocument reads the body of an apply or diff: a request that carries
// a config. verb names the call in the 400.
func decodeDocument(w http.ResponseWriter, r *http.Request, verb string) (*ApplyRequest, bool) {
	var req ApplyRequest
	if !decode(w, r, &req) {
		return nil, false
	}
	if req.Document == nil || strings.TrimSpace(req.Document.Config) == "" {
		fail(w, http.StatusBadRequest, errors.New(verb+": no config in the request"))
		return nil, false
	}
	return &req, true
}

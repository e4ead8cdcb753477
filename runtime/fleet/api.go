package fleet

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// The publisher's HTTP API, used by the CLI and the fleet page. Every /v1
// route needs "Authorization: Bearer TOKEN"; anything else is a 401.
//
//	POST /v1/artifacts/missing  {"digests": [...]}        → {"missing": [...]}
//	PUT  /v1/artifacts/{digest} body: the bytes           → 204
//	POST /v1/apply              {"document", "canary"}    → revision summary; 422 when invalid
//	POST /v1/rollout/promote                              → revision summary; 409 without a canary
//	POST /v1/rollout/abort                                → {"aborted": REV}; 409 without a canary
//	POST /v1/rollback           {"revision": N|0}         → revision summary; 404 unknown revision
//	GET  /v1/status                                       → FleetStatus
//	GET  /v1/fleet                                        → status, recent revisions, events (fleet page)
//	GET  /ui                                              → the fleet page (asks for the token)

// AuthorHeader carries who runs the CLI, recorded with each revision.
const AuthorHeader = "X-Sluice-Author"

// ApplyRequest is the body of POST /v1/apply.
type ApplyRequest struct {
	Document *Document `json:"document"`
	Canary   string    `json:"canary,omitempty"`
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
}

func summary(r *Revision) RevisionSummary {
	return RevisionSummary{r.Revision, r.Digest, r.Selector, r.Stable, r.Aborted, r.Author, r.Created, r.Note}
}

// apiError is every error answer: {"error": "..."}.
type apiError struct {
	Error string `json:"error"`
}

// Handler serves the publisher's API and fleet page.
func (p *Publisher) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/artifacts/missing", func(w http.ResponseWriter, r *http.Request) {
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
	})
	mux.HandleFunc("PUT /v1/artifacts/{digest}", func(w http.ResponseWriter, r *http.Request) {
		digest := r.PathValue("digest")
		if !ValidDigest(digest) {
			fail(w, http.StatusBadRequest, fmt.Errorf("artifact %q: not a sha256 digest", digest))
			return
		}
		data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxArtifact))
		if err != nil {
			fail(w, http.StatusRequestEntityTooLarge, err)
			return
		}
		if err := p.PutArtifact(r.Context(), digest, data); err != nil {
			fail(w, statusOf(err), err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /v1/apply", func(w http.ResponseWriter, r *http.Request) {
		var req ApplyRequest
		if !decode(w, r, &req) {
			return
		}
		if req.Document == nil || strings.TrimSpace(req.Document.Config) == "" {
			fail(w, http.StatusBadRequest, errors.New("apply: no config in the request"))
			return
		}
		req.Document.Author = r.Header.Get(AuthorHeader)
		req.Document.Created = time.Now().UTC()
		rec, err := p.Apply(r.Context(), req.Document, req.Canary)
		if err != nil {
			fail(w, statusOf(err), err)
			return
		}
		reply(w, http.StatusOK, summary(rec))
	})
	mux.HandleFunc("POST /v1/rollout/promote", func(w http.ResponseWriter, r *http.Request) {
		rec, err := p.Promote(r.Context())
		if err != nil {
			fail(w, statusOf(err), err)
			return
		}
		reply(w, http.StatusOK, summary(rec))
	})
	mux.HandleFunc("POST /v1/rollout/abort", func(w http.ResponseWriter, r *http.Request) {
		rev, err := p.Abort(r.Context(), "aborted by "+author(r))
		if err != nil {
			fail(w, statusOf(err), err)
			return
		}
		reply(w, http.StatusOK, map[string]int64{"aborted": rev})
	})
	mux.HandleFunc("POST /v1/rollback", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Revision int64 `json:"revision"`
		}
		if !decode(w, r, &req) {
			return
		}
		rec, err := p.Rollback(r.Context(), req.Revision, r.Header.Get(AuthorHeader))
		if err != nil {
			fail(w, statusOf(err), err)
			return
		}
		reply(w, http.StatusOK, summary(rec))
	})
	mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, r *http.Request) {
		st, err := p.Status(r.Context())
		if err != nil {
			fail(w, http.StatusInternalServerError, err)
			return
		}
		reply(w, http.StatusOK, st)
	})
	mux.HandleFunc("GET /v1/fleet", func(w http.ResponseWriter, r *http.Request) {
		st, err := p.Status(r.Context())
		if err != nil {
			fail(w, http.StatusInternalServerError, err)
			return
		}
		revs, err := p.Revisions(r.Context())
		if err != nil {
			fail(w, http.StatusInternalServerError, err)
			return
		}
		const recent = 20
		out := []RevisionSummary{}
		for i := len(revs) - 1; i >= 0 && len(out) < recent; i-- {
			out = append(out, summary(revs[i]))
		}
		reply(w, http.StatusOK, map[string]any{"status": st, "revisions": out, "events": p.Events()})
	})

	authed := requireToken(p.id.Token, mux)
	root := http.NewServeMux()
	root.Handle("/v1/", authed)
	root.HandleFunc("GET /ui", servePage)
	root.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/ui", http.StatusFound) })
	return root
}

// requireToken fails closed: no header, another scheme or a wrong token is
// a 401. The compare takes the same time whatever the token's prefix.
func requireToken(token string, next http.Handler) http.Handler {
	want := []byte("Bearer " + token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := []byte(r.Header.Get("Authorization"))
		if token == "" || subtle.ConstantTimeCompare(got, want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="sluice"`)
			fail(w, http.StatusUnauthorized, fmt.Errorf("%w: a valid bearer token is required", ErrUnauthorized))
			return
		}
		next.ServeHTTP(w, r)
	})
}

func author(r *http.Request) string {
	if a := r.Header.Get(AuthorHeader); a != "" {
		return a
	}
	return "an operator"
}

func statusOf(err error) int {
	switch {
	case errors.Is(err, ErrInvalidConfig):
		return http.StatusUnprocessableEntity
	case errors.Is(err, ErrNoCanary):
		return http.StatusConflict
	case errors.Is(err, ErrNoRevision), errors.Is(err, jetstream.ErrKeyNotFound):
		return http.StatusNotFound
	case errors.Is(err, ErrDigestMismatch):
		return http.StatusBadRequest
	}
	var se selectorError
	if errors.As(err, &se) {
		return http.StatusBadRequest
	}
	return http.StatusInternalServerError
}

func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxDocument))
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
	reply(w, status, apiError{Error: err.Error()})
}

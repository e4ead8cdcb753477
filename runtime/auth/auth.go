// Package auth authenticates requests: bearer JWTs verified against a JWKS
// (or an HMAC secret) and static API keys. A Set holds every provider of one
// snapshot; it is built when the snapshot is (JWKS fetched there and
// refreshed in the background, never on the request path except for a
// rate-limited refetch when a token names an unknown key) and closed when the
// snapshot is replaced.
//
// Every failure the client should see is an *httperr.Error: 401 with
// WWW-Authenticate challenges when no provider accepts the request, 503
// "authentication keys unavailable" when a token was presented to a JWT
// provider that has never obtained keys.
package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/sluicegw/sluice/runtime/config"
	"github.com/sluicegw/sluice/runtime/httperr"
	"github.com/sluicegw/sluice/runtime/tracing"
)

// Options are what New needs from its surroundings. The zero value works.
type Options struct {
	// HTTPClient fetches JWKS. Default: a client with a 10 s timeout.
	HTTPClient *http.Client
	// Logger receives JWKS fetch failures and key changes. Default: slog.Default().
	Logger *slog.Logger
	// Now is the clock for exp and nbf; tests control it. Default: time.Now.
	Now func() time.Time
}

// Set is the authentication providers of one snapshot. Safe for concurrent
// use; Close stops its background JWKS refreshes.
type Set struct {
	providers map[string]provider
	sources   []*jwksSource
	cancel    context.CancelFunc
	wg        sync.WaitGroup
}

// provider is one configured way to authenticate.
type provider interface {
	// authenticate returns the identity, or a *failure.
	authenticate(r *http.Request) (*Identity, *failure)
	// challenge is the WWW-Authenticate value after f (nil: no credentials).
	challenge(f *failure) string
}

// failure is why one provider refused a request.
type failure struct {
	presented bool   // credentials of this provider's kind were sent
	reason    string // safe for the client: "invalid token: expired"
	noKeys    bool   // the provider has no keys to check a token with
	cause     error  // for logs
}

var errMissing = &failure{reason: "missing credentials"}

// New builds every provider of a snapshot. A JWKS that cannot be fetched now
// does not fail New: the provider keeps retrying in the background and
// answers 503 until it has keys. Invalid configuration (a bad URL, a short
// secret, a provider with neither jwt nor api_key) does.
func New(ctx context.Context, providers map[string]*config.AuthProvider, opts Options) (*Set, error) {
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	bg, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s := &Set{providers: make(map[string]provider, len(providers)), cancel: cancel}
	names := make([]string, 0, len(providers))
	for name := range providers {
		names = append(names, name)
	}
	slices.Sort(names)
	var fetches []*jwksSource
	for _, name := range names {
		pc := providers[name]
		var (
			p   provider
			err error
		)
		switch {
		case pc == nil || (pc.JWT == nil) == (pc.APIKey == nil):
			err = errors.New("sets exactly one of jwt or api_key")
		case pc.JWT != nil:
			var jp *jwtProvider
			jp, err = newJWTProvider(name, pc.JWT, opts)
			if err == nil && jp.jwks != nil {
				fetches = append(fetches, jp.jwks)
			}
			p = jp
		default:
			p, err = newAPIKeyProvider(name, pc.APIKey)
		}
		if err != nil {
			cancel()
			return nil, fmt.Errorf("auth %q: %w", name, err)
		}
		s.providers[name] = p
	}
	// First fetches run in parallel and are awaited (bounded by ctx and the
	// client's timeout), so a healthy JWKS is in place before traffic.
	var first sync.WaitGroup
	for _, src := range fetches {
		first.Add(1)
		go func() {
			defer first.Done()
			src.refresh(ctx, true)
		}()
	}
	first.Wait()
	for _, src := range fetches {
		src.base = bg
		s.sources = append(s.sources, src)
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			src.run(bg)
		}()
	}
	return s, nil
}

// Close stops the background refreshes and waits for them.
func (s *Set) Close() {
	s.cancel()
	s.wg.Wait()
	for _, src := range s.sources {
		src.wg.Wait()
	}
}

// Authenticate tries the named providers in order; the first that accepts
// the request wins. When none does, the error is an *httperr.Error: 401 with
// one WWW-Authenticate challenge per provider and the most telling reason
// (a presented credential's fault over "missing credentials"), or 503 when a
// presented token could not be checked for lack of keys. A name that is not
// in the set is a 500 (config validation prevents it).
func (s *Set) Authenticate(r *http.Request, names []string) (*Identity, error) {
	var (
		best  *failure
		hdr   = http.Header{}
		cause []error
	)
	traced := tracing.Recording(r.Context())
	for _, name := range names {
		p, ok := s.providers[name]
		if !ok {
			return nil, httperr.Wrap(http.StatusInternalServerError, "internal error", fmt.Errorf("auth: unknown provider %q", name))
		}
		var start time.Time
		if traced {
			start = time.Now()
		}
		id, f := p.authenticate(r)
		if traced {
			traceProvider(r.Context(), name, p, start, f)
		}
		if f == nil {
			return id, nil
		}
		hdr.Add("WWW-Authenticate", p.challenge(f))
		if f.cause != nil {
			cause = append(cause, fmt.Errorf("auth %q: %w", name, f.cause))
		}
		if best == nil || (f.presented && !best.presented) || (f.noKeys && !best.noKeys) {
			best = f
		}
	}
	if best == nil {
		best = errMissing // a route with no providers listed: nothing can accept
	}
	status := http.StatusUnauthorized
	if best.noKeys {
		status = http.StatusServiceUnavailable
		hdr.Set("Retry-After", strconv.Itoa(int(retryNoKeys/time.Second)))
	}
	return nil, &httperr.Error{Status: status, Reason: best.reason, Err: errors.Join(cause...), Header: hdr}
}

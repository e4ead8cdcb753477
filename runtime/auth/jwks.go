package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
)

// JWKS timing. Variables so tests can shorten them.
var (
	// refreshEvery is how often a JWKS that loaded is fetched again.
	refreshEvery = 5 * time.Minute
	// retryNoKeys is the first retry delay after a failed fetch (doubling
	// up to refreshEvery) and the Retry-After of a 503 for want of keys.
	retryNoKeys = 2 * time.Second
	// unknownKidEvery rate-limits the refetches unknown kids trigger.
	unknownKidEvery = 10 * time.Second
	// unknownKidWait bounds how long a request waits for such a refetch.
	unknownKidWait = 3 * time.Second
)

const maxJWKS = 1 << 20 // bytes

// verifyKey is one public key of a JWKS and the algorithms it may verify.
type verifyKey struct {
	kid  string
	raw  any // *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey, []byte (HS256)
	algs []jwa.SignatureAlgorithm
}

func (k *verifyKey) allows(alg jwa.SignatureAlgorithm) bool {
	for _, a := range k.algs {
		if a == alg {
			return true
		}
	}
	return false
}

// keySet is an immutable snapshot of a JWKS.
type keySet struct {
	byKid map[string]*verifyKey
	all   []*verifyKey
}

// holds reports whether key is what the set gives a token with kid.
func (s *keySet) holds(kid string, key *verifyKey) bool {
	if kid == "" {
		return len(s.all) == 1 && s.all[0] == key
	}
	return s.byKid[kid] == key
}

// jwksSource fetches one JWKS URL and holds its latest good key set. A
// failed fetch keeps the previous keys.
type jwksSource struct {
	url    string
	client *http.Client
	log    *slog.Logger
	now    func() time.Time

	keys atomic.Pointer[keySet]

	base context.Context // the Set's: cancelled by Close
	wg   sync.WaitGroup  // kid-triggered refetches in flight

	mu          sync.Mutex
	lastAttempt time.Time     // of a kid-triggered refetch
	inflight    chan struct{} // closed when the current refetch ends
}

func newJWKSSource(url string, opts Options) *jwksSource {
	return &jwksSource{url: url, client: opts.HTTPClient, log: opts.Logger, now: opts.Now, base: context.Background()}
}

// run refreshes the keys until ctx ends: every refreshEvery when the last
// fetch worked, with a doubling backoff from retryNoKeys when it failed.
func (s *jwksSource) run(ctx context.Context) {
	delay := refreshEvery
	if s.keys.Load() == nil {
		delay = retryNoKeys
	}
	t := time.NewTimer(delay)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if s.refresh(ctx, false) {
			delay = refreshEvery
		} else {
			delay = min(max(delay*2, retryNoKeys), refreshEvery)
			if s.keys.Load() != nil {
				delay = min(delay, time.Minute)
			}
		}
		t.Reset(delay)
	}
}

// refresh fetches the JWKS and swaps in its keys; it reports success.
func (s *jwksSource) refresh(ctx context.Context, first bool) bool {
	ks, err := s.fetch(ctx)
	if err != nil {
		level := slog.LevelWarn
		if first || s.keys.Load() == nil {
			level = slog.LevelError
		}
		s.log.Log(ctx, level, "jwks fetch failed; keeping the keys it had", "url", s.url, "err", err, "has_keys", s.keys.Load() != nil)
		return false
	}
	old := s.keys.Swap(ks)
	if old == nil || len(old.all) != len(ks.all) {
		s.log.Info("jwks loaded", "url", s.url, "keys", len(ks.all))
	}
	return true
}

func (s *jwksSource) fetch(ctx context.Context) (*keySet, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		return nil, fmt.Errorf("GET %s: status %d", s.url, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKS+1))
	if err != nil {
		return nil, err
	}
	if len(body) > maxJWKS {
		return nil, fmt.Errorf("GET %s: JWKS larger than %d bytes", s.url, maxJWKS)
	}
	return parseJWKS(body, s.log)
}

// parseJWKS keeps the usable signature keys of a JWKS: RSA, EC P-256/384/521
// and Ed25519 public keys not marked for encryption. Symmetric keys are
// refused: an HMAC key published in a JWKS is a misconfiguration, and
// accepting one would let anyone who reads the JWKS sign tokens.
func parseJWKS(body []byte, log *slog.Logger) (*keySet, error) {
	set, err := jwk.Parse(body)
	if err != nil {
		return nil, fmt.Errorf("parse JWKS: %w", err)
	}
	ks := &keySet{byKid: map[string]*verifyKey{}}
	for i := range set.Len() {
		k, _ := set.Key(i)
		kid, _ := k.KeyID()
		if use, ok := k.KeyUsage(); ok && use != "sig" {
			continue
		}
		vk, err := toVerifyKey(k)
		if err != nil {
			log.Warn("jwks: skipping key", "kid", kid, "err", err)
			continue
		}
		vk.kid = kid
		ks.all = append(ks.all, vk)
		if kid != "" {
			ks.byKid[kid] = vk
		}
	}
	if len(ks.all) == 0 {
		return nil, errors.New("JWKS has no usable signature key")
	}
	return ks, nil
}

func toVerifyKey(k jwk.Key) (*verifyKey, error) {
	var raw any
	if err := jwk.Export(k, &raw); err != nil {
		return nil, err
	}
	vk := &verifyKey{}
	switch key := raw.(type) {
	case *rsa.PublicKey:
		if key.N.BitLen() < 2048 {
			return nil, fmt.Errorf("RSA key of %d bits is too small", key.N.BitLen())
		}
		vk.raw = key
		vk.algs = []jwa.SignatureAlgorithm{jwa.RS256(), jwa.RS384(), jwa.RS512(), jwa.PS256(), jwa.PS384(), jwa.PS512()}
	case *ecdsa.PublicKey:
		vk.raw = key
		switch key.Curve {
		case elliptic.P256():
			vk.algs = []jwa.SignatureAlgorithm{jwa.ES256()}
		case elliptic.P384():
			vk.algs = []jwa.SignatureAlgorithm{jwa.ES384()}
		case elliptic.P521():
			vk.algs = []jwa.SignatureAlgorithm{jwa.ES512()}
		default:
			return nil, errors.New("unsupported EC curve")
		}
	case ed25519.PublicKey:
		vk.raw = key
		vk.algs = []jwa.SignatureAlgorithm{jwa.EdDSA()}
	default:
		return nil, fmt.Errorf("not a public signature key (%T)", raw)
	}
	// A key that names its algorithm verifies only that one.
	if a, ok := k.Algorithm(); ok && a.String() != "" {
		sa, ok := jwa.LookupSignatureAlgorithm(a.String())
		if !ok || !vk.allows(sa) {
			return nil, fmt.Errorf("alg %q does not fit the key", a.String())
		}
		vk.algs = []jwa.SignatureAlgorithm{sa}
	}
	return vk, nil
}

// refetchForKid asks for a refresh because a token named an unknown kid and
// waits for it (at most unknownKidWait or ctx). At most one such refetch
// starts per unknownKidEvery; callers in between share the running one or
// return at once.
func (s *jwksSource) refetchForKid(ctx context.Context) {
	s.mu.Lock()
	ch := s.inflight
	if ch == nil {
		if s.now().Sub(s.lastAttempt) < unknownKidEvery && !s.lastAttempt.IsZero() {
			s.mu.Unlock()
			return
		}
		s.lastAttempt = s.now()
		ch = make(chan struct{})
		s.inflight = ch
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			fctx, cancel := context.WithTimeout(s.base, unknownKidWait)
			defer cancel()
			s.refresh(fctx, false)
			s.mu.Lock()
			s.inflight = nil
			s.mu.Unlock()
			close(ch)
		}()
	}
	s.mu.Unlock()
	t := time.NewTimer(unknownKidWait)
	defer t.Stop()
	select {
	case <-ch:
	case <-t.C:
	case <-ctx.Done():
	}
}

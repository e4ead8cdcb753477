package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
)

// check proves, before any load, that the contestants do the same work:
// every one returns the very same 1 KiB body over HTTP/1.1 and (where it has
// an h2c URL) over h2c, and d runs every stage of its pipeline: the filter's
// response header reaches the client, its request header reaches the
// upstream, no token is a 401 and a token without the role a 403.
func (s *stage) check(ctx context.Context) error {
	h1, h2c := newClients()
	for _, key := range contestantKeys {
		c := s.contestants[key]
		for _, u := range []struct {
			client *http.Client
			url    string
		}{{h1, c.URL}, {h2c, c.H2URL}} {
			if u.url == "" {
				continue
			}
			status, _, body, err := get(ctx, u.client, u.url, c.Headers)
			if err != nil {
				return fmt.Errorf("(%s) %s: %w", key, u.url, err)
			}
			if status != http.StatusOK || !bytes.Equal(body, s.body) {
				return fmt.Errorf("(%s) %s answered %d with a different body (%d bytes)", key, u.url, status, len(body))
			}
		}
	}

	d := s.contestants["d"]
	_, h, _, err := get(ctx, h1, d.URL, d.Headers)
	if err != nil {
		return fmt.Errorf("(d) %s: %w", d.URL, err)
	}
	if got := h.Get("X-Bench-Response"); got != "full-pipeline" {
		return fmt.Errorf("(d) the response lacks X-Bench-Response: full-pipeline, the header the WASM filter sets; headers: %v", h)
	}
	echo := fmt.Sprintf("http://127.0.0.1:%d%s", s.ports.SluiceFull, echoPath)
	status, _, body, err := get(ctx, h1, echo, d.Headers)
	if err != nil || status != http.StatusOK || string(body) != "full-pipeline" {
		return fmt.Errorf("(d) the upstream did not see X-Bench-Request: full-pipeline, the header the WASM filter sets (status %d, it saw %.100q, %v)", status, body, err)
	}
	for _, want := range []struct {
		status  int
		headers []string
		what    string
	}{
		{http.StatusUnauthorized, nil, "without a token (is auth on?)"},
		{http.StatusForbidden, []string{"Authorization: Bearer " + s.tokenNoRole}, "with a token lacking role " + benchRole + " (is the policy on?)"},
	} {
		status, _, _, err := get(ctx, h1, d.URL, want.headers)
		if err != nil || status != want.status {
			return fmt.Errorf("(d) GET %s %s answered %d (%v), want %d", d.URL, want.what, status, err, want.status)
		}
	}
	return nil
}

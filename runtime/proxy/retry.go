package proxy

import (
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/sluicegw/sluice/runtime/config"
)

// retryPolicy says when a failed attempt is tried again on another endpoint.
// attempts counts retries after the first try.
type retryPolicy struct {
	attempts  int
	onConnect bool
	statuses  [100]bool // 500..599 that are retried
}

func newRetryPolicy(r *config.Retries) (retryPolicy, error) {
	var p retryPolicy
	if r == nil {
		return p, nil
	}
	if r.Attempts < 0 {
		return p, fmt.Errorf("attempts %d is negative", r.Attempts)
	}
	p.attempts = r.Attempts
	for i, on := range r.On {
		if on == config.RetryOnConnectFailure {
			p.onConnect = true
			continue
		}
		code, err := strconv.Atoi(on)
		if err != nil || code < 500 || code > 599 {
			return p, fmt.Errorf("on[%d]: unknown condition %q (want %s or a 5xx status)", i, on, config.RetryOnConnectFailure)
		}
		p.statuses[code-500] = true
	}
	return p, nil
}

// onStatus reports whether a response (or a failure answered as that status,
// like a reset connection as 502) is a retry condition.
func (p *retryPolicy) onStatus(code int) bool {
	return code >= 500 && code <= 599 && p.statuses[code-500]
}

// replay says what may be retried for one request. A request that may have
// reached the upstream is retried only if repeating it is harmless
// (idempotent method) and its body can be sent again. A connect failure
// never reached the upstream, so any method may be retried, as long as
// the body can be sent again.
type replay struct {
	empty     bool // no request body
	anyFail   bool // retry after a response or a failure mid-exchange
	onConnect bool // retry after a connect failure
}

func replayOf(r *http.Request) replay {
	empty := bodyEmpty(r)
	replayable := empty || r.GetBody != nil
	return replay{
		empty:     empty,
		anyFail:   replayable && idempotent(r.Method),
		onConnect: replayable,
	}
}

// bodyEmpty reports a request known to carry no body. The server sets
// http.NoBody (or ContentLength 0) for those; -1 means unknown length.
func bodyEmpty(r *http.Request) bool {
	return r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0
}

// idempotent methods are safe to send twice (RFC 9110 §9.2.2).
func idempotent(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace, http.MethodPut, http.MethodDelete:
		return true
	}
	return false
}

// attemptBody returns the body for attempt n: the request's own for the
// first, a fresh copy from GetBody for retries (the transport has closed the
// first one).
func attemptBody(r *http.Request, n int, rp replay) (io.ReadCloser, error) {
	if rp.empty {
		return nil, nil
	}
	if n == 0 {
		return r.Body, nil
	}
	return r.GetBody()
}

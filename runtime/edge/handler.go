package edge

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/sluicegw/sluice/runtime/auth"
	"github.com/sluicegw/sluice/runtime/httperr"
	"github.com/sluicegw/sluice/runtime/proxy"
	"github.com/sluicegw/sluice/runtime/traffic"
)

// ServeHTTP runs one request down the pipeline of DESIGN.md: guard, router,
// auth, policy, rate limit, request filters, cache, upstream | aggregate |
// serverless, response filters, compress. Every stage a route names is
// resolved at snapshot build, so a route never runs without one it asked
// for.
func (n *Node) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rid := requestID(r.Header.Get("X-Request-Id"))
	rec := getRecorder(w)
	defer putRecorder(rec)
	w = rec
	w.Header().Set("X-Request-Id", rid)

	routeName, upstream, path := "", "", r.URL.Path
	defer func() {
		n.observe(r, rec, logFields{routeName, upstream, path, rid}, start)
	}()

	guard, v := checkGuard(r)
	if !v.OK() {
		w.Header().Set("Connection", "close")
		httperr.Write(w, v.Status, v.Reason, rid)
		return
	}
	if r.ProtoMajor == 1 && r.Header.Get("Upgrade") != "" {
		// The guard stops at an upgrade request. If the upgrade is refused
		// (by the upstream or by any stage), close rather than trust the
		// framing of what follows.
		w.Header().Set("Connection", "close")
	}
	snap := n.acquire()
	if snap == nil {
		httperr.Write(w, http.StatusServiceUnavailable, "no configuration loaded", rid)
		return
	}
	defer snap.release()
	if tls, ok := guardTLS(r); ok {
		r.TLS = tls
	}

	cleanRequestPath(r)
	rt, params := snap.routes.Match(r.Host, r.Method, r.URL.Path, r.Header.Get)
	if rt == nil {
		httperr.Write(w, http.StatusNotFound, "no route", rid)
		return
	}
	routeName = rt.Config.Name
	x := &snap.extras[rt.Index]
	if x.aggregate {
		r = r.WithContext(traffic.WithParams(r.Context(), params))
	}
	if x.deprecation != "" {
		w.Header().Set("Deprecation", x.deprecation)
	}
	if x.sunset != "" {
		w.Header().Set("Sunset", x.sunset)
	}

	var id *auth.Identity
	if len(x.auth) > 0 || x.policy != nil {
		var err error
		if id, err = n.checkAccess(r.Context(), snap, r, routeName, rid, x); err != nil {
			rec.err = err
			httperr.WriteError(w, err, rid)
			return
		}
	}
	if x.limit != nil {
		if err := checkRateLimit(w, r, x.limit, id, n.now()); err != nil {
			rec.err = err
			httperr.WriteError(w, err, rid)
			return
		}
	}
	if x.compress != nil && r.Header.Get("Upgrade") == "" {
		// Outermost: everything after this point, response filters
		// included, writes through the encoder.
		cw := x.compress.Wrap(w, r)
		defer cw.Close()
		w = cw
	}

	r.URL.Path = rt.Rewrite(r.URL.Path)
	if r.URL.RawPath != "" {
		r.URL.RawPath = rt.Rewrite(r.URL.RawPath)
	}
	r.Header.Set("X-Request-Id", rid)

	var run *filterRun
	if len(x.filters) > 0 {
		var err error
		run, err = runRequestFilters(r.Context(), x.filters, w, r, n.log)
		defer run.release()
		if err == nil && run.answered {
			if err = run.runResponseFilters(false); err == nil {
				writeFilterResponse(w, run.x.Resp)
				return
			}
		}
		if err == nil && x.origin == nil {
			err = httperr.New(http.StatusInternalServerError, "no filter answered the request") // serverless route
		}
		if err != nil {
			rec.err = err
			httperr.WriteError(w, err, rid)
			return
		}
	}

	if x.pool != nil {
		upstream = x.pool.Name()
	}
	body := watchBody(r)
	err := n.forward(w, r, x, run, rid)
	if body != nil {
		if v := guard.recheck(); !v.OK() {
			err = httperr.New(v.Status, v.Reason)
		} else if berr := body.failure(); berr != nil && err != nil {
			err = httperr.Wrap(http.StatusBadRequest, "malformed request body", berr)
		}
	}
	if err == nil {
		return
	}
	rec.err = err
	if httperr.StatusOf(err) == proxy.StatusClientClosedRequest {
		rec.status = proxy.StatusClientClosedRequest // nobody is left to answer
		return
	}
	if rec.wroteHeader {
		if httperr.StatusOf(err) == http.StatusBadRequest {
			// The body turned out malformed after the response began:
			// the connection's framing is lost, so drop it.
			panic(http.ErrAbortHandler)
		}
		return
	}
	if httperr.StatusOf(err) == http.StatusBadRequest {
		w.Header().Set("Connection", "close")
	}
	httperr.WriteError(w, err, rid)
}

// forward sends the request upstream. With filters pinned for the response
// phase, the response passes through them: buffered when one of them reads
// or rewrites the body, streamed with a header hook otherwise.
func (n *Node) forward(w http.ResponseWriter, r *http.Request, x *routeExtras, run *filterRun, rid string) error {
	if run == nil || len(run.pinned) == 0 {
		return n.fetch(w, r, x)
	}
	// An upgrade's response has no body to buffer (and a buffer cannot
	// be hijacked): its filters run at the 101, in the header hook.
	if run.buffersResponse() && r.Header.Get("Upgrade") == "" {
		b := newBufferWriter()
		err := n.fetch(b, r, x)
		if b.overflow {
			err = httperr.Wrap(http.StatusBadGateway, "upstream response too large for the route's filters", errResponseTooLarge)
		}
		if err != nil {
			_ = run.runResponseFilters(true) // the client gets err whatever the filters do
			return err
		}
		fillFromBuffer(run, b)
		if err := run.runResponseFilters(false); err != nil {
			return err
		}
		writeFilterResponse(w, run.x.Resp)
		return nil
	}
	hw := &headerHookWriter{ResponseWriter: w, run: run, rid: rid}
	err := n.fetch(hw, r, x)
	if hw.err != nil {
		return nil // a response filter failed; its error is already the answer
	}
	if err != nil && !hw.done {
		_ = run.runResponseFilters(true)
	}
	return err
}

// fetch gets the response from the route's cache or its origin.
func (n *Node) fetch(w http.ResponseWriter, r *http.Request, x *routeExtras) error {
	if x.cache != nil {
		return x.cache.Serve(w, r, len(x.auth) > 0, n.now(), x.origin)
	}
	return x.origin(w, r)
}

// cleanRequestPath removes dot segments and repeated slashes before routing,
// so "/users/../admin" cannot match /users and reach /admin upstream. The
// trailing slash is kept: it is meaningful to many services.
func cleanRequestPath(r *http.Request) {
	p := r.URL.Path
	if p == "" {
		r.URL.Path = "/"
		return
	}
	if !strings.Contains(p, "/.") && !strings.Contains(p, "//") && p[0] == '/' {
		return
	}
	r.URL.Path = cleanPath(p)
	r.URL.RawPath = ""
}

func cleanPath(p string) string {
	trailing := strings.HasSuffix(p, "/") || strings.HasSuffix(p, "/.") || strings.HasSuffix(p, "/..")
	segs := strings.Split(p, "/")
	out := make([]string, 0, len(segs))
	for _, s := range segs {
		switch s {
		case "", ".":
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
		default:
			out = append(out, s)
		}
	}
	c := "/" + strings.Join(out, "/")
	if trailing && c != "/" {
		c += "/"
	}
	return c
}

// observe records metrics and the access log line for a finished request.
func (n *Node) observe(r *http.Request, rec *recorder, f logFields, start time.Time) {
	elapsed := time.Since(start)
	n.metrics.observe(f.route, rec.status, elapsed)
	if n.opts.AccessLog != nil {
		n.accessLog(r, rec, f, elapsed)
	}
}

type ctxKey int

const connStateKey ctxKey = 0

func connFromContext(ctx context.Context) *connInfo {
	ci, _ := ctx.Value(connStateKey).(*connInfo)
	return ci
}

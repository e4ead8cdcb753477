package edge

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/sluicegw/sluice/runtime/httperr"
	"github.com/sluicegw/sluice/runtime/proxy"
)

// ServeHTTP runs one request down the pipeline of DESIGN.md. Stages that are
// not built yet (auth, policy, filters, traffic) are refused at snapshot
// build, so a route never runs without a stage it asked for.
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
	rt, _ := snap.routes.Match(r.Host, r.Method, r.URL.Path, r.Header.Get)
	if rt == nil {
		httperr.Write(w, http.StatusNotFound, "no route", rid)
		return
	}
	routeName = rt.Config.Name
	x := &snap.extras[rt.Index]
	if x.deprecation != "" {
		w.Header().Set("Deprecation", x.deprecation)
	}
	if x.sunset != "" {
		w.Header().Set("Sunset", x.sunset)
	}

	r.URL.Path = rt.Rewrite(r.URL.Path)
	if r.URL.RawPath != "" {
		r.URL.RawPath = rt.Rewrite(r.URL.RawPath)
	}
	r.Header.Set("X-Request-Id", rid)

	upstream = x.pool.Name()
	body := watchBody(r)
	err := x.pool.Forward(w, r, forwardOptions(x))
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

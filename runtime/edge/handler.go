package edge

import (
	"context"
	"net/http"
	"strings"

	"github.com/sluicegw/sluice/runtime/proxy"
)

// ServeHTTP runs one request down the pipeline (RATIONALE.md, "The
// pipeline: one stage shape on an Exchange"): the guard and
// the router (stage_route.go), then the stages its route was compiled with
// (compiledroute.go): deprecation headers, access (auth and policy), rate
// limit, compression, rewrite, request filters, and the origin (cache,
// upstream, aggregation or a serverless filter, with the response filters).
// Both engines call it: net/http directly, fasthttp through its request
// view (fastserver.go).
func (n *Node) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	x := getExchange(n, w, r)
	defer x.end()
	if _, ok := r.Header["Grpc-Timeout"]; ok {
		// The call's deadline counts from now: the upstream is told what
		// the stages before it left (proxy/grpcdeadline.go).
		x.R = r.WithContext(proxy.WithReceivedAt(r.Context(), x.start))
	}
	err := stageGuard(x)
	if err == nil {
		err = stageRoute(x)
	}
	if err == nil {
		err = x.run(x.route.stages)
	}
	x.finish(err)
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

type ctxKey int

const connStateKey ctxKey = 0

func connFromContext(ctx context.Context) *connInfo {
	ci, _ := ctx.Value(connStateKey).(*connInfo)
	return ci
}

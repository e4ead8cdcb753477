package traffic

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"

	"go.opentelemetry.io/otel/trace"

	"github.com/sluicegw/sluice/runtime/httperr"
	"github.com/sluicegw/sluice/runtime/route"
	"github.com/sluicegw/sluice/runtime/tracing"
)

// MaxAggregateBody bounds one backend's answer: the whole body is needed to
// merge it, so it is held in memory.
const MaxAggregateBody = 4 << 20

// AggregateBackend is one call of an aggregating route.
type AggregateBackend struct {
	Key     string // the key its JSON goes under
	Path    string // "/users/{id}" or "/invoices?user={id}"
	Forward Origin // sends a request to the backend's upstream
	// Upstream names the backend's upstream, for its trace span.
	Upstream string
}

// Aggregator fans one request out to its backends in parallel and merges
// their JSON answers under their keys. See RATIONALE.md, "Aggregation".
type Aggregator struct {
	backends []aggBackend // by key, so the merged document is stable
}

type aggBackend struct {
	key      string
	keyJSON  []byte // `"key":`
	path     []tmplPart
	query    []tmplPart
	forward  Origin
	upstream string
}

// tmplPart is a literal or, when param is set, a {param} to substitute.
type tmplPart struct{ lit, param string }

// NewAggregator prepares the backends of a route: their path templates are
// parsed here, once.
func NewAggregator(backends []AggregateBackend) (*Aggregator, error) {
	a := &Aggregator{}
	for _, b := range backends {
		p, q, _ := strings.Cut(b.Path, "?")
		pp, err := parseTemplate(p)
		if err != nil {
			return nil, fmt.Errorf("aggregate %q: %w", b.Key, err)
		}
		qp, err := parseTemplate(q)
		if err != nil {
			return nil, fmt.Errorf("aggregate %q: %w", b.Key, err)
		}
		k, _ := json.Marshal(b.Key)
		a.backends = append(a.backends, aggBackend{key: b.Key, keyJSON: append(k, ':'), path: pp, query: qp, forward: b.Forward, upstream: b.Upstream})
	}
	sort.Slice(a.backends, func(i, j int) bool { return a.backends[i].key < a.backends[j].key })
	return a, nil
}

func parseTemplate(s string) ([]tmplPart, error) {
	var parts []tmplPart
	for s != "" {
		i := strings.IndexByte(s, '{')
		if i < 0 {
			parts = append(parts, tmplPart{lit: s})
			break
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			return nil, fmt.Errorf("unclosed { in %q", s)
		}
		if i > 0 {
			parts = append(parts, tmplPart{lit: s[:i]})
		}
		parts = append(parts, tmplPart{param: s[i+1 : i+j]})
		s = s[i+j+1:]
	}
	return parts, nil
}

func expand(parts []tmplPart, params route.Params, escape func(string) string) string {
	var b strings.Builder
	for _, p := range parts {
		if p.param == "" {
			b.WriteString(p.lit)
		} else {
			b.WriteString(escape(params.Get(p.param)))
		}
	}
	return b.String()
}

type paramsKey struct{}

// WithParams returns ctx carrying a matched route's path parameters, for
// the aggregator.
func WithParams(ctx context.Context, p route.Params) context.Context {
	return context.WithValue(ctx, paramsKey{}, p)
}

// Serve calls every backend in parallel and answers the merged document:
// 200 with null under each key whose backend failed, timed out or did not
// answer a 2xx JSON body, listed in X-Sluice-Partial; 502 when all failed.
func (a *Aggregator) Serve(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		e := httperr.New(http.StatusMethodNotAllowed, "an aggregating route answers GET and HEAD only")
		e.Header = http.Header{"Allow": {"GET, HEAD"}}
		return e
	}
	params, _ := r.Context().Value(paramsKey{}).(route.Params)
	// The backends get the client's headers, less what would make their
	// answers unmergeable: compressed, partial or 304.
	hdr := r.Header.Clone()
	for _, k := range []string{"Accept-Encoding", "Range", "If-None-Match", "If-Modified-Since", "If-Range",
		"Content-Length", "Content-Type", "Upgrade", "Connection"} {
		delete(hdr, k)
	}
	results := make([][]byte, len(a.backends))
	var wg sync.WaitGroup
	for i := range a.backends {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = a.backends[i].call(r, hdr, params)
		}()
	}
	wg.Wait()

	var partial []string
	var body bytes.Buffer
	body.WriteByte('{')
	for i, b := range a.backends {
		if i > 0 {
			body.WriteByte(',')
		}
		body.Write(b.keyJSON)
		if results[i] == nil {
			partial = append(partial, b.key)
			body.WriteString("null")
		} else {
			body.Write(results[i])
		}
	}
	body.WriteString("}\n")
	if len(partial) == len(a.backends) {
		e := httperr.New(http.StatusBadGateway, "every aggregated backend failed")
		e.Header = http.Header{"X-Sluice-Partial": {strings.Join(partial, ",")}}
		return e
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(body.Len()))
	if len(partial) > 0 {
		h.Set("X-Sluice-Partial", strings.Join(partial, ","))
		h.Set("Cache-Control", "no-store") // a partial answer must not be cached as the whole
	}
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body.Bytes())
	}
	return nil
}

// call asks one backend; nil means it failed.
func (b *aggBackend) call(r *http.Request, hdr http.Header, params route.Params) (out []byte) {
	ctx := r.Context()
	bw := &aggWriter{header: http.Header{}}
	var err error
	if tracing.Recording(ctx) {
		var span trace.Span
		ctx, span = b.startSpan(ctx)
		defer func() { endBackendSpan(span, bw.status, out != nil, err) }()
	}
	defer func() {
		// The proxy aborts a response cut short with a panic meant for
		// net/http; here it is one backend's failure, never the node's.
		if recover() != nil {
			out = nil
		}
	}()
	sub := r.WithContext(ctx)
	sub.Method = http.MethodGet
	sub.URL = &url.URL{
		Path:     expand(b.path, params, func(s string) string { return s }),
		RawPath:  expand(b.path, params, url.PathEscape),
		RawQuery: expand(b.query, params, url.QueryEscape),
	}
	sub.Header = hdr
	sub.Body = http.NoBody
	sub.ContentLength = 0
	if err = b.forward(bw, sub); err != nil || bw.overflow {
		return nil
	}
	if bw.status < 200 || bw.status > 299 || bw.header.Get("Content-Encoding") != "" {
		return nil
	}
	// Compacting validates too: a backend that answered something other
	// than JSON failed as surely as one that answered 500.
	var c bytes.Buffer
	if json.Compact(&c, bw.body.Bytes()) != nil || c.Len() == 0 {
		return nil
	}
	return c.Bytes()
}

// aggWriter holds one backend's answer.
type aggWriter struct {
	header   http.Header
	status   int
	body     bytes.Buffer
	overflow bool
}

func (w *aggWriter) Header() http.Header { return w.header }

func (w *aggWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}

func (w *aggWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if w.body.Len()+len(p) > MaxAggregateBody {
		w.overflow = true
		return 0, fmt.Errorf("aggregated answer larger than %d bytes", MaxAggregateBody)
	}
	return w.body.Write(p)
}

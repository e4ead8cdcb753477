package edge

import (
	"bytes"
	"context"
	"fmt"
	"net/http"

	"github.com/sluicegw/sluice/runtime/filter"
	"github.com/sluicegw/sluice/runtime/proxy"
)

// maxCallBody bounds an upstream's answer to a filter's http call, which
// is handed to the guest whole.
const maxCallBody = 16 << 20

// filterUpstreams lets a snapshot's filters call its upstreams
// (proxy-wasm's proxy_http_call): through the same pools, balancing,
// health checks and retries as routed requests.
type filterUpstreams map[string]*proxy.Pool

func (u filterUpstreams) Has(name string) bool { return u[name] != nil }

func (u filterUpstreams) Call(ctx context.Context, name string, req *http.Request) (resp *filter.CallResponse, err error) {
	p := u[name]
	if p == nil {
		return nil, fmt.Errorf("no upstream %q", name)
	}
	defer func() {
		// Forward aborts a response cut short with a panic meant for
		// net/http; here it is the call's failure, never the node's.
		if r := recover(); r != nil {
			resp, err = nil, fmt.Errorf("upstream %q: response cut short", name)
		}
	}()
	if req.RemoteAddr == "" {
		req.RemoteAddr = "127.0.0.1:0" // the call comes from the node itself
	}
	w := &callWriter{header: http.Header{}}
	if err := p.Forward(w, req.WithContext(ctx), proxy.ForwardOptions{}); err != nil {
		return nil, err
	}
	if w.overflow {
		return nil, fmt.Errorf("upstream %q: response body over %d bytes", name, maxCallBody)
	}
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return &filter.CallResponse{Status: w.status, Header: w.header, Body: w.body.Bytes()}, nil
}

// callWriter keeps an http call's answer.
type callWriter struct {
	header   http.Header
	status   int
	body     bytes.Buffer
	overflow bool
}

func (w *callWriter) Header() http.Header { return w.header }

func (w *callWriter) WriteHeader(code int) {
	if w.status == 0 && code >= 200 {
		w.status = code
	}
}

func (w *callWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if w.body.Len()+len(p) > maxCallBody {
		w.overflow = true
		return 0, errResponseTooLarge
	}
	return w.body.Write(p)
}

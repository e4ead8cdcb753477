package edge

import (
	"bytes"
	"compress/gzip"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/sluicegw/sluice/runtime/testkit"
)

// otlpReceiver is an OTLP/HTTP trace endpoint on loopback: it decodes what
// the node's exporter sends (protobuf, gzip or not) and keeps the spans.
type otlpReceiver struct {
	url   string
	mu    sync.Mutex
	spans []*tracepb.Span
}

func startOTLPReceiver(t *testing.T) *otlpReceiver {
	rc := &otlpReceiver{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/traces" || r.Method != http.MethodPost {
			http.Error(w, "not an OTLP trace export", http.StatusNotFound)
			return
		}
		var body io.Reader = r.Body
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			body = zr
		}
		raw, _ := io.ReadAll(body)
		var req coltrace.ExportTraceServiceRequest
		if err := proto.Unmarshal(raw, &req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		rc.mu.Lock()
		for _, rs := range req.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				rc.spans = append(rc.spans, ss.Spans...)
			}
		}
		rc.mu.Unlock()
		out, _ := proto.Marshal(&coltrace.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.Write(out)
	}))
	t.Cleanup(srv.Close)
	rc.url = srv.URL
	return rc
}

// trace returns the spans received for a trace id (hex).
func (rc *otlpReceiver) trace(id string) []*tracepb.Span {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []*tracepb.Span
	for _, s := range rc.spans {
		if hex.EncodeToString(s.TraceId) == id {
			out = append(out, s)
		}
	}
	return out
}

func (rc *otlpReceiver) all() []*tracepb.Span {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]*tracepb.Span(nil), rc.spans...)
}

func spanNamed(spans []*tracepb.Span, name string) *tracepb.Span {
	for _, s := range spans {
		if s.Name == name {
			return s
		}
	}
	return nil
}

func spanAttr(s *tracepb.Span, key string) string {
	for _, kv := range s.Attributes {
		if kv.Key == key {
			if v, ok := kv.Value.Value.(*commonpb.AnyValue_IntValue); ok {
				return fmt.Sprint(v.IntValue)
			}
			return kv.Value.GetStringValue()
		}
	}
	return ""
}

// traceparentUpstream records the traceparent of every request it gets.
type traceparentUpstream struct {
	mu   sync.Mutex
	seen []string
}

func (u *traceparentUpstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	u.mu.Lock()
	u.seen = append(u.seen, r.Header.Get("Traceparent"))
	u.mu.Unlock()
	w.Header().Set("Cache-Control", "max-age=60")
	io.WriteString(w, "ok")
}

func (u *traceparentUpstream) last() string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.seen[len(u.seen)-1]
}

// TestTracesThroughEveryStage: a request carrying a sampled W3C parent is
// continued: one server span, a child per stage, an upstream attempt span
// whose id the upstream receives as its parent, exported over OTLP/HTTP.
func TestTracesThroughEveryStage(t *testing.T) {
	rc := startOTLPReceiver(t)
	up := &traceparentUpstream{}
	u := startUpstream(t, "svc", up)
	n := startNode(t, render(t, `
tracing: {otlp: "{{.OTLP}}", sample: 1, service: edge-test}
upstreams: {svc: {endpoints: ["{{.Up}}"]}}
routes:
  - {name: api, match: {path_prefix: /api}, upstream: svc, cache: {ttl: 1m}, rate_limit: {requests: 100, per: 1s}}
`, map[string]string{"OTLP": rc.url, "Up": u.url}))

	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	const clientSpan = "00f067aa0ba902b7"
	resp, _ := get(t, n.url+"/api/items", "Traceparent", "00-"+traceID+"-"+clientSpan+"-01")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	var spans []*tracepb.Span
	testkit.WaitFor(t, 15*time.Second, "the request's spans at the OTLP receiver", func() bool {
		spans = rc.trace(traceID)
		return spanNamed(spans, "GET api") != nil && spanNamed(spans, "upstream svc") != nil
	})
	server := spanNamed(spans, "GET api")
	if server.Kind != tracepb.Span_SPAN_KIND_SERVER || hex.EncodeToString(server.ParentSpanId) != clientSpan {
		t.Errorf("server span: kind %v, parent %x; want server, %s", server.Kind, server.ParentSpanId, clientSpan)
	}
	if got := spanAttr(server, "http.response.status_code"); got != "200" {
		t.Errorf("server span status attribute %q", got)
	}
	for _, stage := range []string{"sluice.route", "sluice.rate_limit", "sluice.rewrite", "sluice.origin"} {
		s := spanNamed(spans, stage)
		if s == nil {
			t.Errorf("no %s span among %d", stage, len(spans))
			continue
		}
		if !bytes.Equal(s.ParentSpanId, server.SpanId) {
			t.Errorf("%s: parent %x, want the server span %x", stage, s.ParentSpanId, server.SpanId)
		}
	}
	origin := spanNamed(spans, "sluice.origin")
	if origin != nil && spanAttr(origin, "sluice.cache") != "miss" {
		t.Errorf("origin span: sluice.cache %q, want miss", spanAttr(origin, "sluice.cache"))
	}
	attempt := spanNamed(spans, "upstream svc")
	// A cached route's miss goes upstream from its cache lookup.
	if cache := spanNamed(spans, "sluice.cache"); cache == nil || !bytes.Equal(attempt.ParentSpanId, cache.SpanId) {
		t.Errorf("upstream attempt: parent %x, want the cache lookup under the origin stage", attempt.ParentSpanId)
	}
	if attempt.Kind != tracepb.Span_SPAN_KIND_CLIENT {
		t.Errorf("upstream attempt kind %v", attempt.Kind)
	}
	want := "00-" + traceID + "-" + hex.EncodeToString(attempt.SpanId) + "-01"
	if got := up.last(); got != want {
		t.Errorf("upstream got traceparent %q, want %q (a new span id as the parent)", got, want)
	}
}

// TestTraceSampling: with sample 0, a new trace is not recorded and the
// upstream gets no trace context of ours; a request whose parent was
// sampled upstream of the node is still recorded.
func TestTraceSampling(t *testing.T) {
	rc := startOTLPReceiver(t)
	up := &traceparentUpstream{}
	u := startUpstream(t, "svc", up)
	n := startNode(t, render(t, `
tracing: {otlp: "{{.OTLP}}", sample: 0}
upstreams: {svc: {endpoints: ["{{.Up}}"]}}
routes: [{name: api, match: {path_prefix: /}, upstream: svc}]
`, map[string]string{"OTLP": rc.url, "Up": u.url}))

	if resp, _ := get(t, n.url+"/unsampled"); resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if got := up.last(); got != "" {
		t.Errorf("an unsampled request without a parent sent traceparent %q upstream", got)
	}
	const traceID = "0af7651916cd43dd8448eb211c80319c"
	if resp, _ := get(t, n.url+"/sampled", "Traceparent", "00-"+traceID+"-b7ad6b7169203331-01"); resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	testkit.WaitFor(t, 15*time.Second, "the sampled parent's spans", func() bool {
		return spanNamed(rc.trace(traceID), "GET api") != nil
	})
	for _, s := range rc.all() {
		if hex.EncodeToString(s.TraceId) != traceID {
			t.Errorf("span %q of trace %x exported at sample 0", s.Name, s.TraceId)
		}
	}
}

package edge

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/sluicegw/sluice/runtime/testkit"
)

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
	rc := testkit.StartOTLPReceiver(t)
	up := &traceparentUpstream{}
	u := startUpstream(t, "svc", up)
	n := startNode(t, render(t, `
tracing: {otlp: "{{.OTLP}}", sample: 1, service: edge-test}
upstreams: {svc: {endpoints: ["{{.Up}}"]}}
routes:
  - {name: api, match: {path_prefix: /api}, upstream: svc, cache: {ttl: 1m}, rate_limit: {requests: 100, per: 1s}}
`, map[string]string{"OTLP": rc.URL, "Up": u.url}))

	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	const clientSpan = "00f067aa0ba902b7"
	resp, _ := get(t, n.url+"/api/items", "Traceparent", "00-"+traceID+"-"+clientSpan+"-01")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	var spans []*tracepb.Span
	testkit.WaitFor(t, 15*time.Second, "the request's spans at the OTLP receiver", func() bool {
		spans = rc.Trace(traceID)
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
	rc := testkit.StartOTLPReceiver(t)
	up := &traceparentUpstream{}
	u := startUpstream(t, "svc", up)
	n := startNode(t, render(t, `
tracing: {otlp: "{{.OTLP}}", sample: 0}
upstreams: {svc: {endpoints: ["{{.Up}}"]}}
routes: [{name: api, match: {path_prefix: /}, upstream: svc}]
`, map[string]string{"OTLP": rc.URL, "Up": u.url}))

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
		return spanNamed(rc.Trace(traceID), "GET api") != nil
	})
	for _, s := range rc.All() {
		if hex.EncodeToString(s.TraceId) != traceID {
			t.Errorf("span %q of trace %x exported at sample 0", s.Name, s.TraceId)
		}
	}
}

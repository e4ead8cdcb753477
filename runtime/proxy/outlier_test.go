package proxy

import (
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicegw/sluice/runtime/config"
	"github.com/sluicegw/sluice/runtime/testkit"
)

func TestOutlierEjectsAndReturns(t *testing.T) {
	var failing atomic.Bool
	failing.Store(true)
	a := startUpstream(t, "a", func(w http.ResponseWriter, r *http.Request) {
		if failing.Load() {
			w.WriteHeader(http.StatusInternalServerError)
		}
		_, _ = w.Write([]byte("a"))
	})
	b := startUpstream(t, "b", nil)
	cfg := upstreamCfg("", a.URL, b.URL)
	cfg.Outlier = &config.Outlier{Consecutive5xx: 3, Eject: config.Duration(300 * time.Millisecond)}
	p, logs := newTestPool(t, cfg)
	url := startProxy(t, p, ForwardOptions{})
	client := newClient(t)

	for i := 0; !p.Endpoints()[0].Ejected; i++ {
		if i == 20 {
			t.Fatalf("a answered 500 %d times and is still not ejected", a.hits.Load())
		}
		do(t, client, "GET", url+"/", nil, nil)
	}
	if n := a.hits.Load(); n != 3 {
		t.Fatalf("a ejected after %d 500s, want 3", n)
	}
	if !contains(logs.String(), "endpoint ejected") {
		t.Fatal("ejection not logged")
	}
	if got := counts(t, client, url+"/", 6); got["b"] != 6 {
		t.Fatalf("while a is ejected traffic went %v", got)
	}
	failing.Store(false)
	testkit.WaitFor(t, 5*time.Second, "the ejection to run out", func() bool { return !p.Endpoints()[0].Ejected })
	if got := counts(t, client, url+"/", 4); got["a"] == 0 {
		t.Fatalf("a's ejection ran out but it got no traffic: %v", got)
	}
}

func TestAllEjectedIs503(t *testing.T) {
	a := startUpstream(t, "a", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
	})
	cfg := upstreamCfg("", a.URL)
	cfg.Outlier = &config.Outlier{Consecutive5xx: 2, Eject: config.Duration(time.Minute)}
	p, _ := newTestPool(t, cfg)
	url := startProxy(t, p, ForwardOptions{})
	client := newClient(t)

	for range 2 {
		if res := do(t, client, "GET", url+"/", nil, nil); res.status != 500 {
			t.Fatalf("upstream's 500 not passed through: %d", res.status)
		}
	}
	res := do(t, client, "GET", url+"/", nil, nil)
	if res.status != http.StatusServiceUnavailable || a.hits.Load() != 2 {
		t.Fatalf("with the only endpoint ejected got %d (upstream hits %d), want 503 without forwarding", res.status, a.hits.Load())
	}
}

func TestOutlierCountsConnectFailures(t *testing.T) {
	dead := deadURL(t)
	b := startUpstream(t, "b", nil)
	cfg := upstreamCfg("", dead, b.URL)
	cfg.Outlier = &config.Outlier{Consecutive5xx: 2, Eject: config.Duration(time.Minute)}
	p, _ := newTestPool(t, cfg)
	url := startProxy(t, p, ForwardOptions{})
	client := newClient(t)
	for range 4 {
		do(t, client, "GET", url+"/", nil, nil)
	}
	if st := p.Endpoints()[0]; !st.Ejected {
		t.Fatalf("a refusing endpoint was not ejected: %+v", st)
	}
	if got := counts(t, client, url+"/", 4); got["b"] != 4 {
		t.Fatalf("traffic went %v", got)
	}
}

package edge

import (
	"encoding/json"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// AdminHandler serves the admin endpoints: liveness, readiness, the running
// config, cache purges and Prometheus metrics.
func (n *Node) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		switch {
		case n.draining.Load():
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "draining"})
		case n.Current() == nil:
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "no configuration loaded"})
		default:
			writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
		}
	})
	mux.HandleFunc("GET /config", func(w http.ResponseWriter, _ *http.Request) {
		s := n.acquire()
		if s == nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "no configuration loaded"})
			return
		}
		defer s.release()
		writeJSON(w, http.StatusOK, struct {
			Node     string    `json:"node,omitempty"`
			Revision int64     `json:"revision"`
			Digest   string    `json:"digest"`
			Built    time.Time `json:"built"`
			Config   any       `json:"config"`
		}{n.opts.NodeID, s.Revision, s.Digest, s.Built, s.Config})
	})
	mux.HandleFunc("POST /cache/purge", n.purgeCache)
	mux.Handle("GET /metrics", promhttp.HandlerFor(n.metrics.registry, promhttp.HandlerOpts{}))
	// Profiles of a live node, the only honest way to find what a request
	// costs under real load. The admin listener is for operators only.
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	return mux
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

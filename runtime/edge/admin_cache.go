package edge

import (
	"encoding/json"
	"net/http"

	"github.com/nats-io/nats.go"

	"github.com/sluicegw/sluice/runtime/fleet"
	"github.com/sluicegw/sluice/runtime/traffic"
)

type purgeRequest struct {
	Route string `json:"route"`
	Key   string `json:"key,omitempty"`
}

// purgeCache empties a route's response cache, or one key of it:
//
//	POST /cache/purge?route=NAME            every key of the route
//	POST /cache/purge?route=NAME&key=KEY    one key: the path and query as
//	                                        the upstream sees them, "/users/7?full=1"
//	... &scope=fleet                        on every node, over NATS
//
// It answers {"route", "purged"}: the number of keys dropped on this node
// (a key is cached per client Host: one path may count more than once).
func (n *Node) purgeCache(w http.ResponseWriter, r *http.Request) {
	req := purgeRequest{Route: r.URL.Query().Get("route"), Key: r.URL.Query().Get("key")}
	if req.Route == "" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "route is required"})
		return
	}
	fleetWide := false
	switch r.URL.Query().Get("scope") {
	case "", "node":
	case "fleet":
		if n.opts.NATS == nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "scope=fleet needs a NATS connection"})
			return
		}
		fleetWide = true
	default:
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "scope is node or fleet"})
		return
	}
	purged, status, reason := n.purge(req)
	if status != http.StatusOK {
		writeJSON(w, status, map[string]string{"error": reason})
		return
	}
	if fleetWide {
		b, _ := json.Marshal(req)
		if err := n.opts.NATS.Publish(fleet.CachePurgeSubject, b); err != nil {
			writeJSON(w, http.StatusBadGateway, map[string]string{"error": "publish purge: " + err.Error()})
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"route": req.Route, "purged": purged, "fleet": fleetWide})
}

// purge drops req's keys from the running snapshot's cache of the route.
func (n *Node) purge(req purgeRequest) (int, int, string) {
	s := n.acquire()
	if s == nil {
		return 0, http.StatusServiceUnavailable, "no configuration loaded"
	}
	defer s.release()
	c, found := s.routeCache(req.Route)
	switch {
	case !found:
		return 0, http.StatusNotFound, "no route " + req.Route
	case c == nil:
		return 0, http.StatusNotFound, "route " + req.Route + " has no cache"
	case req.Key == "":
		return c.PurgeAll(), http.StatusOK, ""
	}
	return c.Purge(req.Key), http.StatusOK, ""
}

// routeCache returns the cache of the named route (nil if it has none) and
// whether the route exists.
func (s *Snapshot) routeCache(name string) (*traffic.Cache, bool) {
	for i, rc := range s.Config.Routes {
		if rc.Name == name {
			return s.compiled[i].cache, true
		}
	}
	return nil, false
}

// subscribePurges makes the node apply fleet-wide purges published by any
// node's admin API (its own included: purging twice is harmless).
func (n *Node) subscribePurges() {
	sub, err := n.opts.NATS.Subscribe(fleet.CachePurgeSubject, func(m *nats.Msg) {
		var req purgeRequest
		if err := json.Unmarshal(m.Data, &req); err != nil || req.Route == "" {
			n.log.Warn("cache purge: malformed message ignored", "bytes", len(m.Data))
			return
		}
		if _, status, reason := n.purge(req); status != http.StatusOK {
			n.log.Info("cache purge from the fleet not applied here", "route", req.Route, "reason", reason)
		}
	})
	if err != nil {
		n.log.Warn("cache purge: cannot subscribe; fleet-wide purges will not reach this node", "error", err.Error())
		return
	}
	n.purgeSub = sub
}

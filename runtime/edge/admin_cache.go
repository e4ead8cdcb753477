package edge

import (
	"net/http"
)

// purgeCache empties a route's response cache, or one key of it:
//
//	POST /cache/purge?route=NAME            every key of the route
//	POST /cache/purge?route=NAME&key=KEY    one key: the path and query as
//	                                        the upstream sees them, "/users/7?full=1"
//
// It answers {"route", "purged"}: the number of keys dropped.
func (n *Node) purgeCache(w http.ResponseWriter, r *http.Request) {
	name, key := r.URL.Query().Get("route"), r.URL.Query().Get("key")
	if name == "" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "route is required"})
		return
	}
	s := n.acquire()
	if s == nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "no configuration loaded"})
		return
	}
	defer s.release()
	for i, rc := range s.Config.Routes {
		if rc.Name != name {
			continue
		}
		c := s.extras[i].cache
		if c == nil {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "route " + name + " has no cache"})
			return
		}
		purged := 0
		if key == "" {
			purged = c.PurgeAll()
		} else if c.Purge(key) {
			purged = 1
		}
		writeJSON(w, http.StatusOK, map[string]any{"route": name, "purged": purged})
		return
	}
	writeJSON(w, http.StatusNotFound, map[string]string{"error": "no route " + name})
}

package edge

import (
	"github.com/sluicegw/sluice/runtime/httperr"
	"github.com/sluicegw/sluice/runtime/httpguard"
)

// stageGuard asks the connection's framing guard about the request, gives
// it its request id and classifies an upgrade, once, for every later stage.
func stageGuard(x *Exchange) error {
	r := x.R
	x.rid = requestID(r.Header.Get("X-Request-Id"))
	h := x.W.Header()
	h.Set("X-Request-Id", x.rid)
	g, v := checkGuard(r)
	if !v.OK() {
		h.Set("Connection", "close")
		return httperr.New(v.Status, v.Reason)
	}
	x.guard = g
	if x.upgrade = httpguard.UpgradeOf(r); x.upgrade != "" {
		// The guard stops at an upgrade request. If the upgrade is refused
		// (by the upstream or by any stage), close rather than trust the
		// framing of what follows.
		h.Set("Connection", "close")
	} else if _, ok := r.Header["Upgrade"]; ok {
		// Without "Connection: upgrade" the header asks for nothing: the
		// request is an ordinary one, for every stage alike.
		delete(r.Header, "Upgrade")
	}
	if tls, ok := guardTLS(r); ok {
		r.TLS = tls
	}
	return nil
}

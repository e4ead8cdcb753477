package publisher

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/sluicegw/sluice/runtime/fleet"
)

// A node's own NATS credentials: signed on an admin's request (`sluice
// node-creds`), optionally expiring, and revoked by node (`sluice
// node-creds revoke`). The keys and revocations are kept by fleet.NATSAuth
// in the data dir; the publisher records each action in the history.

// PushTimeout bounds telling the running NATS servers of a revocation.
const PushTimeout = 5 * time.Second

// NodeCredsRequest asks for a node's NATS user JWT: the node's public
// user key (its seed stays where it was made), the services it may
// announce, and how long it is good for (a Go duration, "720h"; none:
// it never expires).
type NodeCredsRequest struct {
	PublicKey string   `json:"public_key"`
	Announce  []string `json:"announce,omitempty"`
	Expires   string   `json:"expires,omitempty"`
}

// NodeCreds is the signed user JWT; with the seed, a .creds file.
type NodeCreds struct {
	Node string `json:"node"`
	JWT  string `json:"jwt"`
}

// NodeRevokeRequest names the key to revoke; none: every key signed for
// the node.
type NodeRevokeRequest struct {
	PublicKey string `json:"public_key,omitempty"`
}

// NodeRevocation is what a revocation did: the node's keys, each with
// when it was revoked, and whether the running servers were told.
type NodeRevocation struct {
	Node string          `json:"node"`
	Keys []fleet.NodeKey `json:"keys"`
	// Pushed: the NATS servers the publisher is connected to took the new
	// account JWT and closed the revoked connections. When false,
	// PushError says why; the revocation is kept and in nats-auth.conf,
	// and takes effect when the servers load it.
	Pushed    bool   `json:"pushed"`
	PushError string `json:"push_error,omitempty"`
}

// errNoNATSAuth: a publisher without a NATS account (its NATSAuth nil).
var errNoNATSAuth = fmt.Errorf("this publisher signs no NATS credentials: %w", fleet.ErrBadRequest)

func (p *Publisher) nodeCredsRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /v1/nodes/{id}/creds", need(RoleAdmin, func(w http.ResponseWriter, r *http.Request) {
		var req NodeCredsRequest
		if !decode(w, r, &req) {
			return
		}
		id := r.PathValue("id")
		var token string
		expires, err := fleet.ParseNodeCredsExpiry(req.Expires)
		if err == nil && p.auth == nil {
			err = errNoNATSAuth
		}
		if err == nil {
			token, err = p.auth.NodeUserJWT(id, req.PublicKey, req.Announce, expires)
		}
		e := entry(r, ActionNodeCreds, nil, err)
		e.Detail = fmt.Sprintf("node %q, key %s", clip(id), clip(req.PublicKey))
		if len(req.Announce) > 0 {
			e.Detail += fmt.Sprintf(", announces %s", clip(strings.Join(req.Announce, ",")))
		}
		if expires > 0 {
			e.Detail += fmt.Sprintf(", expires in %s", expires)
		}
		if err != nil {
			e.Detail += ": " + err.Error()
		}
		p.audit(r.Context(), e)
		if err != nil {
			fail(w, statusOf(err), err)
			return
		}
		p.log.Info("node credentials signed", "node", id, "expires", expires, "by", caller(r).Name)
		reply(w, http.StatusCreated, NodeCreds{Node: id, JWT: token})
	}))
	mux.HandleFunc("POST /v1/nodes/{id}/revoke", need(RoleAdmin, func(w http.ResponseWriter, r *http.Request) {
		var req NodeRevokeRequest
		if !decode(w, r, &req) {
			return
		}
		id := r.PathValue("id")
		out, err := p.revokeNode(r.Context(), id, req.PublicKey)
		e := entry(r, ActionNodeRevoke, nil, err)
		e.Detail = fmt.Sprintf("node %q", clip(id))
		if req.PublicKey != "" {
			e.Detail += fmt.Sprintf(", key %s", clip(req.PublicKey))
		}
		if err == nil {
			e.Detail += fmt.Sprintf(", %d key(s) revoked", len(out.Keys))
		}
		switch {
		case err != nil:
			e.Detail += ": " + err.Error()
		case !out.Pushed:
			e.Detail += ", not pushed to the NATS servers: " + clip(out.PushError)
		}
		p.audit(r.Context(), e)
		if err != nil {
			fail(w, statusOf(err), err)
			return
		}
		p.log.Info("node credentials revoked", "node", id, "keys", len(out.Keys), "pushed", out.Pushed, "by", caller(r).Name)
		if !out.Pushed {
			p.log.Warn("revocation not pushed to the NATS servers; reload them with nats-auth.conf", "node", id, "error", out.PushError)
		}
		reply(w, http.StatusOK, out)
	}))
}

// revokeNode revokes node id's key (every key when key is "") and tells
// the NATS servers the publisher is connected to. A failed push is no
// error: the revocation is kept, and said not pushed.
func (p *Publisher) revokeNode(ctx context.Context, id, key string) (*NodeRevocation, error) {
	if p.auth == nil {
		return nil, errNoNATSAuth
	}
	keys, err := p.auth.RevokeNode(id, key)
	if err != nil {
		return nil, err
	}
	out := &NodeRevocation{Node: id, Keys: keys}
	url := p.js.Conn().ConnectedUrl()
	if url == "" {
		err = errors.New("the publisher is not connected to NATS")
	} else {
		pctx, cancel := context.WithTimeout(ctx, PushTimeout)
		err = p.auth.PushAccount(pctx, url)
		cancel()
	}
	if err != nil {
		out.PushError = err.Error()
	} else {
		out.Pushed = true
	}
	return out, nil
}

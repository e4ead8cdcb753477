package fleet

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"time"

	"github.com/nats-io/jwt/v2"
)

// The node-key ledger (NodeKeysFile): every user key the publisher signed
// a node's JWT for, under the node's ID, and when it was revoked. It is
// what lets an operator revoke by node ID (the JWT and seed live on the
// node), and where revocations outlive the publisher: the account JWT is
// signed again from it at each start. Public keys and times only.

// NodeKey is one signed user key of a node.
type NodeKey struct {
	Key    string    `json:"key"`
	Issued time.Time `json:"issued"`
	// Expires is when the JWT signed for the key ends; zero: never.
	Expires time.Time `json:"expires,omitzero"`
	// Revoked is when the key was revoked: every JWT for it issued up to
	// then is refused. Zero: not revoked.
	Revoked time.Time `json:"revoked,omitzero"`
}

// NodeKeys returns node id's signed user keys; nil for a node unknown
// here.
func (a *NATSAuth) NodeKeys(id string) []NodeKey {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]NodeKey(nil), a.keys.Nodes[id]...)
}

// nodeKeys is the ledger in memory, and the file it is kept in. Its
// owner (NATSAuth) serializes access.
type nodeKeys struct {
	path  string
	Nodes map[string][]NodeKey `json:"nodes"`
}

// loadNodeKeys reads the ledger at path; a missing file is an empty one.
func loadNodeKeys(path string) (*nodeKeys, error) {
	k := &nodeKeys{path: path, Nodes: map[string][]NodeKey{}}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return k, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(data, k); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if k.Nodes == nil {
		k.Nodes = map[string][]NodeKey{}
	}
	return k, nil
}

// save writes the ledger (mode 0600, atomically).
func (k *nodeKeys) save() error {
	data, err := json.MarshalIndent(k, "", "  ")
	if err != nil {
		return err
	}
	if err := WriteAtomic(k.path, append(data, '\n')); err != nil {
		return fmt.Errorf("%s: %w", k.path, err)
	}
	return nil
}

// record adds key to node id's keys (exp: the JWT's exp, 0 for none) and
// saves the ledger. A key signed again replaces its entry.
func (k *nodeKeys) record(id, key string, issued time.Time, exp int64) error {
	e := NodeKey{Key: key, Issued: issued.UTC().Truncate(time.Second)}
	if exp != 0 {
		e.Expires = time.Unix(exp, 0).UTC()
	}
	keys := slices.DeleteFunc(slices.Clone(k.Nodes[id]), func(n NodeKey) bool { return n.Key == key })
	old := k.Nodes[id]
	k.Nodes[id] = append(keys, e)
	if err := k.save(); err != nil {
		k.Nodes[id] = old
		return err
	}
	return nil
}

// revoke marks key (every key of the node when key is "") revoked at
// when, keeping the time of a key revoked before, and saves the ledger.
// It returns the node's keys as they are now. An unknown node, or a key
// not the node's, is ErrNotFound.
func (k *nodeKeys) revoke(id, key string, when time.Time) ([]NodeKey, error) {
	old, ok := k.Nodes[id]
	if !ok {
		return nil, fmt.Errorf("node %q: no credentials were signed for it here: %w", id, ErrUnknownNode)
	}
	keys := slices.Clone(old)
	found := false
	for i := range keys {
		if key != "" && keys[i].Key != key {
			continue
		}
		found = true
		if keys[i].Revoked.IsZero() {
			keys[i].Revoked = when.UTC().Truncate(time.Second)
		}
	}
	if !found {
		return nil, fmt.Errorf("node %q: user key %s was not signed for it: %w", id, key, ErrUnknownNode)
	}
	k.Nodes[id] = keys
	if err := k.save(); err != nil {
		k.Nodes[id] = old
		return nil, err
	}
	return slices.Clone(keys), nil
}

// revoked reports whether key is revoked, for whichever node.
func (k *nodeKeys) revoked(key string) bool {
	for _, keys := range k.Nodes {
		for _, n := range keys {
			if n.Key == key && !n.Revoked.IsZero() {
				return true
			}
		}
	}
	return false
}

// revocations is what the account JWT revokes: each revoked key, with
// the time up to which its JWTs are refused.
func (k *nodeKeys) revocations() map[string]time.Time {
	out := map[string]time.Time{}
	for _, keys := range k.Nodes {
		for _, n := range keys {
			if !n.Revoked.IsZero() {
				out[n.Key] = n.Revoked
			}
		}
	}
	return out
}

// StillValidNodeCreds reports whether creds (a .creds file) would still
// serve node id as what NodeCreds makes now: signed by this account for
// id, its seed the key the JWT names, that key in the ledger and not
// revoked, not expiring, with today's permissions for a node that
// announces nothing. `sluice dev` keeps such credentials across restarts
// instead of minting a new key each start, which grew the ledger by one
// entry a start.
func (a *NATSAuth) StillValidNodeCreds(id string, creds []byte) bool {
	token, err := jwt.ParseDecoratedJWT(creds)
	if err != nil {
		return false
	}
	uc, err := jwt.DecodeUserClaims(token)
	if err != nil || uc.Issuer != a.Account || uc.Name != id || uc.Expires != 0 {
		return false
	}
	kp, err := jwt.ParseDecoratedNKey(creds)
	if err != nil {
		return false
	}
	if key, err := kp.PublicKey(); err != nil || key != uc.Subject {
		return false
	}
	pub, sub := NodePermissions(id, nil)
	if !sameSubjects(uc.Pub.Allow, pub) || !sameSubjects(uc.Sub.Allow, sub) {
		return false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return !a.keys.revoked(uc.Subject) && slices.ContainsFunc(a.keys.Nodes[id], func(k NodeKey) bool { return k.Key == uc.Subject })
}

func sameSubjects(a jwt.StringList, b []string) bool {
	x, y := slices.Clone([]string(a)), slices.Clone(b)
	slices.Sort(x)
	slices.Sort(y)
	return slices.Equal(x, y)
}

package fleet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
)

// Revoking a node (`sluice node-creds revoke`): its user keys go into the
// fleet account JWT's revocations, which every server of the operator
// honours, at connect and, once told of the new account JWT, by closing
// the connections it holds for them.

// RevokeNode revokes node id's user key, or every key signed for it when
// key is "": it records the revocation in NodeKeysFile, signs the account
// JWT again, hands it to the embedded server's resolver and rewrites
// NATSAuthFile. Running servers learn of it from PushAccount. It returns
// the node's keys, as they are now; an unknown node or key is
// ErrUnknownNode.
func (a *NATSAuth) RevokeNode(id, key string) ([]NodeKey, error) {
	if !ValidNodeID(id) {
		return nil, fmt.Errorf("node id %q: letters, digits, _ - and inner dots: %w", id, ErrBadRequest)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	keys, err := a.keys.revoke(id, key, time.Now())
	if err != nil {
		return nil, err
	}
	token, err := a.signAccount()
	if err != nil {
		return nil, err
	}
	a.accountJWT = token
	if a.resolver != nil {
		if err := a.resolver.Store(a.Account, token); err != nil {
			return nil, fmt.Errorf("embedded resolver: %w", err)
		}
	}
	if err := WriteAtomic(filepath.Join(a.dir, NATSAuthFile), []byte(a.serverConfig())); err != nil {
		return nil, fmt.Errorf("%s: %w", NATSAuthFile, err)
	}
	return keys, nil
}

// claimsUpdateSubject is where a server (every server of a cluster,
// through the system account) takes a new account JWT signed by its
// operator: nats-server's $SYS.REQ.ACCOUNT.<account>.CLAIMS.UPDATE.
func claimsUpdateSubject(account string) string {
	return "$SYS.REQ.ACCOUNT." + account + ".CLAIMS.UPDATE"
}

// PushAccount sends the current account JWT to the servers at url, as a
// system-account user minted for the purpose (never written down): they
// apply its revocations at once, closing the revoked users' connections.
// It works for the embedded server and for an external cluster whose
// servers include NATSAuthFile (memory resolver); until they are reloaded
// with the rewritten file, a restarted server would forget the update.
// opts are extra connect options (TLS).
func (a *NATSAuth) PushAccount(ctx context.Context, url string, opts ...nats.Option) error {
	kp, err := nkeys.CreateUser()
	if err != nil {
		return err
	}
	pub, _ := kp.PublicKey()
	seed, _ := kp.Seed()
	uc := jwt.NewUserClaims(pub)
	uc.Name = "sluice-publisher-system"
	// Good for the push alone: a copy in a core dump is soon worthless.
	uc.Expires = time.Now().Add(time.Minute).Unix()
	userJWT, err := uc.Encode(a.system)
	if err != nil {
		return fmt.Errorf("system user JWT: %w", err)
	}
	opts = append([]nats.Option{nats.Name("sluice-publisher-system"), nats.UserJWTAndSeed(userJWT, string(seed))}, opts...)
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return fmt.Errorf("nats %s as the system account: %w", url, err)
	}
	defer nc.Close()
	a.mu.Lock()
	token := a.accountJWT
	a.mu.Unlock()
	msg, err := nc.RequestWithContext(ctx, claimsUpdateSubject(a.Account), []byte(token))
	if err != nil {
		return fmt.Errorf("account claims update: %w", err)
	}
	var resp server.ServerAPIClaimUpdateResponse
	if err := json.Unmarshal(msg.Data, &resp); err != nil {
		return fmt.Errorf("account claims update: answer %q: %w", msg.Data, err)
	}
	if resp.Error != nil {
		return fmt.Errorf("account claims update: %s (code %d)", resp.Error.Description, resp.Error.Code)
	}
	if resp.Data == nil {
		return errors.New("account claims update: the server answered neither done nor an error")
	}
	return nil
}

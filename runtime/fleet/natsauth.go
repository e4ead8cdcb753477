package fleet

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
)

// NATS decentralized auth (RATIONALE.md, "Fleet: a NATS identity per
// node"). The publisher's data dir holds an operator, a system account and
// the fleet's account, each an nkey seed created on the first start (mode
// 0600, never overwritten). Servers trust the operator (NATSAuthFile); the
// account key signs user JWTs: the publisher's own, with every right, and
// one per node, naming the node and allowing only its own keys and
// subjects. A node's JWT is minted when asked (`sluice node-creds`), so
// neither the embedded server nor an external cluster restarts for a new
// node.
const (
	// PublisherCredsFile is the publisher's user: a JWT .creds file.
	PublisherCredsFile = "publisher.creds"
	// SharedNodeCredsFile is a node user any node may use (`sluice edge
	// --nats-creds DATA/node.creds`): a node's rights, but over every
	// node's status key and decision subject and every service, so one
	// holder can pose as another node. The way to start; `sluice
	// node-creds` gives each node an identity of its own.
	SharedNodeCredsFile = "node.creds"
	// NATSAuthFile is the server side for an external cluster's config
	// (`include`): the operator JWT, the system account and the fleet's
	// account JWTs in a memory resolver. Public keys and JWTs only.
	NATSAuthFile = "nats-auth.conf"

	// NodeKeysFile records which user key was signed for which node, and
	// which are revoked (nodekeys.go). Public keys only.
	NodeKeysFile = "nats-node-keys.json"

	operatorSeedFile = "nats-operator.nk"
	systemSeedFile   = "nats-system.nk"
	accountSeedFile  = "nats-account.nk"
)

// NATSAuth is a publisher's NATS operator and accounts.
type NATSAuth struct {
	// PublisherFile is the publisher's credentials file.
	PublisherFile string
	// Account is the public key of the fleet's account (A...); System
	// that of the system account.
	Account, System string

	dir                       string
	operator, system, account nkeys.KeyPair
	operatorJWT, systemJWT    string
	resolver                  *server.MemAccResolver // the embedded server's, once Configure ran

	mu         sync.Mutex // guards keys, accountJWT and the files they are written to
	keys       *nodeKeys
	accountJWT string
}

// LoadOrCreateNATSAuth reads the operator and account keys from dir,
// creating any that are missing, and (re)writes the publisher's
// credentials and NATSAuthFile from them.
func LoadOrCreateNATSAuth(dir string) (*NATSAuth, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	op, err := loadOrCreateSeed(filepath.Join(dir, operatorSeedFile), nkeys.PrefixByteOperator)
	if err != nil {
		return nil, err
	}
	sys, err := loadOrCreateSeed(filepath.Join(dir, systemSeedFile), nkeys.PrefixByteAccount)
	if err != nil {
		return nil, err
	}
	acc, err := loadOrCreateSeed(filepath.Join(dir, accountSeedFile), nkeys.PrefixByteAccount)
	if err != nil {
		return nil, err
	}
	keys, err := loadNodeKeys(filepath.Join(dir, NodeKeysFile))
	if err != nil {
		return nil, err
	}
	a := &NATSAuth{PublisherFile: filepath.Join(dir, PublisherCredsFile), dir: dir, operator: op, system: sys, account: acc, keys: keys}
	a.System, _ = sys.PublicKey()
	a.Account, _ = acc.PublicKey()
	opPub, _ := op.PublicKey()

	oc := jwt.NewOperatorClaims(opPub)
	oc.Name = "sluice"
	oc.SystemAccount = a.System
	if a.operatorJWT, err = oc.Encode(op); err != nil {
		return nil, fmt.Errorf("operator JWT: %w", err)
	}
	sc := jwt.NewAccountClaims(a.System)
	sc.Name = "SYS"
	if a.systemJWT, err = sc.Encode(op); err != nil {
		return nil, fmt.Errorf("system account JWT: %w", err)
	}
	// The account JWT carries the revocations kept in NodeKeysFile, so a
	// revoked node stays out across restarts.
	if a.accountJWT, err = a.signAccount(); err != nil {
		return nil, err
	}
	// The publisher's user is new at each start: its seed never leaves
	// this file, and an old file is simply replaced.
	creds, err := a.userCreds("publisher", nil)
	if err != nil {
		return nil, err
	}
	if err := WriteAtomic(a.PublisherFile, creds); err != nil { // mode 0600
		return nil, fmt.Errorf("%s: %w", PublisherCredsFile, err)
	}
	shared, err := a.SharedNodeCreds()
	if err != nil {
		return nil, err
	}
	if err := WriteAtomic(filepath.Join(dir, SharedNodeCredsFile), shared); err != nil {
		return nil, fmt.Errorf("%s: %w", SharedNodeCredsFile, err)
	}
	if err := WriteAtomic(filepath.Join(dir, NATSAuthFile), []byte(a.serverConfig())); err != nil {
		return nil, fmt.Errorf("%s: %w", NATSAuthFile, err)
	}
	return a, nil
}

// signAccount signs the fleet's account JWT with the revoked node keys.
func (a *NATSAuth) signAccount() (string, error) {
	ac := jwt.NewAccountClaims(a.Account)
	ac.Name = "sluice"
	ac.Limits.JetStreamLimits = jwt.JetStreamLimits{MemoryStorage: -1, DiskStorage: -1, Streams: -1, Consumer: -1}
	for key, at := range a.keys.revocations() {
		ac.RevokeAt(key, at)
	}
	token, err := ac.Encode(a.operator)
	if err != nil {
		return "", fmt.Errorf("account JWT: %w", err)
	}
	return token, nil
}

// loadOrCreateSeed returns the key pair in path, creating the file with a
// new seed of the kind prefix if it does not exist.
func loadOrCreateSeed(path string, prefix nkeys.PrefixByte) (nkeys.KeyPair, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		kp, err := nkeys.CreatePair(prefix)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		seed, _ := kp.Seed()
		if err := writeNew(path, append(seed, '\n')); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return kp, nil
	}
	if err != nil {
		return nil, err
	}
	kp, err := nkeys.FromSeed([]byte(strings.TrimSpace(string(data))))
	if err != nil {
		return nil, fmt.Errorf("%s: not an nkey seed: %w", path, err)
	}
	if got, _ := kp.PublicKey(); nkeys.Prefix(got) != prefix {
		return nil, fmt.Errorf("%s: a %s seed, want a %s one", path, nkeys.Prefix(got), prefix)
	}
	return kp, nil
}

// nodeIDRe: a node ID is one NATS subject token (it names the node's
// status key and decision subject) and a readable name.
var nodeIDRe = regexp.MustCompile(`^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,127}$`)

// ValidNodeID reports whether id can name a node: letters, digits, _ - and
// dots (not first), no NATS wildcards or spaces.
func ValidNodeID(id string) bool {
	return nodeIDRe.MatchString(id) && !strings.Contains(id, "..") && !strings.HasSuffix(id, ".")
}

// NodeUserJWT signs a user JWT for node id's public user key (U...): it
// may do what NodePermissions allows that node. announce lists the
// services it may announce instances of; expires, when not 0, is how long
// the JWT is good for (CheckNodeCredsExpiry). The key is recorded under
// the node in NodeKeysFile, so RevokeNode can name it.
func (a *NATSAuth) NodeUserJWT(id, userKey string, announce []string, expires time.Duration) (string, error) {
	if !ValidNodeID(id) {
		return "", fmt.Errorf("node id %q: letters, digits, _ - and inner dots: %w", id, ErrBadRequest)
	}
	if !nkeys.IsValidPublicUserKey(userKey) {
		return "", fmt.Errorf("%q is not a NATS user public key (U...): %w", userKey, ErrBadRequest)
	}
	for _, s := range announce {
		if !ValidService(s) {
			return "", fmt.Errorf("service %q: letters, digits, _ and -: %w", s, ErrBadRequest)
		}
	}
	if err := CheckNodeCredsExpiry(expires); err != nil {
		return "", err
	}
	pub, sub := NodePermissions(id, announce)
	uc := jwt.NewUserClaims(userKey)
	uc.Name = id
	uc.Pub.Allow.Add(pub...)
	uc.Sub.Allow.Add(sub...)
	now := time.Now()
	if expires > 0 {
		uc.Expires = now.Add(expires).Unix()
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.keys.revoked(userKey) {
		// A revoked key stays revoked: a new JWT for it would be refused
		// anyway (it was revoked for every JWT issued before), and signing
		// one would hide that.
		return "", fmt.Errorf("user key %s is revoked; make a new one: %w", userKey, ErrBadRequest)
	}
	token, err := uc.Encode(a.account)
	if err != nil {
		return "", err
	}
	if err := a.keys.record(id, userKey, now, uc.Expires); err != nil {
		return "", err
	}
	return token, nil
}

// NodeCreds makes a whole credentials file for node id, its user key
// generated here: for a node in the publisher's own process (`sluice
// dev`) and for tests. Remote nodes use NodeUserJWT, so their seed never
// leaves their machine.
func (a *NATSAuth) NodeCreds(id string, announce []string, expires time.Duration) ([]byte, error) {
	kp, err := nkeys.CreateUser()
	if err != nil {
		return nil, err
	}
	pub, _ := kp.PublicKey()
	token, err := a.NodeUserJWT(id, pub, announce, expires)
	if err != nil {
		return nil, err
	}
	seed, _ := kp.Seed()
	return jwt.FormatUserConfig(token, seed)
}

// SharedNodeCreds makes the credentials of SharedNodeCredsFile: unnamed, so
// `sluice edge` takes its node id from --node or the host name.
func (a *NATSAuth) SharedNodeCreds() ([]byte, error) {
	pub, sub := nodePermissions("$KV."+NodesBucket+".>", DecisionSubjectPrefix+">", []string{"$KV." + ServicesBucket + ".>"})
	perms := &jwt.Permissions{}
	perms.Pub.Allow.Add(pub...)
	perms.Sub.Allow.Add(sub...)
	return a.userCreds("", perms)
}

// userCreds is a credentials file for a new user named name, with the
// given permissions (nil: every right).
func (a *NATSAuth) userCreds(name string, perms *jwt.Permissions) ([]byte, error) {
	kp, err := nkeys.CreateUser()
	if err != nil {
		return nil, err
	}
	pub, _ := kp.PublicKey()
	uc := jwt.NewUserClaims(pub)
	uc.Name = name
	if perms != nil {
		uc.Permissions = *perms
	}
	token, err := uc.Encode(a.account)
	if err != nil {
		return nil, err
	}
	seed, _ := kp.Seed()
	return jwt.FormatUserConfig(token, seed)
}

// Configure makes o trust the operator, with both accounts in a memory
// resolver: what an embedded server runs with.
func (a *NATSAuth) Configure(o *server.Options) error {
	oc, err := jwt.DecodeOperatorClaims(a.operatorJWT)
	if err != nil {
		return err
	}
	r := &server.MemAccResolver{}
	if err := r.Store(a.System, a.systemJWT); err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := r.Store(a.Account, a.accountJWT); err != nil {
		return err
	}
	// Kept so a revocation also reaches the resolver: an account the
	// server loads again is loaded with it.
	a.resolver = r
	o.TrustedOperators = []*jwt.OperatorClaims{oc}
	o.SystemAccount = a.System
	o.AccountResolver = r
	return nil
}

// ServerConfig renders the operator and accounts as nats-server config.
func (a *NATSAuth) ServerConfig() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.serverConfig()
}

// serverConfig is ServerConfig with a.mu held.
func (a *NATSAuth) serverConfig() string {
	var b strings.Builder
	b.WriteString("# Written by the sluice publisher from its data dir: public keys and JWTs only.\n")
	b.WriteString("# Include it in every server's config of the cluster: include \"" + NATSAuthFile + "\"\n")
	b.WriteString("# Node users are JWTs signed by the account below (sluice node-creds); no server change per node.\n")
	b.WriteString("# Revoked node keys are in the account JWT (sluice node-creds revoke): reload the servers when this file changes.\n")
	fmt.Fprintf(&b, "operator: %q\n", a.operatorJWT)
	fmt.Fprintf(&b, "system_account: %q\n", a.System)
	b.WriteString("resolver: MEMORY\nresolver_preload: {\n")
	fmt.Fprintf(&b, "  %s: %q\n", a.System, a.systemJWT)
	fmt.Fprintf(&b, "  %s: %q\n", a.Account, a.accountJWT)
	b.WriteString("}\n")
	return b.String()
}

// CredsOption is the connect option for a credentials file: a JWT .creds
// file (a user JWT and its seed: ours, or nsc's) or a bare user nkey seed
// for a cluster configured with nkey users. The file is read now, so a
// missing or malformed one fails at start, and again at each (re)connect.
func CredsOption(path string) (nats.Option, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("NATS credentials %s: %w", path, err)
	}
	if strings.Contains(string(data), "BEGIN NATS USER JWT") {
		if _, err := nkeys.ParseDecoratedJWT(data); err != nil {
			return nil, fmt.Errorf("NATS credentials %s: %w", path, err)
		}
		return nats.UserCredentials(path), nil
	}
	opt, err := nats.NkeyOptionFromSeed(path)
	if err != nil {
		return nil, fmt.Errorf("NATS credentials %s: %w", path, err)
	}
	return opt, nil
}

// CredsName is the name in a JWT .creds file's user JWT: a node's ID in
// the credentials `sluice node-creds` writes; "" for a bare seed.
func CredsName(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("NATS credentials %s: %w", path, err)
	}
	if !strings.Contains(string(data), "BEGIN NATS USER JWT") {
		return "", nil
	}
	token, err := jwt.ParseDecoratedJWT(data)
	if err != nil {
		return "", fmt.Errorf("NATS credentials %s: %w", path, err)
	}
	uc, err := jwt.DecodeUserClaims(token)
	if err != nil {
		return "", fmt.Errorf("NATS credentials %s: %w", path, err)
	}
	return uc.Name, nil
}

// NodePermissions is what node id's credentials allow, by NATS subject;
// everything not listed is denied. A node may:
//   - read the config bucket (watch and get the snapshot keys) and the
//     artifacts Object Store: stream info, direct and message gets, and
//     the ephemeral ordered consumers a watch and an object read create;
//   - write and delete its own key of the node-status bucket, and none
//     other; watch the services bucket (discovery) and write the keys of
//     the services in announce (`sluice announce`); create either
//     bucket when it is missing (they are kept in memory: a restart of
//     every server loses them);
//   - publish its policy decisions on sluice.decisions.ID, and nowhere
//     else under sluice.decisions;
//   - publish and subscribe on the fleet rate-limit and cache-purge
//     subjects.
//
// It cannot write the config bucket (publish a snapshot) or the Object
// Store (an artifact), create, update, purge or delete any stream, or
// write the history stream.
func NodePermissions(id string, announce []string) (pub, sub []string) {
	services := make([]string, len(announce))
	for i, s := range announce {
		services[i] = "$KV." + ServicesBucket + "." + s + ".>"
	}
	return nodePermissions("$KV."+NodesBucket+"."+id, DecisionSubject(id), services)
}

// nodePermissions is a node user's rights with the subjects that name a
// node (its status key, its decisions) and the services it may announce.
func nodePermissions(statusKey, decisions string, services []string) (pub, sub []string) {
	for _, stream := range []string{"KV_" + ConfigBucket, "OBJ_" + ArtifactsBucket, "KV_" + NodesBucket, "KV_" + ServicesBucket} {
		pub = append(pub,
			"$JS.API.STREAM.INFO."+stream,
			"$JS.API.STREAM.MSG.GET."+stream,
			"$JS.API.DIRECT.GET."+stream,
			"$JS.API.DIRECT.GET."+stream+".>",
			"$JS.API.CONSUMER.CREATE."+stream,
			"$JS.API.CONSUMER.CREATE."+stream+".>",
			"$JS.API.CONSUMER.INFO."+stream+".*",
			"$JS.API.CONSUMER.DELETE."+stream+".*",
			"$JS.FC."+stream+".>",
		)
	}
	pub = append(pub,
		// Create (not update) the in-memory buckets if every server lost
		// them (BindBuckets); account info is read before a create.
		"$JS.API.INFO",
		"$JS.API.STREAM.CREATE.KV_"+NodesBucket,
		"$JS.API.STREAM.CREATE.KV_"+ServicesBucket,
		statusKey,
		decisions,
		RateLimitSubjectPrefix+">",
		CachePurgeSubject,
	)
	pub = append(pub, services...)
	sub = []string{"_INBOX.>", RateLimitSubjectPrefix + ">", CachePurgeSubject}
	return pub, sub
}

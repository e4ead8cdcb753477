package fleet

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
)

// NATS credentials a publisher keeps in its data dir, created on its first
// start (mode 0600) and never overwritten. Each holds one NATS user nkey
// seed in the decorated form nats-server tools write ("-----BEGIN USER NKEY
// SEED-----"); a client loads it with nats.NkeyOptionFromSeed (CredsOption
// here, `nats --nkey FILE` for the nats CLI). They are not JWT .creds files:
// nats.UserCredentials cannot read them.
const (
	// PublisherCredsFile may do anything on the server.
	PublisherCredsFile = "publisher.creds"
	// NodeCredsFile is what edge nodes (sluice edge --nats-creds) and
	// announcers (sluice announce --nats-creds) connect with; every node
	// shares it. See NodePermissions for what it allows.
	NodeCredsFile = "node.creds"
	// NATSAuthFile is the nats-server authorization block for both users
	// (public keys and permissions only: nothing secret), for an external
	// cluster's config (`include`).
	NATSAuthFile = "nats-auth.conf"
)

// NATSCreds are the paths and public keys of a publisher's NATS users.
type NATSCreds struct {
	PublisherFile, NodeFile string
	Publisher, Node         string // public user nkeys (U...)
}

// LoadOrCreateNATSCreds reads the publisher's and the nodes' NATS
// credentials from dir, creating any that are missing, and (re)writes
// NATSAuthFile from them.
func LoadOrCreateNATSCreds(dir string) (*NATSCreds, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	c := &NATSCreds{PublisherFile: filepath.Join(dir, PublisherCredsFile), NodeFile: filepath.Join(dir, NodeCredsFile)}
	var err error
	if c.Publisher, err = loadOrCreateUserSeed(c.PublisherFile); err != nil {
		return nil, err
	}
	if c.Node, err = loadOrCreateUserSeed(c.NodeFile); err != nil {
		return nil, err
	}
	if c.Publisher == c.Node {
		return nil, fmt.Errorf("%s and %s hold the same key: the nodes would have the publisher's rights", c.PublisherFile, c.NodeFile)
	}
	if err := WriteAtomic(filepath.Join(dir, NATSAuthFile), []byte(c.ServerConfig())); err != nil {
		return nil, fmt.Errorf("%s: %w", NATSAuthFile, err)
	}
	return c, nil
}

// loadOrCreateUserSeed returns the public key of the user seed in path,
// creating the file with a new seed if it does not exist.
func loadOrCreateUserSeed(path string) (string, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		kp, err := nkeys.CreateUser()
		if err != nil {
			return "", fmt.Errorf("%s: %w", path, err)
		}
		seed, err := kp.Seed()
		if err != nil {
			return "", fmt.Errorf("%s: %w", path, err)
		}
		text := fmt.Sprintf("-----BEGIN USER NKEY SEED-----\n%s\n------END USER NKEY SEED------\n", seed)
		if err := writeNew(path, []byte(text)); err != nil {
			return "", fmt.Errorf("%s: %w", path, err)
		}
		return kp.PublicKey()
	}
	if err != nil {
		return "", err
	}
	kp, err := nkeys.ParseDecoratedNKey(data)
	if err != nil {
		return "", fmt.Errorf("%s: not a NATS user nkey seed: %w", path, err)
	}
	pub, err := kp.PublicKey()
	if err != nil || !nkeys.IsValidPublicUserKey(pub) {
		return "", fmt.Errorf("%s: not a NATS user nkey seed", path)
	}
	return pub, nil
}

// CredsOption is the connect option for a credentials file: an nkey seed
// as LoadOrCreateNATSCreds writes, or a JWT .creds file (a user JWT and its
// seed, from nsc) for a cluster with decentralized auth. The file is read
// now, so a missing or malformed one fails at start, and again at each
// (re)connect.
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

// Users are the server's users for these credentials: the publisher with
// every right, the nodes with NodePermissions.
func (c *NATSCreds) Users() []*server.NkeyUser {
	return []*server.NkeyUser{
		{Nkey: c.Publisher},
		{Nkey: c.Node, Permissions: NodePermissions()},
	}
}

// NodePermissions is what the shared node credentials allow, by NATS
// subject; everything not listed is denied. A node may:
//   - read the config bucket (watch and get the snapshot keys) and the
//     artifacts Object Store: stream info, direct and message gets, and
//     the ephemeral ordered consumers a watch and an object read create;
//   - write and delete keys of the node-status bucket and the services
//     bucket (status reports; `sluice announce`), watch the services
//     bucket (discovery), and create either bucket when it is missing
//     (they are kept in memory: a restart of every server loses them);
//   - publish and subscribe on the fleet rate-limit and cache-purge
//     subjects.
//
// It cannot write the config bucket (publish a snapshot) or the Object
// Store (an artifact), create, update, purge or delete any stream, or
// write the history stream. All nodes share one user, so a node can write
// any node's status key, not only its own (RATIONALE.md).
func NodePermissions() *server.Permissions {
	var pub []string
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
		"$KV."+NodesBucket+".>",
		"$KV."+ServicesBucket+".>",
		RateLimitSubjectPrefix+">",
		CachePurgeSubject,
	)
	return &server.Permissions{
		Publish:   &server.SubjectPermission{Allow: pub},
		Subscribe: &server.SubjectPermission{Allow: []string{"_INBOX.>", RateLimitSubjectPrefix + ">", CachePurgeSubject}},
	}
}

// ServerConfig renders the users as a nats-server authorization block.
func (c *NATSCreds) ServerConfig() string {
	var b strings.Builder
	b.WriteString("# Written by the sluice publisher from " + PublisherCredsFile + " and " + NodeCredsFile + ": public keys only.\n")
	b.WriteString("# Include it in every server's config of the cluster: include \"" + NATSAuthFile + "\"\n")
	b.WriteString("authorization {\n  users = [\n")
	b.WriteString("    # the publisher: every right\n")
	fmt.Fprintf(&b, "    {nkey: %q}\n", c.Publisher)
	b.WriteString("    # edge nodes and announcers (" + NodeCredsFile + ")\n")
	p := NodePermissions()
	fmt.Fprintf(&b, "    {nkey: %q, permissions: {\n", c.Node)
	fmt.Fprintf(&b, "      publish: {allow: %s}\n", quoteList(p.Publish.Allow))
	fmt.Fprintf(&b, "      subscribe: {allow: %s}\n", quoteList(p.Subscribe.Allow))
	b.WriteString("    }}\n  ]\n}\n")
	return b.String()
}

func quoteList(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = fmt.Sprintf("%q", s)
	}
	return "[\n        " + strings.Join(q, ",\n        ") + "\n      ]"
}

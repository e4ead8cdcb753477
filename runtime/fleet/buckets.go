// Package fleet is the protocol between the publisher, edge nodes and the
// CLI: the NATS layout (buckets, keys, subjects, the permissions a node
// needs), signed snapshot envelopes, node status, the keys and credentials
// in a data dir, and the one way fleet processes connect to NATS. The parts
// on either side live in packages publisher, fleetnode, fleetclient,
// artifacts and discovery.
package fleet

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// The NATS layout (docs/architecture.md, "NATS layout"). Bucket and key
// names are a contract.
const (
	ConfigBucket    = "sluice_config"
	ArtifactsBucket = "sluice_artifacts"
	NodesBucket     = "sluice_nodes"
	ServicesBucket  = "sluice_services"

	StableKey = "snapshot.stable"
	CanaryKey = "snapshot.canary"
	// RevisionPrefix keys keep every published revision (as its envelope,
	// selector cleared) for rollback and the fleet page.
	RevisionPrefix = "revision."
)

// Expiry of the TTL buckets. A node refreshes its status every
// StatusInterval and an announcer its instance every AnnounceInterval, well
// inside the TTL, so one lost write does not make them vanish.
const (
	NodeTTL          = 30 * time.Second
	StatusInterval   = 5 * time.Second
	ServiceTTL       = 15 * time.Second
	AnnounceInterval = 5 * time.Second
)

// Buckets are the fleet's JetStream stores.
type Buckets struct {
	Config    jetstream.KeyValue
	Artifacts jetstream.ObjectStore
	Nodes     jetstream.KeyValue
	Services  jetstream.KeyValue

	js jetstream.JetStream
}

// Keys lists the keys of a KV bucket matching filter ("" for all) from the
// stream's own subject index. The KV ListKeys call lost: it is a watch that
// ends after as many entries as were pending when it started, so a key
// updated during the listing is delivered twice and another one never
// (measured: 19 of 300 listings short while three nodes reported).
func (b *Buckets) Keys(ctx context.Context, bucket, filter string) ([]string, error) {
	stream, err := b.js.Stream(ctx, "KV_"+bucket)
	if err != nil {
		return nil, fmt.Errorf("bucket %s: %w", bucket, err)
	}
	prefix := "$KV." + bucket + "."
	if filter == "" {
		filter = ">"
	}
	info, err := stream.Info(ctx, jetstream.WithSubjectFilter(prefix+filter))
	if err != nil {
		return nil, fmt.Errorf("bucket %s: %w", bucket, err)
	}
	keys := make([]string, 0, len(info.State.Subjects))
	for subject := range info.State.Subjects {
		keys = append(keys, strings.TrimPrefix(subject, prefix))
	}
	sort.Strings(keys)
	return keys, nil
}

// OpenBuckets creates the fleet's buckets if they are missing and binds to
// them. Publisher and nodes call it alike with the same settings, so
// whichever starts first creates them.
//
// replicas is how many servers of a NATS cluster keep each bucket. 0 keeps
// whatever an existing bucket has (1 for a new one): nodes and announcers
// pass 0, so only the publisher decides, and a node's open never scales a
// replicated bucket down to one copy.
func OpenBuckets(ctx context.Context, js jetstream.JetStream, replicas int) (*Buckets, error) {
	b := Buckets{js: js}
	n, err := ReplicasOf(ctx, js, "KV_"+ConfigBucket, replicas)
	if err == nil {
		b.Config, err = js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket: ConfigBucket, Description: "sluice signed snapshots", History: 1, Storage: jetstream.FileStorage, Replicas: n,
		})
	}
	if err != nil {
		return nil, fmt.Errorf("bucket %s: %w", ConfigBucket, err)
	}
	n, err = ReplicasOf(ctx, js, "OBJ_"+ArtifactsBucket, replicas)
	if err == nil {
		b.Artifacts, err = js.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{
			Bucket: ArtifactsBucket, Description: "sluice wasm modules and policy bundles by sha256", Storage: jetstream.FileStorage, Replicas: n,
		})
	}
	if err != nil {
		return nil, fmt.Errorf("object store %s: %w", ArtifactsBucket, err)
	}
	n, err = ReplicasOf(ctx, js, "KV_"+NodesBucket, replicas)
	if err == nil {
		b.Nodes, err = js.CreateOrUpdateKeyValue(ctx, nodesConfig(n))
	}
	if err != nil {
		return nil, fmt.Errorf("bucket %s: %w", NodesBucket, err)
	}
	n, err = ReplicasOf(ctx, js, "KV_"+ServicesBucket, replicas)
	if err == nil {
		b.Services, err = js.CreateOrUpdateKeyValue(ctx, servicesConfig(n))
	}
	if err != nil {
		return nil, fmt.Errorf("bucket %s: %w", ServicesBucket, err)
	}
	return &b, nil
}

func nodesConfig(replicas int) jetstream.KeyValueConfig {
	return jetstream.KeyValueConfig{
		Bucket: NodesBucket, Description: "sluice node status", History: 1, TTL: NodeTTL, Storage: jetstream.MemoryStorage, Replicas: replicas,
	}
}

// servicesConfig: LimitMarkerTTL makes an expired instance visible to
// watchers as a delete, so nodes drop it without polling.
func servicesConfig(replicas int) jetstream.KeyValueConfig {
	return jetstream.KeyValueConfig{
		Bucket: ServicesBucket, Description: "sluice announced service instances", History: 1, TTL: ServiceTTL,
		LimitMarkerTTL: ServiceTTL, Storage: jetstream.MemoryStorage, Replicas: replicas,
	}
}

// BindBuckets binds to the fleet's buckets without changing them: what
// nodes and announcers do, since their credentials may not manage streams
// (NodePermissions). The config bucket and the Object Store are the
// publisher's to create: one it has not created yet is an error wrapping
// ErrNoBuckets. The status and services buckets, kept in memory, are lost
// when every NATS server restarts; a node or an announcer creates a
// missing one (one copy; the publisher's next start sets its replicas).
func BindBuckets(ctx context.Context, js jetstream.JetStream) (*Buckets, error) {
	b := Buckets{js: js}
	var err error
	bind := func(name string, f func() error) {
		if err != nil {
			return
		}
		if e := f(); e != nil {
			if errors.Is(e, jetstream.ErrBucketNotFound) || errors.Is(e, jetstream.ErrStreamNotFound) {
				e = ErrNoBuckets
			}
			err = fmt.Errorf("bucket %s: %w", name, e)
		}
	}
	bind(ConfigBucket, func() (e error) { b.Config, e = js.KeyValue(ctx, ConfigBucket); return })
	bind(ArtifactsBucket, func() (e error) { b.Artifacts, e = js.ObjectStore(ctx, ArtifactsBucket); return })
	bindOrCreate := func(cfg jetstream.KeyValueConfig) (kv jetstream.KeyValue, err error) {
		kv, err = js.KeyValue(ctx, cfg.Bucket)
		if errors.Is(err, jetstream.ErrBucketNotFound) {
			kv, err = js.CreateKeyValue(ctx, cfg)
			if errors.Is(err, jetstream.ErrBucketExists) { // created meanwhile by another
				kv, err = js.KeyValue(ctx, cfg.Bucket)
			}
		}
		return kv, err
	}
	bind(NodesBucket, func() (e error) { b.Nodes, e = bindOrCreate(nodesConfig(1)); return })
	bind(ServicesBucket, func() (e error) { b.Services, e = bindOrCreate(servicesConfig(1)); return })
	if err != nil {
		return nil, err
	}
	return &b, nil
}

// ReplicasOf is the replica count to open a bucket's stream with: want if
// set, else the existing stream's, else 1.
func ReplicasOf(ctx context.Context, js jetstream.JetStream, stream string, want int) (int, error) {
	if want > 0 {
		return want, nil
	}
	s, err := js.Stream(ctx, stream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return 1, nil
	}
	if err != nil {
		return 0, err
	}
	return max(1, s.CachedInfo().Config.Replicas), nil
}

// RevisionKey is the config-bucket key of a published revision.
func RevisionKey(rev int64) string { return RevisionPrefix + strconv.FormatInt(rev, 10) }

var serviceRe = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// ValidService reports whether name can name a service in the services
// bucket (the first token of its keys, SERVICE.INSTANCE).
func ValidService(name string) bool { return serviceRe.MatchString(name) }

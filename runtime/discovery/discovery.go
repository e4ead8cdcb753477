// Package discovery is `discovery: nats`: service instances announced in
// the services bucket (Announce), followed by nodes (Discovery) and merged
// into their upstreams without a new snapshot.
package discovery

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sluicegw/sluice/runtime/edge"
	"github.com/sluicegw/sluice/runtime/fleet"
)

// DiscoveryNATS is the value of an upstream's discovery key that makes it
// take instances announced in the services bucket.
const DiscoveryNATS = "nats"

// Announcement is the value of a services bucket entry, key SERVICE.INSTANCE.
type Announcement struct {
	Service  string    `json:"service"`
	URL      string    `json:"url"`
	Announce time.Time `json:"announced"`
}

// InstanceKey is the services bucket key of one instance: the service, a
// dot, and a short hash of the URL (a URL cannot be a key token: it has
// dots), so announcing the same URL twice is one instance.
func InstanceKey(service, url string) (string, error) {
	if !fleet.ValidService(service) {
		return "", fmt.Errorf("service %q: use letters, digits, - and _", service)
	}
	sum := sha256.Sum256([]byte(url))
	return service + "." + hex.EncodeToString(sum[:6]), nil
}

// Discovery keeps the instances announced for each service and hands them
// to the pools of upstreams with `discovery: nats` in the running snapshot.
// Instances come and go without a new snapshot.
type Discovery struct {
	log *slog.Logger

	mu        sync.Mutex
	instances map[string]map[string]string // service → key → URL
	latest    *edge.Snapshot               // the last snapshot prepared (running, or about to)
}

// New returns an empty discovery; pass its Prepare as the node's
// edge.Options.PrepareSnapshot and it to fleetnode.Options.Discovery.
func New(log *slog.Logger) *Discovery {
	if log == nil {
		log = slog.Default()
	}
	return &Discovery{log: log, instances: map[string]map[string]string{}}
}

// Prepare hands a new snapshot the instances known now; the node calls it
// before swapping the snapshot in.
func (d *Discovery) Prepare(s *edge.Snapshot) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.latest = s
	d.push()
}

// push updates every discovery upstream of the latest snapshot. d.mu is held.
func (d *Discovery) push() {
	s := d.latest
	if s == nil || s.Config == nil {
		return
	}
	pools := s.Pools()
	for name, u := range s.Config.Upstreams {
		if u.Discovery != DiscoveryNATS || pools[name] == nil {
			continue
		}
		urls := make([]string, 0, len(d.instances[name]))
		for _, url := range d.instances[name] {
			urls = append(urls, url)
		}
		sort.Strings(urls)
		pools[name].SetDiscovered(urls)
	}
}

// Instances returns the URLs known for service, sorted.
func (d *Discovery) Instances(service string) []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []string
	for _, u := range d.instances[service] {
		out = append(out, u)
	}
	sort.Strings(out)
	return out
}

// Follow watches the services bucket until ctx is done. The watch starts
// with every live entry; they replace what was known before, so instances
// that expired while the node was disconnected are dropped.
func (d *Discovery) Follow(ctx context.Context, services jetstream.KeyValue) {
	w, err := services.WatchAll(ctx)
	if err != nil {
		d.log.Warn("service discovery watch failed", "error", err)
		return
	}
	defer w.Stop()
	fresh := map[string]map[string]string{} // the initial values, until the nil marker
	for {
		select {
		case <-ctx.Done():
			return
		case e, ok := <-w.Updates():
			if !ok {
				return
			}
			d.mu.Lock()
			switch {
			case e == nil: // initial values are in: they are the truth now
				d.instances, fresh = fresh, nil
				d.push()
			case fresh != nil:
				apply(fresh, e)
			default:
				apply(d.instances, e)
				d.push()
			}
			d.mu.Unlock()
		}
	}
}

// apply records one services bucket change in m.
func apply(m map[string]map[string]string, e jetstream.KeyValueEntry) {
	service, _, ok := strings.Cut(e.Key(), ".")
	if !ok {
		return
	}
	if e.Operation() != jetstream.KeyValuePut {
		delete(m[service], e.Key())
		return
	}
	var a Announcement
	if json.Unmarshal(e.Value(), &a) != nil || a.URL == "" {
		return
	}
	if m[service] == nil {
		m[service] = map[string]string{}
	}
	m[service][e.Key()] = a.URL
}

// Announce keeps one instance of service announced at url until ctx is
// done, then withdraws it. It refreshes the entry every interval (well
// inside ServiceTTL) and reconnects forever. opts are extra connect
// options (CredsOption).
func Announce(ctx context.Context, natsURL, service, url string, interval time.Duration, log *slog.Logger, opts ...nats.Option) error {
	key, err := InstanceKey(service, url)
	if err != nil {
		return err
	}
	if log == nil {
		log = slog.Default()
	}
	nc, err := fleet.Connect(natsURL, "sluice-announce "+service, opts...)
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	var kv jetstream.KeyValue
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if kv == nil {
			octx, cancel := context.WithTimeout(ctx, 5*time.Second)
			if b, err := fleet.BindBuckets(octx, js); err == nil {
				kv = b.Services
			} else if ctx.Err() == nil {
				log.Warn("services bucket unavailable; retrying", "error", err)
			}
			cancel()
		}
		if kv != nil {
			pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			_, err := kv.Put(pctx, key, fleet.MustJSON(Announcement{Service: service, URL: url, Announce: time.Now().UTC()}))
			cancel()
			if err != nil && ctx.Err() == nil {
				log.Warn("announce failed; retrying", "error", err)
			}
		}
		select {
		case <-ctx.Done():
			if kv != nil {
				dctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				defer cancel()
				if err := kv.Delete(dctx, key); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
					return fmt.Errorf("withdraw %s: %w", key, err)
				}
			}
			return nil
		case <-t.C:
		}
	}
}

package proxy

import (
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"

	"github.com/cespare/xxhash/v2"

	"github.com/sluicegw/sluice/runtime/config"
)

// ringHash is consistent hashing on a ring of virtual nodes, pointsPerWeight
// per unit of weight. A key goes to the first point at or after its hash;
// when that endpoint is unusable the walk continues along the ring, so losing
// one of N endpoints moves only the ~1/N of keys it owned. The hash is
// deterministic (FNV-1a, then a 64-bit finalizer), not seeded per process, so
// every edge node of the fleet sends a key to the same endpoint. Requests
// without a key are spread by round robin.
type ringHash struct {
	endpoints []*endpoint
	points    []ringPoint // sorted by hash
	key       func(*http.Request) (string, bool)
	fallback  *roundRobin
}

type ringPoint struct {
	hash uint64
	idx  int // into endpoints
}

// pointsPerWeight virtual nodes per unit of weight keep the share of each
// endpoint within a few percent of its weight (ketama uses 160).
const pointsPerWeight = 160

func newRingHash(eps []*endpoint, hashOn config.HashOn) (*ringHash, error) {
	key, err := hashKey(hashOn)
	if err != nil {
		return nil, err
	}
	b := &ringHash{endpoints: eps, key: key, fallback: newRoundRobin(eps)}
	for i, e := range eps {
		for v := range e.weight * pointsPerWeight {
			b.points = append(b.points, ringPoint{hash: hashString(e.raw + "#" + strconv.Itoa(v)), idx: i})
		}
	}
	slices.SortFunc(b.points, func(a, c ringPoint) int {
		switch {
		case a.hash < c.hash:
			return -1
		case a.hash > c.hash:
			return 1
		}
		return a.idx - c.idx
	})
	return b, nil
}

func (b *ringHash) pick(r *http.Request, tried []*endpoint) *endpoint {
	k, ok := b.key(r)
	if !ok || len(b.points) == 0 {
		return b.fallback.pick(r, tried)
	}
	return b.lookup(hashString(k), tried)
}

// lookup walks the ring from h to the first usable endpoint.
func (b *ringHash) lookup(h uint64, tried []*endpoint) *endpoint {
	n := len(b.points)
	lo, hi := 0, n
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if b.points[mid].hash < h {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	last := -1
	for i := range n {
		idx := b.points[(lo+i)%n].idx
		if idx == last {
			continue // consecutive points of one endpoint: already refused
		}
		last = idx
		if e := b.endpoints[idx]; e.usable(tried) {
			return e
		}
	}
	return nil
}

// hashKey returns the request's key for hash_on, parsed by the config
// (config.ParseHashOn): a header's first value, a cookie's value or the
// client's address; false when the request has none.
func hashKey(on config.HashOn) (func(*http.Request) (string, bool), error) {
	switch on.Kind {
	case config.HashOnClientIP:
		return func(r *http.Request) (string, bool) {
			ip := clientIP(r.RemoteAddr)
			return ip, ip != ""
		}, nil
	case config.HashOnHeader:
		canon := http.CanonicalHeaderKey(on.Name) // once here, not per request
		return func(r *http.Request) (string, bool) {
			if vs := r.Header[canon]; len(vs) > 0 && vs[0] != "" {
				return vs[0], true
			}
			return "", false
		}, nil
	case config.HashOnCookie:
		return func(r *http.Request) (string, bool) {
			c, err := r.Cookie(on.Name)
			if err != nil || c.Value == "" {
				return "", false
			}
			return c.Value, true
		}, nil
	}
	// Only a HashOn built by hand gets here: the config refuses bad ones.
	return nil, fmt.Errorf("hash_on %q: not a kind of config.ParseHashOn", on)
}

// clientIP is the host part of a RemoteAddr ("1.2.3.4:5678", "[::1]:80").
func clientIP(remoteAddr string) string {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		return remoteAddr
	}
	return host
}

// hashString is the 64-bit xxHash of s: well spread even for short,
// similar keys ("user-1", "user-2") and ring points.
func hashString(s string) uint64 { return xxhash.Sum64String(s) }

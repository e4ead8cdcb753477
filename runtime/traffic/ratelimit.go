// Package traffic holds the traffic stages of the edge pipeline: rate
// limits, the response cache, compression and aggregation. Each is built
// once per route when a snapshot is built and is safe for concurrent use.
package traffic

import (
	"math"
	"sync"
	"time"

	"github.com/cespare/xxhash/v2"
)

// A Limiter is a token bucket per key, kept as GCRA (the generic cell rate
// algorithm): one int64 per key, the theoretical arrival time (tat) of the
// next request when the bucket is empty. A bucket holds Capacity tokens and
// refills one token every Interval. Keys are 64-bit hashes, so a key costs
// no allocation and a fixed amount of memory; two keys colliding in 64 bits
// would share a bucket, which at a million keys happens with probability
// about 3e-8.
//
// Memory is bounded: each of the limiter's shards holds at most
// maxKeys/shards keys. A shard that fills up first forgets the keys whose
// bucket is full again (their tat is in the past: forgetting them changes
// nothing), then, if it is still mostly full, arbitrary keys; a forgotten
// key starts again with a full bucket. See RATIONALE.md, "Rate limits".
type Limiter struct {
	interval int64 // nanoseconds per token
	capacity int64 // tokens in a full bucket
	window   int64 // interval * capacity: how far tat may run ahead of now
	limit    int   // capacity, for the RateLimit-Limit header
	perShard int
	shards   [limiterShards]limiterShard
}

const limiterShards = 64

type limiterShard struct {
	mu   sync.Mutex
	tats map[uint64]int64
	// taken counts the tokens admitted per key since the last fleet report;
	// nil unless the limiter is shared with a fleet. Kept under the shard's
	// lock, so a fleet-scope check takes one lock, as a node-scope one does.
	taken map[uint64]uint32
	_     [32]byte // keep neighbouring shards' locks off one cache line
}

// DefaultMaxKeys bounds the keys one limiter remembers: about 40 MiB at the
// worst for one route.
const DefaultMaxKeys = 1 << 20

// NewLimiter returns a limiter admitting requests per per, with burst more
// at once: a full bucket holds requests+burst tokens. maxKeys <= 0 means
// DefaultMaxKeys.
func NewLimiter(requests int, per time.Duration, burst, maxKeys int) *Limiter {
	if requests < 1 {
		requests = 1
	}
	if maxKeys <= 0 {
		maxKeys = DefaultMaxKeys
	}
	interval := int64(per) / int64(requests)
	if interval < 1 {
		interval = 1
	}
	capacity := int64(requests + burst)
	l := &Limiter{
		interval: interval,
		capacity: capacity,
		window:   interval * capacity,
		limit:    int(capacity),
		perShard: max(maxKeys/limiterShards, 1),
	}
	for i := range l.shards {
		l.shards[i].tats = make(map[uint64]int64)
	}
	return l
}

// Decision is the outcome of one check, with what the RateLimit headers say.
type Decision struct {
	Allowed   bool
	Limit     int           // tokens in a full bucket
	Remaining int           // tokens left after this request
	Reset     time.Duration // until the bucket is full again
	// RetryAfter is how long until a denied request would be admitted.
	RetryAfter time.Duration
}

// Allow takes one token from key's bucket at time now.
func (l *Limiter) Allow(key uint64, now time.Time) Decision {
	t := now.UnixNano()
	s := &l.shards[key%limiterShards]
	s.mu.Lock()
	tat, ok := s.tats[key]
	if !ok || tat < t {
		tat = t
	}
	next := tat + l.interval
	if next-t > l.window {
		s.mu.Unlock()
		return Decision{Limit: l.limit, Reset: time.Duration(tat - t), RetryAfter: time.Duration(next - t - l.window)}
	}
	if !ok && len(s.tats) >= l.perShard {
		l.shrink(s, t)
	}
	s.tats[key] = next
	if s.taken != nil {
		s.taken[key]++
	}
	s.mu.Unlock()
	return Decision{
		Allowed:   true,
		Limit:     l.limit,
		Remaining: int((l.window - (next - t)) / l.interval),
		Reset:     time.Duration(next - t),
	}
}

// consume takes n tokens from key's bucket without asking: tokens other
// nodes spent. The bucket may go into debt (below empty), which keeps this
// node refusing until the fleet as a whole is back under rate.
func (l *Limiter) consume(key uint64, n int64, t int64) {
	s := &l.shards[key%limiterShards]
	s.mu.Lock()
	tat, ok := s.tats[key]
	if !ok || tat < t {
		tat = t
	}
	if !ok && len(s.tats) >= l.perShard {
		l.shrink(s, t)
	}
	// A debt beyond one bucket below empty says nothing more than
	// "refuse": cap it so a flood of reports cannot lock a key out for
	// long.
	s.tats[key] = min(tat+n*l.interval, t+2*l.window)
	s.mu.Unlock()
}

// track makes the limiter count admitted tokens per key for fleet reports.
func (l *Limiter) track() {
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.Lock()
		s.taken = make(map[uint64]uint32)
		s.mu.Unlock()
	}
}

// drainTaken hands fn the tokens counted since the last call, shard by
// shard, and resets the counts.
func (l *Limiter) drainTaken(fn func(key uint64, n uint32)) {
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.Lock()
		taken := s.taken
		if len(taken) == 0 {
			s.mu.Unlock()
			continue // the map stays the shard's: never read it unlocked
		}
		s.taken = make(map[uint64]uint32, len(taken))
		s.mu.Unlock()
		for k, n := range taken {
			fn(k, n)
		}
	}
}

// shrink makes room in a full shard; the caller holds its lock.
func (l *Limiter) shrink(s *limiterShard, t int64) {
	for k, tat := range s.tats {
		if tat <= t {
			delete(s.tats, k) // a full bucket: forgetting it loses nothing
		}
	}
	target := l.perShard * 3 / 4
	if len(s.tats) <= target {
		return
	}
	// Every key is active. Map iteration order is random, so this forgets
	// arbitrary keys, which start again with a full bucket.
	for k := range s.tats {
		if len(s.tats) <= target {
			break
		}
		delete(s.tats, k)
	}
}

// Len returns how many keys the limiter remembers.
func (l *Limiter) Len() int {
	n := 0
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.Lock()
		n += len(s.tats)
		s.mu.Unlock()
	}
	return n
}

// Seconds rounds d up to whole seconds, as the Retry-After and RateLimit
// headers count them; a positive d is at least 1.
func Seconds(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64(math.Ceil(d.Seconds()))
}

// HashKey is the 64-bit xxHash of a rate-limit key: fast, well spread over
// shards, and the same on every node, which fleet-scope limits rely on.
func HashKey(s string) uint64 { return xxhash.Sum64String(s) }

// Checker is a rate limit as the pipeline sees it: a node-scope Limiter or a
// fleet-scope FleetLimiter.
type Checker interface {
	Allow(key uint64, now time.Time) Decision
}

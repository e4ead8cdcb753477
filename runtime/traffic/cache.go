package traffic

import (
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/sluicegw/sluice/runtime/httperr"
)

// Origin produces a response when the cache cannot: the upstream, an
// aggregation.
type Origin func(w http.ResponseWriter, r *http.Request) error

// CacheOptions bound one route's cache.
type CacheOptions struct {
	MaxEntries   int   // distinct keys; default 10,000
	MaxBytes     int64 // bodies and headers of every entry; default 64 MiB
	MaxBodyBytes int   // larger responses stream through unstored; default 1 MiB
}

func (o CacheOptions) withDefaults() CacheOptions {
	if o.MaxEntries <= 0 {
		o.MaxEntries = 10_000
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = 64 << 20
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = 1 << 20
	}
	return o
}

// A Cache is one route's response cache: in memory, least recently used
// keys evicted first, bounded in entries and bytes. A key is the path and
// query the upstream sees; each key holds the variants its Vary header
// selects. See RATIONALE.md, "Response cache".
type Cache struct {
	ttl  time.Duration
	opts CacheOptions

	putMu   sync.Mutex // serializes writes, so the byte count stays exact
	entries *lru.Cache[string, *cacheObject]
	bytes   atomic.Int64
	flights flightGroup
	hits    atomic.Int64
	misses  atomic.Int64
}

// cacheObject is what a key holds: its variants, all under the same Vary.
type cacheObject struct {
	variants []*cacheEntry
	size     int64
}

// maxVariants bounds the variants of one key: a Vary on a header with many
// values (User-Agent) must not fill the cache with one URL.
const maxVariants = 8

type cacheEntry struct {
	status   int
	header   http.Header // as the upstream sent it, without Age
	clen     []string    // Content-Length, preformatted
	body     []byte
	stored   time.Time
	expires  time.Time
	age      int64    // the upstream's Age when stored, seconds
	vary     []string // canonical names of the request headers it varies on
	varyVals []string // their values in the request that filled it
	size     int64
}

var (
	hitHeader  = []string{"HIT"}
	missHeader = []string{"MISS"}
)

// NewCache returns a route's cache; ttl caps and defaults freshness.
func NewCache(ttl time.Duration, opts CacheOptions) *Cache {
	c := &Cache{ttl: ttl, opts: opts.withDefaults()}
	c.entries, _ = lru.NewWithEvict(c.opts.MaxEntries, func(_ string, o *cacheObject) {
		c.bytes.Add(-o.size)
	})
	return c
}

// Serve answers r from the cache when it can, otherwise from origin, storing
// what may be stored. Concurrent misses for one key make one origin request;
// the others wait for it. authorized says the route authenticates callers
// (an Authorization header counts too): their responses are stored only
// when marked public.
func (c *Cache) Serve(w http.ResponseWriter, r *http.Request, authorized bool, now time.Time, origin Origin) error {
	// The edge never sends an upgrade here: it classifies those once
	// (httpguard.UpgradeOf) and goes straight to the origin.
	p := requestCachePolicy(r)
	if !p.lookup && !p.store {
		c.misses.Add(1)
		w.Header()["X-Cache"] = missHeader
		return origin(w, r)
	}
	authorized = authorized || r.Header.Get("Authorization") != ""
	key := storeKey(r)
	if !p.lookup {
		_, err := c.fill(w, r, key, p.store, authorized, now, origin)
		return err
	}
	if e := c.lookup(key, r, now); e != nil {
		c.writeHit(w, e, now, r.Method == http.MethodHead)
		return nil
	}
	if !p.store { // HEAD: nothing to share with the GETs waiting on a fill
		c.misses.Add(1)
		w.Header()["X-Cache"] = missHeader
		return origin(w, r)
	}
	f, leader := c.flights.join(key)
	if !leader {
		c.flights.waiting.Add(1)
		defer c.flights.waiting.Add(-1)
		select {
		case <-f.done:
		case <-r.Context().Done():
			return httperr.ClientClosed(r.Context().Err())
		}
		if e := f.entry; e != nil && e.matches(r) {
			c.writeHit(w, e, now, r.Method == http.MethodHead)
			return nil
		}
		// The response was not shareable, or varies on what this request
		// sent differently: ask the origin for this one.
		_, err := c.fill(w, r, key, p.store, authorized, now, origin)
		return err
	}
	var e *cacheEntry
	defer func() { c.flights.finish(key, f, e) }() // also when origin panics
	var err error
	e, err = c.fill(w, r, key, p.store, authorized, now, origin)
	return err
}

// CacheKey is what the purge API names an entry by: the path and query as
// they go upstream.
func CacheKey(r *http.Request) string {
	p := r.URL.EscapedPath()
	if r.URL.RawQuery == "" {
		return p
	}
	return p + "?" + r.URL.RawQuery
}

// storeKey is the key an entry is stored under: the client's Host, then the
// CacheKey. A route matching many hosts (no host, or *.example.com) usually
// reaches an upstream that answers per host (it sees X-Forwarded-Host), so
// hosts never share an entry.
func storeKey(r *http.Request) string {
	return r.Host + "\x00" + CacheKey(r)
}

func (c *Cache) lookup(key string, r *http.Request, now time.Time) *cacheEntry {
	o, ok := c.entries.Get(key)
	if !ok {
		return nil
	}
	for _, e := range o.variants {
		if e.matches(r) && now.Before(e.expires) {
			return e
		}
	}
	return nil
}

func (e *cacheEntry) matches(r *http.Request) bool {
	for i, name := range e.vary {
		if headerValue(r.Header, name) != e.varyVals[i] {
			return false
		}
	}
	return true
}

// headerValue is a header's field values as one string, without allocating
// in the common case of a single line.
func headerValue(h http.Header, name string) string {
	vs := h[name]
	switch len(vs) {
	case 0:
		return ""
	case 1:
		return vs[0]
	}
	return strings.Join(vs, ", ")
}

func (c *Cache) writeHit(w http.ResponseWriter, e *cacheEntry, now time.Time, head bool) {
	c.hits.Add(1)
	h := w.Header()
	// The stored slices are shared; their capacity is their length, so an
	// Add by a later stage copies rather than writes into them.
	for k, vs := range e.header {
		h[k] = vs
	}
	h["Age"] = []string{strconv.FormatInt(e.age+int64(now.Sub(e.stored)/time.Second), 10)}
	h["X-Cache"] = hitHeader
	h["Content-Length"] = e.clen
	w.WriteHeader(e.status)
	if len(e.body) > 0 && !head {
		_, _ = w.Write(e.body)
	}
}

// fill asks the origin and stores the response if it may. It returns the
// stored entry, or nil.
func (c *Cache) fill(w http.ResponseWriter, r *http.Request, key string, store, authorized bool, now time.Time, origin Origin) (*cacheEntry, error) {
	c.misses.Add(1)
	fw := &fillWriter{w: w, header: http.Header{}, c: c, store: store, authorized: authorized, now: now}
	err := origin(fw, r)
	if fw.pass || !fw.wrote {
		return nil, err // streamed through, or nothing came back (err says why)
	}
	if err != nil {
		return nil, err
	}
	e := c.newEntry(fw, r, now)
	c.put(key, e)
	c.writeStored(w, e)
	return e, nil
}

// writeStored writes a response just stored, as a miss.
func (c *Cache) writeStored(w http.ResponseWriter, e *cacheEntry) {
	h := w.Header()
	for k, vs := range e.header {
		h[k] = vs
	}
	h["X-Cache"] = missHeader
	h["Content-Length"] = e.clen
	w.WriteHeader(e.status)
	if len(e.body) > 0 {
		_, _ = w.Write(e.body)
	}
}

func (c *Cache) newEntry(fw *fillWriter, r *http.Request, now time.Time) *cacheEntry {
	h := fw.header.Clone() // Clone gives each value slice cap == len
	age := parseSeconds(h.Get("Age"))
	if h.Get("Age") == "" {
		age = 0
	}
	delete(h, "Age")
	delete(h, "X-Cache")
	delete(h, "Content-Length")
	e := &cacheEntry{
		status:  fw.status,
		header:  h,
		clen:    []string{strconv.Itoa(len(fw.buf))},
		body:    fw.buf,
		stored:  now,
		expires: now.Add(fw.life),
		age:     age,
	}
	for _, v := range h["Vary"] {
		for _, name := range strings.Split(v, ",") {
			if name = strings.TrimSpace(name); name != "" {
				name = http.CanonicalHeaderKey(name)
				e.vary = append(e.vary, name)
				e.varyVals = append(e.varyVals, headerValue(r.Header, name))
			}
		}
	}
	e.size = int64(len(e.body)) + 256
	for k, vs := range h {
		e.size += int64(len(k))
		for _, v := range vs {
			e.size += int64(len(v)) + 16
		}
	}
	return e
}

// put stores e under key, beside the variants that differ from it, and
// evicts the least recently used keys until the byte bound holds.
func (c *Cache) put(key string, e *cacheEntry) {
	if e.size > c.opts.MaxBytes {
		return
	}
	c.putMu.Lock()
	defer c.putMu.Unlock()
	o := &cacheObject{variants: []*cacheEntry{e}, size: e.size}
	old, ok := c.entries.Peek(key)
	if ok {
		for _, v := range old.variants {
			if len(o.variants) == maxVariants {
				break
			}
			if sameNames(v.vary, e.vary) && !sameNames(v.varyVals, e.varyVals) && v.expires.After(e.stored) {
				o.variants = append(o.variants, v)
				o.size += v.size
			}
		}
		// Replacing a key does not call the eviction callback.
		c.bytes.Add(-old.size)
	}
	c.bytes.Add(o.size)
	c.entries.Add(key, o)
	for c.bytes.Load() > c.opts.MaxBytes {
		if _, _, ok := c.entries.RemoveOldest(); !ok {
			break
		}
	}
}

func sameNames(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Purge drops the entries of one CacheKey, for every host, with all their
// variants, and returns how many keys it dropped. It walks the keys: an
// operator's action, not a request's.
func (c *Cache) Purge(key string) int {
	c.putMu.Lock()
	defer c.putMu.Unlock()
	n := 0
	for _, k := range c.entries.Keys() {
		if _, ck, _ := strings.Cut(k, "\x00"); ck == key && c.entries.Remove(k) {
			n++
		}
	}
	return n
}

// PurgeAll empties the cache and returns how many keys it held.
func (c *Cache) PurgeAll() int {
	c.putMu.Lock()
	defer c.putMu.Unlock()
	n := c.entries.Len()
	c.entries.Purge()
	return n
}

// CacheStats is a cache's state, for the admin API and tests.
type CacheStats struct {
	Keys    int   `json:"keys"`
	Bytes   int64 `json:"bytes"`
	Waiting int64 `json:"waiting"` // requests waiting for another one's fill
	Hits    int64 `json:"hits"`    // answered from the cache, since it was built
	Misses  int64 `json:"misses"`  // answered by the origin
}

// Stats returns the cache's state now.
func (c *Cache) Stats() CacheStats {
	return CacheStats{Keys: c.entries.Len(), Bytes: c.bytes.Load(), Waiting: c.flights.waiting.Load(),
		Hits: c.hits.Load(), Misses: c.misses.Load()}
}

// fillWriter holds an origin's response while it may still be stored, and
// turns into a pass-through as soon as it may not: not storable by its
// headers, or larger than the body bound.
type fillWriter struct {
	w          http.ResponseWriter
	header     http.Header
	status     int
	buf        []byte
	wrote      bool
	pass       bool
	life       time.Duration
	c          *Cache
	store      bool
	authorized bool
	now        time.Time
}

func (f *fillWriter) Header() http.Header {
	if f.pass {
		return f.w.Header()
	}
	return f.header
}

func (f *fillWriter) Unwrap() http.ResponseWriter { return f.w }

func (f *fillWriter) WriteHeader(code int) {
	if f.pass {
		f.w.WriteHeader(code)
		return
	}
	if f.wrote {
		return
	}
	if code < 200 {
		f.startPass() // informational or switching: nothing to store
		f.w.WriteHeader(code)
		return
	}
	f.wrote, f.status = true, code
	life, ok := freshness(code, f.header, f.authorized, f.c.ttl, f.now)
	_, trailers := f.header["Trailer"]
	if !ok || !f.store || trailers {
		f.startPass()
		f.w.WriteHeader(code)
		return
	}
	f.life = life
}

// startPass hands what is held so far to the client writer.
func (f *fillWriter) startPass() {
	h := f.w.Header()
	for k, vs := range f.header {
		h[k] = vs
	}
	h["X-Cache"] = missHeader
	f.pass = true
}

func (f *fillWriter) Write(p []byte) (int, error) {
	if !f.wrote && !f.pass {
		f.WriteHeader(http.StatusOK)
	}
	if f.pass {
		return f.w.Write(p)
	}
	if len(f.buf)+len(p) > f.c.opts.MaxBodyBytes {
		// Too large to keep: the client gets it streamed, unstored.
		f.startPass()
		f.w.WriteHeader(f.status)
		if len(f.buf) > 0 {
			if _, err := f.w.Write(f.buf); err != nil {
				return 0, err
			}
		}
		f.buf = nil
		return f.w.Write(p)
	}
	f.buf = append(f.buf, p...)
	return len(p), nil
}

// Flush reaches the client only once streaming; a response being held is
// complete before anyone sees it.
func (f *fillWriter) Flush() {
	if f.pass {
		_ = http.NewResponseController(f.w).Flush()
	}
}

// flightGroup lets one request per key ask the origin while the others
// wait for its answer.
type flightGroup struct {
	mu      sync.Mutex
	m       map[string]*flight
	waiting atomic.Int64 // requests waiting for another one's fill
}

type flight struct {
	done  chan struct{}
	entry *cacheEntry // what the leader stored; nil if nothing
}

func (g *flightGroup) join(key string) (*flight, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if f, ok := g.m[key]; ok {
		return f, false
	}
	if g.m == nil {
		g.m = make(map[string]*flight)
	}
	f := &flight{done: make(chan struct{})}
	g.m[key] = f
	return f, true
}

func (g *flightGroup) finish(key string, f *flight, e *cacheEntry) {
	g.mu.Lock()
	delete(g.m, key)
	g.mu.Unlock()
	f.entry = e
	close(f.done)
}

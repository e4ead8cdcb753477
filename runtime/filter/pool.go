package filter

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
)

// pool holds a module's instances. Idle instances are a LIFO stack, so
// under light load the same few stay warm and the rest age out and are
// closed after the idle timeout (scale to zero). live counts idle and
// in-use instances against the cap; at the cap, Acquire queues a waiter
// that a Release hands its instance (or, when the released instance is
// dropped, its slot) to directly, first come first served.
type pool struct {
	m       *Module
	max     int
	idleTTL time.Duration
	// idleRelease is how long an idle instance keeps its pages before
	// they go back to the OS (releaseIdle).
	idleRelease time.Duration
	mu          sync.Mutex
	idle        []*Instance
	live        int
	waiters     []chan *Instance // a nil receive means: a slot is yours, create one
	closed      bool
	stopReap    chan struct{}
}

// PoolStats is a snapshot of a module's pool.
type PoolStats struct {
	Live    int // instances alive, idle or in use
	Idle    int // instances waiting in the pool
	Waiters int // Acquire calls waiting at the cap
}

func (p *pool) init(m *Module, max int, idleTTL time.Duration) {
	p.m, p.max, p.idleTTL = m, max, idleTTL
	p.idleRelease = min(idleReleaseAfter, idleTTL/2)
	p.stopReap = make(chan struct{})
	go p.reap()
}

// seed adds the instance Load created.
func (p *pool) seed(i *Instance) {
	p.mu.Lock()
	p.live++
	i.lastUsed = time.Now()
	p.idle = append(p.idle, i)
	p.mu.Unlock()
}

// Stats returns the pool's current counts.
func (m *Module) Stats() PoolStats {
	p := &m.pool
	p.mu.Lock()
	defer p.mu.Unlock()
	return PoolStats{Live: p.live, Idle: len(p.idle), Waiters: len(p.waiters)}
}

// Acquire returns an idle instance, or a new one below the cap, or waits in
// line for one to be released until ctx is done: the caller's deadline (at
// the edge, the route's timeout) is the only bound, so a burst above the cap
// queues instead of failing. A wait that ends at the deadline fails with
// ErrBusy (and context.DeadlineExceeded); a cancelled one with
// context.Canceled. Creating an instance takes from ~100 µs (small guests) to
// a few ms (Go guests).
func (m *Module) Acquire(ctx context.Context) (*Instance, error) {
	p := &m.pool
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, filterError(m.name, "acquire", ErrClosed, "")
	}
	if n := len(p.idle); n > 0 {
		i := p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		return i, nil
	}
	if p.live < p.max {
		p.live++
		p.mu.Unlock()
		return p.create(ctx)
	}
	if ctx.Err() != nil {
		p.mu.Unlock()
		return nil, p.gaveUp(ctx)
	}
	ch := make(chan *Instance, 1)
	p.waiters = append(p.waiters, ch)
	p.mu.Unlock()

	select {
	case i := <-ch:
		return p.received(ctx, i)
	case <-ctx.Done():
	}
	p.mu.Lock()
	if k := slices.Index(p.waiters, ch); k >= 0 {
		p.waiters = slices.Delete(p.waiters, k, k+1)
		p.mu.Unlock()
		return nil, p.gaveUp(ctx)
	}
	p.mu.Unlock()
	// A Release handed us something just as we gave up: pass it on.
	if i := <-ch; i != nil {
		m.Release(i)
	} else {
		p.dropSlot()
	}
	return nil, p.gaveUp(ctx)
}

// gaveUp is the error of an Acquire whose ctx ended while every instance was
// in use: ErrBusy at a deadline, the context's error otherwise (the client
// went away: nothing is at capacity as far as it is concerned).
func (p *pool) gaveUp(ctx context.Context) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("filter %q: acquire: %w: all %d instances in use until the deadline: %w",
			p.m.name, ErrBusy, p.max, context.DeadlineExceeded)
	}
	return filterError(p.m.name, "acquire", ctx.Err(), "")
}

// received handles what a waiter got: an instance, or a slot (nil).
func (p *pool) received(ctx context.Context, i *Instance) (*Instance, error) {
	if i != nil {
		return i, nil
	}
	p.mu.Lock()
	closed := p.closed
	p.mu.Unlock()
	if closed {
		p.dropSlot()
		return nil, filterError(p.m.name, "acquire", ErrClosed, "")
	}
	return p.create(ctx)
}

// create makes an instance for a slot already counted in live.
func (p *pool) create(ctx context.Context) (*Instance, error) {
	i, err := p.m.newInstance(ctx)
	if err != nil {
		p.dropSlot()
		return nil, err
	}
	return i, nil
}

// dropSlot gives up one live slot: to the first waiter, or back to the cap.
func (p *pool) dropSlot() {
	p.mu.Lock()
	if len(p.waiters) > 0 && !p.closed {
		ch := p.waiters[0]
		p.waiters = p.waiters[1:]
		p.mu.Unlock()
		ch <- nil
		return
	}
	p.live--
	p.mu.Unlock()
}

// Release returns an instance to the pool after a request, whatever its
// outcome. An instance that trapped, timed out or misused the ABI is closed
// instead, and so is any instance of a closed module.
func (m *Module) Release(i *Instance) {
	if i == nil {
		return
	}
	p := &m.pool
	i.end()
	i.reqFeatures = 0
	i.released = false // it was used: it has pages to give back again
	p.mu.Lock()
	if i.poisoned || p.closed {
		p.mu.Unlock()
		i.close(context.Background())
		p.dropSlot()
		return
	}
	if len(p.waiters) > 0 {
		ch := p.waiters[0]
		p.waiters = p.waiters[1:]
		p.mu.Unlock()
		ch <- i
		return
	}
	i.lastUsed = time.Now()
	p.idle = append(p.idle, i)
	p.mu.Unlock()
}

// reap closes instances idle for longer than idleTTL, and makes those idle
// for longer than idleRelease give their memory's pages back. They sit at
// the bottom of the LIFO stack. It checks every idleTTL/4 or idleRelease/2,
// whichever is sooner (at least every 10 ms), so an instance lives at most
// 1.25×idleTTL unused.
func (p *pool) reap() {
	tick := max(min(p.idleTTL/4, p.idleRelease/2), 10*time.Millisecond)
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-p.stopReap:
			return
		case now := <-t.C:
			p.closeStale(now)
			p.releaseIdle(now)
		}
	}
}

func (p *pool) closeStale(now time.Time) {
	p.mu.Lock()
	k := 0
	for k < len(p.idle) && now.Sub(p.idle[k].lastUsed) >= p.idleTTL {
		k++
	}
	stale := slices.Clone(p.idle[:k])
	p.idle = slices.Delete(p.idle, 0, k)
	p.live -= k
	p.mu.Unlock()
	for _, i := range stale {
		i.close(context.Background())
	}
}

// releaseIdle resets the instances unused since idleRelease to the module's
// image (Instance.reset): the RAM of every page they wrote goes back to the
// OS, and the next request on them starts as on a new instance. They leave
// the stack while that runs, outside the lock, and go back to its bottom,
// where they were, keeping their lastUsed for closeStale. One that cannot be
// reset is closed.
func (p *pool) releaseIdle(now time.Time) {
	if p.m.image == nil {
		return
	}
	p.mu.Lock()
	var cold []*Instance
	p.idle = slices.DeleteFunc(p.idle, func(i *Instance) bool {
		if i.released || now.Sub(i.lastUsed) < p.idleRelease {
			return false
		}
		cold = append(cold, i)
		return true
	})
	p.mu.Unlock()
	if len(cold) == 0 {
		return
	}
	kept := cold[:0]
	for _, i := range cold {
		if !i.reset() {
			// Its memory grew past the image (a Go guest's heap grows
			// with its first requests), which cannot be undone: it is
			// closed instead, since a new one from the image costs
			// well under a millisecond.
			i.close(context.Background())
			p.dropSlot()
			continue
		}
		i.released = true
		kept = append(kept, i)
	}
	cold = kept
	p.mu.Lock()
	if p.closed {
		p.live -= len(cold)
		p.mu.Unlock()
		for _, i := range cold {
			i.close(context.Background())
		}
		return
	}
	for len(p.waiters) > 0 && len(cold) > 0 {
		ch := p.waiters[0]
		p.waiters = p.waiters[1:]
		ch <- cold[len(cold)-1] // buffered: never blocks
		cold = cold[:len(cold)-1]
	}
	p.idle = append(cold, p.idle...)
	p.mu.Unlock()
}

// close marks the pool closed, wakes the waiters, and closes idle
// instances. It reports false if the pool was already closed.
func (p *pool) close(ctx context.Context) bool {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return false
	}
	p.closed = true
	idle := p.idle
	p.idle = nil
	p.live -= len(idle)
	waiters := p.waiters
	p.waiters = nil
	p.live += len(waiters) // each waiter is handed a slot it will drop
	p.mu.Unlock()
	if p.stopReap != nil {
		close(p.stopReap)
	}
	for _, ch := range waiters {
		ch <- nil
	}
	for _, i := range idle {
		i.close(ctx)
	}
	return true
}

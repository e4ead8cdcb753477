package filter

import (
	"context"
	"sync"
	"time"
)

// pwTicker calls proxy_on_tick on the root context of one instance of the
// module every period the guest set with proxy_set_tick_period_milliseconds
// (Envoy ticks each worker's VM; Sluice's instances are a pool, so the
// tick goes to whichever is idle). It runs from Load to Close; a period of
// 0 (the default) waits for one.
type pwTicker struct {
	mu     sync.Mutex
	period time.Duration
	reset  chan struct{} // the period changed
	stop   chan struct{}
	done   chan struct{}
	// ctx bounds what a tick waits for (its http calls); cancelled by
	// stopTicker, so closing a module never waits for an upstream.
	ctx    context.Context
	cancel context.CancelFunc
}

func (m *Module) setTickPeriod(d time.Duration) {
	t := &m.ticker
	t.mu.Lock()
	changed := t.period != d
	t.period = d
	t.mu.Unlock()
	if changed && t.reset != nil {
		select {
		case t.reset <- struct{}{}:
		default:
		}
	}
}

func (m *Module) tickPeriod() time.Duration {
	m.ticker.mu.Lock()
	defer m.ticker.mu.Unlock()
	return m.ticker.period
}

// startTicker starts the tick loop of a proxy-wasm module once loaded.
func (m *Module) startTicker() {
	t := &m.ticker
	t.mu.Lock()
	t.reset, t.stop, t.done = make(chan struct{}, 1), make(chan struct{}), make(chan struct{})
	t.ctx, t.cancel = context.WithCancel(context.Background())
	t.mu.Unlock()
	go m.tickLoop()
}

// stopTicker ends the tick loop and waits for a tick in progress.
func (m *Module) stopTicker() {
	t := &m.ticker
	if t.stop == nil {
		return
	}
	close(t.stop)
	t.cancel()
	<-t.done
}

func (m *Module) tickLoop() {
	t := &m.ticker
	defer close(t.done)
	for {
		p := m.tickPeriod()
		var tick <-chan time.Time
		var timer *time.Timer
		if p > 0 {
			timer = time.NewTimer(p)
			tick = timer.C
		}
		select {
		case <-t.stop:
			if timer != nil {
				timer.Stop()
			}
			return
		case <-t.reset:
			if timer != nil {
				timer.Stop()
			}
		case <-tick:
			m.tick(p)
		}
	}
}

// tick runs proxy_on_tick once, waiting at most a period for an instance.
func (m *Module) tick(period time.Duration) {
	actx, cancel := context.WithTimeout(m.ticker.ctx, max(period, 100*time.Millisecond))
	inst, err := m.Acquire(actx)
	cancel()
	if err != nil {
		return // busy or closed: the next tick tries again
	}
	defer m.Release(inst)
	ctx := m.ticker.ctx
	if _, err := inst.pwInvoke(ctx, pwOnTick, m.opts.Timeout, pwRootContext); err != nil {
		m.logger.Warn("proxy_on_tick failed", "error", err.Error())
		return
	}
	if err := inst.pwSendCalls(ctx); err != nil {
		m.logger.Warn("proxy_on_tick: http call response failed", "error", err.Error())
	}
}

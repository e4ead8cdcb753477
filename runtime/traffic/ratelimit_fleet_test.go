package traffic

import (
	"encoding/binary"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// report builds a fleet report as another node would publish it.
func report(sender uint64, counts map[uint64]uint32) []byte {
	b := binary.BigEndian.AppendUint64(nil, sender)
	for k, n := range counts {
		b = binary.BigEndian.AppendUint64(b, k)
		b = binary.BigEndian.AppendUint32(b, n)
	}
	return b
}

func TestFleetReports(t *testing.T) {
	l := NewLimiter(10, time.Second, 0, 0) // 10 at once, one per 100ms
	l.track()
	f := &FleetLimiter{local: l, id: 1, now: func() time.Time { return t0 }, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	k := HashKey("acme")

	// Another node took 7 tokens: 3 are left here.
	f.receive(&nats.Msg{Data: report(2, map[uint64]uint32{k: 7})})
	if d := f.Allow(k, t0); !d.Allowed || d.Remaining != 2 {
		t.Fatalf("after a report of 7: %+v", d)
	}
	// Our own report, echoed back by the server, changes nothing.
	f.receive(&nats.Msg{Data: report(1, map[uint64]uint32{k: 100})})
	// Malformed reports are ignored.
	f.receive(&nats.Msg{Data: []byte{1, 2, 3}})
	f.receive(&nats.Msg{Data: append(report(3, map[uint64]uint32{k: 100}), 0)})
	if d := f.Allow(k, t0); !d.Allowed || d.Remaining != 1 {
		t.Fatalf("after ignored reports: %+v", d)
	}
	if _, applied := f.Reports(); applied != 1 {
		t.Fatalf("applied %d reports, want 1", applied)
	}

	// A huge report puts the key in debt, capped at one bucket below
	// empty: refused for one bucket's refill time (1 s), then tokens come
	// back.
	f.receive(&nats.Msg{Data: report(2, map[uint64]uint32{k: 1 << 30})})
	if d := f.Allow(k, t0.Add(1000*time.Millisecond)); d.Allowed {
		t.Fatalf("in debt: %+v", d)
	}
	if d := f.Allow(k, t0.Add(1100*time.Millisecond)); !d.Allowed {
		t.Fatalf("debt not capped: %+v", d)
	}

	// What this node admitted is counted for its next report, once.
	got := map[uint64]uint32{}
	l.drainTaken(func(key uint64, n uint32) { got[key] += n })
	if got[k] != 3 {
		t.Fatalf("taken %v, want 3 for the key", got)
	}
	l.drainTaken(func(key uint64, n uint32) { t.Fatalf("drained twice: %x %d", key, n) })
}

// TestLimiterConcurrent exercises every path of a fleet-tracked limiter at
// once (run with -race): checks, reports coming in, reports going out.
func TestLimiterConcurrent(t *testing.T) {
	l := NewLimiter(1000, time.Second, 0, 64)
	l.track()
	var wg sync.WaitGroup
	var admitted, reported atomic.Int64
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 2000 {
				if l.Allow(uint64(i%100+g), t0).Allowed {
					admitted.Add(1)
				}
			}
		}()
	}
	wg.Add(2)
	go func() {
		defer wg.Done()
		for i := range 2000 {
			l.consume(uint64(i%100), 1, t0.UnixNano())
		}
	}()
	go func() {
		defer wg.Done()
		for range 200 {
			l.drainTaken(func(_ uint64, n uint32) { reported.Add(int64(n)) })
		}
	}()
	wg.Wait()
	l.drainTaken(func(_ uint64, n uint32) { reported.Add(int64(n)) })
	if admitted.Load() != reported.Load() {
		t.Fatalf("admitted %d, reported %d", admitted.Load(), reported.Load())
	}
}

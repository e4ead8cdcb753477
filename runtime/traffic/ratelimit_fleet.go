package traffic

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
)

// DefaultFleetSync is how often a node reports what it admitted.
const DefaultFleetSync = 20 * time.Millisecond

// A FleetLimiter shares one rate limit across the nodes of a fleet. Each
// node admits requests against its own copy of every bucket and, every sync
// period, publishes how many tokens it took from which keys; each node
// takes the tokens the others report out of its own copy. Every copy thus
// sees the whole fleet's consumption, late by at most one sync period and
// the NATS delivery. See RATIONALE.md, "Fleet-scope rate limits", for the
// error bound.
//
// A report is binary: the sender's id (8 bytes), then per key its hash (8
// bytes) and the tokens taken (4 bytes), big-endian.
type FleetLimiter struct {
	local   *Limiter
	nc      *nats.Conn
	subject string
	id      uint64 // this limiter's sender id, to skip its own reports
	now     func() time.Time
	log     *slog.Logger

	flushMu sync.Mutex // one report at a time

	sub       *nats.Subscription
	stop      chan struct{}
	done      chan struct{}
	published atomic.Int64 // reports sent
	applied   atomic.Int64 // reports from other nodes taken in
}

// maxReportKeys keeps one report well under NATS's default 1 MiB payload.
const maxReportKeys = 64 << 10

// NewFleetLimiter starts sharing local's buckets on subject (under
// fleet.RateLimitSubjectPrefix). It reports every sync period; sync <= 0 means
// DefaultFleetSync. Close stops it.
func NewFleetLimiter(nc *nats.Conn, subject string, local *Limiter, sync time.Duration, now func() time.Time, log *slog.Logger) (*FleetLimiter, error) {
	if sync <= 0 {
		sync = DefaultFleetSync
	}
	var idb [8]byte
	if _, err := rand.Read(idb[:]); err != nil {
		return nil, err
	}
	f := &FleetLimiter{
		local:   local,
		nc:      nc,
		subject: subject,
		id:      binary.BigEndian.Uint64(idb[:]),
		now:     now,
		log:     log,
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	local.track()
	sub, err := nc.Subscribe(subject, f.receive)
	if err != nil {
		return nil, fmt.Errorf("subscribe %s: %w", subject, err)
	}
	f.sub = sub
	go f.loop(sync)
	return f, nil
}

// Allow admits against this node's copy of the bucket, which counts the
// token for the next report.
func (f *FleetLimiter) Allow(key uint64, now time.Time) Decision {
	return f.local.Allow(key, now)
}

func (f *FleetLimiter) loop(every time.Duration) {
	defer close(f.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-f.stop:
			return
		case <-t.C:
			if err := f.Flush(); err != nil {
				f.log.Warn("fleet rate limit: report failed", "subject", f.subject, "error", err.Error())
			}
		}
	}
}

// Flush publishes the tokens taken since the last report, if any.
func (f *FleetLimiter) Flush() error {
	f.flushMu.Lock()
	defer f.flushMu.Unlock()
	buf := make([]byte, 8, 8+12*64)
	binary.BigEndian.PutUint64(buf, f.id)
	var errs []error
	n := 0
	f.local.drainTaken(func(k uint64, c uint32) {
		buf = binary.BigEndian.AppendUint64(buf, k)
		buf = binary.BigEndian.AppendUint32(buf, c)
		if n++; n == maxReportKeys {
			errs = append(errs, f.publish(buf))
			buf, n = buf[:8], 0
		}
	})
	if n > 0 {
		errs = append(errs, f.publish(buf))
	}
	return errors.Join(errs...)
}

func (f *FleetLimiter) publish(b []byte) error {
	if err := f.nc.Publish(f.subject, b); err != nil {
		return err
	}
	f.published.Add(1)
	return nil
}

// receive takes another node's report out of this node's buckets.
func (f *FleetLimiter) receive(m *nats.Msg) {
	b := m.Data
	if len(b) < 8 || (len(b)-8)%12 != 0 {
		f.log.Warn("fleet rate limit: malformed report ignored", "subject", m.Subject, "bytes", len(b))
		return
	}
	if binary.BigEndian.Uint64(b) == f.id {
		return // our own, echoed back by the server
	}
	t := f.now().UnixNano()
	for b = b[8:]; len(b) > 0; b = b[12:] {
		f.local.consume(binary.BigEndian.Uint64(b), int64(binary.BigEndian.Uint32(b[8:])), t)
	}
	f.applied.Add(1)
}

// Reports returns how many reports this limiter has sent and how many from
// other nodes it has taken in.
func (f *FleetLimiter) Reports() (published, applied int64) {
	return f.published.Load(), f.applied.Load()
}

// Close stops reporting, sends the last report and unsubscribes.
func (f *FleetLimiter) Close() {
	close(f.stop)
	<-f.done
	_ = f.Flush()
	_ = f.sub.Unsubscribe()
}

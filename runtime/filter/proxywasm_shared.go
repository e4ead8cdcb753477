package filter

import (
	"context"
	"sync"
	"time"
)

// Shared data and shared queues are per node, as in Envoy per VM: every
// proxy-wasm filter of the node's runtime sees the same keys and queues,
// and they outlive snapshot swaps. Both are bounded so that a guest cannot
// grow the node: maxSharedBytes of keys and values, maxQueueItems per queue.

const (
	maxSharedBytes = 16 << 20
	maxQueueItems  = 10000
)

type pwShared struct {
	mu     sync.Mutex
	data   map[string]pwEntry
	bytes  int
	cas    uint32 // the last CAS handed out; never 0, which means "no check"
	queues map[string]*pwQueue
	byID   map[uint32]*pwQueue
}

type pwEntry struct {
	value []byte
	cas   uint32
}

// pwQueue is a named queue; owner is the module whose root context
// registered it last, told through proxy_on_queue_ready when an item
// arrives.
type pwQueue struct {
	id    uint32
	items [][]byte
	owner *Module
}

func newPWShared() *pwShared {
	return &pwShared{data: map[string]pwEntry{}, queues: map[string]*pwQueue{}, byID: map[uint32]*pwQueue{}}
}

func (s *pwShared) get(key string) (pwEntry, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.data[key]
	return e, ok
}

// set stores value unless cas is non-zero and not the key's current CAS (a
// missing key's CAS is 0).
func (s *pwShared) set(key string, value []byte, cas uint32) pwStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.data[key]
	if cas != 0 && (!ok || old.cas != cas) {
		return pwCasMismatch
	}
	grow := len(value) - len(old.value)
	if !ok {
		grow += len(key)
	}
	if s.bytes+grow > maxSharedBytes {
		return pwInternalFailure
	}
	s.bytes += grow
	s.cas++
	if s.cas == 0 {
		s.cas = 1
	}
	s.data[key] = pwEntry{value: append([]byte(nil), value...), cas: s.cas}
	return pwOK
}

// proxy_get_shared_data(key i32, key_size i32, value_ptr_ptr i32, value_size_ptr i32, cas_ptr i32)
func (i *Instance) pwGetSharedData(ctx context.Context, stack []uint64) pwStatus {
	const fn = "proxy_get_shared_data"
	key := i.readString(fn, "key", uint32(stack[0]), uint32(stack[1]))
	e, ok := i.m.rt.shared.get(key)
	if !ok {
		return pwNotFound
	}
	i.pwPutU32(fn, uint32(stack[4]), e.cas)
	return i.pwReturn(ctx, fn, e.value, uint32(stack[2]), uint32(stack[3]))
}

// proxy_set_shared_data(key i32, key_size i32, value i32, value_size i32, cas i32)
func (i *Instance) pwSetSharedData(_ context.Context, stack []uint64) pwStatus {
	const fn = "proxy_set_shared_data"
	key := i.readString(fn, "key", uint32(stack[0]), uint32(stack[1]))
	value := i.view(fn, "value", uint32(stack[2]), uint32(stack[3]))
	return i.m.rt.shared.set(key, value, uint32(stack[4]))
}

// proxy_register_shared_queue(name i32, name_size i32, token_ptr i32)
func (i *Instance) pwRegisterQueue(_ context.Context, stack []uint64) pwStatus {
	const fn = "proxy_register_shared_queue"
	name := i.readString(fn, "name", uint32(stack[0]), uint32(stack[1]))
	s := i.m.rt.shared
	s.mu.Lock()
	q, ok := s.queues[name]
	if !ok {
		q = &pwQueue{id: uint32(len(s.queues) + 1)}
		s.queues[name], s.byID[q.id] = q, q
	}
	q.owner = i.m
	s.mu.Unlock()
	i.pwPutU32(fn, uint32(stack[2]), q.id)
	return pwOK
}

// proxy_resolve_shared_queue(vm_id i32, vm_id_size i32, name i32, name_size i32, token_ptr i32):
// the node has one VM id, so vm_id is ignored.
func (i *Instance) pwResolveQueue(_ context.Context, stack []uint64) pwStatus {
	const fn = "proxy_resolve_shared_queue"
	name := i.readString(fn, "name", uint32(stack[2]), uint32(stack[3]))
	s := i.m.rt.shared
	s.mu.Lock()
	q, ok := s.queues[name]
	s.mu.Unlock()
	if !ok {
		return pwNotFound
	}
	i.pwPutU32(fn, uint32(stack[4]), q.id)
	return pwOK
}

// proxy_enqueue_shared_queue(token i32, data i32, data_size i32)
func (i *Instance) pwEnqueue(_ context.Context, stack []uint64) pwStatus {
	const fn = "proxy_enqueue_shared_queue"
	data := i.view(fn, "data", uint32(stack[1]), uint32(stack[2]))
	s := i.m.rt.shared
	s.mu.Lock()
	q, ok := s.byID[uint32(stack[0])]
	if !ok {
		s.mu.Unlock()
		return pwNotFound
	}
	if len(q.items) >= maxQueueItems || s.bytes+len(data) > maxSharedBytes {
		s.mu.Unlock()
		return pwInternalFailure
	}
	s.bytes += len(data)
	q.items = append(q.items, append([]byte(nil), data...))
	owner, id := q.owner, q.id
	s.mu.Unlock()
	if owner != nil {
		go owner.pwQueueReady(id)
	}
	return pwOK
}

// proxy_dequeue_shared_queue(token i32, data_ptr_ptr i32, data_size_ptr i32)
func (i *Instance) pwDequeue(ctx context.Context, stack []uint64) pwStatus {
	s := i.m.rt.shared
	s.mu.Lock()
	q, ok := s.byID[uint32(stack[0])]
	if !ok {
		s.mu.Unlock()
		return pwNotFound
	}
	if len(q.items) == 0 {
		s.mu.Unlock()
		return pwEmpty
	}
	item := q.items[0]
	q.items[0] = nil
	q.items = q.items[1:]
	s.bytes -= len(item)
	s.mu.Unlock()
	return i.pwReturn(ctx, "proxy_dequeue_shared_queue", item, uint32(stack[1]), uint32(stack[2]))
}

// pwQueueReady calls proxy_on_queue_ready on the root context of one of
// m's instances. It waits for an instance at most a second: the item stays
// queued for the next notification or dequeue either way.
func (m *Module) pwQueueReady(id uint32) {
	if !m.serving.Load() {
		return // still loading, or failed to: the item waits for a dequeue
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	inst, err := m.Acquire(ctx)
	if err != nil {
		return
	}
	defer m.Release(inst)
	_, err = inst.pwInvoke(ctx, pwOnQueueReady, m.opts.Timeout, pwRootContext, id)
	if err == nil {
		err = inst.pwSendCalls(ctx)
	}
	if err != nil {
		m.logger.Warn("proxy_on_queue_ready failed", "queue", id, "error", err.Error())
	}
}

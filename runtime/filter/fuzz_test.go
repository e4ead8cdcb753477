package filter

import (
	"context"
	"testing"
)

// FuzzHostBuffers calls every host function directly, against a real
// instance's memory, with arbitrary pointers, lengths, kinds and levels. A
// host function may fail the call (a *guestFault panic, which wazero turns
// into the call's error) but must never panic otherwise, write outside the
// buffer it was given, or corrupt the exchange.
func FuzzHostBuffers(f *testing.F) {
	rt, _ := newTestRuntime(f, RuntimeOptions{})
	m := loadWAT(f, rt, "oob", ModuleOptions{Config: []byte("z")})
	i, err := m.Acquire(context.Background())
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { m.Release(i) })
	funcs := append(hostFuncs(), sluiceMetricFuncs()...)
	memSize := i.mem.Size()

	f.Add(uint8(0), uint8(0), uint32(0), uint32(0), uint32(0), uint32(0), uint32(0))
	f.Add(uint8(10), uint8(1), uint32(0), uint32(65530), uint32(100), uint32(0), uint32(0))
	f.Add(uint8(11), uint8(0), uint32(0), uint32(16), uint32(4), uint32(65535), uint32(10))
	f.Add(uint8(12), uint8(1), uint32(1), uint32(16), uint32(4), uint32(0xffffffff), uint32(2))
	f.Add(uint8(15), uint8(0), uint32(0), uint32(65536), uint32(1), uint32(0), uint32(0))
	f.Add(uint8(16), uint8(2), uint32(1), uint32(0), uint32(0x7fffffff), uint32(0), uint32(0))
	f.Add(uint8(2), uint8(1), uint32(0xffffffff), uint32(0), uint32(10), uint32(0), uint32(0))
	f.Fuzz(func(t *testing.T, fn, ph uint8, a, b, c, d, e uint32) {
		hf := funcs[int(fn)%len(funcs)]
		// A small exchange, fresh per input, in the phase the input picks.
		x := NewExchange(newRequest("POST", "/p?q=1", "body bytes"))
		x.Req.Header.Set("X-In", "v")
		x.Resp.Body = []byte("response")
		i.begin(x)
		i.phase = []phase{phaseRequest, phaseResponse, phaseIdle}[int(ph)%3]
		if i.phase == phaseIdle {
			i.x = nil
		}
		i.reqFeatures = Features(ph) & supportedFeatures
		// Guard bytes: a write must stay inside [buf, buf+limit).
		mem, _ := i.mem.Read(0, memSize)
		for j := range mem {
			mem[j] = 0xAA
		}
		stack := []uint64{uint64(a), uint64(b), uint64(c), uint64(d), uint64(e)}
		func() {
			defer func() {
				if r := recover(); r != nil {
					if _, ok := r.(*guestFault); !ok {
						t.Fatalf("%s%v panicked: %v", hf.name, stack, r)
					}
				}
			}()
			hf.fn(i, stack)
		}()
		// Writes stay inside [buf, buf+buf_limit).
		lo, hi := writeRange(hf.name, a, b, c, d, e)
		for j, v := range mem {
			if v != 0xAA && (uint64(j) < lo || uint64(j) >= hi) {
				t.Fatalf("%s%v wrote at %d, outside [%d, %d)", hf.name, stack, j, lo, hi)
			}
		}
		if x.Req.Header == nil || x.Resp.Header == nil || len(x.Resp.Body) > maxBodyBytes {
			t.Fatalf("%s left a broken exchange", hf.name)
		}
		i.end()
		i.fault = nil
	})
}

// writeRange is where a host function may write guest memory, from its
// buf and buf_limit parameters; functions without a buffer write nothing.
func writeRange(name string, a, b, c, d, e uint32) (lo, hi uint64) {
	switch name {
	case "get_config", "get_method", "get_uri", "get_protocol_version", "get_source_addr":
		return uint64(a), uint64(a) + uint64(b)
	case "get_header_names", "read_body":
		return uint64(b), uint64(b) + uint64(c)
	case "get_header_values":
		return uint64(d), uint64(d) + uint64(e)
	}
	return 0, 0
}

// FuzzPWHeaderPairs: whatever bytes a proxy-wasm guest hands as serialized
// header pairs, decoding neither panics nor reads past them, and what
// decodes encodes back to the same pairs.
func FuzzPWHeaderPairs(f *testing.F) {
	f.Add(pwEncodePairs([][2]string{{":path", "/"}, {"a", "1"}}))
	f.Add([]byte{})
	f.Add([]byte{1, 0, 0, 0, 255, 255, 255, 255, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		pairs, ok := pwDecodePairs(b)
		if !ok {
			return
		}
		again, ok := pwDecodePairs(pwEncodePairs(pairs))
		if !ok || len(again) != len(pairs) {
			t.Fatalf("%q: re-encoded pairs decode to %q", pairs, again)
		}
		for j := range pairs {
			if again[j] != pairs[j] {
				t.Fatalf("pair %d: %q became %q", j, pairs[j], again[j])
			}
		}
	})
}

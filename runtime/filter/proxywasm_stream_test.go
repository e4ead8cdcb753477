package filter

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"testing"

	"github.com/tetratelabs/wazero/api"

	"github.com/sluicegw/sluice/runtime/testkit"
)

// chunkReader yields its chunks one Read each, then io.EOF on its own, as
// a chunked upload arrives.
type chunkReader struct{ chunks [][]byte }

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.chunks) == 0 {
		return 0, io.EOF
	}
	n := copy(p, c.chunks[0])
	if c.chunks[0] = c.chunks[0][n:]; len(c.chunks[0]) == 0 {
		c.chunks = c.chunks[1:]
	}
	return n, nil
}

// bodyGuest acquires an instance of the WAT guest proxywasm_body, its
// "pause" global set as asked, and returns it with a reader of its
// counters.
func bodyGuest(t *testing.T, pause bool) (*Module, *Instance, func(string) uint32) {
	t.Helper()
	rt, _ := newTestRuntime(t, RuntimeOptions{})
	m, err := rt.Load(context.Background(), testkit.WAT(t, "proxywasm_body"), ModuleOptions{Name: "body"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close(context.Background()) })
	inst, err := m.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Release(inst) })
	inst.mod.ExportedGlobal("pause").(api.MutableGlobal).Set(uint64(b2u(pause)))
	get := func(name string) uint32 { return uint32(inst.mod.ExportedGlobal(name).Get()) }
	return m, inst, get
}

func chunkedRequest(chunks ...string) *http.Request {
	r := newRequest("POST", "/stream", "")
	cr := &chunkReader{}
	for _, c := range chunks {
		cr.chunks = append(cr.chunks, []byte(c))
	}
	r.Body, r.ContentLength = io.NopCloser(cr), -1
	return r
}

// Each chunk reaches proxy_on_request_body as the upstream reads it, the
// last call with end_of_stream, and goes on at once when the guest
// continues: the guest is called only when the body is read.
func TestProxyWasmRequestBodyStreamsPerChunk(t *testing.T) {
	_, inst, get := bodyGuest(t, false)
	x := NewExchange(chunkedRequest("aaaaaaaaaa", "bbbbbbbbbb", "cccccccccc"))
	next, err := inst.HandleRequest(context.Background(), x)
	if err != nil || !next {
		t.Fatalf("next=%v err=%v", next, err)
	}
	if n := get("calls"); n != 0 {
		t.Fatalf("%d body calls before the upstream read the body, want 0: the body was buffered", n)
	}
	b, err := io.ReadAll(x.Req.Body)
	if err != nil || string(b) != "aaaaaaaaaabbbbbbbbbbcccccccccc" {
		t.Fatalf("upstream read %q, %v", b, err)
	}
	// 3 chunks, then the end of the body (an empty chunk, as Envoy may send).
	if calls, eos, most := get("calls"), get("eos_calls"), get("max_size"); calls != 4 || eos != 1 || most != 10 {
		t.Fatalf("calls=%d eos_calls=%d max_size=%d, want 4 calls, the last with end_of_stream, each of one chunk (10)", calls, eos, most)
	}
	if err := inst.HandleResponse(context.Background(), x, false); err != nil {
		t.Fatal(err)
	}
}

// A guest that pauses sees the body grow chunk by chunk, and what it
// writes over the held body at the end is what the upstream gets.
func TestProxyWasmRequestBodyPauseThenRewrite(t *testing.T) {
	_, inst, get := bodyGuest(t, true)
	x := NewExchange(chunkedRequest("aaaaaaaaaa", "bbbbbbbbbb", "cccccccccc"))
	if next, err := inst.HandleRequest(context.Background(), x); err != nil || !next {
		t.Fatalf("next=%v err=%v", next, err)
	}
	b, err := io.ReadAll(x.Req.Body)
	if err != nil || string(b) != "rewritten" {
		t.Fatalf("upstream read %q, %v; want the guest's rewrite", b, err)
	}
	if calls, eos, most := get("calls"), get("eos_calls"), get("max_size"); calls != 4 || eos != 1 || most != 30 {
		t.Fatalf("calls=%d eos_calls=%d max_size=%d, want 4 calls, the last with end_of_stream and the whole body (30)", calls, eos, most)
	}
	if err := inst.HandleResponse(context.Background(), x, false); err != nil {
		t.Fatal(err)
	}
}

// A paused body is held up to the per-filter body limit; past it the read
// fails as too large (the edge answers 413).
func TestProxyWasmRequestBodyHeldOverLimit(t *testing.T) {
	_, inst, _ := bodyGuest(t, true)
	r := newRequest("POST", "/big", "")
	r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(make([]byte, maxBodyBytes+1))), -1
	x := NewExchange(r)
	if next, err := inst.HandleRequest(context.Background(), x); err != nil || !next {
		t.Fatalf("next=%v err=%v", next, err)
	}
	_, err := io.ReadAll(x.Req.Body)
	if !errors.Is(err, ErrTooLarge) || !errors.Is(err, ErrClientBody) {
		t.Fatalf("reading a held body over %d bytes: %v, want ErrClientBody and ErrTooLarge", maxBodyBytes, err)
	}
	_ = inst.HandleResponse(context.Background(), x, true)
}

// Once the response phase began the stream is detached: the rest of the
// body passes unseen and the guest is not called from the transport's
// goroutine any more.
func TestProxyWasmRequestBodyDetachedByResponse(t *testing.T) {
	_, inst, get := bodyGuest(t, false)
	x := NewExchange(chunkedRequest("early", "answer"))
	if next, err := inst.HandleRequest(context.Background(), x); err != nil || !next {
		t.Fatalf("next=%v err=%v", next, err)
	}
	if err := inst.HandleResponse(context.Background(), x, false); err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(x.Req.Body)
	if err != nil || string(b) != "earlyanswer" || get("calls") != 0 {
		t.Fatalf("read %q, %v after the response phase with %d body calls; want the body unseen", b, err, get("calls"))
	}
}

// Response headers are writable in a body callback only while the guest
// holds them; once sent (it continued at the headers) the write is
// refused with BadArgument, as in Envoy.
func TestProxyWasmResponseHeadersReadOnlyOnceSent(t *testing.T) {
	rt, _ := newTestRuntime(t, RuntimeOptions{})
	m, err := rt.Load(context.Background(), testkit.WAT(t, "proxywasm_respheld"), ModuleOptions{Name: "held"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close(context.Background()) })
	for _, hold := range []bool{true, false} {
		inst, err := m.Acquire(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		inst.mod.ExportedGlobal("hold").(api.MutableGlobal).Set(uint64(b2u(hold)))
		x := NewExchange(newRequest("GET", "/", ""))
		if next, err := inst.HandleRequest(context.Background(), x); err != nil || !next {
			t.Fatalf("next=%v err=%v", next, err)
		}
		if err := inst.HandleResponse(context.Background(), x, false); err != nil || !inst.ResponseBodyPending() || inst.ResponseHeadersHeld() != hold {
			t.Fatalf("hold=%v: err=%v pending=%v held=%v", hold, err, inst.ResponseBodyPending(), inst.ResponseHeadersHeld())
		}
		out, err := inst.ResponseChunk(context.Background(), []byte("body"), true)
		status := int32(inst.mod.ExportedGlobal("add_status").Get())
		want := map[bool]int32{true: int32(pwOK), false: int32(pwBadArgument)}[hold]
		if err != nil || string(out) != "body" || status != want || (x.Resp.Header.Get("X-Pw-Held") == "1") != hold {
			t.Fatalf("hold=%v: out %q err %v, header write status %d (want %d), header %q", hold, out, err, status, want, x.Resp.Header.Get("X-Pw-Held"))
		}
		if err := inst.EndResponse(context.Background()); err != nil {
			t.Fatal(err)
		}
		m.Release(inst)
	}
}

// BenchmarkProxyWasmRequestBody: a 1 MiB request body through the WAT
// guest proxywasm_body, read by the upstream in 64 KiB chunks: "continue"
// calls the guest per chunk and lets each go on; "pause" holds the whole
// body and replaces it at its end.
func BenchmarkProxyWasmRequestBody(b *testing.B) {
	body := bytes.Repeat([]byte("x"), 1<<20)
	for _, pause := range []bool{false, true} {
		b.Run(map[bool]string{false: "continue", true: "pause"}[pause], func(b *testing.B) {
			rt, _ := newTestRuntime(b, RuntimeOptions{})
			m, err := rt.Load(context.Background(), testkit.WAT(b, "proxywasm_body"), ModuleOptions{Name: "body"})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = m.Close(context.Background()) })
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				inst, err := m.Acquire(context.Background())
				if err != nil {
					b.Fatal(err)
				}
				inst.mod.ExportedGlobal("pause").(api.MutableGlobal).Set(uint64(b2u(pause)))
				r := newRequest("POST", "/bench", "")
				r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
				x := NewExchange(r)
				if _, err := inst.HandleRequest(context.Background(), x); err != nil {
					b.Fatal(err)
				}
				if _, err := io.Copy(io.Discard, x.Req.Body); err != nil {
					b.Fatal(err)
				}
				if err := inst.HandleResponse(context.Background(), x, false); err != nil {
					b.Fatal(err)
				}
				m.Release(inst)
			}
		})
	}
}

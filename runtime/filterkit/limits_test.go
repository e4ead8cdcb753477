package filterkit

import (
	"context"
	"errors"
	"testing"

	"github.com/sluicegw/sluice/runtime/config"
	"github.com/sluicegw/sluice/runtime/filter"
)

// The tools load a filter with the limits a node gives a filter whose config
// sets none: a memory minimum one page above the node's default is refused
// by Check and Try, one at the default loads.
func TestToolsUseTheNodesDefaultLimits(t *testing.T) {
	rt := newRuntime(t)
	ctx := context.Background()
	atLimit := uint32(config.DefaultFilterMemory / (64 << 10))
	req := []byte("GET / HTTP/1.1\nHost: x\n\n")

	if err := Check(ctx, rt, "at-limit", minMemoryGuest(atLimit), nil); err != nil {
		t.Errorf("Check, %d pages (the node's default limit): %v", atLimit, err)
	}
	if _, err := Try(ctx, rt, minMemoryGuest(atLimit), TryOptions{Request: req}); err != nil {
		t.Errorf("Try, %d pages: %v", atLimit, err)
	}
	over := minMemoryGuest(atLimit + 1)
	if err := Check(ctx, rt, "over", over, nil); !errors.Is(err, filter.ErrMemory) {
		t.Errorf("Check, %d pages: %v, want ErrMemory (a node would refuse it)", atLimit+1, err)
	}
	if _, err := Try(ctx, rt, over, TryOptions{Request: req}); !errors.Is(err, filter.ErrMemory) {
		t.Errorf("Try, %d pages: %v, want ErrMemory", atLimit+1, err)
	}
}

// minMemoryGuest is the smallest http-wasm guest, encoded by hand (its
// memory size is a parameter, which a testdata .wat file cannot be): an exported
// memory of minPages pages, handle_request returning next=1, and an empty
// handle_response.
func minMemoryGuest(minPages uint32) []byte {
	uleb := func(v uint32) []byte {
		var b []byte
		for {
			c := byte(v & 0x7f)
			v >>= 7
			if v != 0 {
				b = append(b, c|0x80)
				continue
			}
			return append(b, c)
		}
	}
	section := func(id byte, body ...byte) []byte {
		return append(append([]byte{id}, uleb(uint32(len(body)))...), body...)
	}
	name := func(s string) []byte { return append(uleb(uint32(len(s))), s...) }
	var exports []byte
	exports = append(exports, 3)
	exports = append(append(exports, name("memory")...), 0x02, 0)
	exports = append(append(exports, name("handle_request")...), 0x00, 0)
	exports = append(append(exports, name("handle_response")...), 0x00, 1)

	m := []byte{0x00, 'a', 's', 'm', 0x01, 0, 0, 0}
	m = append(m, section(1, 2, 0x60, 0, 1, 0x7e, 0x60, 2, 0x7f, 0x7f, 0)...) // () -> i64, (i32, i32) -> ()
	m = append(m, section(3, 2, 0, 1)...)                                     // two functions of those types
	m = append(m, section(5, append([]byte{1, 0x00}, uleb(minPages)...)...)...)
	m = append(m, section(7, exports...)...)
	m = append(m, section(10, 2, 4, 0, 0x42, 1, 0x0b, 2, 0, 0x0b)...) // i64.const 1; and nothing
	return m
}

package testkit

import (
	"bytes"
	"os"
	"testing"
)

func TestWATFileHoldsTheCompiledGuest(t *testing.T) {
	b := WAT(t, "noop")
	if !bytes.HasPrefix(b, []byte("\x00asm")) {
		t.Fatalf("WAT(noop) is not a wasm module: % x", b[:min(len(b), 8)])
	}
	path := WATFile(t, "noop")
	onDisk, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(onDisk, b) {
		t.Fatalf("%s: %d bytes, %v; want the %d bytes of WAT(noop)", path, len(onDisk), err, len(b))
	}
	if again := WATFile(t, "noop"); again != path {
		t.Errorf("WATFile gave %s, then %s", path, again)
	}
}

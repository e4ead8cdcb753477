// Package testkit holds the helpers the tests of every package share:
// polling for a condition with a deadline (Eventually, WaitFor), a log sink
// safe for concurrent writers (SyncBuffer), and the hand-written wasm test
// guests of testdata/wasm compiled with wat2wasm (WAT, WATFile) and the Go
// guest built with the Go toolchain (GoGuest). It is for
// _test.go files only; the embedded NATS server is in natstest, so that a
// test binary that needs no NATS does not link it.
package testkit

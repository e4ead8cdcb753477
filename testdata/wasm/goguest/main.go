// Command goguest is a tiny standard-Go http-wasm guest used by the
// runtime/filter tests to prove that a Go runtime initialises (_initialize)
// and runs under the host's WASI setup and limits. Build it with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o goguest.wasm
//
// Its config selects a behaviour: "" or anything else sets request header
// x-go-guest to the config; "panic" panics; "alloc" allocates until memory
// runs out; "spin" loops forever.
package main

import (
	"strings"
	"unsafe"
)

//go:wasmimport http_handler get_config
func getConfig(buf unsafe.Pointer, limit uint32) uint32

//go:wasmimport http_handler set_header_value
func setHeaderValue(kind uint32, name unsafe.Pointer, nameLen uint32, value unsafe.Pointer, valueLen uint32)

func config() string {
	n := getConfig(nil, 0)
	if n == 0 {
		return ""
	}
	b := make([]byte, n)
	getConfig(unsafe.Pointer(&b[0]), n)
	return string(b)
}

func setHeader(kind uint32, name, value string) {
	n, v := []byte(name), []byte(value+"\x00") // never empty: a valid pointer
	setHeaderValue(kind, unsafe.Pointer(&n[0]), uint32(len(n)), unsafe.Pointer(&v[0]), uint32(len(value)))
}

var sink [][]byte

//go:wasmexport handle_request
func handleRequest() uint64 {
	switch c := config(); c {
	case "panic":
		panic("boom from the go guest")
	case "alloc":
		for {
			sink = append(sink, make([]byte, 1<<20))
		}
	case "spin":
		for i := 0; ; i++ {
			if i < 0 {
				return 0
			}
		}
	default:
		// Some garbage, so the collector runs under the memory limit.
		s := strings.Repeat("x", 64<<10)
		setHeader(0, "x-go-guest", c+":"+s[:2])
	}
	return 1
}

//go:wasmexport handle_response
func handleResponse(reqCtx, isError uint32) {
	setHeader(1, "x-go-response", "ok")
}

func main() {}

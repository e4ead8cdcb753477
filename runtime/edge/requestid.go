package edge

import (
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"sync/atomic"
)

// Request IDs only need to be unique, not secret: a random per-process
// prefix and a counter give that without a syscall or an allocation-heavy
// UUID per request.
var (
	requestIDPrefix = func() string {
		var b [6]byte
		_, _ = rand.Read(b[:])
		return hex.EncodeToString(b[:]) + "-"
	}()
	requestIDCounter atomic.Uint64
)

// maxRequestIDLen bounds a client-supplied X-Request-Id that is kept.
const maxRequestIDLen = 128

// requestID keeps a well-formed client ID (so traces join up across hops)
// and otherwise makes a new one.
func requestID(client string) string {
	if client != "" && len(client) <= maxRequestIDLen && printableASCII(client) {
		return client
	}
	return newRequestID()
}

func newRequestID() string {
	var buf [32]byte
	b := append(buf[:0], requestIDPrefix...)
	b = strconv.AppendUint(b, requestIDCounter.Add(1), 16)
	return string(b)
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f {
			return false
		}
	}
	return true
}

// Command request-id gives every request an id: it keeps a well-formed id
// the client (or an earlier proxy) sent, generates a UUIDv4 otherwise, sends
// it upstream, and copies it onto the response so a caller can quote it.
package main

import (
	crand "crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"math/rand/v2"

	"github.com/sluicegw/sluice/filters/internal/httpx"
	sluice "github.com/sluicegw/sluice/sdk"
)

func main() {} // never called: a filter runs from init (see the SDK docs)

// Not sluice.Stateless: HandleResponse sends back the id HandleRequest
// chose (f.id), so both must run on one instance.
func init() { sluice.HandleNew(newRequestID) }

// config is the filter's `config:`.
type config struct {
	// Header carries the id, upstream and back to the client.
	Header string `json:"header"`
	// Override discards any id the request came with.
	Override bool `json:"override"`
}

type requestID struct {
	header   string
	override bool
	rng      *rand.ChaCha8
	id       string // the current request's id, for the response phase
}

func newRequestID() (sluice.Filter, error) {
	c := config{Header: "X-Request-Id"}
	if err := sluice.Config(&c); err != nil {
		return nil, err
	}
	if !httpx.ValidName(c.Header) {
		return nil, errors.New("config: header: not a valid header name")
	}
	return &requestID{header: c.Header, override: c.Override}, nil
}

// generator is a fast generator seeded once per instance from the host's
// randomness: ids must be unique, not secret, and a per-request random_get
// call into the host would cost more than the rest of the filter. It is
// seeded at the first id, not in the constructor: the constructor runs once
// per module load and every instance starts as a copy of that state (see
// the SDK docs), so a seed drawn there would be every instance's seed.
func (f *requestID) generator() *rand.ChaCha8 {
	if f.rng == nil {
		var seed [32]byte
		if _, err := crand.Read(seed[:]); err != nil {
			panic("request-id: no randomness from the host: " + err.Error())
		}
		f.rng = rand.NewChaCha8(seed)
	}
	return f.rng
}

func (f *requestID) HandleRequest(req sluice.Request, _ sluice.Response) bool {
	id, ok := req.Header().Get(f.header)
	if !ok || f.override || !validID(id) {
		id = f.newID()
		req.Header().Set(f.header, id)
	}
	f.id = id
	return true
}

func (f *requestID) HandleResponse(_ sluice.Request, resp sluice.Response, _ bool) {
	resp.Header().Set(f.header, f.id)
}

// newID returns a random (version 4) UUID.
func (f *requestID) newID() string {
	var u [16]byte
	rng := f.generator()
	binary.LittleEndian.PutUint64(u[:8], rng.Uint64())
	binary.LittleEndian.PutUint64(u[8:], rng.Uint64())
	u[6] = u[6]&0x0f | 0x40 // version 4
	u[8] = u[8]&0x3f | 0x80 // RFC 9562 variant
	var b [36]byte
	hex.Encode(b[0:8], u[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], u[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], u[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], u[8:10])
	b[23] = '-'
	hex.Encode(b[24:], u[10:])
	return string(b[:])
}

// validID accepts 1-128 visible ASCII characters: enough for UUIDs, W3C
// trace ids and most proxies' formats, and nothing that could forge a log
// line or a header.
func validID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] <= ' ' || id[i] >= 0x7f {
			return false
		}
	}
	return true
}

package sluice

import "github.com/sluicegw/sluice/sdk/internal/abi"

// How a filter stays portable to http-wasm hosts that send a response's
// head (status and headers) early. http-wasm-host-go, the reference host
// (Traefik and Dapr embed it), sends it at set_status_code or the first
// response write_body, and refuses header changes after the next handler,
// unless buffer_response is enabled. Sluice holds the head until a phase
// returns (it reports FeatureHoldsResponseHead) and streams a response whose
// filters only change headers. So the SDK asks for buffer_response only on
// hosts that do not report that bit, and only where the filter needs it:
// for every request of a filter with a response phase (set when the filter
// is registered), and for a request the filter answers itself (just before
// it sets the status or writes the body). A RequestFunc passing requests on
// makes no host buffer anything. RATIONALE.md, "Portable SDK filters".

var (
	// holdsHead: the host reported FeatureHoldsResponseHead.
	holdsHead bool
	// bufferedAtInit: the SDK enabled buffer_response for every request.
	bufferedAtInit bool
	// inRequest: HandleRequest is running; headBuffered: buffer_response
	// is in effect for the current request.
	inRequest, headBuffered bool
)

// adaptToHost asks the host what it does with a response's head and, on a
// host that sends it early, enables buffer_response for a filter with a
// response phase. It runs when the filter is registered, while the
// instance initialises: enabled there, a feature holds for every request.
func adaptToHost(f Filter) {
	holdsHead = abi.EnableFeatures(0)&abi.FeatureHoldsResponseHead != 0
	_, requestOnly := f.(RequestFunc)
	bufferedAtInit = !holdsHead && !requestOnly
	if bufferedAtInit {
		abi.EnableFeatures(abi.FeatureBufferResponse)
	}
}

// holdHead runs before the filter sets the status or writes the response
// body. In HandleRequest on a host that sends the head early, it enables
// buffer_response for this request first, so that the filter's answer is
// sent whole, with the headers it sets afterwards.
func holdHead() {
	if holdsHead || !inRequest || headBuffered {
		return
	}
	abi.EnableFeatures(abi.FeatureBufferResponse)
	headBuffered = true
}

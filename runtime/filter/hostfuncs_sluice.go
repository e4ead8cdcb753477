package filter

import "slices"

// sluiceHostFuncs lists the functions of the sluice host module: Sluice's
// own, beside the http-wasm ABI, and optional for guests (a guest that
// imports none runs on any http-wasm host). Each group lives in its own
// hostfuncs_sluice_*.go file.
func sluiceHostFuncs() []hostFunc {
	return slices.Concat(
		httpCallFuncs(),
	)
}

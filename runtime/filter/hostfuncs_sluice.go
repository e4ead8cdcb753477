package filter

import "slices"

// sluiceHostFuncs lists the functions of the sluice host module: Sluice's
// own, beside the http-wasm ABI, each group in a hostfuncs_sluice_*.go file.
// A guest imports only those it uses, so a guest that uses none still runs
// on any http-wasm host.
func sluiceHostFuncs() []hostFunc {
	return slices.Concat(
		sluiceMetricFuncs(),
		httpCallFuncs(),
	)
}

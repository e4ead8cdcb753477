package filter

// sluiceHostFuncs lists the functions of the sluice host module: Sluice's
// own, beside the http-wasm ABI, each group in a file of its own. A guest
// imports only those it uses, so a guest that uses none still runs on any
// http-wasm host.
func sluiceHostFuncs() []hostFunc {
	var funcs []hostFunc
	funcs = append(funcs, sluiceMetricFuncs()...) // hostfuncs_sluice_metrics.go
	return funcs
}

//go:build !wasip1

package sluice

import "github.com/sluicegw/sluice/sdk/internal/abi"

// In a native build the sluicetest package drives the filter through these
// hooks, standing in for the host that calls the wasm exports.
func init() {
	abi.Guest.Init = build
	abi.Guest.Use = func(f any) { Handle(f.(Filter)) }
	abi.Guest.Save = func() func() {
		f, nf := filter, newFilter
		return func() { filter, newFilter = f, nf }
	}
	abi.Guest.HandleRequest = handleRequest
	abi.Guest.HandleResponse = handleResponse
}

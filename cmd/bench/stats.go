package main

import (
	"math"
	"slices"
)

// median of the values (the mean of the middle two for an even count); NaN
// for none. Every table cell is the median over rounds.
func median(values []float64) float64 {
	if len(values) == 0 {
		return math.NaN()
	}
	s := slices.Clone(values)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// ratio n/d, NaN when d is not positive (shown as n/a).
func ratio(n, d float64) float64 {
	if !(d > 0) {
		return math.NaN()
	}
	return n / d
}

// round4 rounds to 4 decimals: latencies are kept in ms to 4 decimals, as
// they always were, so per-round differences are computed on the same values.
func round4(v float64) float64 { return math.Round(v*1e4) / 1e4 }

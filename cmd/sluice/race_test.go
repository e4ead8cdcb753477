//go:build race

package main

// raceEnabled: the binary under test is built with -race when the tests are.
const raceEnabled = true

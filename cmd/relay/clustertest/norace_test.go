//go:build cluster && !race

package clustertest

// raceEnabled: the tests run without -race, and so does the relay binary.
const raceEnabled = false

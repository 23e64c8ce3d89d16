//go:build cluster && race

package clustertest

// raceEnabled: the tests run with -race, so the relay binary is built with
// it too.
const raceEnabled = true

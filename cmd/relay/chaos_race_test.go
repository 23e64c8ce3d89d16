//go:build race

package main

// chaosRace: the relay binary of the chaos tests is built with the race
// detector when the tests are, so a race inside a relay process fails them.
const chaosRace = true

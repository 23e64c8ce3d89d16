// Command relay is the relay gateway: one binary for the edge, the workers,
// and the analysts' replay and rebuild. It only parses flags and the
// environment and wires the packages together.
package main

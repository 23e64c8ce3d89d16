// Package clustertest runs relay the way compose.yaml deploys it, on one
// machine without a container engine: a three-node NATS JetStream cluster
// configured from the repository's nats.conf (in the test process, on
// loopback ports), a real redis-server, two `relay edge` and two `relay
// worker` processes of the binary built once with `go build`, and a fake
// upstream. The tests prove that several edges and workers share one truth:
// limits, sticky sessions and account choice hold across edges, account
// health and key deletions spread within the projection lag, the workers
// project every event exactly once, and losing a NATS node loses no
// acknowledged event.
//
// The tests carry the build tag "cluster" (they start processes and take
// a minute or two): run them with `make cluster-test`. The package also
// checks compose.yaml with docker-compose when it is installed (required
// when CI is set).
//
// Tests only; they may import any package of relay.
package clustertest

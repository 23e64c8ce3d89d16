//go:build race

package usagelog_test

// raceBuild: the race detector makes publishing the bench stream's
// 1,000,000 events take minutes (both the publisher and the server in the
// child process are instrumented); under it the stream holds 250,000.
const raceBuild = true

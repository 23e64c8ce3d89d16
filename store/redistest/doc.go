// Package redistest provides the Redis servers that store tests run
// against: every contract test runs once on the embedded Redis
// (miniredis) and once on a real redis-server, so a difference between the
// two shows up as a failing subtest rather than in production.
//
//	func TestMain(m *testing.M) { redistest.Main(m) }
//
//	func TestLeases(t *testing.T) {
//		redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
//			// b.Client is a ready *redis.Client on a clean database.
//		})
//	}
//
// The real backend is one redis-server per test binary, started lazily on a
// free loopback port and stopped by Main or StopShared (and, on Linux,
// killed by the kernel if the test binary dies first, however it dies). Parallel tests of one binary each
// get their own logical database of it. REDIS_TEST_URL points the real
// backend at an external, disposable server instead. Without redis-server
// on PATH the real backend is skipped, or fails the test when CI is set.
//
// Fault tests that stop and restart Redis use ForEachDedicated or
// NewServer: a server of their own that Kill and Start affect alone.
//
// DriveClock (clock.go) is not test-only: it drives the embedded Redis's
// TTLs from the wall clock and imports nothing but miniredis.
//
// This package may import the standard library, go-redis and miniredis
// only; production code must not import it (it links package testing),
// except for clock.go, which is meant to move next to the embedded Redis.
package redistest

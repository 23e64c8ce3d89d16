// Command relaybench measures relay against its baselines in one run: a
// fast fake Anthropic upstream ("direct": the client straight to it), a bare
// httputil.ReverseProxy to it ("proxy": no auth, no limits, no events), and
// `relay serve` with an account on that upstream, once on its embedded Redis
// ("relay") and once on a real redis-server ("relay-redis", when one is
// installed). A built-in closed-loop load generator drives each at several
// concurrencies, streaming and not, alternating the systems cell by cell
// and round by round so that drift on the machine hits all of them alike.
//
// It prints requests/s, latency and time-to-first-byte percentiles, errors,
// CPU time per request and memory of each process (from /proc), relay's
// ratios to the proxy and its added latency over direct, the projection lag
// (usage event published -> counted in Redis), leak checks after the load,
// and the goals of issue 7; and writes everything as JSON (-out) for
// comparison across commits.
//
//	make build && go run ./cmd/relaybench            # or: make bench
//	go run ./cmd/relaybench -rounds 1 -duration 1s   # a quick look
//
// Every process runs on loopback: the upstream and the proxy are this
// binary re-executed (hidden commands _upstream and _proxy) so that each
// one's CPU and memory are its own. Linux only (/proc).
package main

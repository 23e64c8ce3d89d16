# relay: the two commands are `make run` and `make test`.
GO      ?= go
BIN     := bin/relay
PKGS    := ./...

.PHONY: run build test vet fmt bench clean cluster-test chaos

run: ## start edge and workers in one process on embedded NATS and Redis
	$(GO) run ./cmd/relay serve

build: ## write bin/relay (static)
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN) ./cmd/relay

test: vet ## every test, with the race detector, against embedded and real Redis
	$(GO) test -race -count=1 -timeout 30m $(PKGS)

cluster-test: ## the compose deployment as real processes: 3 NATS nodes, Redis, 2 edges, 2 workers (cmd/relay/clustertest)
	$(GO) vet -tags cluster ./cmd/relay/clustertest/
	$(GO) test -race -tags cluster -count=1 -timeout 15m -v ./cmd/relay/clustertest/

# The reliability suite of GitHub issue 8 runs in `make test` too; this
# target runs it alone and verbose, to read what each property measured.
CHAOS_RUN := ^(TestChaos|TestReliability|TestRedelivery|FuzzRelayAuthHeader|FuzzAdminToken|FuzzAdminLoginBody)
chaos: ## the reliability suite alone, verbose: relay processes SIGKILLed, NATS and Redis lost, timeouts, limits, fuzz seeds
	$(GO) test -race -count=1 -timeout 15m -v -run '$(CHAOS_RUN)' ./cmd/relay ./edge ./workers

vet: ## gofmt, go.mod tidy (go mod tidy would change nothing) and go vet
	$(GO) mod tidy -diff
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) vet $(PKGS)

# make bench BENCHFLAGS='-rounds 1' MICROBENCH=Relay: flags of cmd/relaybench, and the -bench pattern.
MICROBENCH ?= .
bench: build ## relay against a bare proxy and the upstream itself (cmd/relaybench; writes bench-results.json), then the microbenchmarks
	$(GO) build -o bin/relaybench ./cmd/relaybench
	bin/relaybench -relay $(BIN) $(BENCHFLAGS)
	$(GO) test -run '^$$' -bench '$(MICROBENCH)' -benchmem $(PKGS)

clean:
	rm -rf bin

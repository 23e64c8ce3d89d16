# relay: the two commands are `make run` and `make test`.
GO      ?= go
BIN     := bin/relay
PKGS    := ./...

.PHONY: run build test vet fmt bench clean

run: ## start edge and workers in one process on embedded NATS and Redis
	$(GO) run ./cmd/relay serve

build: ## write bin/relay (static)
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN) ./cmd/relay

test: vet ## every test, with the race detector, against embedded and real Redis
	$(GO) test -race -count=1 -timeout 30m $(PKGS)

vet:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) vet $(PKGS)

bench: ## microbenchmarks of the hot path
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)

clean:
	rm -rf bin

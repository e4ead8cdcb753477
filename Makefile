# Sluice: `make run` starts the whole thing on a laptop, `make test` runs
# every test. Both work on a fresh Debian machine with Go.
GO        ?= go
BIN       := bin/sluice
FUZZTIME  ?= 20000x
PKGS      := ./...
QUICK     ?=
RECORD    ?=
ARGS      ?=

.PHONY: all build run test test-unit fuzz bench bench-go lint check wasm clean

all: build

build: wasm
	$(GO) build -ldflags "-X main.buildCommit=$$(git rev-parse --short=12 HEAD 2>/dev/null)" -o $(BIN) ./cmd/sluice

# ARGS are more flags for sluice dev: make run ARGS='--traces http://127.0.0.1:4318'
run: build
	./$(BIN) dev $(ARGS)

# The whole suite: race-enabled tests of the gateway, the guest SDK and the
# example filters, then a short run of every fuzz target.
test: wasm test-unit test-guests fuzz

# The first run, without -race, fills the shared wazero compilation cache:
# compiling a Go guest takes ~1 s normally and ~18 s under -race.
test-unit:
	$(GO) vet $(PKGS)
	$(GO) test -count=1 -run '^(TestEveryExampleFilterLoads|TestDevPrintsWorkingCurlLines|TestFilterNewBuildTest|TestScaffoldedFilterBuildsAndRuns)$$' ./runtime/edge ./runtime/filterkit ./cmd/sluice
	$(GO) test -race -count=1 -timeout 10m $(PKGS)
	@echo "edge and guard tests again on the net/http HTTP/1.1 engine"
	SLUICE_TEST_ENGINE=net/http $(GO) test -race -count=1 -timeout 10m ./runtime/edge

# The example filters also run on the reference http-wasm host (filters/
# portability_test.go); its first run, without -race, fills that host's
# compilation cache as test-unit's does for Sluice's.
test-guests:
	cd sdk && $(GO) vet ./... && GOOS=wasip1 GOARCH=wasm $(GO) vet ./... && $(GO) test -race -count=1 ./...
	cd filters && $(GO) vet ./... && $(GO) test -count=1 -run '^TestExampleFiltersRunOnTheReferenceHost$$' . && $(GO) test -race -count=1 ./...

# Each fuzz target runs for FUZZTIME (go test allows one -fuzz target per run).
# A count of executions, not a duration: with go1.26, a duration that ends while
# a worker is mid-input fails the run with a bare "context deadline exceeded"
# (golang/go#75804, fixed in go1.27); seen here on FuzzHostBuffers. 20000
# inputs take ~7 s for the slowest target (a wasm instance per input).
fuzz:
	@set -e; for target in $$(grep -rl --include='*_test.go' '^func Fuzz' runtime | xargs -n1 dirname | sort -u); do \
		for fn in $$(grep -h '^func Fuzz' $$target/*_test.go | sed 's/func \(Fuzz[A-Za-z0-9_]*\).*/\1/'); do \
			echo "fuzz $$target $$fn"; \
			$(GO) test -run '^$$' -fuzz "^$$fn$$" -fuzztime $(FUZZTIME) ./$$target || exit 1; \
		done; \
	done
	cd sdk && $(GO) test -run '^$$' -fuzz '^FuzzSplitSeq$$' -fuzztime $(FUZZTIME) .
	cd filters && $(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME) ./jwt-claims
	cd filters && $(GO) test -run '^$$' -fuzz '^FuzzRedact$$' -fuzztime $(FUZZTIME) ./redact-json

# End-to-end: Sluice vs nginx in front of the same nginx upstream (wrk, h2load;
# cmd/bench). Prints a markdown table and writes bin/bench.json; RECORD=1 also
# appends the table to BENCHMARKS.md. QUICK=1: 1 round x 5 s (~2 min).
bench:
	QUICK=$(QUICK) GO=$(GO) $(GO) run ./cmd/bench -json bin/bench.json \
		$(if $(filter-out 0 false no,$(RECORD)),-record BENCHMARKS.md)

# The Go micro-benchmarks.
bench-go:
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)

lint: check

# Fails on unformatted code, vet findings or an untidy go.mod.
check:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo 'gofmt needed'; exit 1; }
	$(GO) vet $(PKGS)
	$(GO) mod tidy -diff
	cd sdk && $(GO) mod tidy -diff
	cd filters && $(GO) mod tidy -diff

wasm:
	@command -v wat2wasm >/dev/null || echo "note: wat2wasm (Debian package wabt) is needed by the filter host's tests"
	./wasm-build.sh

clean:
	rm -rf bin

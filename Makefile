# pg2kafka — make targets. `make test` is what CI runs.
GO ?= go
export GOFLAGS ?= -buildvcs=false

.PHONY: build test test-short vet demo bench chaos clean

build:
	$(GO) build -o bin/pg2kafka ./cmd/pg2kafka

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1)

# The whole suite: unit tests, then end-to-end tests against a throwaway
# PostgreSQL (installed binaries) and the in-process Kafka broker.
test: vet
	$(GO) test -count=1 -timeout 20m -p 2 ./...

test-short:
	$(GO) test -count=1 -short ./...

# A local PostgreSQL plus the embedded broker; writes rows, prints records.
demo:
	$(GO) run ./internal/demo

bench:
	$(GO) test -count=1 -run '^$$' -bench . -benchtime 1x -timeout 30m ./e2e/

# Long crash runs: 200 rounds under a writer, each stopped by SIGKILL or
# SIGTERM at random, then the exact per-key history check; and the same
# during a backfill (make test runs 12 and 10 rounds of each signal). First
# the fault suite with full durations (broker paused 30 s and past the
# transaction timeout, PostgreSQL restarted, walsender terminated while
# streaming and backfilling, slot dropped, standby takeover; make test runs
# a short subset).
chaos:
	PG2KAFKA_FAULTS=full $(GO) test -count=1 -timeout 30m -run "^TestFaults$$" -v ./e2e/
	PG2KAFKA_CRASH_ROUNDS=200 PG2KAFKA_CRASH_SIGNAL=mixed $(GO) test -count=1 -timeout 90m -run "TestCrashRoundsLoseNothing/SIGKILL|TestBackfillUnderWritesAndCrashes/SIGKILL" -v ./e2e/

clean:
	rm -rf bin

# pg2kafka — make targets. `make test` is what CI runs.
GO ?= go
export GOFLAGS ?= -buildvcs=false

.PHONY: build test test-short vet demo bench chaos clean test-kafka-matrix

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
# during a backfill (make test runs 12 and 10 rounds of each signal).
chaos:
	PG2KAFKA_CRASH_ROUNDS=200 PG2KAFKA_CRASH_SIGNAL=mixed $(GO) test -count=1 -timeout 90m -run "TestCrashRoundsLoseNothing/SIGKILL|TestBackfillUnderWritesAndCrashes/SIGKILL" -v ./e2e/

# The Kafka-facing end-to-end tests against each broker release of
# KAFKA_MATRIX, one after another (each release is fetched once into
# kafka.sh's cache); one PASS/FAIL line per release, then the exit status.
KAFKA_MATRIX ?= 4.4.0 3.9.1 3.0.2 2.4.1
KAFKA_MATRIX_TESTS ?= ^(TestRealBroker|TestChangesOfThreeTables|TestKeyChangeTombstonesTheOldKey|TestCrashRoundsLoseNothing|TestSIGTERMRestartResumes|TestBackfillUnderWritesAndCrashes|TestSplitTransactionResumesInside|TestKcatReadsEachChangeOnce|TestStandbyTakesOver|TestLargeValueWithMaxMessageBytes|TestOversizedRow|TestAtLeastOnceDelivery)$$
test-kafka-matrix:
	@t0=$$(date +%s); summary=""; fail=0; \
	for v in $(KAFKA_MATRIX); do \
	  echo "=== Kafka $$v"; t=$$(date +%s); \
	  if PG2KAFKA_TEST_KAFKA=real PG2KAFKA_TEST_KAFKA_VERSION=$$v $(GO) test -count=1 -timeout 30m \
	    -run '$(KAFKA_MATRIX_TESTS)' ./internal/kafkatest/ ./e2e/; then r=PASS; else r=FAIL; fail=1; fi; \
	  summary="$$summary""kafka-matrix: Kafka $$v $$r ($$(( $$(date +%s) - t ))s)\n"; \
	done; \
	printf "$$summary"; echo "kafka-matrix: $$(( $$(date +%s) - t0 ))s in all"; exit $$fail

clean:
	rm -rf bin

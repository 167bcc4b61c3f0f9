# Sluice: the two commands that matter are `make run` and `make test`.
# Every target installs what is missing first (scripts/install-deps.sh).

BUILD        ?= build
JOBS         ?= $(shell nproc)
CMAKE_FLAGS  ?=
FUZZ_SECONDS ?= 30
# The integration tests `make asan` also runs, against the instrumented
# broker: the ones that stress connections, restarts and bad input.
ASAN_INTEGRATION ?= -R 'integration\.(confluent_kafka|hostile|review_regressions|restart|broker_behaviour|broker_configs|consumer_groups|cli|raft_loopback)'

RELEASE_DIR := $(BUILD)/release
DEBUG_DIR   := $(BUILD)/debug
ASAN_DIR    := $(BUILD)/asan
FUZZ_DIR    := $(BUILD)/fuzz
FUZZ_TARGETS := frame_fuzz request_header_fuzz message_body_fuzz record_batch_fuzz

.PHONY: all deps build debug run test asan fuzz bench format format-check clean

all: build

deps:
	@bash scripts/install-deps.sh

# Release build: optimised, with debug info.
build: deps
	@cmake -S . -B $(RELEASE_DIR) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(RELEASE_DIR) -j $(JOBS)

# Unoptimised build for debugging.
debug: deps
	@cmake -S . -B $(DEBUG_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Debug $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(DEBUG_DIR) -j $(JOBS)

# Starts a single-node broker on 127.0.0.1:9092 with its data under ./data.
run: build
	@exec $(RELEASE_DIR)/src/app/sluice broker

test: build
	@ctest --test-dir $(RELEASE_DIR) --output-on-failure -j $(JOBS)

# Unit tests, and the broker under a few integration tests, built and run
# under AddressSanitizer + UndefinedBehaviorSanitizer.
asan: deps
	@cmake -S . -B $(ASAN_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DSLUICE_SANITIZE=ON -DSLUICE_BENCH=OFF $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(ASAN_DIR) -j $(JOBS)
	@ctest --test-dir $(ASAN_DIR) --output-on-failure -L unit -j $(JOBS)
	@ctest --test-dir $(ASAN_DIR) --output-on-failure -j $(JOBS) $(ASAN_INTEGRATION)

# Builds the libFuzzer targets with clang and runs each for FUZZ_SECONDS,
# seeded with the golden frames captured from real clients.
fuzz: deps
	@CC=clang CXX=clang++ cmake -S . -B $(FUZZ_DIR) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSLUICE_FUZZ=ON $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(FUZZ_DIR) -j $(JOBS)
	@bash tests/fuzz/run.sh $(FUZZ_DIR)/tests/fuzz $(FUZZ_SECONDS)

bench: build
	@$(RELEASE_DIR)/bench/protocol_bench
	@$(RELEASE_DIR)/bench/storage_bench
	@$(RELEASE_DIR)/bench/storage_many_partitions

# Whole-system benchmark: Sluice against librdkafka's mock cluster, driven by
# the same `sluice bench` runs (bench/broker_bench.py, about 4 minutes on 2
# cores). The tables also go to $(RELEASE_DIR)/broker_bench.md; pass more
# options in BENCH_BROKER_ARGS (e.g. "--smp 1,2", "--quick").
.PHONY: bench-broker
bench-broker: deps
	@cmake -S . -B $(RELEASE_DIR) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(RELEASE_DIR) -j $(JOBS) --target sluice mock_cluster
	@/usr/bin/python3 bench/broker_bench.py --build $(RELEASE_DIR) \
	  --out $(RELEASE_DIR)/broker_bench.md --json $(RELEASE_DIR)/broker_bench.json $(BENCH_BROKER_ARGS)

# `sluice bench produce` against the smallest librdkafka producer loop with the
# same settings, on Sluice and on the mock (bench/cli_bench.py, about a
# minute). The table also goes to $(RELEASE_DIR)/cli_bench.md; pass more
# options in BENCH_CLI_ARGS (e.g. "--repeat 9", "--brokers mock").
.PHONY: bench-cli
bench-cli: deps
	@cmake -S . -B $(RELEASE_DIR) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(RELEASE_DIR) -j $(JOBS) --target sluice mock_cluster rdkafka_produce_loop
	@/usr/bin/python3 bench/cli_bench.py --build $(RELEASE_DIR) \
	  --out $(RELEASE_DIR)/cli_bench.md $(BENCH_CLI_ARGS)

.PHONY: soak
# The Raft simulator over fresh seeds without end (Ctrl-C stops it); a
# failure prints its seed and the command that replays it. SOAK_ARGS adds
# options, e.g. "--seconds 3600 --steps 20000 --start 1000000".
soak: deps
	@cmake -S . -B $(RELEASE_DIR) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(RELEASE_DIR) -j $(JOBS) --target sim_soak
	@$(RELEASE_DIR)/tests/sim/sim_soak $(SOAK_ARGS)

.PHONY: bench-raft
# A 3-process Raft group on loopback with real storage and fsync
# (bench/raft_bench.py, about a minute): commits/s and latency per number of
# proposals in flight, next to the disk's raw fdatasync rate in the same run.
bench-raft: deps
	@cmake -S . -B $(RELEASE_DIR) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(RELEASE_DIR) -j $(JOBS) --target raft_node
	@/usr/bin/python3 bench/raft_bench.py --raft-node $(RELEASE_DIR)/src/raft/raft_node $(BENCH_RAFT_ARGS)

.PHONY: bench-groups
bench-groups: deps
	@cmake -S . -B $(RELEASE_DIR) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(RELEASE_DIR) -j $(JOBS) --target sluice mock_cluster
	@/usr/bin/python3 bench/group_bench.py --build $(RELEASE_DIR) \
	  --out $(RELEASE_DIR)/group_bench.md $(BENCH_GROUPS_ARGS)

format:
	@git ls-files '*.h' '*.cc' | xargs clang-format -i

format-check:
	@git ls-files '*.h' '*.cc' | xargs clang-format --dry-run -Werror

clean:
	rm -rf $(BUILD)

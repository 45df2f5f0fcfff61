# Worktracker: the front door. `make run` and `make test` do all the set-up
# on a fresh Debian machine (as root they install missing packages; as a
# user they print the apt-get line).
SHELL := /bin/bash
GEN := $(shell command -v ninja >/dev/null 2>&1 && echo Ninja || echo "Unix Makefiles")
JOBS ?= $(shell nproc)

RELEASE := build/release
TEST := build/test
TSAN := build/tsan
TSAN_CC ?= clang-14
FUZZ := build/fuzz
FUZZ_CC ?= clang-14
SOURCES = $(shell git ls-files --cached --others --exclude-standard '*.c' '*.h')

.PHONY: all run test test-tsan chaos lint format bench bench-worker bench-gateway clean deps-build release test-build soak fuzz fuzz-build

all: release

deps-build:
	@deploy/local/deps.sh build

release: deps-build
	@cmake -S . -B $(RELEASE) -G "$(GEN)" -DCMAKE_BUILD_TYPE=Release -DWT_TESTS=OFF -DWT_WERROR=ON >/dev/null
	@cmake --build $(RELEASE) -j $(JOBS)

run:
	@deploy/local/deps.sh run
	@$(MAKE) --no-print-directory release
	@deploy/local/run.sh $(RELEASE)

test-build:
	@deploy/local/deps.sh test
	@cmake -S . -B $(TEST) -G "$(GEN)" -DCMAKE_BUILD_TYPE=Debug -DWT_ASAN=ON -DWT_WERROR=ON >/dev/null
	@cmake --build $(TEST) -j $(JOBS)

# The lint first (after the build, which it reads compile_commands.json of):
# a style or clang-tidy finding fails `make test` like a failing test.
test: test-build
	@$(MAKE) --no-print-directory lint
	@cd $(TEST) && ctest --output-on-failure -j 2 --timeout 600
	@$(MAKE) --no-print-directory fuzz-build
	@tests/fuzz/run.sh $(FUZZ) --regress --seconds $(FUZZ_SHORT_SECONDS)
	@$(MAKE) --no-print-directory test-tsan
	@tests/summary.sh $(TEST)

# The e2e tests again under ThreadSanitizer (clang: its TSan runs with
# librdkafka through tests/support/tsan_c11_threads.c; see tests/tsan.supp).
# Any TSan report, in a test or in a wt-worker/wt-gateway it started, fails.
test-tsan:
	@deploy/local/deps.sh test
	@CC=$(TSAN_CC) cmake -S . -B $(TSAN) -G "$(GEN)" -DCMAKE_BUILD_TYPE=Debug -DWT_TSAN=ON -DWT_WERROR=ON >/dev/null
	@cmake --build $(TSAN) -j $(JOBS)
	@cd $(TSAN) && ctest -R '^(stack|tsan)[.]|_e2e$$' --output-on-failure -j 2 --timeout 600

# The libFuzzer targets (tests/fuzz: wt_json, wt_command_parse, wt_jwt_verify,
# the gateway's frame guard) built with clang-14 in $(FUZZ), each run for
# FUZZ_SECONDS (default 600), niced, from its committed corpus; new inputs go
# to $(FUZZ)/fuzz-work, crashes to $(FUZZ)/crashes; a crash fails. `make test`
# runs every committed input once and each target for FUZZ_SHORT_SECONDS.
# FUZZ_TARGETS picks some (default: all).
FUZZ_SECONDS ?= 600
FUZZ_SHORT_SECONDS ?= 20
FUZZ_TARGETS ?=
fuzz-build:
	@deploy/local/deps.sh test
	@CC=$(FUZZ_CC) cmake -S . -B $(FUZZ) -G "$(GEN)" -DCMAKE_BUILD_TYPE=Debug -DWT_FUZZ=ON -DWT_TESTS=OFF -DWT_WERROR=ON >/dev/null
	@cmake --build $(FUZZ) -j $(JOBS) --target fuzz_targets

fuzz: fuzz-build
	@tests/fuzz/run.sh $(FUZZ) --regress --seconds $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# The worker's property test against its model (tests/integration/
# test_worker_model.c) on new seeds for SOAK_SECONDS (default 600), on a
# stack of its own; SOAK_SEED picks the first seed (default: the time).
SOAK_SECONDS ?= 600
soak: test-build
	@tests/stack-fixture.sh start $(TEST)/soak-stack >/dev/null
	@WT_TEST_STACK_ENV=$(TEST)/soak-stack/stack.env WT_MODEL_SECONDS=$(SOAK_SECONDS) \
	  WT_MODEL_SEED=$${SOAK_SEED:-$$(date +%s)} WT_LOG_LEVEL=warn \
	  $(TEST)/tests/test_worker_model; rc=$$?; \
	  tests/stack-fixture.sh stop $(TEST)/soak-stack >/dev/null; exit $$rc

# The chaos test (tests/chaos/chaos.py): a known stream of 50,000 commands on a private
# stack of its own (state in build/chaos) while the workers are SIGKILLed and frozen,
# PostgreSQL is restarted and the broker SIGKILLed; then every command's outcome, the
# streams' seqs and the final rows are checked against the generator's model. `make test`
# runs a short one (ctest label chaos). CHAOS_ARGS="--seed N" replays a stream and schedule.
CHAOS_ARGS ?= --commands 50000 --duration 300 --kills 8
chaos: release
	@deploy/local/deps.sh chaos
	@tests/chaos/chaos.py --worker $(RELEASE)/worker/wt-worker --admin $(RELEASE)/tools/wt-admin \
	  --var build/chaos $(CHAOS_ARGS)

lint:
	@deploy/local/deps.sh lint
	@cmake -S . -B $(TEST) -G "$(GEN)" -DCMAKE_BUILD_TYPE=Debug -DWT_ASAN=ON -DWT_WERROR=ON >/dev/null
	@clang-format --dry-run -Werror $(SOURCES)
	@printf '%s\n' $(filter %.c,$(SOURCES)) | xargs -P $(JOBS) -n 8 clang-tidy --quiet \
	  --extra-arg=-Wno-unknown-warning-option -p $(TEST) 2>/dev/null >$(TEST)/clang-tidy.txt; \
	  cat $(TEST)/clang-tidy.txt; ! grep -qE '(warning|error):' $(TEST)/clang-tidy.txt
	@echo "lint: clean (clang-format, clang-tidy: $(words $(filter %.c,$(SOURCES))) files)"

format:
	@clang-format -i $(SOURCES)

bench: release
	@bench/run.sh $(RELEASE)

bench-worker: release
	@bench/run.sh $(RELEASE) worker

bench-gateway: release
	@bench/run.sh $(RELEASE) gateway

clean:
	@-deploy/local/stack.sh stop 2>/dev/null
	@-for d in build/chaos build/test/chaos-stack; do \
	  [[ -d $$d ]] && WT_VAR_DIR=$$d deploy/local/stack.sh stop >/dev/null 2>&1; done; true
	rm -rf build

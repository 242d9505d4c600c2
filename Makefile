# Herald: the two commands a new user needs.
#   make run    installs what is missing, builds, starts `herald run` (open, on
#               loopback; its banner says how to get a token; with tokens:
#               make run ARGS='--token-keys dev.jwks', docs/security.md)
#   make test   installs what is missing, builds with ASan+UBSan, runs every test
#               but the mutation check (ctest -LE mutation)
#   make mutation  the mutation check: each tests/mutation/*.patch must make
#               the tests it names fail (tests/mutation/run; minutes)
#   make bench  installs nginx + nchan + matplotlib too, runs bench/curve.py: latency
#               and CPU per delivery against load, Herald vs nchan vs a raw writer,
#               figures in build/curves.json, curves in build/curves-*.svg
#               (BENCH_ARGS=--quick: a short pass)
#   make bench-compare  runs bench/compare.py (Herald vs nchan, the fixed scenarios)
#   make bench-store  runs bench/store.py: durable history (--data-dir) vs memory
# Everything else is CMake; this file only strings the steps together.

BUILD      ?= build
TEST_BUILD ?= build-test
JOBS       ?= $(shell nproc)
ARGS       ?=

.PHONY: all run test deps test-deps build test-build bench bench-compare bench-store clean mutation

all: build

deps:
	@scripts/install-deps.sh run

test-deps:
	@scripts/install-deps.sh test
	@test -d tests/browser/node_modules/playwright-core || \
	    (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)
	@test -d examples/publish/node/node_modules/zeromq || \
	    (cd examples/publish/node && npm ci --no-audit --no-fund --loglevel=error)

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHERALD_TESTS=OFF >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

run: build
	./$(BUILD)/herald run $(ARGS)

test-build: test-deps
	@cmake -S . -B $(TEST_BUILD) -DCMAKE_BUILD_TYPE=Debug -DHERALD_SANITIZE=ON \
	    -DCMAKE_C_COMPILER=$$(command -v clang || command -v cc) >/dev/null
	@cmake --build $(TEST_BUILD) -j $(JOBS)

test: test-build
	@cd $(TEST_BUILD) && ctest --output-on-failure -j $(JOBS) -LE mutation

mutation: test-deps
	@/usr/bin/python3 tests/mutation/run -j $(JOBS)

# The curves: Herald's default and --write-interval 0; every figure in
# $(BUILD)/curves.json. BENCH_ARGS='--write docs/benchmarks.md' refreshes that
# section and its images in docs/img/.
bench: build
	@scripts/install-deps.sh bench
	@/usr/bin/python3 bench/curve.py --herald $(BUILD)/herald \
	    --herald-args='--write-interval 0' --json $(BUILD)/curves.json $(BENCH_ARGS)

bench-compare: build
	@scripts/install-deps.sh bench
	@/usr/bin/python3 bench/compare.py --herald $(BUILD)/herald $(BENCH_ARGS)

bench-store: build
	@scripts/install-deps.sh bench
	@/usr/bin/python3 bench/store.py --herald $(BUILD)/herald $(BENCH_ARGS)

clean:
	rm -rf $(BUILD) $(TEST_BUILD) build-mutation

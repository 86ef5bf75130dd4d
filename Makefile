# The two commands: `make run` and `make test`. Both install what is missing first.
BUILD_TYPE ?= Release
JOBS ?= $(shell nproc)

.PHONY: all deps build run test test-pair unit redis-test e2e asan-build format format-check layers-check tidy bench clean

all: build

deps:
	@scripts/install-deps.sh

build: deps
	@cmake -S . -B build -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) >/dev/null
	@cmake --build build -j $(JOBS)

# Starts the server on 127.0.0.1:8080 with the embedded store under ./data and the demo
# project (its keys are printed at start-up).
run: build
	exec build/profiled serve --data-dir ./data

# Every check and suite: the layer rule and the format (seconds), unit tests, the Redis Cluster
# client's tests (each binary starts and stops its own local cluster) and end-to-end tests on the
# release build (and 16 of the end-to-end files on two nodes over one Redis Cluster), the same
# again on an AddressSanitizer + UBSan build, then clang-tidy over src/ with every warning an
# error (minutes).
test: build asan-build
	@scripts/check-layers.sh
	@scripts/check-format.sh
	@ctest --test-dir build --output-on-failure -j $(JOBS) -L unit
	@ctest --test-dir build --output-on-failure -L redis
	@ctest --test-dir build --output-on-failure -L e2e
	@ctest --test-dir build --output-on-failure -L pair
	@ctest --test-dir build-asan --output-on-failure -j $(JOBS) -L unit
	@ctest --test-dir build-asan --output-on-failure -L redis
	@ctest --test-dir build-asan --output-on-failure -L e2e
	@scripts/check-tidy.sh build

# The end-to-end files that run on one server, run instead on two profiled nodes over one local
# Redis Cluster: everything sent to node A, every profile read through node B
# (tests/e2e/README.md, "Two nodes"): the ctest `e2e-pair` (label `pair`, the list of files is in
# CMakeLists.txt), which `make test` runs too. About 2 minutes.
test-pair: build
	@ctest --test-dir build --output-on-failure -L pair

unit: build
	@ctest --test-dir build --output-on-failure -j $(JOBS) -L unit

redis-test: build
	@ctest --test-dir build --output-on-failure -L redis

e2e: build
	@ctest --test-dir build --output-on-failure -L e2e

asan-build: deps
	@cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPROFILED_SANITIZE=ON >/dev/null
	@cmake --build build-asan -j $(JOBS)

format: deps
	@scripts/check-format.sh --fix

format-check: deps
	@scripts/check-format.sh

layers-check:
	@scripts/check-layers.sh

tidy: build
	@scripts/check-tidy.sh build

bench: build
	@PROFILED_BENCH_DEPS=1 scripts/install-deps.sh
	@bench/run.sh

clean:
	rm -rf build build-asan

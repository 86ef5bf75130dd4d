# The two commands: `make run` and `make test`. Both install what is missing first.
BUILD_TYPE ?= Release
JOBS ?= $(shell nproc)

.PHONY: all deps build run deb test test-pair unit redis-test e2e asan-build fuzz format format-check layers-check tidy bench clean

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

# The Debian package of the release build (README.md, "Debian package"): build/deb/profiled_*.deb.
deb: build
	@scripts/make-deb.sh build/profiled build/deb

# Every check and suite: the layer rule and the format (seconds), unit tests (each fuzz target's
# corpus and regressions replayed among them), the Redis Cluster client's tests (each binary
# starts and stops its own local cluster) and end-to-end tests on the release build (and 16 of the
# end-to-end files on two nodes over one Redis Cluster, and 19 over HTTPS, the browser SDK files among them), the same again on the AddressSanitizer +
# UBSan build, each fuzz target fuzzed there for FUZZ_TEST_SECONDS (5 s; JOBS at a time), then
# clang-tidy over src/ with every warning an error (minutes).
test: build asan-build
	@scripts/check-layers.sh
	@scripts/check-format.sh
	@ctest --test-dir build --output-on-failure -j $(JOBS) -L unit
	@ctest --test-dir build --output-on-failure -L redis
	@ctest --test-dir build --output-on-failure -L e2e
	@ctest --test-dir build --output-on-failure -L pair
	@ctest --test-dir build --output-on-failure -L tls
	@ctest --test-dir build-asan --output-on-failure -j $(JOBS) -L unit
	@ctest --test-dir build-asan --output-on-failure -L redis
	@ctest --test-dir build-asan --output-on-failure -L e2e
	@FUZZ_SECONDS=$(FUZZ_TEST_SECONDS) FUZZ_JOBS=$(JOBS) scripts/fuzz.sh
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

# The sanitizer build: clang 14 with AddressSanitizer, UBSan and libFuzzer's coverage, so that the
# same build runs the test suites under the sanitizers and links the fuzz targets with libFuzzer
# (fuzz/README.md). clang builds it in less than half GCC 12's time (docs/RELIABILITY.md).
# A build-asan that another compiler configured (it was GCC's until the fuzz targets came)
# starts afresh: CMake cannot switch the compiler of a configured build in place.
ASAN_CMAKE = -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++-14 \
             -DPROFILED_SANITIZE=ON -DPROFILED_FUZZ=ON
define asan_configure
	@if [ -f build-asan/CMakeCache.txt ] && \
	    ! grep -q '^CMAKE_CXX_COMPILER:.*clang++-14$$' build-asan/CMakeCache.txt; then \
	  rm -rf build-asan; \
	fi
	@cmake -S . -B build-asan $(ASAN_CMAKE) >/dev/null
endef
asan-build: deps
	$(asan_configure)
	@cmake --build build-asan -j $(JOBS)

# Fuzzing (fuzz/README.md): builds only the fuzz targets of the sanitizer build and runs each for
# FUZZ_SECONDS seconds, one at a time (FUZZ_JOBS), from its corpus; prints executions and
# crashes per target, and fails when one crashed. `make test` runs each for FUZZ_TEST_SECONDS.
FUZZ_SECONDS ?= 60
FUZZ_JOBS ?= 1
FUZZ_TEST_SECONDS ?= 5
fuzz: deps
	$(asan_configure)
	@FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_JOBS=$(FUZZ_JOBS) JOBS=$(JOBS) scripts/fuzz.sh

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

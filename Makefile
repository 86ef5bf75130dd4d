# The two commands: `make run` and `make test`. Both install what is missing first.
BUILD_TYPE ?= Release
JOBS ?= $(shell nproc)

.PHONY: all deps build run test unit e2e asan-build format format-check tidy bench clean

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

# Every suite: unit tests and end-to-end tests on the release build, then the unit and
# end-to-end tests again on an AddressSanitizer + UBSan build.
test: build asan-build
	@ctest --test-dir build --output-on-failure -j $(JOBS) -L unit
	@ctest --test-dir build --output-on-failure -L e2e
	@ctest --test-dir build-asan --output-on-failure -j $(JOBS) -L unit
	@ctest --test-dir build-asan --output-on-failure -L e2e
	@scripts/check-format.sh

unit: build
	@ctest --test-dir build --output-on-failure -j $(JOBS) -L unit

e2e: build
	@ctest --test-dir build --output-on-failure -L e2e

asan-build: deps
	@cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPROFILED_SANITIZE=ON >/dev/null
	@cmake --build build-asan -j $(JOBS)

format:
	@clang-format -i $$(git ls-files '*.cc' '*.h')

tidy: build
	@clang-tidy -p build --quiet $$(git ls-files 'src/*.cc')

format-check:
	@scripts/check-format.sh

bench: build
	@PROFILED_BENCH_DEPS=1 scripts/install-deps.sh
	@bench/run.sh

clean:
	rm -rf build build-asan

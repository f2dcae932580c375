# Starling — the two commands are `make run` and `make test` (see README.md).
# Both install what they need first (scripts/install-deps.sh, idempotent, Debian 12, root).

BUILD      ?= build
JOBS       ?= $(shell nproc)
# make test runs each fuzz target briefly on its corpus (a regression check); fuzz for longer
# with `make test-fuzz FUZZ_SECONDS=120`.
FUZZ_SECONDS ?= 5

.PHONY: all deps build build-asan build-fuzz test test-unit test-asan test-fuzz test-integration \
        test-interop run bench bench-turn bench-sfu clean

all: build

deps:
	./scripts/install-deps.sh

build:
	cmake -S . -B $(BUILD)/release -DCMAKE_BUILD_TYPE=Release >/dev/null
	cmake --build $(BUILD)/release -j $(JOBS)

# The sanitizer and fuzz builds compile only what their runs need (suites, fuzz targets).
build-asan:
	cmake -S . -B $(BUILD)/asan -DCMAKE_BUILD_TYPE=asan >/dev/null
	cmake --build $(BUILD)/asan -j $(JOBS) --target all_suites

build-fuzz:
	CC=clang cmake -S . -B $(BUILD)/fuzz -DCMAKE_BUILD_TYPE=Debug -DRTC_FUZZ=ON >/dev/null
	cmake --build $(BUILD)/fuzz -j $(JOBS) --target all_fuzzers

# Everything: unit + sim + integration + interop on the release build, unit + sim again
# under AddressSanitizer/UBSan, then every fuzz target for FUZZ_SECONDS on its corpus.
test: deps
	$(MAKE) build build-asan build-fuzz
	cd $(BUILD)/release && ctest --output-on-failure -j 2
	cd $(BUILD)/asan && ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure -j 2 -L 'unit|sim'
	./scripts/run-fuzzers.sh $(BUILD)/fuzz $(FUZZ_SECONDS)

test-unit: build
	cd $(BUILD)/release && ctest --output-on-failure -j 2 -L 'unit|sim'

test-asan: build-asan
	cd $(BUILD)/asan && ctest --output-on-failure -j 2 -L 'unit|sim'

test-integration: build
	cd $(BUILD)/release && ctest --output-on-failure -L integration

test-interop: build
	cd $(BUILD)/release && ctest --output-on-failure -L interop

test-fuzz: build-fuzz
	./scripts/run-fuzzers.sh $(BUILD)/fuzz $(FUZZ_SECONDS)

run: deps build
	./scripts/run-local.sh $(BUILD)/release

bench: deps build
	./scripts/bench.sh $(BUILD)/release

bench-turn: deps build
	./scripts/bench-turn.sh $(BUILD)/release

bench-sfu: deps build
	./scripts/bench-sfu.sh $(BUILD)/release

clean:
	rm -rf $(BUILD)

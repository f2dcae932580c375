#!/bin/sh
# Builds the Release tree and prints ns/packet for RTP and RTCP parsing at ~160 and ~1200
# bytes (tests/bench/bench_rtp.c). Usage: scripts/bench-rtp.sh [build-dir] [iterations]
set -eu
SRC_DIR=$(cd "$(dirname "$0")/.." && pwd)
BUILD_DIR=${1:-$SRC_DIR/build/release}
ITERS=${2:-2000000}
cmake -S "$SRC_DIR" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD_DIR" -j2 --target bench_rtp >/dev/null
echo "bench_rtp: $(uname -m), $(nproc) cores, $ITERS iterations per case, Release build"
"$BUILD_DIR/tests/bench/bench_rtp" "$ITERS"

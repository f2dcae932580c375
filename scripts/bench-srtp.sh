#!/bin/sh
# SRTP benchmark: builds bench_srtp (Release) and prints ns per packet for protect/unprotect in
# both profiles at 160 B and 1200 B payloads, then OpenSSL's raw primitives on this machine
# (`openssl speed -evp aes-128-gcm / aes-128-ctr`, `-hmac sha1`) at the same sizes as the
# floor. A benchmark, not a test: nothing is asserted.
#
#   scripts/bench-srtp.sh [BUILD_DIR]      (default build/release; BENCH_SECONDS=1 per cell)
set -eu
SRC_DIR=$(cd "$(dirname "$0")/.." && pwd)
BUILD_DIR=${1:-$SRC_DIR/build/release}
SECS=${BENCH_SECONDS:-1}

cmake -S "$SRC_DIR" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD_DIR" -j2 --target bench_srtp >/dev/null
BIN="$BUILD_DIR/tools/bench_srtp/bench_srtp"

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
echo "### SRTP protect/unprotect (one thread, in place)"
echo
echo "libsrtp2 $(pkg-config --modversion libsrtp2 2>/dev/null || echo '?'), $(openssl version | cut -d' ' -f1-2), ${cpu:-$(uname -m)}, $(nproc) cores; command: scripts/bench-srtp.sh"
echo
"$BIN" --seconds "$SECS"
echo
echo "### OpenSSL floor on the same machine (openssl speed, one thread)"
echo
echo "| primitive | 160 B (ns/op) | 1200 B (ns/op) |"
echo "|---|---:|---:|"
speed_ns() { # args: bytes, then openssl speed arguments; prints ns per operation
    b=$1
    shift
    openssl speed -mr -seconds "$SECS" -bytes "$b" "$@" 2>/dev/null |
        awk -F: -v b="$b" '/^\+F:/ { if ($4 > 0) printf "%.0f", b / $4 * 1e9 }'
}
for alg in aes-128-gcm aes-128-ctr; do
    echo "| EVP $alg | $(speed_ns 160 -evp $alg) | $(speed_ns 1200 -evp $alg) |"
done
echo "| HMAC-SHA1 | $(speed_ns 160 -hmac sha1) | $(speed_ns 1200 -hmac sha1) |"
echo
echo "Both tables count CPU time of one thread. AES128_CM_SHA1_80 needs about AES-CTR + HMAC-SHA1"
echo "over the packet, AEAD_AES_128_GCM about one AES-GCM pass; the rest is libsrtp's per-packet"
echo "work. Debian's libsrtp2 uses NSS (not OpenSSL) for its ciphers: $(ldd "$(pkg-config --variable=libdir libsrtp2)/libsrtp2.so.1" 2>/dev/null | grep -o 'libnss3[^ ]*' | head -1)"

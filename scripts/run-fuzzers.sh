#!/bin/sh
# Runs every libFuzzer target in BUILD_DIR for SECONDS each, starting from its checked-in
# corpus (tests/fuzz/corpus/<target>/). New inputs go to a scratch dir, so the checked-in
# corpus changes only when someone copies a finding in on purpose. Any crash fails the run.
set -eu
BUILD_DIR=${1:?build dir}
SECONDS_EACH=${2:-20}
SRC_DIR=$(cd "$(dirname "$0")/.." && pwd)
status=0
found=0
for bin in "$BUILD_DIR"/tests/fuzz_*; do
  [ -x "$bin" ] || continue
  found=1
  name=$(basename "$bin")
  corpus="$SRC_DIR/tests/fuzz/corpus/$name"
  scratch=$(mktemp -d)
  artifacts=$(mktemp -d)
  echo "fuzz: $name for ${SECONDS_EACH}s"
  if [ -d "$corpus" ]; then seeds="$corpus"; else seeds=""; fi
  if ! "$bin" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 -print_final_stats=0 \
        -artifact_prefix="$artifacts/" "$scratch" $seeds >"$scratch.log" 2>&1; then
    echo "fuzz: $name FAILED; log tail and crashing inputs:"
    tail -40 "$scratch.log"
    ls -l "$artifacts"
    status=1
  else
    grep -E "^(#[0-9]+.*DONE|Done)" "$scratch.log" | tail -1 || true
  fi
  rm -rf "$scratch" "$scratch.log"
  [ $status -eq 0 ] && rm -rf "$artifacts"
done
[ $found -eq 1 ] || { echo "fuzz: no targets built in $BUILD_DIR"; exit 1; }
exit $status

#!/bin/sh
# Runs every libFuzzer target in BUILD_DIR for SECONDS each, two at a time (one per core),
# starting from its checked-in corpus (tests/fuzz/corpus/<target>/). New inputs go to a
# scratch dir, so the checked-in corpus changes only when someone copies a finding in on
# purpose. Any crash, leak or sanitizer report fails the run and prints the crashing input.
set -eu
BUILD_DIR=${1:?build dir}
SECONDS_EACH=${2:-15}
SRC_DIR=$(cd "$(dirname "$0")/.." && pwd)
RESULTS=$(mktemp -d)
trap 'rm -rf "$RESULTS"' EXIT

run_one() { # bin
  bin=$1; name=$(basename "$bin")
  corpus="$SRC_DIR/tests/fuzz/corpus/$name"
  scratch=$(mktemp -d); artifacts=$(mktemp -d)
  seeds=""; [ -d "$corpus" ] && seeds="$corpus"
  if "$bin" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 -print_final_stats=0 \
       -artifact_prefix="$artifacts/" "$scratch" $seeds >"$RESULTS/$name.log" 2>&1; then
    echo "fuzz: $name ok ($(grep -Eo 'Done [0-9]+ runs' "$RESULTS/$name.log" | tail -1))"
  else
    echo "fuzz: $name FAILED"; tail -40 "$RESULTS/$name.log"
    for f in "$artifacts"/*; do [ -f "$f" ] && { echo "crashing input $f:"; od -An -tx1 "$f" | head -20; }; done
    touch "$RESULTS/$name.failed"
  fi
  rm -rf "$scratch" "$artifacts"
}

targets=$(ls "$BUILD_DIR"/tests/fuzz_* 2>/dev/null || true)
[ -n "$targets" ] || { echo "fuzz: no targets built in $BUILD_DIR"; exit 1; }
n=$(echo "$targets" | wc -l)
echo "fuzz: $n targets, ${SECONDS_EACH}s each, 2 at a time"
# Two workers over the list: each takes every other target.
i=0; set --
for t in $targets; do i=$((i+1)); if [ $((i % 2)) -eq 1 ]; then set -- "$@" "$t"; fi; done
( for t in "$@"; do run_one "$t"; done ) &
w1=$!
i=0
for t in $targets; do i=$((i+1)); if [ $((i % 2)) -eq 0 ]; then run_one "$t"; fi; done
wait $w1 || true
if ls "$RESULTS"/*.failed >/dev/null 2>&1; then echo "fuzz: FAILED: $(cd "$RESULTS" && ls *.failed | sed 's/.failed//')"; exit 1; fi
echo "fuzz: all $n targets clean"

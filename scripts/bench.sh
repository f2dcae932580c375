#!/bin/sh
# `make bench`: the benchmarks that write docs/benchmarks.md, one after the other —
#   scripts/bench-turn.sh  TURN relay: starling-turn vs coTURN vs a bare forwarder (floor)
#   scripts/bench-sfu.sh   SFU forwarding: starling-sfu vs Janus (needs root: network namespace)
# Each writes its own section of docs/benchmarks.md, with the exact commands it ran; their
# environment variables (DURATION, REPEAT, SCENARIOS, NICE, NO_DOCS...) pass through, so set
# them per script when they should differ (e.g. `TURN_ENV="REPEAT=3" SFU_ENV="REPEAT=3"`).
# Exit status: non-zero when a benchmark failed (a skipped one, exit 77, is only reported).
set -u
BUILD_DIR=${1:-build/release}
SRC_DIR=$(cd "$(dirname "$0")/.." && pwd)
status=0
for b in turn sfu; do
  case $b in turn) extra=${TURN_ENV:-} ;; sfu) extra=${SFU_ENV:-} ;; esac
  echo "== bench-$b ${extra:+($extra)}"
  # shellcheck disable=SC2086
  env $extra "$SRC_DIR/scripts/bench-$b.sh" "$BUILD_DIR"
  rc=$?
  case $rc in
    0) ;;
    77) echo "bench: bench-$b skipped (see above); its section of docs/benchmarks.md is unchanged" ;;
    *) echo "bench: bench-$b failed (exit $rc)"; status=1 ;;
  esac
done
exit $status

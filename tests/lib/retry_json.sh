# Sourced by the PeerConnection-over-TURN interop tests (test_pc_turn.sh, test_pc_turn_tcp.sh).
#
# retry NAME PATTERNS -- CMD...: runs CMD (which prints one JSON line last) and checks that
# every pattern is in that line; one retry, announced: on this shared, loaded machine aiortc's
# pure-Python SCTP sometimes stalls (it happens without TURN too, see test_pc_aiortc). A real
# bug fails both attempts. Sets fail=1 when both fail; stderr goes to $TMP/err.
retry() {
  name=$1; shift
  pats=""
  while [ "$1" != "--" ]; do pats="$pats$1
"; shift; done
  shift
  for attempt in 1 2; do
    out=$("$@" 2>"$TMP/err" | tail -1)
    ok=1
    echo "$name (attempt $attempt): $out"
    printf '%s' "$pats" | { while IFS= read -r pat; do
        case "$out" in *"$pat"*) ;; *) echo "  missing: $pat"; exit 1 ;; esac
      done; } || ok=0
    [ $ok -eq 1 ] && return 0
    grep -v '"debug"' "$TMP/err" | tail -5
  done
  echo "FAIL: $name"
  fail=1
}

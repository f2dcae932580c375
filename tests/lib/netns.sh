# Shell helpers for tests that build their own network out of namespaces.
# Source it: `. "$SRC_DIR/tests/lib/netns.sh"`. Everything is named with a per-run prefix so
# parallel tests never collide, and netns_cleanup removes exactly what this run created.
#
#   netns_require                 exit 77 (skip) if namespaces cannot be created here
#   netns_add NAME                create namespace "$NETNS_PREFIX-NAME" with lo up; prints it
#   netns_link NS_A ADDR_A NS_B ADDR_B
#                                 veth pair between two of our namespaces, addresses in CIDR
#                                 form (e.g. 10.200.0.1/24); links up
#   netns_exec NAME cmd...        run a command inside one of our namespaces
#   netns_cleanup                 delete every namespace this run created (call from trap)

NETNS_PREFIX=${NETNS_PREFIX:-st$$}
NETNS_CREATED=""
NETNS_LINKS=0

netns_require() {
  if ! command -v ip >/dev/null 2>&1; then echo "SKIP: iproute2 missing"; exit 77; fi
  if ! ip netns add "$NETNS_PREFIX-probe" 2>/dev/null; then
    echo "SKIP: this machine does not allow network namespaces (ip netns add failed)"; exit 77
  fi
  ip netns del "$NETNS_PREFIX-probe"
}

netns_add() {
  ns="$NETNS_PREFIX-$1"
  ip netns add "$ns"
  NETNS_CREATED="$NETNS_CREATED $ns"
  ip -n "$ns" link set lo up
}

netns_link() {
  NETNS_LINKS=$((NETNS_LINKS + 1))
  a="$NETNS_PREFIX-$1"; b="$NETNS_PREFIX-$3"
  va="${NETNS_PREFIX}a$NETNS_LINKS"; vb="${NETNS_PREFIX}b$NETNS_LINKS"
  ip link add "$va" type veth peer name "$vb"
  ip link set "$va" netns "$a"
  ip link set "$vb" netns "$b"
  ip -n "$a" addr add "$2" dev "$va"
  ip -n "$b" addr add "$4" dev "$vb"
  ip -n "$a" link set "$va" up
  ip -n "$b" link set "$vb" up
}

netns_exec() {
  ns="$NETNS_PREFIX-$1"; shift
  ip netns exec "$ns" "$@"
}

netns_cleanup() {
  for ns in $NETNS_CREATED; do
    # Stop anything still running inside (only our namespaces, so only our processes).
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill "$pid" 2>/dev/null || true; done
    ip netns del "$ns" 2>/dev/null || true
  done
  NETNS_CREATED=""
}

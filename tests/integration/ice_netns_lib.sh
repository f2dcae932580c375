# Shared by tests/integration/test_ice_netns*.sh: builds a small internet out of network
# namespaces and veth pairs, never touching the host's interfaces:
#
#   hostA 10.201.1.2 -- natA (10.201.1.1 | 10.201.0.2) --+
#                                                          +-- pub 10.201.0.1 (bridge; coTURN)
#   hostB 10.201.2.2 -- natB (10.201.2.1 | 10.201.0.3) --+
#
# IPv6 is routed without NAT (fd00:201:N::/64 per LAN). The NATs are iptables MASQUERADE with
# the usual router firewall ("cone": Linux keeps the source port, filters by address and port)
# or MASQUERADE --random-fully ("symmetric": a new random port per destination).
#
# Source it after setting SRC_DIR/BUILD_DIR; it sets PROBE, TMP, the NS_* names, traps EXIT for
# cleanup, exits 77 when namespaces are forbidden, and defines set_nat, start_coturn, run_pair,
# show, fail, selected_types. Extra coTURN arguments: COTURN_ARGS.
PROBE=$BUILD_DIR/tools/ice-probe/ice-probe

[ -x "$PROBE" ] || { echo "FAIL: $PROBE is not built"; exit 1; }
if [ "$(id -u)" -ne 0 ]; then echo "SKIP: network namespaces need root"; exit 77; fi
command -v ip >/dev/null 2>&1 || { echo "SKIP: iproute2 (ip) not installed"; exit 77; }
command -v iptables >/dev/null 2>&1 || { echo "FAIL: iptables not installed (scripts/install-deps.sh)"; exit 1; }
command -v turnserver >/dev/null 2>&1 || { echo "FAIL: coturn not installed (scripts/install-deps.sh)"; exit 1; }

TAG="ice$$"
NS_PUB="${TAG}pub"; NS_NA="${TAG}na"; NS_NB="${TAG}nb"; NS_HA="${TAG}ha"; NS_HB="${TAG}hb"
TMP=$(mktemp -d)
PIDS=""
FAILS=0

cleanup() {
    for p in $PIDS; do kill "$p" 2>/dev/null; done
    for p in $PIDS; do wait "$p" 2>/dev/null; done
    # Anything else still running in our namespaces was started by us (coTURN's children).
    for ns in $NS_HA $NS_HB $NS_NA $NS_NB $NS_PUB; do
        for p in $(ip netns pids "$ns" 2>/dev/null); do kill "$p" 2>/dev/null; done
    done
    for ns in $NS_HA $NS_HB $NS_NA $NS_NB $NS_PUB; do ip netns del "$ns" 2>/dev/null; done
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

if ! ip netns add "$NS_PUB" 2>"$TMP/err"; then
    echo "SKIP: this machine forbids network namespaces: $(cat "$TMP/err")"
    exit 77
fi

# ---- topology ---------------------------------------------------------------------------
ip -n "$NS_PUB" link set lo up
ip -n "$NS_PUB" link add br0 type bridge
ip -n "$NS_PUB" addr add 10.201.0.1/24 dev br0
ip -n "$NS_PUB" link set br0 up
# Like the internet, pub silently drops what it cannot route (private LAN addresses from
# candidates). Without a route sends fail (ENETUNREACH; a blackhole route gives EINVAL) and
# coTURN tears the allocation down, so the default route points at a veth whose frames go to
# a MAC address nobody has: sends succeed, packets vanish.
ip -n "$NS_PUB" link add sink0 type veth peer name sink1
ip -n "$NS_PUB" link set sink0 up
ip -n "$NS_PUB" link set sink1 up
ip -n "$NS_PUB" route add default via 192.0.2.1 dev sink0 onlink
ip -n "$NS_PUB" neigh add 192.0.2.1 lladdr 02:00:00:00:00:01 dev sink0 nud permanent

# make_site X nat_ns host_ns wan_ip lan_prefix site_no  (lan_prefix like 10.201.1)
# IPv6 is routed without NAT: LAN fd00:201:N::/64, the NAT's WAN side fd00:201::(N+1).
make_site() {
    nat=$2; host=$3; wan=$4; lan=$5; n=$6
    ip netns add "$nat" && ip netns add "$host" || return 1
    ip -n "$nat" link set lo up; ip -n "$host" link set lo up
    ip -n "$nat" link add wan type veth peer name "p$1" netns "$NS_PUB" || return 1
    ip -n "$NS_PUB" link set "p$1" master br0 up
    ip -n "$nat" addr add "$wan/24" dev wan
    ip -n "$nat" link set wan up
    ip -n "$nat" link add lan type veth peer name eth0 netns "$host" || return 1
    ip -n "$nat" addr add "$lan.1/24" dev lan
    ip -n "$nat" link set lan up
    ip -n "$host" addr add "$lan.2/24" dev eth0
    ip -n "$host" link set eth0 up
    ip -n "$host" route add default via "$lan.1"
    ip netns exec "$nat" sysctl -qw net.ipv4.ip_forward=1
    ip netns exec "$nat" sysctl -qw net.ipv6.conf.all.forwarding=1
    ip -n "$nat" -6 addr add "fd00:201::$((n + 1))/64" dev wan nodad
    ip -n "$nat" -6 addr add "fd00:201:$n::1/64" dev lan nodad
    ip -n "$host" -6 addr add "fd00:201:$n::2/64" dev eth0 nodad
    ip -n "$host" -6 route add default via "fd00:201:$n::1"
    other=$((3 - n))
    ip -n "$nat" -6 route add "fd00:201:$other::/64" via "fd00:201::$((other + 1))"
    # Like any home router: unsolicited traffic to the router itself from the WAN is dropped.
    # (It matters: an accepted inbound flow would be confirmed in conntrack and then clash with
    # the LAN host's outbound mapping for the same 5-tuple, making the NAT pick another port.)
    ip netns exec "$nat" iptables -A INPUT -i wan -m conntrack --ctstate NEW -j DROP || return 1
}

# set_nat nat_ns cone|symmetric — replaces the NAT rule and forgets old mappings.
set_nat() {
    ip netns exec "$1" iptables -t nat -F POSTROUTING
    if [ "$2" = symmetric ]; then
        ip netns exec "$1" iptables -t nat -A POSTROUTING -o wan -j MASQUERADE --random-fully
    else
        ip netns exec "$1" iptables -t nat -A POSTROUTING -o wan -j MASQUERADE
    fi
    # Old conntrack entries stay, but every probe binds a fresh port, so none applies.
}

make_site A "$NS_NA" "$NS_HA" 10.201.0.2 10.201.1 1 || { echo "SKIP: cannot build veth topology"; exit 77; }
make_site B "$NS_NB" "$NS_HB" 10.201.0.3 10.201.2 2 || { echo "SKIP: cannot build veth topology"; exit 77; }
if ! ip netns exec "$NS_NA" iptables -t nat -A POSTROUTING -o wan -j MASQUERADE 2>"$TMP/err"; then
    echo "SKIP: iptables NAT unavailable in network namespaces: $(cat "$TMP/err")"
    exit 77
fi
ip netns exec "$NS_NA" iptables -t nat -F POSTROUTING

# ---- coTURN in pub: STUN and TURN on 10.201.0.1:3478 (UDP and TCP), user u / password p,
# plus whatever COTURN_ARGS adds (TLS). Then a sanity check with coTURN's own STUN client:
# from LAN A the server sees natA's address.
start_coturn() {
    # shellcheck disable=SC2086
    ip netns exec "$NS_PUB" turnserver -n --listening-ip=10.201.0.1 --relay-ip=10.201.0.1 \
        --listening-port=3478 --realm=test --user=u:p --lt-cred-mech --no-cli --no-dtls \
        --min-port=49152 --max-port=49999 --log-file=stdout --pidfile="$TMP/turn.pid" \
        ${COTURN_ARGS:---no-tls} >"$TMP/turn.log" 2>&1 &
    PIDS="$PIDS $!"
    i=0
    until ip netns exec "$NS_PUB" ss -uln 2>/dev/null | grep -q '10.201.0.1:3478'; do
        i=$((i + 1)); [ $i -gt 50 ] && { echo "FAIL: coTURN did not start"; cat "$TMP/turn.log"; exit 1; }
        sleep 0.1
    done
    set_nat "$NS_NA" cone; set_nat "$NS_NB" cone
    if ! ip netns exec "$NS_HA" turnutils_stunclient -p 3478 10.201.0.1 >"$TMP/stunclient.log" 2>&1 ||
       ! grep -q '10.201.0.2' "$TMP/stunclient.log"; then
        echo "FAIL: from behind natA, coTURN does not report natA's address"; cat "$TMP/stunclient.log"; exit 1
    fi
}

# ---- a pair of probes ---------------------------------------------------------------------
# run_pair NAME NS_A "ARGS_A" NS_B "ARGS_B" TIMEOUT -> sets RA RB; logs in $TMP/NAME.[ab].log
run_pair() {
    name=$1; nsa=$2; argsa=$3; nsb=$4; argsb=$5; t=$6
    rm -f "$TMP/ab" "$TMP/ba"
    mkfifo "$TMP/ab" "$TMP/ba"
    # shellcheck disable=SC2086
    ip netns exec "$nsa" "$PROBE" $argsa --timeout "$t" --log "$TMP/$name.a.log" \
        <>"$TMP/ba" >"$TMP/ab" 2>"$TMP/$name.a.err" &
    pa=$!
    # shellcheck disable=SC2086
    ip netns exec "$nsb" "$PROBE" $argsb --timeout "$t" --log "$TMP/$name.b.log" \
        <>"$TMP/ab" >"$TMP/ba" 2>"$TMP/$name.b.err" &
    pb=$!
    PIDS="$PIDS $pa $pb"
    wait $pa; RA=$?
    wait $pb; RB=$?
    PIDS=$(echo "$PIDS" | sed "s/ $pa//; s/ $pb//")
}

show() {
    for s in a b; do
        echo "--- $1.$s.log"; cat "$TMP/$1.$s.log" 2>/dev/null
        echo "--- $1.$s.err"; tail -20 "$TMP/$1.$s.err" 2>/dev/null
    done
}

fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }

selected_types() { grep '^selected' "$1" | tail -1 | awk '{print $2 "/" $4}'; }


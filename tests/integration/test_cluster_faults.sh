#!/bin/sh
# Cluster fault tests with real processes and real WebRTC clients (issue 7): one redis-server,
# two starling-signal processes and two starling-sfu nodes on 127.0.0.1, aiortc participants
# (tests/integration/cluster/aiortc_peer.py). Scenarios (tests/integration/cluster/aiortc_cluster.py):
#   failover  participants entering through different signal processes meet on one node; kill -9
#             that node: they are told to reconnect and decode each other again on the other
#             node within 10 s of the kill; then that node is killed and started again under
#             the same id (a new instance, no rooms): they rejoin it and decode each other again;
#   redis     restart redis-server under a live room: media keeps decoding through the outage,
#             joins work again once it is back;
#   signal    kill -9 a signal process: its client resumes through the other one without
#             republishing, media keeps decoding.
# Loopback only; every process is stopped by PID on every exit path (cluster.py).
set -u
: "${BUILD_DIR:?}" "${SRC_DIR:?}"
PY=/usr/bin/python3
$PY -c 'import aiortc, websockets, numpy, redis' 2>/dev/null || { echo "SKIP: aiortc/websockets/numpy/redis missing for $PY"; exit 77; }
rc=0
for s in ${CLUSTER_SCENARIOS:-failover redis signal}; do
  echo "=== scenario $s"
  $PY "$SRC_DIR/tests/integration/cluster/aiortc_cluster.py" "$s"
  r=$?
  [ $r -eq 77 ] && exit 77
  [ $r -ne 0 ] && rc=1
done
exit $rc

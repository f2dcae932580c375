#!/bin/sh
# The Kubernetes manifests without a cluster (kubectl here has none to ask, and even
# `kubectl apply --dry-run=client` needs the API server's discovery): deploy_check.py k8s
# checks every object in deploy/k8s (and examples/) against the python3-kubernetes API models
# (unknown fields, types, required fields), then the rules docs/deployment.md states:
# namespace, ConfigMap == deploy/config/*.k8s.conf (also as `kubectl create configmap
# --dry-run=client` generates it, when kubectl is installed), selectors, Service target ports,
# Secret keys, resource requests, readiness on /healthz and liveness on the port the service
# really listens on, terminationGracePeriodSeconds > drain timeout, hostNetwork DaemonSets
# with the node IP from the downward API for SFU and TURN, one declared UDP port per SFU
# worker; and finally runs the three services with their *.k8s.conf and the environment
# their pod spec gives them (downward API and Secret values filled in, addresses moved to
# 127.0.0.1): each must report green /healthz, the SFU register as sfu-<node name> with the
# node's IP, and each exit 0 on SIGTERM.
set -u
SRC_DIR=${SRC_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD_DIR=${BUILD_DIR:-$SRC_DIR/build/release}
for t in /usr/bin/python3 redis-server redis-cli; do
  command -v $t >/dev/null 2>&1 || { echo "skip: $t missing (scripts/install-deps.sh)"; exit 77; }
done
/usr/bin/python3 -c 'import yaml, kubernetes.client' 2>/dev/null ||
  { echo "skip: python3-yaml or python3-kubernetes missing (scripts/install-deps.sh)"; exit 77; }
exec timeout 300 /usr/bin/python3 "$SRC_DIR/tests/integration/deploy_check.py" k8s "$SRC_DIR" "$BUILD_DIR"

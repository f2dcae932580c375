#!/bin/sh
# The container deployment without a Docker engine (this machine has none): deploy_check.py
# docker checks
#  * every deploy/config/*.conf (local, docker, k8s) is parsed by its own service binary;
#  * docker-compose.yml: `docker-compose config` with compose.env.example (and its refusal
#    without the required settings), host networking for all four, every STARLING_ variable
#    a real option of its service, Redis port/password consistent, stop_grace_period longer
#    than each drain timeout, health checks;
#  * the three services started with their *.docker.conf and compose's environment (addresses
#    moved to 127.0.0.1) all report green /healthz, serve the demo page and exit 0 on SIGTERM;
#  * the TLS recipe of docs/deployment.md: turn.docker.conf + STARLING_TURN_TLS_* relays for
#    coTURN's turnutils_uclient over TLS;
#  * deploy/docker/healthcheck.sh (the image's HEALTHCHECK) finds each service's /healthz from
#    the process's environment or config file, and fails for a stopped one;
#  * the Dockerfile: bases, non-root USER, COPY sources, package names, the build stage's
#    packages providing every pkg-config module CMake requires, and the runtime stage's
#    packages providing every library the running services map (dlopen()ed ones included),
#    with none unused.
# What it cannot check: that `docker build` succeeds and the image runs under a container
# runtime. deploy/docker/chroot-build.py replays the Dockerfile in Debian 12 chroots for that
# (it downloads packages, so it is not part of this test).
set -u
SRC_DIR=${SRC_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD_DIR=${BUILD_DIR:-$SRC_DIR/build/release}
for t in /usr/bin/python3 redis-server redis-cli apt-cache dpkg pkg-config bash; do
  command -v $t >/dev/null 2>&1 || { echo "skip: $t missing (scripts/install-deps.sh)"; exit 77; }
done
/usr/bin/python3 -c 'import yaml' 2>/dev/null || { echo "skip: python3-yaml missing (scripts/install-deps.sh)"; exit 77; }
exec timeout 300 /usr/bin/python3 "$SRC_DIR/tests/integration/deploy_check.py" docker "$SRC_DIR" "$BUILD_DIR"

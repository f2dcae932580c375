#!/bin/sh
# The image's entrypoint: the first argument names the program, the rest are its arguments.
# The service replaces this shell (exec), so it is the container's main process and receives
# SIGTERM from `docker stop` / Kubernetes directly (it drains, then exits).
set -e
usage() {
  cat <<'EOF'
Starling image. Usage: docker run [docker options] IMAGE COMMAND [ARGS...]

  signal [ARGS]        starling-signal (config /etc/starling/signal.conf; --help for options)
  sfu [ARGS]           starling-sfu    (config /etc/starling/sfu.conf)
  turn [ARGS]          starling-turn   (config /etc/starling/turn.conf)
  stun [ARGS]          starling-stun, a STUN Binding client (e.g. stun --json HOST:3478)
  token ARGS           starling-signal token --room R --identity I ... (mints an access token)
  secret ARGS          starling-signal secret add SECRET [--expires-in 30d] (TURN REST secrets)
  healthcheck [SVC]    exit 0 when the running service's /healthz is green
  anything else        run as a command (e.g. sh)

Every option can also be set with STARLING_<SERVICE>_<OPTION> environment variables.
EOF
}
cmd=${1:-}
case $cmd in
  signal|sfu|turn) shift; exec "/usr/local/bin/starling-$cmd" "$@" ;;
  token|secret) exec /usr/local/bin/starling-signal "$@" ;;
  stun) shift; exec /usr/local/bin/starling-stun "$@" ;;
  healthcheck) shift; exec /usr/local/bin/starling-healthcheck "$@" ;;
  ""|-h|--help|help) usage ;;
  *) exec "$@" ;;
esac

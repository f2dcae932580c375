#!/bin/bash
# starling-healthcheck [signal|sfu|turn|PID]: exit 0 when the service's GET /healthz answers
# 200, 1 when it answers anything else or nothing, 2 when there is no service to check.
#
# The image's HEALTHCHECK runs it without arguments: it finds the one starling-* process in
# the container and asks it on the address it really listens on, worked out the way the
# service works it out (docs/configuration.md): a --listen / --http.listen flag on its command
# line, else STARLING_<SERVICE>_... in its environment, else its config file (--config or
# STARLING_<SERVICE>_CONFIG), else the built-in default. 0.0.0.0 / [::] become loopback.
# STARLING_HEALTH_URL, when set, is used as it is. Needs only bash (/dev/tcp), no curl.
set -u

target=${1:-}
pid=""
case $target in
  # Only processes whose environment we may read (in a container: the service, as the
  # image's user; a check run as another user could not see how that process was started).
  '') for d in /proc/[0-9]*; do
        [ -r "$d/environ" ] || continue
        case $(cat "$d/comm" 2>/dev/null) in
          starling-signal|starling-sfu|starling-turn) pid=${d#/proc/}; break ;;
        esac
      done ;;
  signal|sfu|turn)
      for d in /proc/[0-9]*; do
        [ -r "$d/environ" ] || continue
        [ "$(cat "$d/comm" 2>/dev/null)" = "starling-$target" ] && { pid=${d#/proc/}; break; }
      done ;;
  *[!0-9]*) echo "usage: starling-healthcheck [signal|sfu|turn|PID]" >&2; exit 2 ;;
  *) pid=$target ;;
esac

url=${STARLING_HEALTH_URL:-}
if [ -z "$url" ]; then
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || { echo "starling-healthcheck: no Starling service running" >&2; exit 2; }
  [ -r "/proc/$pid/environ" ] || { echo "starling-healthcheck: cannot read how pid $pid was started (run as its user)" >&2; exit 2; }
  case $(cat "/proc/$pid/comm") in
    starling-signal) svc=SIGNAL; key=listen; def=127.0.0.1:8080 ;;
    starling-sfu) svc=SFU; key=http.listen; def=127.0.0.1:9642 ;;
    starling-turn) svc=TURN; key=http.listen; def=127.0.0.1:9641 ;;
    *) echo "starling-healthcheck: pid $pid is not a Starling service" >&2; exit 2 ;;
  esac
  lower=$(echo "$svc" | tr 'A-Z' 'a-z')
  envkey=STARLING_${svc}_$(echo "$key" | tr 'a-z.-' 'A-Z__')

  # Command line: --KEY=V, --KEY V, --config F, -c F, --config=F (the key's spellings with
  # '-' or '_' for '.' are the same option).
  mapfile -d '' argv <"/proc/$pid/cmdline"
  flag_val="" conf=""
  norm() { echo "$1" | tr 'A-Z_-' 'a-z..'; }
  want=$(norm "$key")
  for ((i = 1; i < ${#argv[@]}; i++)); do
    a=${argv[i]}
    case $a in
      -c|--config) conf=${argv[i + 1]:-}; i=$((i + 1)) ;;
      --config=*) conf=${a#--config=} ;;
      --*=*) n=${a%%=*}; [ "$(norm "${n#--}")" = "$want" ] && flag_val=${a#*=} ;;
      --*) [ "$(norm "${a#--}")" = "$want" ] && { flag_val=${argv[i + 1]:-}; i=$((i + 1)); } ;;
    esac
  done
  env_val="" env_conf=""
  while IFS= read -r -d '' kv; do
    case $kv in
      "$envkey="*) env_val=${kv#*=} ;;
      "STARLING_${svc}_CONFIG="*) env_conf=${kv#*=} ;;
    esac
  done <"/proc/$pid/environ"
  [ -z "$conf" ] && conf=$env_conf
  # A relative config path is relative to the service's working directory.
  case $conf in ''|/*) ;; *) conf=/proc/$pid/cwd/$conf ;; esac

  file_val=""
  if [ -n "$conf" ] && [ -r "$conf" ]; then
    # key = value lines; [section] prefixes keys; '#' after whitespace starts a comment;
    # keys are case-insensitive with '.', '-', '_' alike.
    file_val=$(awk -v want="$want" '
      function norm(s) { s = tolower(s); gsub(/[-_]/, ".", s); return s }
      function trim(s) { sub(/^[ \t]+/, "", s); sub(/[ \t]+$/, "", s); return s }
      { sub(/\r$/, "") }
      /^[ \t]*([#;]|$)/ { next }
      /^[ \t]*\[/ { s = $0; sub(/^[ \t]*\[/, "", s); sub(/\].*$/, "", s); sec = norm(trim(s)); next }
      index($0, "=") > 0 {
        k = norm(trim(substr($0, 1, index($0, "=") - 1)))
        if (sec != "") k = sec "." k
        if (k != want) next
        v = trim(substr($0, index($0, "=") + 1))
        if (v ~ /^"/) { sub(/^"/, "", v); sub(/".*$/, "", v) } else { sub(/[ \t]+#.*$/, "", v) }
        print v
      }' "$conf" | tail -n 1)
  fi
  addr=${flag_val:-${env_val:-${file_val:-$def}}}
  addr=${addr%%,*}                                   # a list: its first listener
  addr=$(echo "$addr" | tr -d ' \t')
  [ -n "$addr" ] || { echo "starling-healthcheck: $lower has no HTTP listener" >&2; exit 2; }
  host=${addr%:*} port=${addr##*:}
  case $host in
    0.0.0.0) host=127.0.0.1 ;;
    '[::]') host=::1 ;;
    \[*\]) host=${host#[}; host=${host%]} ;;
  esac
else
  rest=${url#http://}; hostport=${rest%%/*}
  host=${hostport%:*} port=${hostport##*:}
  [ "$host" = "$hostport" ] && port=80
  host=${host#[}; host=${host%]}
fi

{ exec 3<>"/dev/tcp/$host/$port"; } 2>/dev/null || { echo "starling-healthcheck: cannot connect to $host:$port" >&2; exit 1; }
printf 'GET /healthz HTTP/1.0\r\nHost: %s\r\nConnection: close\r\n\r\n' "$host" >&3
IFS= read -r -t 4 status <&3 || status=""
body=$(timeout 2 cat <&3 2>/dev/null | tail -c 400)
exec 3<&-
case $status in
  "HTTP/1."?" 200"*) exit 0 ;;
  *) echo "starling-healthcheck: $host:$port/healthz: ${status%$'\r'} ${body//$'\r\n'/ }" >&2; exit 1 ;;
esac

# janus_config DIR IFACE WS_PORT: a configuration tree for Debian's Janus in DIR (conf/,
# plugins/, transports/, ...) with only the videoroom plugin and the WebSocket transport
# (on 127.0.0.1:WS_PORT, no admin API), ICE candidates only on IFACE, debug level 3. Janus
# loads every plugin and transport in its folders, so the folders hold only links to these
# two. Returns 1 if the janus package's videoroom plugin is not installed.
# Start it with: janus -F DIR/conf -C DIR/conf/janus.jcfg -N -L LOG -o
# Source it: `. "$SRC_DIR/tests/lib/janus.sh"` (used by tests and scripts/bench-sfu.sh, whose
# doc section prints these files: a change here changes what the benchmark documents).
janus_config() {
  jc_dir=$1; jc_iface=$2; jc_port=$3
  mkdir -p "$jc_dir/conf" "$jc_dir/plugins" "$jc_dir/transports" "$jc_dir/events" "$jc_dir/loggers"
  jc_lib=$(dirname "$(dpkg -L janus 2>/dev/null | grep '/plugins/libjanus_videoroom.so$' | head -1)")/..
  [ -f "$jc_lib/plugins/libjanus_videoroom.so" ] || return 1
  ln -sf "$jc_lib/plugins/libjanus_videoroom.so" "$jc_dir/plugins/"
  ln -sf "$jc_lib/transports/libjanus_websockets.so" "$jc_dir/transports/"
  cat >"$jc_dir/conf/janus.jcfg" <<JCFG
general: {
  configs_folder = "$jc_dir/conf"
  plugins_folder = "$jc_dir/plugins"
  transports_folder = "$jc_dir/transports"
  events_folder = "$jc_dir/events"
  loggers_folder = "$jc_dir/loggers"
  debug_level = 3
}
media: {
  rtp_port_range = "20000-40000"
}
nat: {
  ice_enforce_list = "$jc_iface"
  nice_debug = false
}
JCFG
  cat >"$jc_dir/conf/janus.transport.websockets.jcfg" <<JCFG
general: {
  json = "compact"
  ws = true
  ws_port = $jc_port
  ws_ip = "127.0.0.1"
  wss = false
}
admin: {
  admin_ws = false
  admin_wss = false
}
JCFG
  cat >"$jc_dir/conf/janus.plugin.videoroom.jcfg" <<JCFG
general: {
}
JCFG
}

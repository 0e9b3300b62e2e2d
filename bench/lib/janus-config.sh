#!/usr/bin/env bash
# janus-config.sh DIR [EVENT_LOOPS]: writes a Janus 1.1 configuration for the benchmark into DIR.
#
# Only the VideoRoom plugin and the WebSocket transport (127.0.0.1:8188, compact JSON) are
# loaded; no event handlers, no loggers, no STUN/TURN, warnings-only logging. ICE gathers on
# the veth `d0` that carries 127.0.0.1 inside the benchmark's network namespace. Room 1234:
# up to 20 publishers, Opus + VP8 (simulcast as the publisher offers it), no bitrate cap, no
# periodic FIR (Oriel sends none either), audio levels and transport-wide CC negotiated.
# EVENT_LOOPS (default 0): 0 keeps Janus's default of one thread per handle; N > 0 makes N
# shared event loops (`event_loops`). For bench/quality.sh, JANUS_NAT_1_1 (an address to
# advertise instead of the local one, like Oriel's --public-ip) and JANUS_RTP_RANGE (`A-B`,
# the media ports) put Janus behind the impairment relay.
set -euo pipefail
DIR="$1"
LOOPS="${2:-0}"
LIB=/usr/lib/x86_64-linux-gnu/janus
[ -d "$LIB" ] || LIB="$(dirname "$(dpkg -L janus | grep -m1 '/janus/plugins/libjanus_videoroom.so$')")/.."
mkdir -p "$DIR"

# Every library of a folder but the one we keep, as a `disable` list.
others() {
  local keep="$1" folder="$2" out="" f
  for f in "$folder"/libjanus_*.so; do
    [ -e "$f" ] || continue
    f="$(basename "$f")"
    [ "$f" = "$keep" ] && continue
    out="${out:+$out,}$f"
  done
  printf '%s' "$out"
}

LOOP_LINE=""
if [ "$LOOPS" -gt 0 ]; then
  LOOP_LINE="event_loops = $LOOPS"
fi

cat >"$DIR/janus.jcfg" <<CFG
general: {
	configs_folder = "$DIR"
	plugins_folder = "$LIB/plugins"
	transports_folder = "$LIB/transports"
	events_folder = "$LIB/events"
	loggers_folder = "$LIB/loggers"
	debug_level = 3
	session_timeout = 60
	$LOOP_LINE
}
certificates: {
}
media: {
	ipv6 = false
	${JANUS_RTP_RANGE:+rtp_port_range = \"$JANUS_RTP_RANGE\"}
}
nat: {
	${JANUS_NAT_1_1:+nat_1_1_mapping = \"$JANUS_NAT_1_1\"}
	${JANUS_NAT_1_1:+keep_private_host = false}
	nice_debug = false
	ice_enforce_list = "d0"
	ignore_mdns = true
}
plugins: {
	disable = "$(others libjanus_videoroom.so "$LIB/plugins")"
}
transports: {
	disable = "$(others libjanus_websockets.so "$LIB/transports")"
}
loggers: {
	disable = "$(others none "$LIB/loggers")"
}
events: {
	broadcast = false
	disable = "$(others none "$LIB/events")"
}
CFG

cat >"$DIR/janus.transport.websockets.jcfg" <<CFG
general: {
	json = "compact"
	ws = true
	ws_port = 8188
	ws_ip = "127.0.0.1"
	wss = false
}
admin: {
	admin_ws = false
	admin_wss = false
}
CFG

cat >"$DIR/janus.plugin.videoroom.jcfg" <<CFG
general: {
}
room-1234: {
	description = "Oriel benchmark"
	publishers = 20
	bitrate = 0
	fir_freq = 0
	audiocodec = "opus"
	videocodec = "vp8"
	audiolevel_ext = true
	transport_wide_cc_ext = true
	record = false
}
CFG

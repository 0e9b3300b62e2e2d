#!/usr/bin/env bash
# bench/quality.sh: quality on bad networks, Oriel against Janus 1.1.2, side by side in one run.
#
# The scenarios of tests/e2e/quality.test.mjs (5 % loss and 40 +- 20 ms jitter both ways; the
# downlink capped at 400 kbit/s for 10 s, then lifted; a 2 s burst of 30 % loss), each run on a
# call through the impairment relay (target/release/oriel-impair, on 127.0.0.2) to Oriel, then to
# Janus's VideoRoom, with the same Chromium (fake camera, 20 fps) publishing and subscribing.
# Figures per scenario: the subscriber's frame rate and longest gap (requestVideoFrameCallback),
# Chromium's freeze count and time, layer timings under the cap. Appends a section to
# bench/RESULTS.md, or with `--print` only prints the figures (JSON).
#
# Everything runs in a private network namespace (Janus's ICE refuses loopback, so 127.0.0.1
# sits on a veth there, as in bench/run.sh); Chromium runs as uid `nobody` and may not send UDP
# to 127.0.0.1, so media can only cross the relay. About 4 minutes. Needs root.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PRINT_ONLY=0
[ "${1:-}" = "--print" ] && PRINT_ONLY=1
NS="oriel-quality-$$"
WORK="$(mktemp -d /tmp/oriel-quality.XXXXXX)"
JANUS_RTP_RANGE="${JANUS_RTP_RANGE:-20000-20031}"
export JANUS_RTP_RANGE
JANUS_PID=""
WRAPPER_DIR=""

log() { printf 'quality: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

cleanup() {
  [ -n "$JANUS_PID" ] && kill "$JANUS_PID" 2>/dev/null && wait "$JANUS_PID" 2>/dev/null || true
  ip netns delete "$NS" 2>/dev/null || true
  [ -n "$WRAPPER_DIR" ] && rm -rf "$WRAPPER_DIR"
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

[ "$(id -u)" = 0 ] || die "needs root (a network namespace and iptables)"
missing=()
for pkg in janus iptables iproute2 jq; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if ((${#missing[@]})); then
  log "installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >&2
fi
bash scripts/install-e2e-deps.sh >&2
cargo build --release -p oriel -p oriel-impair >&2

ip netns add "$NS"
in_ns() { ip netns exec "$NS" "$@"; }
in_ns sh -ec '
  ip link set lo up
  ip addr del 127.0.0.1/8 dev lo
  ip link add d0 type veth peer name d1
  ip link set d0 up
  ip link set d1 up
  ip addr add 127.0.0.1/8 dev d0
  ip addr add 127.0.0.2/8 dev d1
  sysctl -qw net.ipv4.conf.all.route_localnet=1
  sysctl -qw net.ipv6.conf.all.disable_ipv6=1 || true
'
# Janus lists its addresses once, at start: wait for the veth to carry traffic.
for _ in $(seq 50); do
  in_ns ip -o link show d0 | grep -q LOWER_UP && break
  sleep 0.1
done
# The browser (uid nobody) reaches media only through the relay on 127.0.0.2.
in_ns iptables -A OUTPUT -m owner --uid-owner 65534 -p udp -d 127.0.0.1 -j DROP

JANUS_NAT_1_1="${JANUS_NAT_1_1-127.0.0.2}" bash bench/lib/janus-config.sh "$WORK/janus" >/dev/null
ip netns exec "$NS" janus -C "$WORK/janus/janus.jcfg" -F "$WORK/janus" -o >"$WORK/janus.log" 2>&1 &
JANUS_PID=$!
for _ in $(seq 100); do
  in_ns ss -Hltn "sport = :8188" 2>/dev/null | grep -q . && break
  kill -0 "$JANUS_PID" 2>/dev/null || { tail -20 "$WORK/janus.log" >&2; die "janus exited"; }
  sleep 0.1
done

WRAPPER_DIR="$(node -e "import('./tests/lib/netns.mjs').then(({ chromiumWrapper }) => console.log(require('node:path').dirname(chromiumWrapper().path)))")"
log "running the scenarios against Oriel, then Janus (about 4 minutes)"
figures="$(in_ns env E2E_CHROMIUM="$WRAPPER_DIR/chromium" JANUS_RTP_RANGE="$JANUS_RTP_RANGE" QUALITY_ONLY="${QUALITY_ONLY:-}" \
  timeout 600 node bench/quality/run.mjs | tail -n 1)" || { tail -n 30 "$WORK/janus.log" >&2; die "the scenarios failed"; }
echo "$figures" | jq . >/dev/null || die "no figures: $figures"
if ((PRINT_ONLY)); then
  echo "$figures"
  exit 0
fi
cpu="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
node bench/quality/report.mjs "$cpu" "$figures" >>bench/RESULTS.md
log "figures appended to bench/RESULTS.md"

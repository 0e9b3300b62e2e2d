#!/usr/bin/env bash
# bench/quality.sh: quality on bad networks, Oriel against Janus 1.1.2, side by side in one run.
#
#   bench/quality.sh            # as root, about 3 minutes; rewrites its section of bench/RESULTS.md
#   bench/quality.sh --print    # only prints the figures (JSON)
#
# The scenarios of tests/e2e/quality.test.mjs, in this order, one run each, the same for both
# servers: (1) 5 % random loss and 40 +- 20 ms jitter both ways, 30 s; (2) the downlink (node to
# client) capped at 400 kbit/s for 10 s, then lifted; (3) a 2 s burst of 30 % loss both ways.
# Each runs on a call through the impairment relay (target/release/oriel-impair on 127.0.0.2)
# to Oriel (the unmodified Mux SDK, simulcast), then to Janus's VideoRoom (plain
# RTCPeerConnection, one VP8 stream), with the same Chromium (fake camera, 20 fps) publishing and
# subscribing. Figures per scenario: the subscriber's presented frame rate against the
# publisher's encoded frame rate, the longest gap between presented frames
# (requestVideoFrameCallback), Chromium's freeze count and time (getStats), and under the cap
# when the picture went to a lower resolution and came back.
#
# Everything runs in a private network namespace (Janus's ICE refuses loopback, so 127.0.0.1
# sits on a veth there, as in bench/run.sh); Chromium runs as uid `nobody` and may not send UDP
# to 127.0.0.1 there, so media can only cross the relay (run.mjs also checks each selected
# candidate pair and the relay's packet counts).
#
# Environment: ORIEL_BIN, ORIEL_IMPAIR_BIN (default target/release/oriel, oriel-impair: built
# only when missing), QUALITY_ONLY=oriel|janus (one side, for work on the bench; --print only),
# QUALITY_QUIET_WAIT (seconds to wait for an idle machine first, default 120), QUALITY_KEEP=1
# (keep Janus's log and the raw figures), BENCH_RESULTS (default bench/RESULTS.md).
# Needs root (a network namespace, iptables in it).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PRINT_ONLY=0
[ "${1:-}" = "--print" ] && PRINT_ONLY=1
RESULTS="${BENCH_RESULTS:-$ROOT/bench/RESULTS.md}"
export ORIEL_BIN="${ORIEL_BIN:-$ROOT/target/release/oriel}"
export ORIEL_IMPAIR_BIN="${ORIEL_IMPAIR_BIN:-$ROOT/target/release/oriel-impair}"
# Janus's media ports: the relay forwards each one (it takes at most 64).
export JANUS_RTP_RANGE="${JANUS_RTP_RANGE:-20000-20031}"
NS="oriel-quality-$$"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/oriel-quality.XXXXXX")"
JANUS_PID=""
RUN_PID=""
OTHER_PID=""
WRAPPER_DIR=""

log() { printf 'quality: %s\n' "$*" >&2; }
die() { log "FAIL: $*"; exit 1; }

stop_pid() { # PID: TERM, up to 5 s, then KILL; reaped
  local pid="$1"
  [ -n "$pid" ] || return 0
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
}
cleanup() {
  local pid
  stop_pid "$RUN_PID"
  stop_pid "$OTHER_PID"
  stop_pid "$JANUS_PID"
  # Whatever is left in the namespace is ours (Chromium's processes of a killed run).
  for pid in $(ip netns pids "$NS" 2>/dev/null || true); do
    kill -KILL "$pid" 2>/dev/null || true
  done
  ip netns delete "$NS" 2>/dev/null || true
  [ -n "$WRAPPER_DIR" ] && rm -rf "$WRAPPER_DIR"
  if [ -n "${QUALITY_KEEP:-}" ]; then log "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

[ "$(id -u)" = 0 ] || die "needs root (a network namespace and iptables)"
if [ -n "${QUALITY_ONLY:-}" ] && [ "$PRINT_ONLY" = 0 ]; then
  die "QUALITY_ONLY runs one side: use it with --print (RESULTS.md takes both sides)"
fi

# ---- Tools: only what is missing ---------------------------------------------------------------
missing=()
for pkg in janus iptables iproute2 jq procps; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if ((${#missing[@]})); then
  log "installing ${missing[*]}"
  apt-get update >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null
fi
# Chromium, playwright-core, the Mux SDK (tests/e2e's packages): idempotent, quick when present.
bash scripts/install-e2e-deps.sh >&2
if [ ! -x "$ORIEL_BIN" ] || [ ! -x "$ORIEL_IMPAIR_BIN" ]; then
  command -v cargo >/dev/null || die "needs cargo to build $ORIEL_BIN and $ORIEL_IMPAIR_BIN"
  log "building oriel and oriel-impair (release)"
  cargo build --release -p oriel -p oriel-impair >&2
fi

# ---- A quiet machine ----------------------------------------------------------------------------
# shellcheck source=lib/netns.sh
. "$ROOT/bench/lib/netns.sh"
wait_quiet "${QUALITY_QUIET_WAIT:-120}" "'other CPU'"

# ---- The namespace ------------------------------------------------------------------------------
janus_netns "$NS" 127.0.0.2
in_ns() { ip netns exec "$NS" "$@"; }
# The browser (uid nobody) reaches the servers' media only through the relay on 127.0.0.2.
in_ns iptables -A OUTPUT -m owner --uid-owner 65534 -p udp -d 127.0.0.1 -j DROP

# ---- Janus 1.1.2: advertises the relay (nat_1_1_mapping), media ports JANUS_RTP_RANGE ------------
JANUS_NAT_1_1=127.0.0.2 bash bench/lib/janus-config.sh "$WORK/janus" >/dev/null
# `ip netns exec` execs janus, so $! is Janus itself.
ip netns exec "$NS" janus -C "$WORK/janus/janus.jcfg" -F "$WORK/janus" -o >"$WORK/janus.log" 2>&1 &
JANUS_PID=$!
for _ in $(seq 100); do
  in_ns ss -Hltn "sport = :8188" 2>/dev/null | grep -q . && break
  kill -0 "$JANUS_PID" 2>/dev/null || { tail -20 "$WORK/janus.log" >&2; die "janus exited"; }
  sleep 0.1
done
in_ns ss -Hltn "sport = :8188" 2>/dev/null | grep -q . || die "janus does not listen on 8188"
JANUS_VERSION="$(dpkg-query -W -f='${Version}' janus 2>/dev/null || echo '?')"

# Chromium as uid nobody (tests/lib/netns.mjs), so that the firewall rule above applies to it.
WRAPPER_DIR="$(node -e "import('./tests/lib/netns.mjs').then(({ chromiumWrapper }) => console.log(require('node:path').dirname(chromiumWrapper().path)))")"

# ---- The scenarios -------------------------------------------------------------------------------
log "scenarios against ${QUALITY_ONLY:-Oriel, then Janus} (about 3 minutes)"
# What the rest of the machine does meanwhile (processes outside the namespace and this script).
node bench/quality/other-cpu.mjs "$NS" $$ 1200 >"$WORK/other.json" &
OTHER_PID=$!
t0="$SECONDS"
in_ns env E2E_CHROMIUM="$WRAPPER_DIR/chromium" QUALITY_ONLY="${QUALITY_ONLY:-}" \
  timeout 900 node bench/quality/run.mjs >"$WORK/figures.out" &
RUN_PID=$!
rc=0
wait "$RUN_PID" || rc=$?
RUN_PID=""
elapsed=$((SECONDS - t0))
stop_pid "$OTHER_PID"
OTHER_PID=""
other="$(tail -n 1 "$WORK/other.json" 2>/dev/null || true)"
jq -e . >/dev/null 2>&1 <<<"$other" || other='null'
if [ "$rc" != 0 ]; then
  tail -n 30 "$WORK/janus.log" >&2
  die "the scenarios failed (exit $rc)"
fi
figures="$(tail -n 1 "$WORK/figures.out")"
jq -e . >/dev/null <<<"$figures" || die "no figures: $figures"
figures="$(jq -c --arg cpu "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')" \
  --argjson cpus "$(nproc)" --argjson other "$other" --argjson seconds "$elapsed" \
  --arg janus "$JANUS_VERSION" --arg commit "$(git rev-parse --short HEAD 2>/dev/null || echo '?')" \
  --arg built "$(date -u -r "$ORIEL_BIN" '+%Y-%m-%d %H:%M UTC')" \
  '. + {machine: {cpu: $cpu, cpus: $cpus, seconds: $seconds, other: $other}, janus_version: $janus, commit: $commit, oriel_built: $built}' <<<"$figures")"
[ -n "${QUALITY_KEEP:-}" ] && printf '%s\n' "$figures" >"$WORK/figures.json"
log "done in ${elapsed}s; the rest of the machine meanwhile: $other"
if ((PRINT_ONLY)); then
  printf '%s\n' "$figures"
  exit 0
fi
node bench/quality/report.mjs "$RESULTS" "$figures"
log "wrote its section of $RESULTS"

#!/usr/bin/env bash
# Where a forwarded packet's CPU goes: the server profiled (perf) under a load of
# `oriel load-test`, its samples split into kernel, SRTP and DTLS crypto, str0m, Oriel and the
# allocator and copies, per forwarded packet, plus a flame graph kept in bench/profiles/.
#
#   bench/profile.sh                       # fan-out 1 -> 100; updates bench/RESULTS.md
#   PROFILE_SUBSCRIBERS=300 PROFILE_AUDIO_ONLY=1 PROFILE_PUBLISHERS=10 bench/profile.sh
#
# Needs perf (linux-perf) and installs inferno (cargo install) for the flame graph. The node
# and the load generator run on 127.0.0.1; every step is bounded by timeout.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=lib/section.sh
. "$ROOT/bench/lib/section.sh"
# shellcheck source=lib/generator.sh
. "$ROOT/bench/lib/generator.sh" # GENERATOR_NICE
RESULTS="${BENCH_RESULTS:-$ROOT/bench/RESULTS.md}"
ORIEL="${ORIEL_BIN:-$ROOT/target/release/oriel}"
PUBS="${PROFILE_PUBLISHERS:-1}"
SUBS="${PROFILE_SUBSCRIBERS:-100}"
AUDIO_ONLY="${PROFILE_AUDIO_ONLY:-0}"
SECONDS_PROFILED=10
log() { printf '[profile] %s\n' "$*" >&2; }
command -v perf >/dev/null || { log "perf is missing (apt-get install linux-perf)"; exit 1; }
command -v jq >/dev/null || { log "jq is missing (apt-get install jq)"; exit 1; }
command -v inferno-flamegraph >/dev/null || cargo install -q --locked inferno
[[ -x "$ORIEL" ]] || cargo build --release -q -p oriel

suffix=""; media=" + VP8 simulcast"
if [[ "$AUDIO_ONLY" = 1 ]]; then suffix="-audio"; media=""; fi
name="fanout-${PUBS}x${SUBS}${suffix}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/oriel-profile.XXXXXX")"
SERVER_PID=""
cleanup() {
  [[ -n "$SERVER_PID" ]] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
"$ORIEL" serve --listen "127.0.0.1:$port" --data-dir "$WORK/data" --media-ip 127.0.0.1 \
  --media-port $((30000 + RANDOM % 20000)) --max-connections-per-ip 1000 >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
token="$("$ORIEL" access-token create --data-dir "$WORK/data" --environment bench)"
flags=()
if [[ "$AUDIO_ONLY" = 1 ]]; then flags+=(--audio-only); fi
log "$name: load for $((SECONDS_PROFILED + 2)) s after a warm-up; perf on the server for ${SECONDS_PROFILED} s"
timeout 300 nice -n "$GENERATOR_NICE" "$ORIEL" load-test --api "http://127.0.0.1:$port" \
  --token-id "$(jq -r .id <<<"$token")" --token-secret "$(jq -r .secret <<<"$token")" \
  --publishers "$PUBS" --subscribers "$SUBS" --duration $((SECONDS_PROFILED + 2)) --warmup 5 \
  --server-pid "$SERVER_PID" --json "${flags[@]}" >"$WORK/report.json" 2>"$WORK/load.log" &
LOAD_PID=$!
# The window opens once everyone is connected and warmed up: start perf with it.
for _ in $(seq 1200); do grep -qs "measuring for" "$WORK/load.log" && break; sleep 0.1; done
sleep 1
timeout $((SECONDS_PROFILED + 30)) perf record -q -F 499 --call-graph dwarf,16384 -p "$SERVER_PID" \
  -o "$WORK/perf.data" -- sleep "$SECONDS_PROFILED" >/dev/null 2>&1
wait "$LOAD_PID"
report="$(tail -n 1 "$WORK/report.json")"
jq -e 'type == "object"' <<<"$report" >/dev/null || { tail -5 "$WORK/load.log" >&2; exit 1; }

# Self time by symbol, then by kind of work.
perf report -i "$WORK/perf.data" --no-children --sort dso,sym --stdio -g none 2>/dev/null |
  awk '/^ +[0-9.]+%/ { print }' >"$WORK/symbols"
shares="$(python3 - "$WORK/symbols" <<'PY'
import json, re, sys
buckets = {"kernel (sockets, syscalls, scheduling)": 0.0, "SRTP and DTLS crypto (aws-lc)": 0.0,
           "str0m (RTP, RTCP, pacing, estimation)": 0.0, "Oriel (SFU core and I/O shell)": 0.0,
           "allocator and copies": 0.0, "other (tokio, std, ...)": 0.0}
for line in open(sys.argv[1]):
    m = re.match(r"\s*([0-9.]+)%\s+(\S+)\s+\[(.)\]\s+(.*)", line)
    if not m:
        continue
    pct, dso, kind, sym = float(m[1]), m[2], m[3], m[4]
    if kind == "k" or "kernel" in dso:
        b = "kernel (sockets, syscalls, scheduling)"
    elif "aws_lc" in sym or "aes" in sym.lower() and "gcm" in sym.lower():
        b = "SRTP and DTLS crypto (aws-lc)"
    elif re.search(r"\b(str0m|dimpl|is|sctp_proto)(_\w+)?::", sym) or sym.startswith("<str0m"):
        b = "str0m (RTP, RTCP, pacing, estimation)"
    elif "oriel" in sym:
        b = "Oriel (SFU core and I/O shell)"
    elif re.search(r"mi_|malloc|free|memmove|memcpy|memset|realloc|alloc::", sym):
        b = "allocator and copies"
    else:
        b = "other (tokio, std, ...)"
    buckets[b] += pct
total = sum(buckets.values()) or 1
print(json.dumps({k: v / total for k, v in buckets.items()}))
PY
)"
mkdir -p bench/profiles
perf script -i "$WORK/perf.data" 2>/dev/null | inferno-collapse-perf 2>/dev/null |
  inferno-flamegraph --title "oriel serve, $name ($(git rev-parse --short HEAD))" >"bench/profiles/$name.svg"
log "flame graph: bench/profiles/$name.svg"

cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')
rows="$(jq -r --argjson shares "$shares" '
  (.server_cpu_seconds / .packets_received * 1e6) as $us |
  $shares | to_entries[] | "| \(.key) | \((.value * 1000 | round) / 10) % | \(($us * .value * 100 | round) / 100) |"' <<<"$report")"
per_packet="$(jq -r '(.server_cpu_seconds / .packets_received * 1e6 * 100 | round) / 100' <<<"$report")"
pps="$(jq -r '.packets_per_server_cpu_second' <<<"$report")"
section=$(cat <<MD
<!-- profile:begin (bench/profile.sh) -->
## Where a forwarded packet's CPU goes

Written by \`bench/profile.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git rev-parse --short HEAD).
Machine: ${cpu}, $(nproc) CPUs. Load: $name (\`oriel load-test\`, ${PUBS} publisher(s) of Opus${media},
${SUBS} subscribers, the generator at nice ${GENERATOR_NICE}) on 127.0.0.1; the server profiled with perf for ${SECONDS_PROFILED} s of the
measurement window, its samples' self time split by what they run. The server spent
${per_packet} µs of CPU per packet a subscriber received (${pps} packets per CPU-second); the
flame graph is \`bench/profiles/$name.svg\`.

| work | share of server CPU | µs per forwarded packet |
|---|---|---|
${rows}

<!-- profile:end -->
MD
)
write_section "$RESULTS" profile "$section"
log "wrote $RESULTS"
printf '%s\n' "$rows"

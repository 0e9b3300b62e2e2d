#!/usr/bin/env bash
# Where a forwarded packet's CPU goes, for each of bench/run.sh's loads: the server profiled
# (perf) under `oriel load-test`, its samples split into kernel, SRTP and DTLS crypto, str0m,
# Oriel, the allocator and copies, and the rest, per packet a subscriber received, plus a flame
# graph per load kept in bench/profiles/LOAD.svg.
#
#   bench/profile.sh                            # every load (~1 min each); updates bench/RESULTS.md
#   PROFILE_LOADS="fanout-100 audio-room" bench/profile.sh   # a subset (names: bench/lib/loads.sh)
#   bench/profile.sh --print                    # only prints the section
#
# Needs perf (linux-perf) and installs inferno (cargo install) for the flame graphs. Each load
# gets a fresh node on 127.0.0.1 (no namespace, no root); every step is bounded by timeout.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=lib/section.sh
. "$ROOT/bench/lib/section.sh"
# shellcheck source=lib/generator.sh
. "$ROOT/bench/lib/generator.sh" # GENERATOR_NICE
# shellcheck source=lib/loads.sh
. "$ROOT/bench/lib/loads.sh"
# shellcheck source=lib/node.sh
. "$ROOT/bench/lib/node.sh" # start_node, stop_node
RESULTS="${BENCH_RESULTS:-$ROOT/bench/RESULTS.md}"
ORIEL="${ORIEL_BIN:-$ROOT/target/release/oriel}"
LOADS="${PROFILE_LOADS:-fanout-50 fanout-100 fanout-200 meeting audio-room}"
PRINT_ONLY=0
[[ "${1:-}" = --print ]] && PRINT_ONLY=1
SECONDS_PROFILED=10
# Low enough that perf (a 16 KiB stack copy per sample) does not push the audio room, which
# fills the 2 CPUs, off its operating point; ~3,000 samples per load. perf itself runs at the
# generator's nice level: at full weight it took the CPU the generator's publishers needed,
# and the audio room forwarded 90,000 packets a second instead of 150,000.
FREQUENCY=299
log() { printf '[profile] %s\n' "$*" >&2; }
command -v perf >/dev/null || { log "perf is missing (apt-get install linux-perf)"; exit 1; }
command -v jq >/dev/null || { log "jq is missing (apt-get install jq)"; exit 1; }
command -v inferno-flamegraph >/dev/null || cargo install -q --locked inferno
[[ -x "$ORIEL" ]] || cargo build --release -q -p oriel
for load in $LOADS; do load_spec "$load" >/dev/null || { log "unknown load '$load'"; exit 1; }; done

WORK="$(mktemp -d "${TMPDIR:-/tmp}/oriel-profile.XXXXXX")"
SERVER_PID=""
cleanup() {
  [[ -n "$SERVER_PID" ]] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

# Self time by symbol, summed by kind of work: one JSON object of shares (0..1).
shares_of() { # SYMBOLS_FILE
  python3 - "$1" <<'PY'
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
}

# profile LOAD: $WORK/LOAD/figures.json = the load test's report plus "shares"; the flame
# graph in bench/profiles/LOAD.svg.
profile() {
  local load="$1" dir="$WORK/$1" pubs subs audio_only load_pid report
  local flags=()
  read -r pubs subs audio_only <<<"$(load_spec "$load")"
  [[ "$audio_only" = 1 ]] && flags+=(--audio-only)
  start_node "$dir"
  log "$load ($pubs publishers, $subs subscribers): perf on the server for ${SECONDS_PROFILED} s of the window"
  timeout 300 nice -n "$GENERATOR_NICE" "$ORIEL" load-test --api "$NODE_API" \
    --token-id "$NODE_TOKEN_ID" --token-secret "$NODE_TOKEN_SECRET" \
    --publishers "$pubs" --subscribers "$subs" --duration $((SECONDS_PROFILED + 2)) --warmup 5 \
    --server-pid "$SERVER_PID" --json "${flags[@]}" >"$dir/report.json" 2>"$dir/load.log" &
  load_pid=$!
  # The window opens once everyone is connected and warmed up: start perf with it.
  for _ in $(seq 1200); do grep -qs "measuring for" "$dir/load.log" && break; sleep 0.1; done
  sleep 1
  timeout $((SECONDS_PROFILED + 30)) nice -n "$GENERATOR_NICE" perf record -q -F "$FREQUENCY" --call-graph dwarf,16384 \
    -p "$SERVER_PID" -o "$dir/perf.data" -- sleep "$SECONDS_PROFILED" >/dev/null 2>&1
  wait "$load_pid" || true
  stop_node
  report="$(tail -n 1 "$dir/report.json")"
  jq -e 'type == "object" and .packets_received > 0' <<<"$report" >/dev/null ||
    { tail -5 "$dir/load.log" >&2; exit 1; }
  perf report -i "$dir/perf.data" --no-children --sort dso,sym --stdio -g none 2>/dev/null |
    awk '/^ +[0-9.]+%/ { print }' >"$dir/symbols"
  jq --argjson shares "$(shares_of "$dir/symbols")" '. + {shares: $shares}' <<<"$report" \
    >"$dir/figures.json"
  if [[ "$PRINT_ONLY" = 0 ]]; then
    mkdir -p bench/profiles
    perf script -i "$dir/perf.data" 2>/dev/null | inferno-collapse-perf 2>/dev/null |
      inferno-flamegraph --title "oriel serve, $(load_title "$load") ($(git rev-parse --short HEAD))" \
        >"bench/profiles/$load.svg"
    log "flame graph: bench/profiles/$load.svg"
  fi
  rm -f "$dir/perf.data"
}

for load in $LOADS; do
  profile "$load"
done

# One column per load: µs of server CPU per packet received, by kind of work.
table="$(
  cd "$WORK"
  python3 - $LOADS <<'PY'
import json, sys
loads = sys.argv[1:]
figures = [json.load(open(f"{load}/figures.json")) for load in loads]
print("| µs per packet received | " + " | ".join(loads) + " |")
print("|---" * (len(loads) + 1) + "|")
per_packet = [f["server_cpu_seconds"] / f["packets_received"] * 1e6 for f in figures]
for kind in figures[0]["shares"]:
    cells = [f"{us * f['shares'][kind]:.2f} ({f['shares'][kind] * 100:.0f} %)" for us, f in zip(per_packet, figures)]
    print(f"| {kind} | " + " | ".join(cells) + " |")
print("| **all (µs per packet)** | " + " | ".join(f"**{us:.2f}**" for us in per_packet) + " |")
print("| packets per server CPU-second | " + " | ".join(str(f["packets_per_server_cpu_second"]) for f in figures) + " |")
skipped = lambda f: f" ⚠ the generator skipped {f['publisher_frames_skipped']} frames" if f.get("publisher_frames_skipped") else ""
print("| subscribers connected, packets/s received | " + " | ".join(f"{f['subscribers_connected']}/{f['subscribers']}, {f['packets_per_second']:.0f}{skipped(f)}" for f in figures) + " |")
print("| server CPU (% of a core) | " + " | ".join(f"{f['server_cpu_percent']:.0f} %" for f in figures) + " |")
print("| delay p99 (ms), loss | " + " | ".join(f"{f['delay_ms']['p99']}, {f['loss_ratio'] * 100:.2f} %" for f in figures) + " |")
PY
)"
graphs="$(for load in $LOADS; do printf '[%s](profiles/%s.svg) ' "$load" "$load"; done)"
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')
section=$(cat <<MD
<!-- profile:begin (bench/profile.sh) -->
## Where a forwarded packet's CPU goes

Written by \`bench/profile.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git rev-parse --short HEAD).
Machine: ${cpu}, $(nproc) CPUs. For each of \`bench/run.sh\`'s loads, a fresh \`oriel serve\` on
127.0.0.1 under \`oriel load-test\` (the generator at nice ${GENERATOR_NICE}, 5 s of warm-up), the
server profiled with perf (${FREQUENCY} Hz, DWARF call graphs) for ${SECONDS_PROFILED} s of the window and its
samples' self time split by what they run; the server's CPU time per packet a subscriber
received comes from /proc over the load test's window (perf's own cost included). The kernel
row holds the whole send (each copy is one datagram through the UDP stack) and, on loopback,
the subscriber side's delivery into its socket, which runs inside the server's send.
Flame graphs: ${graphs}

${table}

<!-- profile:end -->
MD
)
if [[ "$PRINT_ONLY" = 1 ]]; then
  printf '%s\n' "$section"
  exit 0
fi
write_section "$RESULTS" profile "$section"
log "wrote $RESULTS"
printf '%s\n' "$table"

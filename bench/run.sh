#!/usr/bin/env bash
# Oriel against Janus 1.1.2's VideoRoom, side by side, on the same loads, in one run.
#
#   bench/run.sh                          # every load, 20 s each; writes bench/RESULTS.md
#   BENCH_LOADS="fanout-100" bench/run.sh # a subset (names below)
#   BENCH_DURATION=30 bench/run.sh        # longer measurement windows
#
# Loads (publishers send Opus 50 pkt/s with audio levels and, unless audio-only, VP8
# simulcast q/h/f at 150/500/1500 kbit/s, 30 fps, a keyframe every 2 s):
#   fanout-50 / fanout-100 / fanout-200   1 publisher -> 50 / 100 / 200 subscribers
#   meeting                               10 publishers, 10 subscribers each receiving all 10
#   audio-room                            10 audio-only publishers -> 300 subscribers
#
# For each load, Oriel and then Janus are started fresh, inside one network namespace of the
# script's own where 127.0.0.1 sits on a veth (libnice, hence Janus, gathers no candidate on
# a loopback device), with the load generator in the same namespace: `oriel load-test` for
# Oriel, `oriel-bench-janus` (the same synthetic media, probe and counting over Janus's
# WebSocket API) for Janus. Each reports packets received by subscribers, loss (RTP sequence
# gaps), one-way delay (send stamps in the payloads) and the server's CPU time over the
# measurement window, read from /proc/PID/stat. bench/RESULTS.md gets the table, the
# Oriel/Janus ratio of packets per server CPU-second for each load, the machine and the date.
#
# Needs root (network namespace; apt-get for janus and jq when missing) and a Rust toolchain.
# Every wait is bounded; all traffic stays on 127.0.0.1 inside the namespace.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

DURATION="${BENCH_DURATION:-20}"
LOADS="${BENCH_LOADS:-fanout-50 fanout-100 fanout-200 meeting audio-room}"
RESULTS="${BENCH_RESULTS:-$ROOT/bench/RESULTS.md}"
# Seconds of media before each measurement window (both tools), when `oriel load-test` has a
# --warmup flag; without it both windows open as soon as everyone is connected.
WARMUP="${BENCH_WARMUP:-5}"
# Janus's best threading for this kind of load: one shared event loop per core (its default,
# a thread per handle, forwarded about half as many packets per CPU-second here).
JANUS_LOOPS="${BENCH_JANUS_EVENT_LOOPS:-$(nproc)}"
HTTP_PORT=18080
MEDIA_PORT=20000
JANUS_WS_PORT=8188
ROOM=1234

log() { echo "bench: $*" >&2; }
die() { log "FAIL: $*"; exit 1; }

# shellcheck source=lib/loads.sh
. "$ROOT/bench/lib/loads.sh"
# shellcheck source=lib/generator.sh
. "$ROOT/bench/lib/generator.sh" # GENERATOR_NICE
for load in $LOADS; do load_spec "$load" >/dev/null || die "unknown load '$load'"; done
[ "$(id -u)" = 0 ] || die "needs root (it makes a network namespace)"

# ---- 1. Tools ---------------------------------------------------------------------------
need=()
for pkg in janus jq iproute2 curl procps; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ "${#need[@]}" -gt 0 ]; then
  log "installing ${need[*]}"
  apt-get update >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need[@]}" >/dev/null
fi
command -v cargo >/dev/null || die "needs cargo (a Rust toolchain)"
log "building (release)"
cargo build --release -p oriel -p oriel-bench-janus >&2
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
case "$TARGET" in /*) ;; *) TARGET="$ROOT/$TARGET" ;; esac
ORIEL="$TARGET/release/oriel"
JANUS_LOAD="$TARGET/release/oriel-bench-janus"
[ -x "$ORIEL" ] && [ -x "$JANUS_LOAD" ] || die "binaries missing under $TARGET/release"
if [ "$WARMUP" != 0 ] && ! "$ORIEL" load-test --help 2>/dev/null | grep -q -- '--warmup'; then
  log "oriel load-test has no --warmup: both windows open as soon as everyone is connected"
  WARMUP=0
fi

# ---- 2. The namespace -------------------------------------------------------------------
WORK="$(mktemp -d "${TMPDIR:-/tmp}/oriel-bench.XXXXXX")"
NS="oriel-bench-$$"
SERVER_PID=""

stop_server() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 100); do
      kill -0 "$SERVER_PID" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
  fi
  [ -n "$SERVER_PID" ] && { wait "$SERVER_PID" 2>/dev/null || true; }
  SERVER_PID=""
}
cleanup() {
  local pid
  stop_server
  # Anything of ours still running in the namespace (only what this script started is there).
  for pid in $(ip netns pids "$NS" 2>/dev/null || true); do
    kill -KILL "$pid" 2>/dev/null || true
  done
  ip netns del "$NS" 2>/dev/null || true
  if [ -n "${BENCH_KEEP:-}" ]; then log "logs kept in $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# shellcheck source=lib/netns.sh
. "$ROOT/bench/lib/netns.sh"
janus_netns "$NS"
in_ns() { ip netns exec "$NS" "$@"; }
log "network namespace $NS: 127.0.0.1 on veth d0"

# `ip netns exec` execs the command, so $! of `ip netns exec ... &` (not of a shell function,
# which would fork a subshell) is the server itself.
check_pid() {
  local want="$1" comm
  comm="$(cat "/proc/$SERVER_PID/comm" 2>/dev/null || true)"
  [ "$comm" = "$want" ] || die "expected pid $SERVER_PID to be $want, it is '$comm'"
}

start_oriel() { # DIR -> sets SERVER_PID, TOKEN_ID, TOKEN_SECRET
  local dir="$1" token
  mkdir -p "$dir/data"
  token="$("$ORIEL" access-token create --data-dir "$dir/data" --environment bench 2>"$dir/token.log")" ||
    die "access-token create failed: $(cat "$dir/token.log")"
  TOKEN_ID="$(jq -r .id <<<"$token")"
  TOKEN_SECRET="$(jq -r .secret <<<"$token")"
  # Every simulated participant comes from 127.0.0.1: lift the per-address connection cap.
  ip netns exec "$NS" "$ORIEL" serve --listen "127.0.0.1:$HTTP_PORT" --data-dir "$dir/data" \
    --media-ip 127.0.0.1 --media-port "$MEDIA_PORT" --max-connections-per-ip 2000 >"$dir/server.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 200); do
    in_ns curl -fsS "http://127.0.0.1:$HTTP_PORT/healthz" >/dev/null 2>&1 && { check_pid oriel; return 0; }
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
  done
  tail -n 20 "$dir/server.log" >&2
  die "oriel serve did not come up"
}

start_janus() { # DIR -> sets SERVER_PID
  local dir="$1"
  "$ROOT/bench/lib/janus-config.sh" "$dir/conf" "$JANUS_LOOPS"
  ip netns exec "$NS" janus -C "$dir/conf/janus.jcfg" -F "$dir/conf" -o >"$dir/server.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 200); do
    in_ns ss -Hltn "sport = :$JANUS_WS_PORT" 2>/dev/null | grep -q . && { check_pid janus; return 0; }
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
  done
  tail -n 20 "$dir/server.log" >&2
  die "janus did not come up"
}

# Busy jiffies of the whole machine (user nice system irq softirq steal), all CPUs.
# utime + stime of a process, in jiffies (fields after the command name's ")").
process_ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
# Jiffies of the kernel's softirq threads (packet processing deferred from interrupts): real
# work of the benchmark that no process is charged for, kept apart from "other".
softirq_ticks() {
  local pid total=0 t
  for pid in $(pgrep ksoftirqd 2>/dev/null || true); do
    t="$(process_ticks "$pid")"
    total=$((total + t))
  done
  echo "$total"
}
# CPU seconds of this shell's finished children, from a file holding bash's `times` output
# (its second line). `times` must run in this shell itself: in a $(...) subshell it would
# count the subshell's children.
children_seconds() { # FILE
  tail -n 1 "$1" | awk '{ t = 0; for (i = 1; i <= 2; i++) { split($i, a, "m"); t += a[1] * 60 + a[2] } print t }'
}

# run_generator DIR BOUND CMD...: runs a load generator in the namespace (stdout to
# DIR/out.json, stderr to DIR/load.log) and writes to DIR/other what the rest of the machine
# used meanwhile: busy CPU of all CPUs (steal included) minus the server's, the generator's and
# the kernel's ksoftirqd threads', in % of one core. Anything far above 0 means something else
# ran beside the benchmark and skewed it.
run_generator() {
  local dir="$1" bound="$2" b0 s0 k0 c0 t0 b1 s1 k1 c1 t1 hz st
  shift 2
  hz="$(getconf CLK_TCK 2>/dev/null || echo 100)"
  cut -d' ' -f1 /proc/loadavg >"$dir/loadavg"
  head -n 1 /proc/stat >"$dir/stat0"
  b0="$(machine_busy)"; s0="$(process_ticks "$SERVER_PID")"; k0="$(softirq_ticks)"
  times >"$dir/times0"; t0="$(date +%s.%N)"
  set +e
  timeout "$bound" ip netns exec "$NS" nice -n "$GENERATOR_NICE" "$@" >"$dir/out.json" 2>"$dir/load.log"
  set -e
  head -n 1 /proc/stat >"$dir/stat1"
  b1="$(machine_busy)"; s1="$(process_ticks "$SERVER_PID")"; k1="$(softirq_ticks)"
  times >"$dir/times1"; t1="$(date +%s.%N)"
  c0="$(children_seconds "$dir/times0")"; c1="$(children_seconds "$dir/times1")"
  st="$(awk 'NR == FNR { s0 = $9; next } { print $9 - s0 }' "$dir/stat0" "$dir/stat1")"
  LC_ALL=C awk -v b="$((b1 - b0))" -v s="$((s1 - s0))" -v k="$((k1 - k0))" -v c0="$c0" -v c1="$c1" \
    -v st="$st" -v t0="$t0" -v t1="$t1" -v hz="$hz" 'BEGIN {
      w = t1 - t0; o = (b - s - k) / hz - (c1 - c0); if (o < 0) o = 0
      printf "{\"other_cpu_percent\": %.1f, \"ksoftirqd_cpu_percent\": %.1f, \"steal_cpu_percent\": %.1f}",
        o / w * 100, k / hz / w * 100, st / hz / w * 100
    }' >"$dir/other"
}

# The last line of a tool's stdout if it is a JSON object (else a failure object), with the
# machine's other CPU use and load average added.
report_of() { # DIR
  local line
  line="$(tail -n 1 "$1/out.json" 2>/dev/null || true)"
  if ! jq -e 'type == "object"' <<<"$line" >/dev/null 2>&1; then
    line="$(jq -cn --arg e "$(tail -n 3 "$1/load.log" 2>/dev/null | tr '\n' ' ')" '{failed: true, errors: [$e]}')"
  fi
  jq -c --argjson other "$(cat "$1/other")" --argjson load "$(cat "$1/loadavg")" \
    '. + $other + {loadavg_at_start: $load}' <<<"$line"
}

run_load() { # NAME
  local load="$1" pubs subs audio dir flags=() bound
  read -r pubs subs audio <<<"$(load_spec "$load")"
  [ "$audio" = 1 ] && flags+=(--audio-only)
  [ "$WARMUP" != 0 ] && flags+=(--warmup "$WARMUP")
  bound=$((DURATION + WARMUP + 180))
  dir="$WORK/$load"
  mkdir -p "$dir/oriel" "$dir/janus"

  wait_quiet "${BENCH_QUIET_WAIT:-60}" "the other CPU column"
  log "$load: Oriel ($pubs publishers, $subs subscribers, ${DURATION}s)"
  start_oriel "$dir/oriel"
  run_generator "$dir/oriel" "$bound" "$ORIEL" load-test --api "http://127.0.0.1:$HTTP_PORT" \
    --token-id "$TOKEN_ID" --token-secret "$TOKEN_SECRET" \
    --publishers "$pubs" --subscribers "$subs" --duration "$DURATION" \
    --server-pid "$SERVER_PID" --json "${flags[@]}"
  stop_server
  tail -n 4 "$dir/oriel/load.log" | sed 's/^/  /' >&2
  report_of "$dir/oriel" >"$dir/oriel.report"
  sleep 1

  wait_quiet "${BENCH_QUIET_WAIT:-60}" "the other CPU column"
  log "$load: Janus ($pubs publishers, $subs subscribers, ${DURATION}s, event_loops=$JANUS_LOOPS)"
  start_janus "$dir/janus"
  run_generator "$dir/janus" "$bound" "$JANUS_LOAD" --janus "ws://127.0.0.1:$JANUS_WS_PORT" \
    --room "$ROOM" --publishers "$pubs" --subscribers "$subs" --duration "$DURATION" \
    --server-pid "$SERVER_PID" --json "${flags[@]}"
  stop_server
  tail -n 3 "$dir/janus/load.log" | sed 's/^/  /' >&2
  report_of "$dir/janus" >"$dir/janus.report"
  sleep 1
}

STARTED="$(date -u '+%Y-%m-%d %H:%M UTC')"
for load in $LOADS; do
  run_load "$load"
done

# ---- 3. RESULTS.md ----------------------------------------------------------------------
{
  printf 'STARTED=%q\n' "$STARTED"
  printf 'FINISHED=%q\n' "$(date -u '+%Y-%m-%d %H:%M UTC')"
  printf 'LOADS=%q\n' "$LOADS"
  printf 'DURATION=%q\n' "$DURATION"
  printf 'WARMUP=%q\n' "$WARMUP"
  printf 'JANUS_LOOPS=%q\n' "$JANUS_LOOPS"
  printf 'GENERATOR_NICE=%q\n' "$GENERATOR_NICE"
  printf 'COMMIT=%q\n' "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  # Uncommitted source changes that went into the Oriel build (the benchmark's own files aside).
  printf 'DIRTY=%q\n' "$(git status --porcelain -- crates 2>/dev/null | awk '{ print $2 }' |
    grep -v '^crates/oriel-bench-janus' | tr '\n' ' ' | sed 's/ $//' || true)"
  printf 'JANUS_VERSION=%q\n' "$( (janus --version 2>/dev/null || true) | sed -n 's/^Janus version: .*(\(.*\))/\1/p' | head -n 1)"
  printf 'JANUS_PKG=%q\n' "$(dpkg-query -W -f='${Version}' janus 2>/dev/null || echo '?')"
  printf 'CPU_MODEL=%q\n' "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
  printf 'NPROC=%q\n' "$(nproc)"
  printf 'MEM=%q\n' "$(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)"
  printf 'KERNEL=%q\n' "$(uname -r)"
} >"$WORK/meta"
"$ROOT/bench/lib/report.sh" "$WORK" "$RESULTS"
log "wrote $RESULTS"
sed -n '/^| load/,/^$/p' "$RESULTS"

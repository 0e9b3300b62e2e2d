#!/usr/bin/env bash
# The SFU core's own cost per datagram it sends, measured in the simulation on virtual time
# (crates/oriel-sfu/benches/core_cost.rs): no sockets, no kernel, no I/O shell; Oriel's
# sans-IO core and str0m (SRTP included) alone. Two figures:
#
# - instructions per datagram (fan-out 1 -> 20 on one worker, 1 -> 40 over two: callgrind
#   runs some fifty times slower), counted inside the space's calls:
#   exact and repeatable (the simulation does the same work every run), so it resolves a
#   change of a percent; it does not see cache misses. Each build runs twice, with a 4 s and
#   a 12 s window, and the difference is divided by the difference in datagrams sent, which
#   leaves out the joins, ICE, DTLS and the first keyframes.
# - thread CPU time per datagram (1 -> 40 on one worker, 1 -> 100 over two;
#   CORE_COST_ROUNDS runs, median): what the instructions
#   cost on this machine, with its noise (a shared VM: +-10 % from run to run).
#
# Given a base revision, both builds are measured and compared: the way to measure a str0m
# patch (vendor/str0m/PATCHES.md).
#
#   bench/core-cost.sh                 # this working tree; rewrites its section of RESULTS.md
#   bench/core-cost.sh 6fb4803         # 6fb4803 against this working tree
#   CORE_COST_ROUNDS=0 bench/core-cost.sh HEAD --print   # instructions only; only prints
#   CORE_COST_KEEP=1 bench/core-cost.sh      # keeps the builds and callgrind files (printed)
#
# Needs valgrind and jq (installed when missing). Every run is bounded by timeout; about 5
# minutes for one build, 8 for two.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=lib/section.sh
. "$ROOT/bench/lib/section.sh"
RESULTS="${BENCH_RESULTS:-$ROOT/bench/RESULTS.md}"
ROUNDS="${CORE_COST_ROUNDS:-3}"
BASE=""; PRINT=0
for arg in "$@"; do
  case "$arg" in
    --print) PRINT=1 ;;
    -*) echo "usage: bench/core-cost.sh [BASE_REVISION] [--print]" >&2; exit 2 ;;
    *) BASE="$arg" ;;
  esac
done
log() { printf '[core-cost] %s\n' "$*" >&2; }
missing=()
command -v jq >/dev/null || missing+=(jq)
command -v valgrind >/dev/null || missing+=(valgrind)
if ((${#missing[@]})); then
  log "installing ${missing[*]}"
  apt-get install -y -q "${missing[@]}" >/dev/null
fi
WORK="$(mktemp -d "${TMPDIR:-/tmp}/oriel-core-cost.XXXXXX")"
if [[ "${CORE_COST_KEEP:-0}" = 1 ]]; then
  log "keeping $WORK"
else
  trap 'rm -rf "$WORK"' EXIT
fi

# build DIR OUT: the bench binary of the sources in DIR, copied to OUT.
build() {
  local executable
  executable="$(cd "$1" && cargo bench -q -p oriel-sfu \
    --bench core_cost --no-run --message-format=json 2>/dev/null |
    jq -r 'select(.reason == "compiler-artifact" and .target.name == "core_cost") | .executable')"
  [[ -x "$executable" ]] || { log "building the bench in $1 failed"; exit 1; }
  cp "$executable" "$2"
}

# Both sides are built the same way, from a copy of their sources extracted with the current
# time as mtime, in one target directory of their own, one after the other: cargo tells fresh
# from stale path dependencies by mtime (an older extracted tree would pass for built), and a
# build in another directory or from another path can come out a few percent apart in
# instructions for the same code.
export CARGO_TARGET_DIR="$ROOT/target/core-cost"
# extract REVISION NAME: the sources of REVISION, built, as $WORK/NAME.
extract_and_build() {
  local src="$WORK/src-${2:0:4}" # the same length for both
  mkdir "$src"
  git archive "$1" | tar -x -m -C "$src"
  build "$src" "$WORK/$2"
}
# The working tree's tracked files, uncommitted changes included.
current_commit="$(git stash create)"
current_commit="${current_commit:-HEAD}"
builds=(current)
if [[ -n "$BASE" ]]; then
  base_commit="$(git rev-parse --short "$BASE^{commit}")"
  log "building $base_commit"
  extract_and_build "$base_commit" base
  builds=(base current)
fi
log "building the working tree"
extract_and_build "$current_commit" current
if [[ -n "$BASE" ]] && cmp -s "$WORK/base" "$WORK/current"; then
  log "the two builds are the same binary: nothing to compare"
  exit 1
fi

# The space's entry points the harness calls; callgrind's inclusive counts of these are
# the core's instructions.
# (Methods in impl blocks of the space's submodules are named `oriel_sfu::space::mirrors::<impl
# oriel_sfu::space::Space>::handle_shard_event`.) None of them calls another.
ENTRY='oriel_sfu::space::([a-z_]+::<impl oriel_sfu::space::)?Space>?::(accepts|handle_datagram|handle_timeout|poll_timeout|poll_output|handle_message|handle_shard_event)'
# counted BUILD SUBSCRIBERS WORKERS SECONDS: "<core instructions> <datagrams sent>".
counted() {
  local out="$WORK/cg-$1-$2-$3-$4"
  CORE_COST_SUBSCRIBERS=$2 CORE_COST_WORKERS=$3 CORE_COST_SECONDS=$4 CORE_COST_THREAD_CPU=0 timeout 1200 \
    valgrind -q --tool=callgrind --callgrind-out-file="$out.cg" "$WORK/$1" >"$out.json"
  local instructions
  instructions="$(callgrind_annotate --inclusive=yes --threshold=100 "$out.cg" 2>/dev/null |
    grep -E "^ *[0-9,]+ .*:$ENTRY \[" | awk '{ gsub(",", "", $1); sum += $1 } END { printf "%.0f\n", sum }')"
  echo "$instructions $(jq .datagrams_sent "$out.json")"
}

instruction_loads=("20 1" "40 2")
declare -A per_datagram
for load in "${instruction_loads[@]}"; do
  read -r subscribers workers <<<"$load"
  for b in "${builds[@]}"; do
    log "callgrind: $b, 1 -> $subscribers over $workers worker(s)"
    counted "$b" "$subscribers" "$workers" 4 >"$WORK/short" &
    counted "$b" "$subscribers" "$workers" 12 >"$WORK/long" &
    wait
    read -r short_ir short_sent <"$WORK/short" || true
    read -r long_ir long_sent <"$WORK/long" || true
    if ! ((${long_ir:-0} > ${short_ir:-0} && ${long_sent:-0} > ${short_sent:-0})); then
      log "a callgrind run of $b failed (its output: $WORK/cg-$b-*; CORE_COST_KEEP=1 keeps it)"
      exit 1
    fi
    per_datagram["$b $load"]=$(((long_ir - short_ir) / (long_sent - short_sent)))
  done
done

cpu_loads=("40 1" "100 2")
if ((ROUNDS > 0)); then
  for round in $(seq "$ROUNDS"); do
    for load in "${cpu_loads[@]}"; do
      read -r subscribers workers <<<"$load"
      for b in "${builds[@]}"; do
        CORE_COST_SUBSCRIBERS=$subscribers CORE_COST_WORKERS=$workers \
          timeout 600 "$WORK/$b" >>"$WORK/$b-$subscribers-$workers.jsonl"
      done
    done
    log "CPU time: round $round of $ROUNDS done"
  done
fi

median() { jq -s '[.[].us_per_datagram] | sort | .[(length / 2 | floor)]' "$1"; }
runs() { jq -s -r '[.[].us_per_datagram | tostring] | join(" / ")' "$1"; }
change() { jq -n --argjson a "$1" --argjson b "$2" '(($b / $a - 1) * 1000 | round) / 10'; }
head="$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- crates vendor || echo ' + changes')"
rows=""
for load in "${instruction_loads[@]}"; do
  read -r subscribers workers <<<"$load"
  label="instructions, 1 → $subscribers over $workers worker(s)"
  current="${per_datagram["current $load"]}"
  if [[ -n "$BASE" ]]; then
    base="${per_datagram["base $load"]}"
    rows+="| $label | $base | $current | $(change "$base" "$current") % |"$'\n'
  else
    rows+="| $label | $current |"$'\n'
  fi
done
if ((ROUNDS > 0)); then
  for load in "${cpu_loads[@]}"; do
    read -r subscribers workers <<<"$load"
    label="CPU time (ns), 1 → $subscribers over $workers worker(s)"
    current="$WORK/current-$subscribers-$workers.jsonl"
    ns() { jq -n --argjson us "$(median "$1")" '$us * 1000 | round'; }
    if [[ -n "$BASE" ]]; then
      base="$WORK/base-$subscribers-$workers.jsonl"
      rows+="| $label | $(ns "$base") ($(runs "$base") µs) | $(ns "$current") ($(runs "$current") µs) | $(change "$(median "$base")" "$(median "$current")") % |"$'\n'
    else
      rows+="| $label | $(ns "$current") ($(runs "$current") µs) |"$'\n'
    fi
  done
fi
cpu="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
if [[ -n "$BASE" ]]; then
  table="| per datagram sent | $base_commit | $head | change |
|---|---|---|---|
$rows"
else
  table="| per datagram sent | $head |
|---|---|
$rows"
fi
section="<!-- core-cost:begin (bench/core-cost.sh) -->
## The SFU core's own cost per datagram (simulation)

Written by \`bench/core-cost.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC'), $head.
Machine: ${cpu}, $(nproc) CPUs. One publisher (Opus + three-layer VP8 simulcast) and N
subscribers in the simulation of \`crates/oriel-sfu/tests/sim\` on virtual time, clean links;
the work inside the space's calls (Oriel's sans-IO core and str0m, SRTP included; no sockets,
no kernel, no I/O shell) divided by every datagram the space sent (media, RTCP, ICE).
Instructions: callgrind, the difference between a 4 s and a 12 s window (exact; no cache
misses). CPU time: thread CPU time over 20 s after 8 s, median of $ROUNDS runs (the runs in
brackets).

$table
<!-- core-cost:end -->"
if [[ "$PRINT" = 1 ]]; then
  printf '%s\n' "$section"
else
  write_section "$RESULTS" core-cost "$section"
  log "wrote $RESULTS"
  printf '%s\n' "$table"
fi

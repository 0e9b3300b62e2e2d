#!/usr/bin/env bash
# The SFU core's CPU per datagram it sends, measured in the simulation on virtual time
# (crates/oriel-sfu/benches/core_cost.rs): fan-out 1 -> 40 on one worker and 1 -> 100 spread
# over two. No sockets and no kernel: the sans-IO core and str0m alone, by thread CPU time, so
# it resolves changes of a few percent that the whole-server benchmark on a shared machine
# cannot. Given a base revision, both builds run alternately and the medians are compared: the
# way to measure a str0m patch (vendor/str0m/PATCHES.md).
#
#   bench/core-cost.sh                 # this working tree; rewrites its section of RESULTS.md
#   bench/core-cost.sh 6fb4803         # 6fb4803 against this working tree, alternately
#   CORE_COST_ROUNDS=7 bench/core-cost.sh HEAD~1 --print   # only prints
#
# Each run is bounded by timeout; a round is about 30 s per build and load.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=lib/section.sh
. "$ROOT/bench/lib/section.sh"
RESULTS="${BENCH_RESULTS:-$ROOT/bench/RESULTS.md}"
ROUNDS="${CORE_COST_ROUNDS:-5}"
BASE=""; PRINT=0
for arg in "$@"; do
  case "$arg" in
    --print) PRINT=1 ;;
    -*) echo "usage: bench/core-cost.sh [BASE_REVISION] [--print]" >&2; exit 2 ;;
    *) BASE="$arg" ;;
  esac
done
log() { printf '[core-cost] %s\n' "$*" >&2; }
command -v jq >/dev/null || { log "jq is missing (apt-get install jq)"; exit 1; }
WORK="$(mktemp -d "${TMPDIR:-/tmp}/oriel-core-cost.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

# build DIR OUT: the bench binary of the sources in DIR, copied to OUT.
build() {
  local executable
  executable="$(cd "$1" && CARGO_TARGET_DIR="$ROOT/target" cargo bench -q -p oriel-sfu \
    --bench core_cost --no-run --message-format=json 2>/dev/null |
    jq -r 'select(.reason == "compiler-artifact" and .target.name == "core_cost") | .executable')"
  [[ -x "$executable" ]] || { log "building the bench in $1 failed"; exit 1; }
  cp "$executable" "$2"
}

builds=(current)
if [[ -n "$BASE" ]]; then
  base_commit="$(git rev-parse --short "$BASE^{commit}")"
  log "building $base_commit"
  mkdir "$WORK/base-src"
  git archive "$base_commit" | tar -x -C "$WORK/base-src"
  build "$WORK/base-src" "$WORK/base"
  builds=(base current)
fi
log "building the working tree"
build "$ROOT" "$WORK/current"

loads=("40 1" "100 2")
for round in $(seq "$ROUNDS"); do
  for load in "${loads[@]}"; do
    read -r subscribers workers <<<"$load"
    for b in "${builds[@]}"; do
      CORE_COST_SUBSCRIBERS=$subscribers CORE_COST_WORKERS=$workers \
        timeout 600 "$WORK/$b" >>"$WORK/$b-$subscribers-$workers.jsonl"
    done
  done
  log "round $round of $ROUNDS done"
done

median() { jq -s '[.[].us_per_datagram] | sort | .[(length / 2 | floor)]' "$1"; }
runs() { jq -s -r '[.[].us_per_datagram | tostring] | join(" / ")' "$1"; }
rows=""
for load in "${loads[@]}"; do
  read -r subscribers workers <<<"$load"
  current="$WORK/current-$subscribers-$workers.jsonl"
  sent="$(jq -s '.[0].datagrams_sent' "$current")"
  label="1 → $subscribers, $workers worker(s)"
  if [[ -n "$BASE" ]]; then
    base="$WORK/base-$subscribers-$workers.jsonl"
    change="$(jq -n --argjson a "$(median "$base")" --argjson b "$(median "$current")" \
      '(($b / $a - 1) * 1000 | round) / 10')"
    rows+="| $label | $sent | $(median "$base") ($(runs "$base")) | $(median "$current") ($(runs "$current")) | ${change} % |"$'\n'
  else
    rows+="| $label | $sent | $(median "$current") ($(runs "$current")) |"$'\n'
  fi
done
cpu="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
head="$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- crates vendor || echo ' + changes')"
if [[ -n "$BASE" ]]; then
  table="| load | datagrams sent | $base_commit: µs per datagram, median (runs) | $head: µs per datagram, median (runs) | change |
|---|---|---|---|---|
$rows"
else
  table="| load | datagrams sent | µs per datagram, median (runs) |
|---|---|---|
$rows"
fi
section="<!-- core-cost:begin (bench/core-cost.sh) -->
## The SFU core's own CPU per datagram (simulation)

Written by \`bench/core-cost.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC'), $head.
Machine: ${cpu}, $(nproc) CPUs. One publisher (Opus + three-layer VP8 simulcast) and N
subscribers in the simulation of \`crates/oriel-sfu/tests/sim\` on virtual time, clean links,
20 s measured after 8 s; the thread CPU time inside the space's calls (Oriel's sans-IO core and
str0m, SRTP included; no sockets, no kernel, no I/O shell) divided by every datagram the space
sent (media, RTCP, ICE). $ROUNDS runs per build, alternating.

$table
<!-- core-cost:end -->"
if [[ "$PRINT" = 1 ]]; then
  printf '%s\n' "$section"
else
  write_section "$RESULTS" core-cost "$section"
  log "wrote $RESULTS"
  printf '%s\n' "$table"
fi

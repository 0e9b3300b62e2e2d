#!/usr/bin/env bash
# report.sh WORK RESULTS: writes RESULTS (markdown) from a run's work directory: WORK/meta
# (machine, versions, settings) and WORK/LOAD/{oriel,janus}.report (one JSON object each).
# bench/run.sh calls it; with BENCH_KEEP=1 a kept directory can be reported again.
set -euo pipefail
WORK="$1"
RESULTS="$2"
# Sections other benchmarks own (every `<!-- NAME:begin` ... `<!-- NAME:end -->` written by
# lib/section.sh: compositor, webhooks, quality, profile, join-storm, core-cost, ...) survive
# a rewrite of this one's, in their order. (Naming them here lost each new one.)
KEPT="$(awk '
  name == "" && match($0, /^<!-- [a-z0-9-]+:begin/) { name = substr($0, 6, RLENGTH - 11) }
  name != "" { print }
  name != "" && $0 == "<!-- " name ":end -->" { name = "" }
' "$RESULTS" 2>/dev/null || true)"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=loads.sh
. "$HERE/loads.sh"
# shellcheck disable=SC1091
. "$WORK/meta"

num() { jq -r "$1 // empty" <<<"$2"; }
fmt() { # JQ-EXPR REPORT PRINTF-FORMAT
  local v
  v="$(num "$1" "$2")"
  if [ -z "$v" ]; then echo "–"; else LC_ALL=C printf "$3" "$v"; fi
}
# A delay in ms; the histograms end at 2 s, so their last bucket reads "> 2000".
delay() { # JQ-EXPR REPORT PRINTF-FORMAT
  local v
  v="$(num "$1" "$2")"
  if [ -z "$v" ]; then
    echo "–"
  elif LC_ALL=C awk -v v="$v" 'BEGIN { exit !(v > 2000) }'; then
    echo "> 2000"
  else
    LC_ALL=C printf "$3" "$v"
  fi
}
row() { # LOAD SERVER REPORT RATIO
  local r="$3" pubs subs audio
  read -r pubs subs audio <<<"$(load_spec "$1")"
  if [ "$(num .failed "$r")" = true ]; then
    echo "| $(load_title "$1") | $2 | failed | | | | | | | | | | $4 |"
    return
  fi
  echo "| $(load_title "$1") | $2 | $(num .subscribers_connected "$r")/$subs" \
    "| $(fmt .packets_per_second "$r" '%.0f')" \
    "| $(fmt .payload_mbit_per_second "$r" '%.1f')" \
    "| $(fmt 'if .video_packets_received > 0 and .subscribers_receiving > 0 then .video_packets_received / .duration_s / (.subscribers_receiving * .publishers) else null end' "$r" '%.0f')" \
    "| $(fmt '.loss_ratio * 100' "$r" '%.3f %%')" \
    "| $(delay .delay_ms.p50 "$r" '%.2f') / $(delay .delay_ms.p99 "$r" '%.1f')" \
    "| $(fmt .server_cpu_percent "$r" '%.0f %%')" \
    "| **$(fmt .packets_per_server_cpu_second "$r" '%.0f')**" \
    "| $(fmt .loadtest_cpu_percent "$r" '%.0f %%')$(jq -r 'if (.publisher_frames_skipped // 0) > 0 then " ⚠ \(.publisher_frames_skipped) frames skipped" else "" end' <<<"$r")" \
    "| $(fmt .other_cpu_percent "$r" '%.0f %%')$(jq -r 'if (.other_cpu_percent // 0) > 25 then " ⚠" else "" end' <<<"$r")" \
    "| $4 |"
}
ratio_of() { # ORIEL JANUS
  local o j
  o="$(num .packets_per_server_cpu_second "$1")"
  j="$(num .packets_per_server_cpu_second "$2")"
  if [ -n "$o" ] && [ -n "$j" ]; then
    LC_ALL=C awk -v o="$o" -v j="$j" 'BEGIN { if (j > 0) printf "**%.2f×**", o / j; else print "–" }'
  else
    echo "–"
  fi
}

warmup_text="once every peer connection is up"
[ "${WARMUP:-0}" != 0 ] && warmup_text="after ${WARMUP} s of media once every peer connection is up"

{
  echo "# Benchmarks: Oriel and Janus side by side"
  echo
  echo "Written by \`bench/run.sh\` (method and caveats: bench/README.md). Run $STARTED to $FINISHED."
  echo
  echo "- Machine: $CPU_MODEL, $NPROC CPUs (nproc), $MEM, Linux $KERNEL"
  echo "- Oriel: commit $COMMIT, release build${DIRTY:+ (uncommitted changes in: $DIRTY)}"
  echo "- Janus: ${JANUS_VERSION:-?} (Debian package $JANUS_PKG), VideoRoom plugin, WebSocket API, event_loops = $JANUS_LOOPS"
  echo "- Each load: both servers started fresh, one after the other; $DURATION s measured $warmup_text."
  echo "  Servers, load generators and all traffic share the $NPROC CPUs, inside one network namespace;"
  echo "  both generators run at nice ${GENERATOR_NICE:-0} (they get the CPU the server leaves, as clients on other machines would)."
  echo
  echo "Packets are RTP packets received by the subscribers (what the server forwarded and got"
  echo "through); **packets per server CPU-second** divides them by the server's user + system CPU"
  echo "time over the same window (/proc/PID/stat), and **Oriel/Janus** is the ratio of the two."
  echo "Loss counts gaps in each stream's RTP sequence numbers. Delay is publisher send (as the"
  echo "packet leaves the publisher's pacer) → the kernel's receive time at the subscriber's"
  echo "socket (SO_TIMESTAMPNS), p50 / p99 in ms (\"> 2000\": beyond the 2 s histogram)."
  echo "Publishers pace video as browsers do (2.5 × the target bitrate, audio first)."
  echo "Video packets/s per stream tells the simulcast layer forwarded: about 187 for f"
  echo "(1.5 Mbit/s), 62 for h, 31 for q. Janus forwards the top layer to every subscriber;"
  echo "Oriel picks layers from each subscriber's bandwidth estimate, starting low."
  echo "Load gen CPU is the load generator's own CPU over the window (⚠ frames skipped: its publishers"
  echo "fell more than 200 ms behind and sent less than asked; the row understates the load)."
  echo "Other CPU is what the rest of"
  echo "the machine used while the generator ran (all CPUs busy minus server, generator and the"
  echo "kernel's ksoftirqd threads, % of one core): well above 0, something else competed for the"
  echo "CPUs and the row is not to be trusted (⚠ above 25 %)."
  echo
  echo "| load | server | subscribers connected | packets/s received | Mbit/s received | video packets/s per stream | loss | delay p50 / p99 (ms) | server CPU (% of a core) | packets per server CPU-second | load gen CPU | other CPU | Oriel/Janus |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
  for load in $LOADS; do
    o="$(cat "$WORK/$load/oriel.report")"
    j="$(cat "$WORK/$load/janus.report")"
    row "$load" Oriel "$o" "$(ratio_of "$o" "$j")"
    row "$load" Janus "$j" ""
  done
  echo
  echo "## Raw reports"
  echo
  echo "The last line of each tool's \`--json\` output per load, Oriel first, with the"
  echo "script's CPU bookkeeping added (\`other_cpu_percent\`, \`ksoftirqd_cpu_percent\`,"
  echo "\`steal_cpu_percent\`, \`loadavg_at_start\`)."
  echo
  echo '```'
  for load in $LOADS; do
    echo "# $load"
    jq -c '{server: (.server // "oriel")} + .' <"$WORK/$load/oriel.report"
    cat "$WORK/$load/janus.report"
  done
  echo '```'
} >"$RESULTS"
if [ -n "$KEPT" ]; then
  printf '\n%s\n' "$KEPT" >>"$RESULTS"
fi

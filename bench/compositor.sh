#!/usr/bin/env bash
# Compositor CPU per broadcast, side by side with the bare GStreamer pipeline doing the same work.
#
#   bench/compositor.sh                      # 720p30 and 1080p30, 20 s each; updates bench/RESULTS.md
#   BENCH_DURATION=30 bench/compositor.sh
#
# Load: a gallery of 4, each input VP8 640x360 30 fps (~800 kbit/s, moving test patterns) +
# Opus, replayed as RTP in real time from packets encoded before the measurement; output
# H.264 (x264 veryfast zerolatency, 30 fps, keyframe every 2 s) + AAC written as HLS.
# "oriel" is crates/oriel-compositor's pipeline (jitter buffers, names on tiles, tees for RTMP,
# layout geometry); "bare" is gst_parse_launch of appsrc -> rtpjitterbuffer -> rtpvp8depay ->
# vp8dec -> compositor (same tile geometry) -> x264enc -> hlssink2, audio through audiomixer
# and avenc_aac. CPU is the process's user + system time over the window (/proc/self/stat),
# after 3 s of warm-up; the two modes alternate so both see the same machine load.
# Writes the section between the compositor markers of bench/RESULTS.md (the rest is kept).
# Every run is bounded by timeout; no network traffic (HLS goes to a temp dir).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
DURATION="${BENCH_DURATION:-20}"
RESULTS="${BENCH_RESULTS:-$ROOT/bench/RESULTS.md}"
# shellcheck source=../scripts/lib/setup.sh
. "$ROOT/scripts/lib/setup.sh"
ensure_build_deps
ensure_rust

log() { printf '[compositor-bench] %s\n' "$*" >&2; }
log "building the benchmark (release)"
cargo build --release -q -p oriel-compositor --example compositor_bench
BIN="$ROOT/target/release/examples/compositor_bench"

rows=""
for res in 1280x720 1920x1080; do
  declare -A cores=()
  for mode in oriel bare; do
    log "$mode $res, ${DURATION}s"
    load_before=$(cut -d' ' -f1 /proc/loadavg)
    line=$(timeout $((DURATION + 60)) "$BIN" "$mode" "$res" "$DURATION" 2>/dev/null | tail -n1)
    c=$(printf '%s' "$line" | python3 -c 'import json,sys; print(json.load(sys.stdin)["cores"])')
    cores[$mode]=$c
    log "$mode $res: $c cores (load average before: $load_before)"
  done
  ratio=$(python3 -c "print(f'{${cores[oriel]} / ${cores[bare]}:.2f}')")
  rows+="| ${res} | $(python3 -c "print(f'{${cores[oriel]}:.2f}')") | $(python3 -c "print(f'{${cores[bare]}:.2f}')") | **${ratio}x** |"$'\n'
  unset cores
done

cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')
section=$(cat <<MD
<!-- compositor:begin (bench/compositor.sh) -->
## Compositor: CPU per broadcast

Written by \`bench/compositor.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git rev-parse --short HEAD).
Machine: ${cpu}, $(nproc) CPUs, GStreamer $(pkg-config --modversion gstreamer-1.0).
Gallery of 4 (VP8 640x360 30 fps + Opus in, replayed as RTP in real time), H.264 veryfast
zerolatency 30 fps + AAC to HLS out; ${DURATION} s measured after 3 s of warm-up; process CPU
(user + system) in cores. "bare" is the plain GStreamer pipeline doing the same work (same
tile geometry), run alternately with Oriel's. Other processes on the machine (load average
$(cut -d' ' -f1-3 /proc/loadavg) at the end) add noise to both alike.

| output | Oriel compositor (cores) | bare GStreamer (cores) | Oriel / bare |
|---|---|---|---|
${rows}
<!-- compositor:end -->
MD
)
touch "$RESULTS"
python3 - "$RESULTS" "$section" <<'PY'
import re, sys
path, section = sys.argv[1], sys.argv[2]
text = open(path).read()
pattern = re.compile(r"<!-- compositor:begin.*?<!-- compositor:end -->", re.S)
text = pattern.sub(lambda _: section, text) if pattern.search(text) else text.rstrip("\n") + "\n\n" + section + "\n"
open(path, "w").write(text)
PY
log "wrote $RESULTS"
printf '%s\n' "$rows"

#!/usr/bin/env bash
# Webhook delivery delay: 1,000 events to a local receiver, alone and beside a failing endpoint.
#
#   bench/webhooks.sh          # builds the release binary if missing; updates bench/RESULTS.md
#
# Environment: ORIEL_BIN (default target/release/oriel), WEBHOOK_BENCH_EVENTS (default 1000),
# BENCH_RESULTS (default bench/RESULTS.md). Writes the section between the webhooks markers.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export ORIEL_BIN="${ORIEL_BIN:-$ROOT/target/release/oriel}"
[[ -x "$ORIEL_BIN" ]] || cargo build --release -p oriel
[[ -d tests/node_modules/@mux/mux-node ]] || (cd tests && npm ci --no-audit --no-fund)
exec node bench/webhooks.mjs "${BENCH_RESULTS:-$ROOT/bench/RESULTS.md}"

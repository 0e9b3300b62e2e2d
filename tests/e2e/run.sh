#!/usr/bin/env bash
# End-to-end tests: the unmodified @mux/spaces-web SDK in headless Chromium against target/release/oriel.
#
#   tests/e2e/run.sh                       # every tests/e2e/*.test.mjs, one file at a time
#   tests/e2e/run.sh tests/e2e/join.test.mjs
#
# Environment: ORIEL_BIN (default target/release/oriel; build it first), E2E_KEEP=1 keeps the
# server data dirs and logs (always kept after a failure), E2E_RUST_LOG (server log filter,
# default info), E2E_CHROMIUM (default /usr/bin/chromium).
#
# Each file starts its own oriel and its own Chromium (at most 4 participant pages at once).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
"$repo/scripts/install-e2e-deps.sh"

bin="${ORIEL_BIN:-$repo/target/release/oriel}"
if [[ ! -x "$bin" ]]; then
  echo "tests/e2e: $bin is missing: run \`cargo build --release\` first (or set ORIEL_BIN)" >&2
  exit 1
fi

cd "$repo"
if (($#)); then
  files=("$@")
else
  files=(tests/e2e/*.test.mjs)
fi
# shellcheck source=../lib/tls-env.sh
source "$repo/tests/lib/tls-env.sh"
trap 'rm -rf "$e2e_tls_dir"' EXIT

# One file at a time: each file starts its own oriel and one Chromium, and the machine has 2 cores.
node --test --test-concurrency=1 --test-reporter=spec "${files[@]}"

#!/usr/bin/env bash
# Tests of the dashboard (the web app at /; sources in dashboard/):
#
#   1. bundle   the committed build (dashboard/dist/, embedded by the server) matches its
#               sources (esbuild, in memory)
#   2. types    the sources type-check (tsc)
#   3. e2e      real Chromium against target/release/oriel: tests/dashboard/*.test.mjs (signing
#               in and out, anonymous visitors, the session/Basic wall, CSRF, environments,
#               spaces and Run Request, signing keys, access tokens, live participants);
#               screenshots of every page in tests/dashboard/screenshots/
#
#   bash tests/dashboard/run.sh
#
# Environment: ORIEL_BIN (default target/release/oriel). Needs node >= 20 (scripts/test.sh
# installs it). Ends with the totals as `ℹ pass N` / `ℹ fail N`; exits nonzero on a failure.
set -uo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$repo"

command -v node >/dev/null 2>&1 || { echo "tests/dashboard: node is missing (scripts/test.sh installs it)" >&2; exit 1; }

logs="$(mktemp -d "${TMPDIR:-/tmp}/oriel-dashboard-tests.XXXXXX")"
trap 'rm -rf "$logs"' EXIT
pass=0
fail=0
summary=()

# step NAME CMD... : runs CMD, counts its node:test results (or 1 pass/fail for other commands).
step() {
  local name="$1" start rc p f
  shift
  echo "==> tests/dashboard $name: $*" >&2
  start=$(date +%s)
  "$@" 2>&1 | tee "$logs/$name.log"
  rc=${PIPESTATUS[0]}
  p="$(sed -n 's/^ℹ pass \([0-9]*\)$/\1/p' "$logs/$name.log" | tail -1)"
  f="$(sed -n 's/^ℹ fail \([0-9]*\)$/\1/p' "$logs/$name.log" | tail -1)"
  if [[ -z "$p" && -z "$f" ]]; then
    if ((rc == 0)); then p=1 f=0; else p=0 f=1; fi
  fi
  p=${p:-0}
  f=${f:-0}
  ((rc != 0 && f == 0)) && f=1
  pass=$((pass + p))
  fail=$((fail + f))
  summary+=("$( ((rc == 0)) && echo PASS || echo FAIL)  $name: $p passed, $f failed ($(($(date +%s) - start))s)")
  return "$rc"
}

# The dashboard's build tools (esbuild, typescript, preact), only when missing or stale.
if [[ ! -d dashboard/node_modules || dashboard/package-lock.json -nt dashboard/node_modules ]]; then
  echo "==> tests/dashboard: npm ci in dashboard" >&2
  (cd dashboard && npm ci --no-audit --no-fund) && touch dashboard/node_modules || exit 1
fi
# The test helpers (tests/lib) need tests/node_modules; the browser tests playwright-core and
# Chromium (tests/e2e).
if [[ ! -d tests/node_modules || tests/package-lock.json -nt tests/node_modules ]]; then
  echo "==> tests/dashboard: npm ci in tests" >&2
  (cd tests && npm ci --no-audit --no-fund) && touch tests/node_modules || exit 1
fi
scripts/install-e2e-deps.sh || exit 1

step bundle node dashboard/build.mjs --check
step types node dashboard/node_modules/typescript/bin/tsc --noEmit -p dashboard/tsconfig.json

export ORIEL_BIN="${ORIEL_BIN:-$repo/target/release/oriel}"
if [[ ! -x "$ORIEL_BIN" ]]; then
  echo "tests/dashboard: $ORIEL_BIN is missing: run \`cargo build --release\` first (or set ORIEL_BIN)" >&2
  summary+=("FAIL  e2e: no oriel binary")
  fail=$((fail + 1))
else
  rm -rf tests/dashboard/screenshots
  step e2e node --test --test-concurrency=1 --test-reporter=spec tests/dashboard/*.test.mjs
  echo "screenshots: $(ls tests/dashboard/screenshots 2>/dev/null | wc -l) in tests/dashboard/screenshots/" >&2
fi

echo
echo "============ tests/dashboard summary ============"
for line in "${summary[@]}"; do echo "$line"; done
echo "ℹ pass $pass"
echo "ℹ fail $fail"
((fail == 0))

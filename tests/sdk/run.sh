#!/usr/bin/env bash
# Tests of Oriel's own Web SDK (sdk/web) and of the meeting page (/demo):
#
#   1. bundle   the committed builds (sdk/web/dist/spaces.js, embedded by the server as
#               GET /sdk/spaces.js, and dist/demo.js) match their sources (esbuild, in memory)
#   2. build    the ES module and the type declarations (tsc), the demo type-checked
#   3. unit     the SDK's state machine against a fake signaling server, and its public surface
#               against @mux/spaces-web 1.2.0's declarations (node:test, no browser)
#   4. e2e      real Chromium against target/release/oriel: tests/sdk/e2e/*.test.mjs (the served
#               script, mixed spaces, screen sharing, reconnection, the /demo page with three
#               participants; screenshots in tests/sdk/screenshots/)
#   5. scenarios  every scenario file of tests/e2e, unchanged, on Oriel's SDK
#   6. mixed    scenario files with the participants alternating between the two SDKs
#
#   bash tests/sdk/run.sh            everything
#   bash tests/sdk/run.sh --unit     steps 1-3 (no server, no browser)
#
# Environment: ORIEL_BIN (default target/release/oriel), SDK_E2E_MIXED=some (default: media,
# events, reconnect, subscriptions) | all | none. Needs node >= 20 (scripts/test.sh installs it).
# Ends with the totals as `ℹ pass N` / `ℹ fail N` lines; exits nonzero when anything failed.
set -uo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$repo"
unit_only=0
[[ "${1:-}" == "--unit" ]] && unit_only=1

command -v node >/dev/null 2>&1 || { echo "tests/sdk: node is missing (scripts/test.sh installs it)" >&2; exit 1; }

logs="$(mktemp -d "${TMPDIR:-/tmp}/oriel-sdk-tests.XXXXXX")"
trap 'rm -rf "$logs"' EXIT
pass=0
fail=0
summary=()

# step NAME CMD... : runs CMD, counts its node:test results (or 1 pass/fail for other commands).
step() {
  local name="$1" start rc p f
  shift
  echo "==> tests/sdk $name: $*" >&2
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

# The SDK's build tools (esbuild, typescript), only when node_modules is missing or stale.
if [[ ! -d sdk/web/node_modules || sdk/web/package-lock.json -nt sdk/web/node_modules ]]; then
  echo "==> tests/sdk: npm ci in sdk/web" >&2
  (cd sdk/web && npm ci --no-audit --no-fund) && touch sdk/web/node_modules || exit 1
fi
# The unit tests read @mux/spaces-web's declarations from tests/e2e/node_modules; the e2e tests
# need Chromium too.
scripts/install-e2e-deps.sh || exit 1
# The scenario files that serve https/wss (tests/e2e/tls.test.mjs) need the certificate.
# shellcheck source=../lib/tls-env.sh
source tests/lib/tls-env.sh
trap 'rm -rf "$logs" "$e2e_tls_dir"' EXIT

step bundle node sdk/web/build.mjs --check
step build node sdk/web/build.mjs
step unit node --test --test-concurrency=1 --test-reporter=spec tests/sdk/unit/*.test.mjs

if ((unit_only == 0)); then
  export ORIEL_BIN="${ORIEL_BIN:-$repo/target/release/oriel}"
  if [[ ! -x "$ORIEL_BIN" ]]; then
    echo "tests/sdk: $ORIEL_BIN is missing: run \`cargo build --release\` first (or set ORIEL_BIN)" >&2
    summary+=("FAIL  e2e: no oriel binary")
    fail=$((fail + 1))
  else
    loader=(--import ./tests/sdk/lib/use-oriel-sdk.mjs)
    step e2e node --test --test-concurrency=1 --test-reporter=spec tests/sdk/e2e/*.test.mjs
    ORIEL_E2E_SDK=oriel step scenarios node "${loader[@]}" --test --test-concurrency=1 --test-reporter=spec tests/e2e/*.test.mjs
    case "${SDK_E2E_MIXED:-some}" in
      all) mixed=(tests/e2e/*.test.mjs) ;;
      none) mixed=() ;;
      *) mixed=(tests/e2e/media.test.mjs tests/e2e/events.test.mjs tests/e2e/reconnect.test.mjs tests/e2e/subscriptions.test.mjs) ;;
    esac
    if ((${#mixed[@]})); then
      ORIEL_E2E_SDK=mixed step mixed node "${loader[@]}" --test --test-concurrency=1 --test-reporter=spec "${mixed[@]}"
    fi
  fi
fi

echo
echo "============ tests/sdk summary ============"
for line in "${summary[@]}"; do echo "$line"; done
echo "ℹ pass $pass"
echo "ℹ fail $fail"
((fail == 0))

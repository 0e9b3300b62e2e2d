#!/usr/bin/env bash
# Runs every check and test of Oriel: formatting, clippy, the Rust tests, the release build, and
# the integration tests that drive the real binary (tests/, Node.js + @mux/mux-node).
# Installs what it needs and skips what is already there.
#
#   scripts/test.sh
#
# Exits nonzero when any step fails; prints a summary at the end.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPO_ROOT="$(pwd)"
# shellcheck source=scripts/lib/setup.sh
source scripts/lib/setup.sh

ensure_build_deps
ensure_rust
ensure_rust_lint_tools
ensure_node
# The store's tests (cargo test) and the API tests on PostgreSQL start private servers of it
# (scripts/lib/test-postgres.sh); only its binaries are needed. The cluster's Rust tests start
# a private redis-server the same way (never the system service).
ensure_apt_packages postgresql redis-server

LOG_DIR="$(mktemp -d "${TMPDIR:-/tmp}/oriel-test-run.XXXXXX")"
trap 'rm -rf "$LOG_DIR"' EXIT

declare -a SUMMARY=()
FAILED=0
RUST_PASSED=0
RUST_FAILED=0
API_PASSED=0
API_FAILED=0

# step NAME CMD... : runs CMD with its output shown and kept in $LOG_DIR/NAME.log
step() {
  local name="$1" start rc
  shift
  log "$name: $*"
  start=$(date +%s)
  set +e
  "$@" 2>&1 | tee "$LOG_DIR/$name.log"
  rc=${PIPESTATUS[0]}
  set -e
  local secs=$(($(date +%s) - start))
  if [ "$rc" -eq 0 ]; then
    SUMMARY+=("PASS  $name (${secs}s)")
  else
    SUMMARY+=("FAIL  $name (${secs}s, exit $rc)")
    FAILED=1
  fi
  return "$rc"
}

skip() {
  SUMMARY+=("SKIP  $1 ($2)")
}

# node_counts NAME: "PASSED FAILED" from the node:test totals (`ℹ pass N`, `ℹ fail N`) that
# end NAME's log; "0 0" without them.
node_counts() {
  local log="$LOG_DIR/$1.log" passed="" failed=""
  if [ -f "$log" ]; then
    passed="$(sed -n 's/^ℹ pass \([0-9]*\)$/\1/p' "$log" | tail -1)"
    failed="$(sed -n 's/^ℹ fail \([0-9]*\)$/\1/p' "$log" | tail -1)"
  fi
  echo "${passed:-0} ${failed:-0}"
}

# shellcheck disable=SC2317 # called through step()
npm_install() {
  # skip `npm ci` when node_modules was made from this very lock file
  local want have=""
  want="$(sha256sum tests/package-lock.json | cut -d' ' -f1)"
  [ -f tests/node_modules/.oriel-lock-sha256 ] && have="$(cat tests/node_modules/.oriel-lock-sha256)"
  if [ -d tests/node_modules ] && [ "$want" = "$have" ]; then
    echo "tests/node_modules is up to date with tests/package-lock.json"
    return 0
  fi
  (cd tests && npm ci --no-audit --no-fund) && echo "$want" >tests/node_modules/.oriel-lock-sha256
}

step fmt cargo fmt --all --check || true
step clippy cargo clippy --workspace --all-targets -- -D warnings || true
step cargo-test cargo test --workspace || true
if [ -f "$LOG_DIR/cargo-test.log" ]; then
  while read -r p f; do
    RUST_PASSED=$((RUST_PASSED + p))
    RUST_FAILED=$((RUST_FAILED + f))
  done < <(sed -n 's/^test result: [A-Za-z]*\. \([0-9]*\) passed; \([0-9]*\) failed.*/\1 \2/p' "$LOG_DIR/cargo-test.log")
fi

BUILD_OK=1
step build-release cargo build --release || BUILD_OK=0
export ORIEL_BIN="${CARGO_TARGET_DIR:-$REPO_ROOT/target}/release/oriel"
NPM_OK=1
step npm-ci npm_install || NPM_OK=0

if [ "$BUILD_OK" -eq 1 ] && [ "$NPM_OK" -eq 1 ]; then
  # The API tests read /metrics with Prometheus's own OpenMetrics parser (Python).
  python3 -c 'import prometheus_client' 2>/dev/null ||
    python3 -m pip install --quiet --disable-pip-version-check prometheus_client || true
  # Pebble, Let's Encrypt's test CA, for the automatic-certificate test (tests/api/acme.test.mjs).
  ensure_apt_packages pebble openssl
  step api-tests node --test --test-concurrency=1 --test-reporter=spec tests/api/*.test.mjs || true
  read -r API_PASSED API_FAILED < <(node_counts api-tests)
  # A few of them again with the state in PostgreSQL (`oriel serve --database-url`).
  step api-tests-postgres bash scripts/api-tests-postgres.sh || true
  read -r PG_PASSED PG_FAILED < <(node_counts api-tests-postgres)
  API_PASSED=$((API_PASSED + PG_PASSED))
  API_FAILED=$((API_FAILED + PG_FAILED))
else
  skip api-tests "needs the release build and tests/node_modules"
  skip api-tests-postgres "needs the release build and tests/node_modules"
fi

if [ "$BUILD_OK" -eq 1 ]; then
  # The deployment guide's Dockerfile (built where a Docker daemon runs), unit and sample config.
  step check-deploy bash scripts/check-deploy.sh || true
else
  skip check-deploy "needs the release build"
fi

if [ "$BUILD_OK" -eq 1 ]; then
  # The load tester against a real node: a few subscribers for a few seconds.
  step load-smoke bash tests/load/smoke.sh || true
else
  skip load-smoke "needs the release build"
fi

E2E_PASSED=0
E2E_FAILED=0
if [ "$BUILD_OK" -eq 1 ]; then
  # Real Chromium with the unmodified @mux/spaces-web; run.sh installs Chromium and npm deps.
  step e2e-tests bash tests/e2e/run.sh || true
  read -r E2E_PASSED E2E_FAILED < <(node_counts e2e-tests)
else
  skip e2e-tests "needs the release build"
fi

SDK_PASSED=0
SDK_FAILED=0
if [ "$BUILD_OK" -eq 1 ]; then
  # Our Web SDK: bundle freshness, unit tests against a fake server, and real Chromium
  # (the real-time scenarios on our SDK, mixed spaces with @mux/spaces-web, the meeting page).
  step sdk-tests bash tests/sdk/run.sh || true
  read -r SDK_PASSED SDK_FAILED < <(node_counts sdk-tests)
else
  skip sdk-tests "needs the release build"
fi

DASHBOARD_PASSED=0
DASHBOARD_FAILED=0
if [ "$BUILD_OK" -eq 1 ]; then
  # The dashboard at /: bundle freshness, type check, and real Chromium (sign-in and out,
  # anonymous visitors, environments, spaces and Run Request, keys, tokens, live participants).
  step dashboard-tests bash tests/dashboard/run.sh || true
  read -r DASHBOARD_PASSED DASHBOARD_FAILED < <(node_counts dashboard-tests)
else
  skip dashboard-tests "needs the release build"
fi

echo
echo "================ summary ================"
for line in "${SUMMARY[@]}"; do echo "$line"; done
echo "rust tests: $RUST_PASSED passed, $RUST_FAILED failed"
echo "api tests: $API_PASSED passed, $API_FAILED failed"
echo "e2e tests: $E2E_PASSED passed, $E2E_FAILED failed"
echo "sdk tests: $SDK_PASSED passed, $SDK_FAILED failed"
echo "dashboard tests: $DASHBOARD_PASSED passed, $DASHBOARD_FAILED failed"
echo "========================================="
if [ "$FAILED" -ne 0 ]; then
  echo "RESULT: FAILED"
else
  echo "RESULT: OK"
fi
echo "tests: $((RUST_PASSED + API_PASSED + E2E_PASSED + SDK_PASSED + DASHBOARD_PASSED)) passed, $((RUST_FAILED + API_FAILED + E2E_FAILED + SDK_FAILED + DASHBOARD_FAILED)) failed"
exit "$FAILED"

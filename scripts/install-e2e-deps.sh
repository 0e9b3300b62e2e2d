#!/usr/bin/env bash
# Installs what the browser end-to-end tests (tests/e2e) need, and nothing more:
#   - Debian packages chromium, chromium-driver, fonts-liberation, and for the broadcast tests
#     ffmpeg (ffprobe) and nginx with its RTMP module, and for the cluster test redis-server and
#     postgresql (run privately by the test, never as services; only those missing);
#   - Prometheus's Python client (its OpenMetrics parser reads /metrics);
#   - the npm packages of tests/e2e (npm ci, only when node_modules is missing or
#     older than package-lock.json).
# Idempotent: a second run on a ready machine does no network access and takes well under a second.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
e2e="$repo/tests/e2e"

packages=(chromium chromium-driver fonts-liberation ffmpeg nginx-core libnginx-mod-rtmp openssl redis-server postgresql)
missing=()
for pkg in "${packages[@]}"; do
  if ! dpkg -s "$pkg" >/dev/null 2>&1; then
    missing+=("$pkg")
  fi
done
if ((${#missing[@]})); then
  sudo=()
  if [[ $(id -u) -ne 0 ]]; then sudo=(sudo); fi
  echo "install-e2e-deps: installing Debian packages: ${missing[*]}" >&2
  "${sudo[@]}" apt-get update
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y --no-install-recommends "${missing[@]}"
fi
if [[ ! -x /usr/bin/chromium ]]; then
  echo "install-e2e-deps: /usr/bin/chromium is missing after the install" >&2
  exit 1
fi

# The reference OpenMetrics parser (Prometheus's own Python client) reads /metrics in the tests.
if ! python3 -c 'import prometheus_client' 2>/dev/null; then
  echo "install-e2e-deps: pip install prometheus_client" >&2
  python3 -m pip install --quiet --disable-pip-version-check prometheus_client
fi

if [[ ! -d "$e2e/node_modules" || "$e2e/package-lock.json" -nt "$e2e/node_modules" ]]; then
  echo "install-e2e-deps: npm ci in tests/e2e" >&2
  (cd "$e2e" && npm ci --no-audit --no-fund)
  # npm ci does not always touch the directory itself; mark it fresh for the check above.
  touch "$e2e/node_modules"
fi

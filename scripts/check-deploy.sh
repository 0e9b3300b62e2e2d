#!/usr/bin/env bash
# Checks what the README's deployment guide ships: the Dockerfile, the systemd unit, the
# sample config file and the three-node compose file (deploy/compose.yaml, its nginx config).
#
#   scripts/check-deploy.sh              # needs target/release/oriel (cargo build --release)
#
# Where a Docker daemon answers (and ORIEL_DOCKER_BUILD is not 0) it builds the image and runs
# `oriel --version` in it. Otherwise it checks the Dockerfile's steps without Docker: every path
# it copies exists, everything the build embeds from outside crates/ is copied, and the runtime
# image installs every GStreamer package the compositor needs. Always: the unit passes
# `systemd-analyze verify` (when present) and `oriel serve --check-config` accepts the sample
# config. The compose file: `docker compose config -q` where `docker compose` runs, and
# scripts/lib/check-compose.py (PyYAML) checks its nodes against this build's flags, their
# ports, volumes and the balancer's upstream; `nginx -t` checks the balancer config when nginx
# is installed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BIN="${ORIEL_BIN:-target/release/oriel}"
fail() { echo "check-deploy: $*" >&2; exit 1; }
[ -x "$BIN" ] || fail "$BIN is missing: cargo build --release first"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

if [ "${ORIEL_DOCKER_BUILD:-1}" != 0 ] && docker info >/dev/null 2>&1; then
  echo "check-deploy: docker build"
  docker build -q -t oriel-check . >/dev/null
  docker run --rm oriel-check --version
else
  echo "check-deploy: no Docker daemon; checking the Dockerfile's steps"
  # Sources of COPY (not --from=) exist.
  while read -r src; do
    [ -e "$src" ] || fail "Dockerfile copies $src, which does not exist"
  done < <(awk '$1 == "COPY" && $2 !~ /^--from/ { for (i = 2; i < NF; i++) print $i }' Dockerfile)
  # What the build embeds from outside crates/ (include_str!/include_bytes!) is copied.
  copied="$(awk '$1 == "COPY" && $2 !~ /^--from/ { for (i = 2; i < NF; i++) print $i }' Dockerfile)"
  while read -r embedded; do
    covered=0
    for dir in $copied; do
      case "$embedded" in "$dir"/*|"$dir") covered=1 ;; esac
    done
    [ "$covered" = 1 ] || fail "the build embeds $embedded, which the Dockerfile does not copy"
  done < <(grep -rhoE 'include_(str|bytes)!\("(\.\./)+[^"]+"' crates --include=*.rs | sed -E 's/.*"(\.\.\/)+//; s/"$//' | grep -v '^crates/' | sort -u)
  # The runtime image has the compositor's GStreamer packages (the list scripts install).
  for pkg in $(grep -oE '(^|[[:space:]])gstreamer1\.0-[a-z0-9-]+' scripts/lib/setup.sh | sed 's/^[[:space:]]*//' | sort -u); do
    awk '/^FROM debian/ { runtime = 1 } runtime' Dockerfile | grep -q -- "$pkg" || fail "the runtime image lacks $pkg"
  done
fi

# The unit, pointed at this build.
if command -v systemd-analyze >/dev/null 2>&1; then
  sed "s#/usr/local/bin/oriel #$(realpath "$BIN") #" deploy/oriel.service >"$tmp/oriel.service"
  systemd-analyze verify "$tmp/oriel.service" || fail "deploy/oriel.service does not verify"
fi

# The sample config parses, with a real certificate pair in place of the example paths.
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -keyout "$tmp/key.pem" -out "$tmp/cert.pem" -subj /CN=check 2>/dev/null
"$BIN" serve --config deploy/oriel.toml --tls-cert "$tmp/cert.pem" --tls-key "$tmp/key.pem" --check-config >"$tmp/settings" \
  || fail "oriel serve --check-config refused deploy/oriel.toml"
grep -q 'media_port: 50000' "$tmp/settings" || fail "the sample config was not read: $(cat "$tmp/settings")"
# A typo in a config file is refused.
printf 'media-prot = 1\n' >"$tmp/typo.toml"
if "$BIN" serve --config "$tmp/typo.toml" --check-config >/dev/null 2>&1; then fail "a config key that is no flag was accepted"; fi

# The three-node compose file.
if docker compose version >/dev/null 2>&1; then
  docker compose -f deploy/compose.yaml config -q || fail "docker compose refuses deploy/compose.yaml"
fi
if python3 -c 'import yaml' 2>/dev/null; then
  python3 scripts/lib/check-compose.py "$BIN" deploy/compose.yaml || fail "deploy/compose.yaml: see above"
else
  echo "check-deploy: PyYAML missing; deploy/compose.yaml's nodes not checked"
fi
# The balancer's config, with the node names (resolved by Docker's DNS) as loopback addresses.
NGINX="$(command -v nginx || { [ -x /usr/sbin/nginx ] && echo /usr/sbin/nginx; } || true)"
if [ -n "$NGINX" ]; then
  sed -E 's/\bnode([0-9]+):/127.0.0.\1:/' deploy/compose/nginx.conf >"$tmp/nginx.conf"
  "$NGINX" -t -q -p "$tmp" -c "$tmp/nginx.conf" -g "pid $tmp/nginx.pid; error_log stderr;" \
    || fail "nginx -t refuses deploy/compose/nginx.conf"
fi
echo "check-deploy: OK"

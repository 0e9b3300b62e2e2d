#!/usr/bin/env bash
# Builds and starts one Oriel node. The first run also makes an access token for the
# "development" environment and a dashboard user (admin@localhost with a generated password),
# and prints both; they are kept, mode 600, in the data directory.
#
#   scripts/start.sh [extra `oriel serve` flags]
#
# Settings (environment variables, all optional):
#   ORIEL_LISTEN      HTTP address (REST API, dashboard, /pluto/v1)   default 127.0.0.1:8080
#   ORIEL_DATA_DIR    where all state is kept                        default ./data
#   ORIEL_MEDIA_IP    address for WebRTC media (UDP)                 default 127.0.0.1
#   ORIEL_MEDIA_PORT  first UDP media port (up to 16 are used)       default 50000
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib/setup.sh
source scripts/lib/setup.sh

LISTEN="${ORIEL_LISTEN:-127.0.0.1:8080}"
DATA_DIR="${ORIEL_DATA_DIR:-./data}"
MEDIA_IP="${ORIEL_MEDIA_IP:-127.0.0.1}"
MEDIA_PORT="${ORIEL_MEDIA_PORT:-50000}"
BIN="${CARGO_TARGET_DIR:-target}/release/oriel"

ensure_build_deps
ensure_rust
log "building Oriel (cargo build --release)"
cargo build --release

mkdir -p "$DATA_DIR"
TOKEN_FILE="$DATA_DIR/first-access-token.json"
if [ ! -s "$TOKEN_FILE" ]; then
  log "creating an access token for the \"development\" environment"
  (
    umask 077
    "$BIN" access-token create --data-dir "$DATA_DIR" --environment development >"$TOKEN_FILE.tmp"
  )
  chmod 600 "$TOKEN_FILE.tmp"
  mv "$TOKEN_FILE.tmp" "$TOKEN_FILE"
  FIRST_RUN=1
else
  FIRST_RUN=0
fi

# A dashboard user on the first run: the password is generated, printed and kept here.
LOGIN_FILE="$DATA_DIR/dashboard-login.txt"
DASHBOARD_EMAIL="admin@localhost"
NEW_LOGIN=0
if [ ! -s "$LOGIN_FILE" ]; then
  log "creating the dashboard user $DASHBOARD_EMAIL"
  DASHBOARD_PASSWORD="$(head -c 32 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | cut -c1-20)"
  if ORIEL_ADMIN_PASSWORD="$DASHBOARD_PASSWORD" "$BIN" admin create-user --data-dir "$DATA_DIR" \
    --email "$DASHBOARD_EMAIL" >/dev/null; then
    (
      umask 077
      printf 'email: %s\npassword: %s\n' "$DASHBOARD_EMAIL" "$DASHBOARD_PASSWORD" >"$LOGIN_FILE"
    )
    NEW_LOGIN=1
  else
    log "could not create $DASHBOARD_EMAIL (it may exist already); make another user with oriel admin create-user"
  fi
fi

# the token's own id and secret (not the environment's id), without needing jq
TOKEN_JSON="$(tr -d '\n' <"$TOKEN_FILE")"
TOP_LEVEL="$(printf '%s' "$TOKEN_JSON" | sed 's/"environment"[[:space:]]*:[[:space:]]*{[^}]*}//')"
TOKEN_ID="$(printf '%s' "$TOP_LEVEL" | sed -n 's/.*"id"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p')"
TOKEN_SECRET="$(printf '%s' "$TOP_LEVEL" | sed -n 's/.*"secret"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p')"

HOST="${LISTEN%:*}"
PORT="${LISTEN##*:}"
case "$HOST" in
  0.0.0.0 | "" | "[::]") HOST=127.0.0.1 ;;
esac
URL="http://$HOST:$PORT"

echo
if [ "$FIRST_RUN" -eq 1 ]; then
  echo "Your first access token (environment \"development\"), saved in $TOKEN_FILE:"
else
  echo "Access token from the first run ($TOKEN_FILE):"
fi
echo "  $TOKEN_JSON"
echo
echo "Dashboard:     $URL/  (sign in with the login in $LOGIN_FILE)"
if [ "$NEW_LOGIN" -eq 1 ]; then
  sed 's/^/                 /' "$LOGIN_FILE"
fi
echo "REST API:      $URL/video/v1/...  (signaling at ${URL/http/ws}/pluto)"
echo "Meeting page:  $URL/demo?token=JOIN_TOKEN  (sign a join token with a signing key, see README)"
echo
echo "Create a space with it:"
echo "  curl -u '$TOKEN_ID:$TOKEN_SECRET' -H 'Content-Type: application/json' \\"
echo "       -d '{\"passthrough\": \"my first space\"}' $URL/video/v1/spaces"
echo
echo "Make another access token (works while the server runs):"
echo "  $BIN access-token create --data-dir $DATA_DIR --environment development"
echo "Make another dashboard user:"
echo "  ORIEL_ADMIN_PASSWORD='at least 8 characters' $BIN admin create-user --data-dir $DATA_DIR --email you@example.com"
echo

exec "$BIN" serve --listen "$LISTEN" --data-dir "$DATA_DIR" --media-ip "$MEDIA_IP" --media-port "$MEDIA_PORT" "$@"

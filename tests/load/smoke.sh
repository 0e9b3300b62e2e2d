#!/usr/bin/env bash
# Smoke test of `oriel load-test` against a real node.
#
# Starts `oriel serve` on free loopback ports with a fresh data directory, creates an access
# token with `oriel access-token create`, runs a short load test (1 publisher, 3 subscribers,
# 5 seconds, 3 more joining during them, through the real REST API, signaling and WebRTC) and
# checks its JSON report:
# everyone connected, media received, loss under 5%. Then checks that the load test deleted
# the space and the signing key it made.
#
#   tests/load/smoke.sh                 # uses target/release/oriel (cargo build --release -p oriel)
#   ORIEL_BIN=/path/to/oriel tests/load/smoke.sh
#
# Exits nonzero on failure, printing the tail of the server's log.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

BIN="${ORIEL_BIN:-$PWD/target/release/oriel}"
PUBLISHERS=1
SUBSCRIBERS=3
DURATION=5
# Subscribers that join during the window (a small join storm), reported apart.
STORM=3
MAX_LOSS=0.05

if [ ! -x "$BIN" ]; then
  echo "smoke: $BIN is missing; build it with: cargo build --release -p oriel" >&2
  exit 2
fi
for tool in curl ss timeout; do
  command -v "$tool" >/dev/null 2>&1 || { echo "smoke: needs $tool" >&2; exit 2; }
done

WORK="$(mktemp -d "${TMPDIR:-/tmp}/oriel-load-smoke.XXXXXX")"
SERVER_PID=""

stop_server() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 100); do
      kill -0 "$SERVER_PID" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  SERVER_PID=""
}

cleanup() {
  stop_server
  rm -rf "$WORK"
}
trap cleanup EXIT

fail() {
  echo "smoke: FAIL: $*" >&2
  if [ -f "$WORK/load.log" ]; then
    echo "--- load-test stderr (tail)" >&2
    tail -n 30 "$WORK/load.log" >&2
  fi
  if [ -f "$WORK/server.log" ]; then
    echo "--- server log (tail)" >&2
    tail -n 40 "$WORK/server.log" >&2
  fi
  echo "0 passed, 1 failed"
  exit 1
}

# port_busy tcp|udp PORT: something is bound there.
port_busy() {
  local flag=t
  [ "$1" = udp ] && flag=u
  ss -Hln"$flag" "sport = :$2" 2>/dev/null | grep -q .
}

# Below Linux's ephemeral range (32768+): HTTP in 10000-19999, media in 20000-31999 (16 ports).
pick_ports() {
  local p ok
  for _ in $(seq 50); do
    HTTP_PORT=$((10000 + RANDOM % 10000))
    port_busy tcp "$HTTP_PORT" || break
  done
  for _ in $(seq 50); do
    MEDIA_PORT=$((20000 + (RANDOM % 750) * 16))
    ok=1
    for p in $(seq "$MEDIA_PORT" $((MEDIA_PORT + 15))); do
      if port_busy udp "$p"; then ok=0; break; fi
    done
    [ "$ok" = 1 ] && break
  done
}

start_server() {
  local attempt
  for attempt in 1 2 3 4 5; do
    pick_ports
    "$BIN" serve --listen "127.0.0.1:$HTTP_PORT" --data-dir "$WORK/data" \
      --media-ip 127.0.0.1 --media-port "$MEDIA_PORT" >"$WORK/server.log" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 200); do
      if curl -fsS "http://127.0.0.1:$HTTP_PORT/healthz" >/dev/null 2>&1; then
        return 0
      fi
      kill -0 "$SERVER_PID" 2>/dev/null || break
      sleep 0.1
    done
    echo "smoke: server did not come up on :$HTTP_PORT / udp :$MEDIA_PORT (attempt $attempt)" >&2
    stop_server
  done
  fail "could not start oriel serve"
}

# json_field NAME JSON: the raw value of "NAME": in a one-line JSON object (numbers, bools).
json_field() {
  sed -n "s/.*\"$1\":\([^,}]*\).*/\1/p" <<<"$2" | head -n 1
}
json_string() {
  sed -n "s/.*\"$1\":\"\([^\"]*\)\".*/\1/p" <<<"$2" | head -n 1
}

# 1. An access token, straight into the data directory.
mkdir -p "$WORK/data"
TOKEN_JSON="$("$BIN" access-token create --data-dir "$WORK/data" --environment load --name smoke 2>"$WORK/token.log")" ||
  fail "access-token create failed: $(cat "$WORK/token.log")"
# Drop the nested environment object, whose "id" is not the token's.
TOKEN_ID="$(json_string id "$(sed 's/"environment":{[^}]*}//' <<<"$TOKEN_JSON")")"
TOKEN_SECRET="$(json_string secret "$TOKEN_JSON")"
[ -n "$TOKEN_ID" ] && [ -n "$TOKEN_SECRET" ] || fail "cannot read the access token from: $TOKEN_JSON"

# 2. The node.
start_server
API="http://127.0.0.1:$HTTP_PORT"
echo "smoke: oriel serving on $API, media on udp 127.0.0.1:$MEDIA_PORT (pid $SERVER_PID)" >&2

# 3. The load test.
set +e
timeout 180 "$BIN" load-test --api "$API" --token-id "$TOKEN_ID" --token-secret "$TOKEN_SECRET" \
  --publishers "$PUBLISHERS" --subscribers "$SUBSCRIBERS" --duration "$DURATION" \
  --storm-subscribers "$STORM" --storm-seconds 2 \
  --server-pid "$SERVER_PID" --json >"$WORK/out.json" 2>"$WORK/load.log"
RC=$?
set -e
cat "$WORK/load.log" >&2
[ "$RC" -eq 0 ] || fail "oriel load-test exited with $RC"
REPORT="$(tail -n 1 "$WORK/out.json")"
echo "smoke: report: $REPORT" >&2

# 4. The checks.
PUBS="$(json_field publishers_connected "$REPORT")"
SUBS="$(json_field subscribers_connected "$REPORT")"
PACKETS="$(json_field packets_received "$REPORT")"
LOSS="$(json_field loss_ratio "$REPORT")"
[ "$PUBS" = "$PUBLISHERS" ] || fail "publishers_connected is '$PUBS', expected $PUBLISHERS"
[ "$SUBS" = "$SUBSCRIBERS" ] || fail "subscribers_connected is '$SUBS', expected $SUBSCRIBERS"
[ -n "$PACKETS" ] && [ "$PACKETS" -gt 0 ] || fail "packets_received is '$PACKETS'"
awk -v loss="$LOSS" -v max="$MAX_LOSS" 'BEGIN { exit !(loss != "" && loss + 0 < max + 0) }' ||
  fail "loss_ratio is '$LOSS', expected under $MAX_LOSS"
STORMED="$(json_field storm_subscribers_connected "$REPORT")"
[ "$STORMED" = "$STORM" ] || fail "storm_subscribers_connected is '$STORMED', expected $STORM"
for key in delay_ms join_ms first_media_ms storm_join_ms storm_first_media_ms; do
  grep -q "\"$key\":{\"p50\":[0-9]" <<<"$REPORT" || fail "$key has no p50 in the report"
done

# 5. The load test cleaned up after itself.
SPACES="$(curl -fsS -u "$TOKEN_ID:$TOKEN_SECRET" "$API/video/v1/spaces")" || fail "cannot list spaces"
KEYS="$(curl -fsS -u "$TOKEN_ID:$TOKEN_SECRET" "$API/system/v1/signing-keys")" || fail "cannot list signing keys"
[ "$SPACES" = '{"data":[]}' ] || fail "the space was not deleted: $SPACES"
[ "$KEYS" = '{"data":[]}' ] || fail "the signing key was not deleted: $KEYS"

echo "smoke: PASS: $PUBS publisher and $SUBS subscribers connected, $PACKETS packets, loss $LOSS" >&2
echo "1 passed, 0 failed"

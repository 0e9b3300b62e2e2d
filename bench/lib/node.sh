# A private `oriel serve` on 127.0.0.1 for one bench run (sourced by profile.sh and
# join-storm.sh). Needs ORIEL (the binary) and jq.

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start_node DIR: a fresh node, its data in DIR/data and its log in DIR/server.log, up and
# answering /healthz; sets SERVER_PID, NODE_API (the REST base URL) and NODE_TOKEN_ID /
# NODE_TOKEN_SECRET (an access token of its own).
start_node() {
  local dir="$1" port token
  mkdir -p "$dir/data"
  port="$(free_port)"
  "$ORIEL" serve --listen "127.0.0.1:$port" --data-dir "$dir/data" --media-ip 127.0.0.1 \
    --media-port $((30000 + RANDOM % 20000)) --max-connections-per-ip 1000 >"$dir/server.log" 2>&1 &
  SERVER_PID=$!
  NODE_API="http://127.0.0.1:$port"
  for _ in $(seq 100); do curl -fs "$NODE_API/healthz" >/dev/null && break; sleep 0.1; done
  token="$("$ORIEL" access-token create --data-dir "$dir/data" --environment bench)"
  NODE_TOKEN_ID="$(jq -r .id <<<"$token")"
  NODE_TOKEN_SECRET="$(jq -r .secret <<<"$token")"
}

stop_node() {
  kill "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
}

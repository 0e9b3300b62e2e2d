#!/usr/bin/env bash
# Issue 17: one space of 1 publisher and 300 subscribers on a three-node cluster on this
# machine, against the same load on a single node, back to back in one run.
#
#   bench/cluster.sh                   # replaces the cluster section of bench/RESULTS.md
#   bench/cluster.sh --print           # only prints the section
#   CLUSTER_SUBSCRIBERS=100 BENCH_DURATION=10 bench/cluster.sh --print
#
# Runs (1 publisher of Opus + VP8 simulcast, `oriel load-test`, BENCH_WARMUP s of media once
# everyone is connected, then a BENCH_DURATION s window):
#   single node   one `oriel serve` (SQLite), the load test pointed at it
#   cluster       three `oriel serve` nodes given one private PostgreSQL (--database-url) and one
#                 private Redis (--redis-url), each with its own listener, media ports and
#                 --advertise-url; the load test pointed at a round-robin balancer in front of
#                 them (nginx, one process, plain HTTP with WebSocket upgrades, as in README.md's
#                 "Cluster" section), so the REST calls and the 301 WebSockets enter through
#                 the three nodes in turn. `oriel load-test` takes one --api URL and makes its
#                 own space, so one process behind a balancer is how one space gets its
#                 participants from all three nodes.
# A live space is held by one node (placement in Redis): a WebSocket landing on another node is
# relayed to the holder byte for byte. The holder takes CLUSTER_SPILL_AFTER participants' media
# (--spill-space-after), then the space spans nodes: the next ones' media goes to another
# node's worker, filled to the same number before the third is used, and the publisher's
# packets cross to each of those nodes once over a link between the nodes. The script reads the
# holder from Redis during the window and reports each node's CPU.
#
# CPU: utime + stime from /proc/PID/stat over the window (sampled when the load test says it
# measures, and BENCH_DURATION s later), per node, for the balancer, for Redis + PostgreSQL
# (the postmaster and its children) and, as "other", the rest of the machine (all CPUs busy
# minus those, the load generator and ksoftirqd). Packets per server CPU-second = packets the
# subscribers received per second / the CPU of all the Oriel nodes per second.
#
# Knobs: ORIEL_BIN (default target/release/oriel, built when missing), BENCH_RESULTS,
# BENCH_DURATION (20), BENCH_WARMUP (5), CLUSTER_SUBSCRIBERS (300), CLUSTER_SPILL_AFTER (100:
# about a third of the space per node), BENCH_QUIET_WAIT (seconds
# to wait for an idle machine before each run, default 60), BENCH_KEEP=1 (keep logs).
# Needs jq, curl, redis-server, PostgreSQL and nginx (installed from Debian when missing and
# root). Everything listens on 127.0.0.1; every wait is bounded; the servers this script
# starts are stopped by PID and its temp dir removed at exit.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=lib/section.sh
. "$ROOT/bench/lib/section.sh"
# shellcheck source=lib/generator.sh
. "$ROOT/bench/lib/generator.sh" # GENERATOR_NICE
# shellcheck source=lib/netns.sh
. "$ROOT/bench/lib/netns.sh" # machine_busy, wait_quiet (no namespace here)
RESULTS="${BENCH_RESULTS:-$ROOT/bench/RESULTS.md}"
ORIEL="${ORIEL_BIN:-$ROOT/target/release/oriel}"
SUBS="${CLUSTER_SUBSCRIBERS:-300}"
SPILL="${CLUSTER_SPILL_AFTER:-100}"
DURATION="${BENCH_DURATION:-20}"
WARMUP="${BENCH_WARMUP:-5}"
QUIET="${BENCH_QUIET_WAIT:-60}"
PRINT_ONLY=""
[[ "${1:-}" == --print ]] && PRINT_ONLY=1
HZ="$(getconf CLK_TCK 2>/dev/null || echo 100)"
log() { printf '[cluster] %s\n' "$*" >&2; }
die() { log "FAIL: $*"; exit 1; }

# ---- Tools --------------------------------------------------------------------------------
need=()
command -v jq >/dev/null || need+=(jq)
command -v curl >/dev/null || need+=(curl)
command -v redis-server >/dev/null || need+=(redis-server)
command -v redis-cli >/dev/null || need+=(redis-tools)
command -v nginx >/dev/null || need+=(nginx-core)
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || need+=(postgresql)
if [[ ${#need[@]} -gt 0 ]]; then
  [[ "$(id -u)" == 0 ]] || die "missing ${need[*]} (apt-get install them, or run as root)"
  log "installing ${need[*]}"
  apt-get update >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need[@]}" >/dev/null
fi
[[ -x "$ORIEL" ]] || cargo build --release -q -p oriel
[[ -x "$ORIEL" ]] || die "no oriel binary at $ORIEL"

# ---- What this script starts, stopped at exit ---------------------------------------------
WORK="$(mktemp -d "${TMPDIR:-/tmp}/oriel-cluster.XXXXXX")"
chmod 755 "$WORK" # PostgreSQL runs as `postgres` when we are root and must reach its dir
PIDS=()           # nodes, nginx, redis
PG_DIR=""
stop_pid() { # PID: TERM, up to 10 s, then KILL
  local pid="$1"
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
stop_all() {
  [[ -n "${LT_PID:-}" ]] && stop_pid "$LT_PID"
  local i
  # Last started first: the balancer, the nodes (which leave the registry), then Redis.
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do stop_pid "${PIDS[i]}"; done
  PIDS=()
  if [[ -n "$PG_DIR" ]]; then
    bash "$ROOT/scripts/lib/test-postgres.sh" stop "$PG_DIR" >/dev/null 2>&1 || true
    PG_DIR=""
  fi
}
cleanup() {
  stop_all
  if [[ -n "${BENCH_KEEP:-}" ]]; then log "logs kept in $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_http() { # URL PID WHAT
  for _ in $(seq 200); do
    curl -fs "$1" >/dev/null 2>&1 && return 0
    kill -0 "$2" 2>/dev/null || break
    sleep 0.1
  done
  die "$3 did not come up"
}

# utime + stime of a process, in clock ticks (0 when it is gone).
process_ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
# ... of a process and its direct children (the PostgreSQL postmaster and its backends).
tree_ticks() {
  local pid="$1" total child
  total="$(process_ticks "$pid")"
  for child in $(ps -o pid= --ppid "$pid" 2>/dev/null || true); do
    total=$((total + $(process_ticks "$child")))
  done
  echo "$total"
}
softirq_ticks() {
  local pid total=0
  for pid in $(pgrep ksoftirqd 2>/dev/null || true); do total=$((total + $(process_ticks "$pid"))); done
  echo "$total"
}

# Node NAME on a free port: `oriel serve` with its own data dir and media ports, plus EXTRA
# arguments (the cluster's URLs). Sets NODE_PID, NODE_PORT.
MEDIA_BASE=$((30000 + (RANDOM % 10) * 2000))
NODE_COUNT=0
start_node() { # NAME EXTRA...
  local name="$1" dir="$WORK/node-$1" media
  shift
  mkdir -p "$dir/data"
  NODE_PORT="$(free_port)"
  media=$((MEDIA_BASE + NODE_COUNT * 400)) # 2 workers' UDP/TCP ports, TURN at +100/+101
  NODE_COUNT=$((NODE_COUNT + 1))
  # --advertise-url is only allowed with --redis-url.
  [[ "$*" == *--redis-url* ]] && set -- "$@" --advertise-url "http://127.0.0.1:$NODE_PORT"
  "$ORIEL" serve --listen "127.0.0.1:$NODE_PORT" \
    --data-dir "$dir/data" --media-ip 127.0.0.1 --media-port "$media" \
    --max-connections-per-ip 2000 "$@" >"$dir/server.log" 2>&1 &
  NODE_PID=$!
  PIDS+=("$NODE_PID")
  wait_http "http://127.0.0.1:$NODE_PORT/healthz" "$NODE_PID" "node $name"
}

start_redis() { # sets REDIS_PORT
  REDIS_PORT="$(free_port)"
  mkdir -p "$WORK/redis"
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no \
    --dir "$WORK/redis" --logfile "$WORK/redis/redis.log" &
  REDIS_PID=$!
  PIDS+=("$REDIS_PID")
  for _ in $(seq 100); do
    [[ "$(redis-cli -p "$REDIS_PORT" ping 2>/dev/null)" == PONG ]] && return 0
    sleep 0.1
  done
  die "redis-server did not come up"
}

start_postgres() { # sets PG_URL, PG_PID
  PG_DIR="$WORK/pg"
  PG_URL="$(timeout 60 bash "$ROOT/scripts/lib/test-postgres.sh" start "$PG_DIR" | tail -n 1)"
  [[ "$PG_URL" == postgres://* ]] || die "test-postgres.sh printed no URL"
  PG_PID="$(head -n 1 "$PG_DIR/data/postmaster.pid")"
}

start_balancer() { # PORT... -> sets LB_PORT, LB_PID: round robin, WebSocket upgrades, 1 process
  local dir="$WORK/nginx" port servers=""
  mkdir -p "$dir"
  LB_PORT="$(free_port)"
  for port in "$@"; do servers+="    server 127.0.0.1:$port max_fails=1 fail_timeout=5s;"$'\n'; done
  cat >"$dir/nginx.conf" <<CONF
daemon off;
master_process off;
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 4096; }
http {
  log_format upstreams '\$upstream_addr \$status';
  access_log $dir/access.log upstreams;
  client_body_temp_path $dir/body;
  proxy_temp_path $dir/proxy;
  fastcgi_temp_path $dir/fastcgi;
  uwsgi_temp_path $dir/uwsgi;
  scgi_temp_path $dir/scgi;
  upstream oriel {
$servers  }
  server {
    listen 127.0.0.1:$LB_PORT;
    location / {
      proxy_pass http://oriel;
      proxy_next_upstream error timeout;
      proxy_connect_timeout 1s;
      proxy_http_version 1.1;
      proxy_set_header Host \$http_host;
      proxy_set_header Upgrade \$http_upgrade;
      proxy_set_header Connection "upgrade";
      proxy_read_timeout 1h;
    }
  }
}
CONF
  nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log" >"$dir/stdout.log" 2>&1 &
  LB_PID=$!
  PIDS+=("$LB_PID")
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$LB_PORT") 2>/dev/null && return 0
    kill -0 "$LB_PID" 2>/dev/null || break
    sleep 0.1
  done
  cat "$dir/error.log" >&2 || true
  die "nginx did not come up"
}

# measure NAME API TOKEN_JSON: runs the load test, samples CPU over its window, writes
# $WORK/NAME.json: the load test's report plus the script's figures. Uses NODES (name=pid
# words), LB_PID, REDIS_PID, PG_PID, REDIS_PORT when set.
measure() {
  local name="$1" api="$2" token="$3" dir="$WORK/$1" lt bound t0 t1 b0 b1 k0 k1 n pid
  local -A n0 n1
  local x0 x1 s0 s1 holder="" key id url
  mkdir -p "$dir"
  bound=$((DURATION + WARMUP + 240))
  wait_quiet "$QUIET" "the other CPU column"
  log "$name: 1 publisher, $SUBS subscribers, ${WARMUP}s warm-up, ${DURATION}s window"
  timeout "$bound" nice -n "$GENERATOR_NICE" "$ORIEL" load-test --api "$api" \
    --token-id "$(jq -r .id <<<"$token")" --token-secret "$(jq -r .secret <<<"$token")" \
    --publishers 1 --subscribers "$SUBS" --duration "$DURATION" --warmup "$WARMUP" \
    ${SINGLE_PID:+--server-pid "$SINGLE_PID"} --json >"$dir/out.json" 2>"$dir/load.log" &
  lt=$!
  LT_PID=$lt
  cut -d' ' -f1 /proc/loadavg >"$dir/loadavg"
  for _ in $(seq $((bound * 20))); do
    grep -q 'measuring for' "$dir/load.log" 2>/dev/null && break
    kill -0 "$lt" 2>/dev/null || break
    sleep 0.05
  done
  if grep -q 'measuring for' "$dir/load.log"; then
    t0="$(date +%s.%N)"; b0="$(machine_busy)"; k0="$(softirq_ticks)"
    for n in $NODES; do n0[$n]="$(process_ticks "${n#*=}")"; done
    x0=$(( ${LB_PID:+$(process_ticks "$LB_PID")}+0 ))
    s0=$(( ${REDIS_PID:+$(process_ticks "$REDIS_PID")}+0 + ${PG_PID:+$(tree_ticks "$PG_PID")}+0 ))
    if [[ -n "${REDIS_PORT:-}" ]]; then
      key="$(redis-cli -p "$REDIS_PORT" --scan --pattern 'oriel:space:*:node' | head -n 1)"
      id="$([[ -n "$key" ]] && redis-cli -p "$REDIS_PORT" get "$key" || true)"
      url="$([[ -n "$id" ]] && redis-cli -p "$REDIS_PORT" get "oriel:node:$id" | jq -r .url || true)"
      for n in $NODES; do
        if [[ "$url" == "http://127.0.0.1:${NODE_PORTS[${n%%=*}]}" ]]; then holder="${n%%=*}"; fi
      done
    fi
    sleep "$(awk -v d="$DURATION" -v t0="$t0" -v now="$(date +%s.%N)" 'BEGIN { s = d - (now - t0); print (s > 0 ? s : 0) }')"
    t1="$(date +%s.%N)"; b1="$(machine_busy)"; k1="$(softirq_ticks)"
    for n in $NODES; do n1[$n]="$(process_ticks "${n#*=}")"; done
    x1=$(( ${LB_PID:+$(process_ticks "$LB_PID")}+0 ))
    s1=$(( ${REDIS_PID:+$(process_ticks "$REDIS_PID")}+0 + ${PG_PID:+$(tree_ticks "$PG_PID")}+0 ))
  fi
  wait "$lt" || true
  LT_PID=""
  tail -n 3 "$dir/load.log" | sed 's/^/  /' >&2
  local report
  report="$(tail -n 1 "$dir/out.json" 2>/dev/null || true)"
  jq -e 'type == "object"' <<<"$report" >/dev/null 2>&1 || { tail -n 20 "$dir/load.log" >&2; die "$name: the load test printed no report"; }
  [[ -n "${t1:-}" ]] || die "$name: the load test never reached its window"
  local nodes_json="{}"
  for n in $NODES; do
    nodes_json="$(jq -c --arg k "${n%%=*}" --argjson v "$(( n1[$n] - n0[$n] ))" '. + {($k): $v}' <<<"$nodes_json")"
  done
  local upstreams="{}"
  if [[ -f "$WORK/nginx/access.log" ]]; then
    # WebSockets (101) that entered through each node.
    upstreams="$(awk '$2 == 101 { c[$1]++ } END { for (u in c) printf "%s %d\n", u, c[u] }' "$WORK/nginx/access.log" |
      while read -r u c; do
        for n in $NODES; do
          if [[ "$u" == "127.0.0.1:${NODE_PORTS[${n%%=*}]}" ]]; then echo "${n%%=*} $c"; fi
        done
      done |
      jq -Rn '[inputs | split(" ") | {(.[0]): (.[1] | tonumber)}] | add // {}')"
  fi
  jq -c --arg name "$name" --arg holder "$holder" --argjson nodes "$nodes_json" --argjson ws "$upstreams" \
    --argjson hz "$HZ" --argjson w "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" \
    --argjson busy "$((b1 - b0))" --argjson soft "$((k1 - k0))" --argjson lb "$((x1 - x0))" \
    --argjson store "$((s1 - s0))" --argjson load "$(cat "$dir/loadavg")" '
    def pct(t): (t / $hz / $w * 1000 | round) / 10;
    ([$nodes[]] | add) as $server
    | . + {run: $name, window_s: $w, holder: (if $holder == "" then null else $holder end),
        websockets_per_node: $ws,
        node_cpu_percent: ($nodes | map_values(pct(.))),
        nodes_cpu_percent: pct($server),
        balancer_cpu_percent: pct($lb), store_cpu_percent: pct($store),
        ksoftirqd_cpu_percent: pct($soft),
        other_cpu_percent: ([pct($busy - $server - $lb - $store - $soft) - .loadtest_cpu_percent, 0] | max | . * 10 | round / 10),
        packets_per_nodes_cpu_second: (if $server > 0 then (.packets_per_second / ($server / $hz / $w) | round) else null end),
        loadavg_at_start: $load}' <<<"$report" >"$WORK/$name.json"
}

STARTED="$(date -u '+%Y-%m-%d %H:%M UTC')"
declare -A NODE_PORTS

# ---- 1. Single node -----------------------------------------------------------------------
start_node single
NODE_PORTS[single]="$NODE_PORT"
SINGLE_PID="$NODE_PID"
token="$("$ORIEL" access-token create --data-dir "$WORK/node-single/data" --environment bench 2>/dev/null)"
NODES="single=$NODE_PID"
measure single "http://127.0.0.1:$NODE_PORT" "$token"
stop_all
SINGLE_PID=""
sleep 2

# ---- 2. Three-node cluster ----------------------------------------------------------------
log "cluster: private PostgreSQL and Redis, three nodes, nginx round robin"
start_postgres
start_redis
NODES=""
for name in A B C; do
  start_node "$name" --database-url "$PG_URL" --redis-url "redis://127.0.0.1:$REDIS_PORT" \
    --spill-space-after "$SPILL"
  NODE_PORTS[$name]="$NODE_PORT"
  NODES+="$name=$NODE_PID "
done
# Every node is in the registry (heartbeat once a second) before the first join is placed.
for _ in $(seq 100); do
  [[ "$(redis-cli -p "$REDIS_PORT" scard oriel:nodes)" == 3 ]] && break
  sleep 0.1
done
start_balancer "${NODE_PORTS[A]}" "${NODE_PORTS[B]}" "${NODE_PORTS[C]}"
token="$("$ORIEL" access-token create --database-url "$PG_URL" --environment bench 2>/dev/null)"
measure cluster "http://127.0.0.1:$LB_PORT" "$token"
stop_all

# ---- 3. The section -----------------------------------------------------------------------
row() { # FILE
  jq -r '
    def r2: . * 100 | round / 100;
    def ms: if . == null then "–" elif . > 2000 then "> 2000" else tostring end;
    "| \(if .run == "single" then "single node" else "cluster of 3" end)"
    + " | \(.subscribers_connected)/\(.subscribers)"
    + " | \(if .run == "single" then "–" else ([.websockets_per_node | to_entries | sort_by(.key)[] | "\(.key) \(.value)"] | join(" · ")) end)"
    + " | \(.packets_per_second | round)"
    + " | \(if .video_packets_received > 0 and .subscribers_connected > 0 then (.video_packets_received / .duration_s / .subscribers_connected | round) else "–" end)"
    + " | \(.loss_ratio * 100 | . * 1000 | round / 1000) %"
    + " | \(.delay_ms.p50 | ms) / \(.delay_ms.p99 | ms)"
    + " | \(.join_ms.p50 | round) / \(.join_ms.p99 | round)"
    + " | \(if .run == "single" then "\(.nodes_cpu_percent) %" else ([.node_cpu_percent | to_entries[] | "\(.key)\(if .key == $h then " (holder)" else "" end) \(.value) %"] | join(" · ")) + " = \(.nodes_cpu_percent) %" end)"
    + " | **\(.packets_per_nodes_cpu_second)**"
    + " | \(if .run == "single" then "–" else "\(.balancer_cpu_percent) % / \(.store_cpu_percent) %" end)"
    + " | \(.loadtest_cpu_percent) %"
    + " | \(.other_cpu_percent) %\(if .other_cpu_percent > 25 then " ⚠" else "" end) |"' --arg h "$(jq -r '.holder // ""' "$1")" "$1"
}
cpu_model="$(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -n 1)"
[[ -n "$cpu_model" ]] || cpu_model="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
holder="$(jq -r '.holder // "unknown"' "$WORK/cluster.json")"
section="$(cat <<MD
<!-- cluster:begin (bench/cluster.sh) -->
## One space on a three-node cluster: 1 publisher → $SUBS subscribers

Written by \`bench/cluster.sh\` on $STARTED, commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)
(binary \`$(basename "$ORIEL")\` built $(date -u -r "$ORIEL" '+%Y-%m-%d %H:%M UTC')).
Machine: $cpu_model (lscpu), $(nproc) CPUs; servers, load generator, balancer, Redis and
PostgreSQL all share them, on 127.0.0.1. One publisher (Opus + VP8 simulcast), one
\`oriel load-test\` process, ${WARMUP} s of media once everyone is connected, then a ${DURATION} s
window; the two runs back to back in one script run. Single node: \`oriel serve\` on SQLite, the
load test straight at it. Cluster: three \`oriel serve\` nodes on one private PostgreSQL and
Redis, the load test at a round-robin nginx (one process) in front of them, so its REST calls
and WebSockets enter through A, B and C in turn ("WebSockets in" counts the upgrades nginx
passed to each node); the node holding the space ($holder, read from Redis during the window)
gets the other nodes' joins relayed, takes the first $SPILL participants' media
(\`--spill-space-after $SPILL\`), and the space spans the other two nodes for the rest: the
publisher's packets cross once to each over a link between the nodes, and each forwards to its
own subscribers. Delay: publisher send
stamp to the subscriber socket's kernel receive time; join: from the WebSocket's upgrade to
\`joined\` (as \`oriel load-test\` times it). Server CPU: utime + stime of each
\`oriel serve\` over the window (/proc/PID/stat), % of one core; packets per server CPU-second
divides the packets the subscribers received by the CPU of all the nodes. Balancer and store:
nginx, and Redis + PostgreSQL (a stand-in for infrastructure that would run elsewhere), not
counted as server CPU. Other: the rest of the machine (⚠ above 25 %).

| setup | subscribers connected | WebSockets in, per node | packets/s received | video packets/s per stream | loss | delay p50 / p99 (ms) | join p50 / p99 (ms) | server CPU (% of a core) | packets per server CPU-second | balancer / Redis + PostgreSQL CPU | load gen CPU | other CPU |
|---|---|---|---|---|---|---|---|---|---|---|---|---|
$(row "$WORK/single.json")
$(row "$WORK/cluster.json")

<!-- cluster:reading -->
Reading it: (written after a run; a new run puts this placeholder back.)
<!-- cluster:reading:end -->

<details><summary>Raw reports (the load test's JSON with the script's figures)</summary>

\`\`\`
$(cat "$WORK/single.json")
$(cat "$WORK/cluster.json")
\`\`\`
</details>
<!-- cluster:end -->
MD
)"
if [[ -z "$PRINT_ONLY" ]]; then
  write_section "$RESULTS" cluster "$section"
  log "wrote $RESULTS"
fi
printf '%s\n' "$section"

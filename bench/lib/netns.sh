# Sourced by the benchmarks that run Janus (bench/run.sh, bench/quality.sh).
#
# janus_netns NS [EXTRA_ADDRESS...]: makes network namespace NS where 127.0.0.1 sits on a veth
# (`d0`) instead of `lo`, since Janus's ICE (libnice) refuses loopback devices; everything still
# uses 127.0.0.1. Extra loopback addresses (e.g. 127.0.0.2 for the impairment relay) go on the
# peer end `d1`, so that d0 keeps the one address Janus lists. Waits until d0 carries traffic:
# Janus lists its addresses once, at start.
#
# wait_quiet LIMIT_SECONDS WHAT: waits until the machine is quiet (under 10 % of one core busy
# for 3 s), so that a measurement does not start beside someone else's build or test run; says
# so on stderr and goes on when it stays busy for LIMIT_SECONDS. WHAT names where the rest of
# the machine's CPU is reported.

# Busy jiffies of all CPUs (user nice system irq softirq steal).
machine_busy() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9; exit }' /proc/stat; }

janus_netns() { # NS [EXTRA_ADDRESS...]
  local ns="$1" extra
  shift
  ip netns add "$ns"
  ip netns exec "$ns" sh -ec '
    ip link set lo up
    ip addr del 127.0.0.1/8 dev lo
    ip link add d0 type veth peer name d1
    ip link set d0 up
    ip link set d1 up
    ip addr add 127.0.0.1/8 dev d0
    sysctl -qw net.ipv4.conf.all.route_localnet=1
    sysctl -qw net.ipv6.conf.all.disable_ipv6=1 || true
  '
  for extra in "$@"; do
    ip netns exec "$ns" ip addr add "$extra/8" dev d1
  done
  for _ in $(seq 50); do
    ip netns exec "$ns" ip -o link show d0 | grep -q LOWER_UP && return 0
    sleep 0.1
  done
}

wait_quiet() { # LIMIT_SECONDS WHAT
  local limit="$1" what="$2" start b0 b1 hz
  hz="$(getconf CLK_TCK 2>/dev/null || echo 100)"
  start="$SECONDS"
  while [ $((SECONDS - start)) -lt "$limit" ]; do
    b0="$(machine_busy)"
    sleep 3
    b1="$(machine_busy)"
    if [ $(((b1 - b0) * 100 / hz / 3)) -lt 10 ]; then return 0; fi
  done
  printf 'the machine stayed busy for %ss; measuring anyway (see %s)\n' "$limit" "$what" >&2
}

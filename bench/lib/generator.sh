# How the load generators run beside the server (sourced by the bench scripts).
#
# A generator stands in for hundreds of clients on other machines, but here it shares the
# server's CPUs. At equal weight the scheduler splits a full box between them, and in the
# audio room 10 -> 300 (server and generator together asking for about both of 2 CPUs) the
# delay then measured the generator's share of the scheduler, p99 of hundreds of ms from run
# to run, not the server. At a lower priority the generator gets the CPU the server leaves,
# as remote clients would: its own lag does not enter the delay (stamped at the kernel's
# receive time), only a receive queue that overflowed would, and that counts as loss.
# BENCH_GENERATOR_NICE=0 gives both equal weight again. Every server is measured alike.
GENERATOR_NICE="${BENCH_GENERATOR_NICE:-10}"

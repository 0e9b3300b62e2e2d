//! The SFU core's CPU per datagram it sends: one publisher (Opus + three-layer VP8 simulcast)
//! fanned out to N subscribers in the simulation on virtual time, the thread CPU time inside
//! the space's calls (the sans-IO core and str0m, no sockets, no kernel) divided by the
//! datagrams the space sent. Virtual time makes the work the same from run to run, and thread
//! CPU time leaves out the other processes, though not the noise they make in a shared VM's
//! caches (about +-10 % from run to run, where the whole server under load varies by a
//! third). `bench/core-cost.sh` also counts the instructions under callgrind, which repeat
//! to a few hundredths of a percent, and compares two builds.
//!
//!   cargo bench -p oriel-sfu --bench core_cost
//!   CORE_COST_SUBSCRIBERS=100 CORE_COST_WORKERS=2 cargo bench -p oriel-sfu --bench core_cost
//!
//! Prints one line of JSON.

#[path = "../tests/sim/mod.rs"]
mod sim;

use std::time::Duration;

/// The server's allocator: allocation is part of the cost per packet.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use sim::{ClientConfig, Sim};
use str0m::media::MediaKind;

/// Before the measured window: ICE, DTLS, the first keyframes and the bandwidth estimates'
/// climb to the top layer.
const WARM_UP: Duration = Duration::from_secs(8);

fn setting(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(value) => value
            .parse()
            .unwrap_or_else(|_| panic!("{name}={value:?} is not a whole number")),
        Err(_) => default,
    }
}

fn main() {
    // `cargo test --benches` runs this too: there, do nothing.
    if std::env::args().any(|a| a == "--test" || a == "--list") {
        return;
    }
    let subscribers = setting("CORE_COST_SUBSCRIBERS", 40) as usize;
    let workers = setting("CORE_COST_WORKERS", 1) as usize;
    let measured = Duration::from_secs(setting("CORE_COST_SECONDS", 20));
    let seed = setting("CORE_COST_SEED", 1);

    let mut sim = Sim::with_shards(seed, workers);
    sim.join(ClientConfig::publisher("publisher"));
    for n in 0..subscribers {
        sim.join(ClientConfig::subscriber(&format!("subscriber-{n}")));
    }
    sim.run_for(WARM_UP);
    let sent_before = sim.stats.transmits;
    let measured_from = sim.now;
    // Off under valgrind (bench/core-cost.sh counts instructions there), which cannot run
    // rustix's vDSO lookup behind the thread CPU clock.
    if setting("CORE_COST_THREAD_CPU", 1) == 1 {
        sim.stats.core_cpu.enable();
    }
    sim.run_for(measured);
    let sent = sim.stats.transmits - sent_before;
    let cpu = sim.stats.core_cpu.total();
    let receiving = sim.clients[1..]
        .iter()
        .filter(|c| {
            c.errors.is_empty()
                && [MediaKind::Audio, MediaKind::Video]
                    .iter()
                    .all(|&kind| c.received_from_since(0, kind, measured_from) > 0)
        })
        .count();
    assert_eq!(
        receiving, subscribers,
        "every subscriber gets audio and video, or the figure means nothing"
    );
    println!(
        "{{\"subscribers\":{subscribers},\"workers\":{workers},\"seconds\":{},\"datagrams_sent\":{sent},\"core_cpu_ms\":{:.1},\"us_per_datagram\":{:.3}}}",
        measured.as_secs(),
        cpu.as_secs_f64() * 1e3,
        cpu.as_secs_f64() * 1e6 / sent.max(1) as f64,
    );
}

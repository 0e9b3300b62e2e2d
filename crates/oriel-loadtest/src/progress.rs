//! The progress line a load generator prints once a second: who is joined and connected, what
//! the subscribers received in the last second, and the server's CPU. Shared by
//! `oriel load-test` and the Janus generator of `bench/`, so both read the same.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::cpu::CpuClock;
use crate::metrics::Metrics;

/// Participants wanted, joined and with media connected, at one moment.
#[derive(Clone, Copy, Debug, Default)]
pub struct PeerCounts {
    pub publishers_wanted: usize,
    pub publishers_joined: usize,
    pub publishers_connected: usize,
    pub subscribers_wanted: usize,
    pub subscribers_joined: usize,
    pub subscribers_connected: usize,
}

/// Prints a progress line to stderr every second until `stop` turns true.
pub async fn progress_lines(
    counts: impl Fn() -> PeerCounts,
    metrics: Arc<Metrics>,
    server_cpu: Option<CpuClock>,
    started: Instant,
    mut stop: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.tick().await;
    let mut last = metrics.snapshot();
    let mut last_cpu = server_cpu.as_ref().and_then(CpuClock::seconds);
    let mut last_at = Instant::now();
    // Bounded: every run is bounded and sets `stop` at its end.
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        let now = metrics.snapshot();
        let elapsed = last_at.elapsed().as_secs_f64().max(1e-3);
        last_at = Instant::now();
        let delta = now.since(&last);
        let cpu = server_cpu.as_ref().and_then(CpuClock::seconds);
        let cpu_text = match (last_cpu, cpu) {
            (Some(b), Some(a)) => format!(" | server cpu {:.0}%", (a - b) / elapsed * 100.0),
            _ => String::new(),
        };
        last_cpu = cpu;
        let delay = |q| {
            delta
                .delay
                .quantile_ms(q)
                .map_or_else(|| "-".to_owned(), |d| format!("{d:.2}"))
        };
        let c = counts();
        eprintln!(
            "[{:>4}s] pub {}/{} ({} up) sub {}/{} ({} up) | rx {:.0} pkt/s {:.2} Mbit/s | loss {:.2}% | delay p50 {} p99 {} ms{}",
            started.elapsed().as_secs(),
            c.publishers_joined,
            c.publishers_wanted,
            c.publishers_connected,
            c.subscribers_joined,
            c.subscribers_wanted,
            c.subscribers_connected,
            delta.packets as f64 / elapsed,
            delta.bytes as f64 * 8.0 / elapsed / 1e6,
            delta.loss_ratio() * 100.0,
            delay(0.5),
            delay(0.99),
            cpu_text,
        );
        last = now;
    }
}

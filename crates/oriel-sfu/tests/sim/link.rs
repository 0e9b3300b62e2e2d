//! One direction of a simulated network path: latency, random loss and an optional bottleneck.
//!
//! A [`Link`] is a FIFO of datagrams in flight, sans-IO like everything else here: `send` at
//! the virtual `now`, ask `poll_timeout` when the head arrives, take it with `poll_delivery`.
//! The bottleneck serialises packets at `rate_bps` behind a drop-tail queue of at most `queue`
//! of waiting time, which is what makes a congestion controller see delay grow and then loss,
//! as on a real access link.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::rng::Rng;

/// IPv4 + UDP headers, counted against the bottleneck rate like on a real link.
const IP_UDP_OVERHEAD: usize = 28;

#[derive(Clone, Copy, Debug)]
pub struct LinkConfig {
    /// One-way propagation delay.
    pub latency: Duration,
    /// Probability that a datagram is lost, independently of the others.
    pub loss: f64,
    /// Bottleneck rate in bits per second; `None` for unlimited.
    pub rate_bps: Option<u64>,
    /// Longest a datagram may wait in the bottleneck queue before it is tail-dropped.
    pub queue: Duration,
}

impl LinkConfig {
    /// 20 ms one way, no loss, no bottleneck: a good wired connection.
    pub fn clean() -> Self {
        Self {
            latency: Duration::from_millis(20),
            loss: 0.0,
            rate_bps: None,
            queue: Duration::from_millis(200),
        }
    }

    pub fn loss(mut self, loss: f64) -> Self {
        self.loss = loss;
        self
    }

    pub fn latency(mut self, latency: Duration) -> Self {
        self.latency = latency;
        self
    }

    pub fn rate_kbps(mut self, kbps: u64) -> Self {
        self.rate_bps = Some(kbps * 1000);
        self
    }

    pub fn unlimited(mut self) -> Self {
        self.rate_bps = None;
        self
    }
}

#[derive(Clone, Debug)]
pub struct Datagram {
    pub source: SocketAddr,
    pub destination: SocketAddr,
    pub contents: Vec<u8>,
}

#[derive(Clone, Copy, Debug, Default)]
pub struct LinkStats {
    pub sent: u64,
    pub lost: u64,
    pub queue_drops: u64,
    pub delivered: u64,
}

pub struct Link {
    pub config: LinkConfig,
    pub stats: LinkStats,
    rng: Rng,
    in_flight: VecDeque<(Instant, Datagram)>,
    /// When the bottleneck finishes serialising what it already holds.
    busy_until: Option<Instant>,
}

impl Link {
    pub fn new(config: LinkConfig, rng: Rng) -> Self {
        Self {
            config,
            stats: LinkStats::default(),
            rng,
            in_flight: VecDeque::new(),
            busy_until: None,
        }
    }

    pub fn send(&mut self, now: Instant, datagram: Datagram) {
        self.stats.sent += 1;
        if self.rng.chance(self.config.loss) {
            self.stats.lost += 1;
            return;
        }
        let mut leaves = now;
        if let Some(rate) = self.config.rate_bps {
            let start = self.busy_until.map_or(now, |busy| busy.max(now));
            if start - now > self.config.queue {
                self.stats.queue_drops += 1;
                return;
            }
            let bits = ((datagram.contents.len() + IP_UDP_OVERHEAD) * 8) as u64;
            leaves = start + Duration::from_nanos(bits * 1_000_000_000 / rate.max(1));
            self.busy_until = Some(leaves);
        }
        // A latency change mid-run must not reorder: the path stays FIFO.
        let mut arrives = leaves + self.config.latency;
        if let Some((last, _)) = self.in_flight.back() {
            arrives = arrives.max(*last);
        }
        self.in_flight.push_back((arrives, datagram));
    }

    /// When the next datagram arrives at the far end.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.in_flight.front().map(|(at, _)| *at)
    }

    /// The next datagram that has arrived by `now`.
    pub fn poll_delivery(&mut self, now: Instant) -> Option<Datagram> {
        if self.in_flight.front().is_some_and(|(at, _)| *at <= now) {
            self.stats.delivered += 1;
            return self.in_flight.pop_front().map(|(_, d)| d);
        }
        None
    }
}

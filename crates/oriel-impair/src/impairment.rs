//! What one direction of the link does to packets, as the control lines spell it (JSON).

use std::time::Duration;

use serde::{Deserialize, Serialize};
use str0m_netem::{Bitrate, DataSize, GilbertElliot, NetemConfig, Probability, RandomLoss};

/// One direction's impairment. Absent fields mean "none".
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Impairment {
    /// Share of packets lost, 0..1.
    #[serde(default)]
    pub loss: f32,
    /// Mean length of a loss burst in packets: above 1, losses come in bursts (Gilbert-Elliott,
    /// keeping `loss` as the long-run share); 1 or absent, each packet is lost on its own.
    #[serde(default)]
    pub loss_burst: Option<f32>,
    #[serde(default)]
    pub delay_ms: u64,
    /// Delay varies by up to this much either way.
    #[serde(default)]
    pub jitter_ms: u64,
    /// Share of packets sent twice, 0..1.
    #[serde(default)]
    pub duplicate: f32,
    /// One packet in this many overtakes the one before it.
    #[serde(default)]
    pub reorder_gap: Option<u32>,
    /// A rate cap in kbit/s, with a queue of `queue_ms` at that rate (tail drop beyond it).
    #[serde(default)]
    pub rate_kbps: Option<u64>,
    #[serde(default = "default_queue_ms")]
    pub queue_ms: u64,
}

fn default_queue_ms() -> u64 {
    200
}

/// Which way an impairment applies: `up` is client to node, `down` node to client.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Up,
    Down,
}

impl Impairment {
    /// Refuses values that mean nothing (a share outside 0..1, a zero rate).
    pub fn validate(&self) -> Result<(), String> {
        for (name, share) in [("loss", self.loss), ("duplicate", self.duplicate)] {
            if !(0.0..=1.0).contains(&share) {
                return Err(format!("{name} must lie in 0..1, not {share}"));
            }
        }
        if self.loss_burst.is_some_and(|b| b.is_nan() || b < 1.0) {
            return Err("loss_burst must be at least 1 packet".into());
        }
        if self.rate_kbps == Some(0) {
            return Err("rate_kbps must be above 0 (leave it out for no cap)".into());
        }
        if self.reorder_gap == Some(0) {
            return Err("reorder_gap must be above 0".into());
        }
        Ok(())
    }

    /// The emulator's configuration; `seed` keeps runs repeatable.
    pub fn netem_config(&self, seed: u64) -> NetemConfig {
        let mut config = NetemConfig::new()
            .latency(Duration::from_millis(self.delay_ms))
            .jitter(Duration::from_millis(self.jitter_ms))
            .duplicate(Probability::new(self.duplicate))
            .seed(seed);
        match self.loss_burst {
            Some(burst) if burst > 1.0 && self.loss > 0.0 && self.loss < 1.0 => {
                // In the bad state every packet is lost and it lasts `burst` packets on average;
                // the good state lasts so long that the long-run share is `loss`.
                let good = burst * (1.0 - self.loss) / self.loss;
                config = config.loss(
                    GilbertElliot::new()
                        .good_duration(good)
                        .bad_duration(burst)
                        .loss_in_bad(Probability::new(1.0))
                        .loss_in_good(Probability::new(0.0)),
                );
            }
            _ if self.loss > 0.0 => {
                config = config.loss(RandomLoss::new(Probability::new(self.loss)));
            }
            _ => {}
        }
        if let Some(gap) = self.reorder_gap {
            config = config.reorder_gap(gap);
        }
        if let Some(kbps) = self.rate_kbps {
            let queue_bytes = kbps * self.queue_ms / 8;
            config = config.link(
                Bitrate::kbps(kbps),
                DataSize::bytes(queue_bytes.max(1500) as i64),
            );
        }
        config
    }
}

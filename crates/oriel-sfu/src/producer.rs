//! A published track: media coming in from one publisher transceiver.

use std::time::Instant;

use oriel_media::{BitrateMeter, KeyframeThrottle};
use oriel_proto::Track;
use str0m::format::PayloadParams;
use str0m::media::{Mid, Pt};

use crate::ids::ProducerId;
use crate::ConnectionKey;

/// Spatial layers a producer can have (simulcast q, h, f).
pub(crate) const LAYER_COUNT: usize = 3;

pub(crate) struct Producer {
    pub(crate) id: ProducerId,
    pub(crate) connection: ConnectionKey,
    pub(crate) mid: Mid,
    pub(crate) track: Track,
    pub(crate) simulcast: bool,
    /// Subscribers this producer is forwarded to.
    pub(crate) consumers: Vec<ConnectionKey>,
    /// Measured bitrate of each layer; 0 means the layer does not flow.
    pub(crate) meters: [BitrateMeter; LAYER_COUNT],
    /// Coalesces and paces keyframe requests to the publisher, per layer.
    pub(crate) keyframes: KeyframeThrottle,
    /// Codec parameters of each payload type seen, learnt on first use.
    pub(crate) payload_types: Vec<(Pt, PayloadParams)>,
    /// When this track was last among the active speakers (audio only).
    pub(crate) last_spoke_at: Option<Instant>,
}

impl Producer {
    pub(crate) fn new(
        id: ProducerId,
        connection: ConnectionKey,
        mid: Mid,
        track: Track,
        simulcast: bool,
    ) -> Self {
        Self {
            id,
            connection,
            mid,
            track,
            simulcast,
            consumers: Vec::new(),
            meters: Default::default(),
            keyframes: KeyframeThrottle::default(),
            payload_types: Vec::new(),
            last_spoke_at: None,
        }
    }

    /// Current bitrate of every layer, in bits per second.
    pub(crate) fn layer_bitrates(&self, now: Instant) -> [u64; LAYER_COUNT] {
        std::array::from_fn(|layer| self.meters[layer].bitrate_bps(now))
    }
}

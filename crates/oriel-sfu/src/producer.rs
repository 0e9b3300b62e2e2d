//! A published track: media coming in from one publisher transceiver.

use std::time::{Duration, Instant};

use oriel_media::{BitrateMeter, KeyframeThrottle, SequenceGaps};
use oriel_proto::Track;
use str0m::format::{Codec, PayloadParams};
use str0m::media::{Mid, Pt};

use crate::ids::ProducerId;
use crate::ConnectionKey;

/// Spatial layers a producer can have (simulcast q, h, f).
pub(crate) const LAYER_COUNT: usize = 3;
/// A layer that sent nothing for this long has stopped: a publisher whose own estimate falls
/// pauses its top layer between two frames, and its consumers must switch to a layer still
/// sent (at the next keyframe) instead of freezing until the one-second bitrate reads 0. Frames
/// come every 50-70 ms; even 30 % loss does not silence a layer for this long.
const LAYER_STOPPED_AFTER: Duration = Duration::from_millis(300);

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
    /// Packets of each layer lost for good (NACK repair gave out): each breaks the stream of
    /// every consumer of the layer until a keyframe.
    pub(crate) losses: [SequenceGaps; LAYER_COUNT],
    /// Codec parameters of each payload type seen, learnt on first use.
    pub(crate) payload_types: Vec<(Pt, PayloadParams)>,
    /// When this track was last among the active speakers (audio only).
    pub(crate) last_spoke_at: Option<Instant>,
    /// Height of each layer as its latest keyframe announced it; 0 until one did (VP8 only:
    /// H.264 layers keep the estimate from the announced track height).
    pub(crate) layer_heights: [u16; LAYER_COUNT],
    /// A mirror of another shard's producer: its packets come relayed, its keyframe requests
    /// go back to that shard (see `crate::shard`).
    pub(crate) remote: bool,
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
            losses: Default::default(),
            payload_types: Vec::new(),
            last_spoke_at: None,
            layer_heights: [0; LAYER_COUNT],
            remote: false,
        }
    }

    /// Notes the picture height a keyframe of `layer` announces.
    pub(crate) fn keyframe_seen(&mut self, layer: u8, params: PayloadParams, payload: &[u8]) {
        if params.spec().codec == Codec::Vp8 {
            if let Some((_, height)) = oriel_media::vp8::keyframe_dimensions(payload) {
                self.layer_heights[usize::from(layer)] = height;
            }
        }
    }

    /// The lowest layer at least `height` pixels tall, or the top one when none is. A layer
    /// whose height no keyframe told yet is taken as the announced track height halved once
    /// per layer below the top (the simulcast encodings both SDKs use).
    pub(crate) fn layer_fitting(&self, height: u32) -> u8 {
        if !self.simulcast {
            return 0;
        }
        let top = LAYER_COUNT - 1;
        (0..top)
            .find(|&layer| {
                let known = u32::from(self.layer_heights[layer]);
                let estimate = self.track.height >> (top - layer);
                let layer_height = if known > 0 { known } else { estimate };
                layer_height > 0 && layer_height >= height
            })
            .unwrap_or(top) as u8
    }

    /// Current bitrate of every layer, in bits per second.
    pub(crate) fn layer_bitrates(&self, now: Instant) -> [u64; LAYER_COUNT] {
        std::array::from_fn(|layer| {
            let meter = &self.meters[layer];
            if meter.is_flowing(now, LAYER_STOPPED_AFTER) {
                meter.bitrate_bps(now)
            } else {
                0
            }
        })
    }
}

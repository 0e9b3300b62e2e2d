//! A consumer: one producer forwarded to one subscriber, as one continuous RTP stream.

use std::time::{Duration, Instant};

use oriel_media::{LayerSelector, SourcePacket, StreamRewriter, Vp8PictureRewriter};
use str0m::format::{Codec, PayloadParams};
use str0m::media::{MediaKind, MediaTime, Mid, Pt};
use str0m::rtp::{ExtensionValues, RtpWrite, SeqNo, Ssrc};

use crate::forwarded_packet::ForwardedPacket;
use str0m::Rtc;

use crate::ids::ProducerId;

/// Layer a video consumer starts on: the lowest, whose keyframes are small and come first.
const INITIAL_LAYER: u8 = 0;
/// The maximum sent with a minimum playout delay: no limit the browser would ever reach (0 would
/// mean "play at once, never buffer").
const MAX_PLAYOUT_DELAY: MediaTime = MediaTime::from_secs(10);

pub(crate) struct Consumer {
    pub(crate) producer: ProducerId,
    /// The m-line carrying it on the subscriber PC.
    pub(crate) mid: Mid,
    pub(crate) kind: MediaKind,
    open: bool,
    rewriter: StreamRewriter,
    pictures: Vp8PictureRewriter,
    selector: LayerSelector,
    /// Outgoing sequence numbers start below 2^16 whatever the publisher's rollover count,
    /// so the subscriber's SRTP context (which assumes a rollover count of 0) agrees.
    seq_base: Option<u64>,
    /// Publisher payload type to the subscriber's payload type and whether this leg's SDP
    /// offers NACK for it (str0m's codec config: video yes, audio no), learnt on first use.
    payload_type: Option<(Pt, Option<(Pt, bool)>)>,
    /// The SSRC of this consumer's send stream, once the subscriber answered the offer
    /// carrying it; looked up by SSRC (a hash) rather than by mid (a scan) per packet.
    send_ssrc: Option<Ssrc>,
    /// Whether str0m's pacer lets this video through as it comes (see [`Self::set_unpaced`]).
    unpaced: bool,
    pub(crate) packets_forwarded: u64,
    /// The minimum playout delay told to the browser on every video packet, once there has
    /// been one to tell (zero after it lifts: the browser keeps the last value it saw).
    min_playout_delay: Option<Duration>,
    /// The link cannot carry the layer being forwarded (see [`Self::set_over_budget`]).
    over_budget: bool,
    /// The highest layer allowed at the last [`Self::retarget`] (the subscriber's max_height).
    max_layer: u8,
    /// The subscriber's cumulative NACK and loss counts for this stream as last reported,
    /// so that each report adds only what is new.
    pub(crate) nacks_reported: u64,
    pub(crate) lost_reported: u64,
}

impl Consumer {
    pub(crate) fn new(producer: ProducerId, mid: Mid, kind: MediaKind) -> Self {
        let mut rewriter = StreamRewriter::new();
        rewriter.switch_to(INITIAL_LAYER);
        Self {
            producer,
            mid,
            kind,
            open: true,
            rewriter,
            pictures: Vp8PictureRewriter::new(),
            selector: LayerSelector::default(),
            seq_base: None,
            payload_type: None,
            send_ssrc: None,
            unpaced: false,
            packets_forwarded: 0,
            min_playout_delay: None,
            over_budget: false,
            max_layer: u8::MAX,
            nacks_reported: 0,
            lost_reported: 0,
        }
    }

    pub(crate) fn is_open(&self) -> bool {
        self.open
    }

    pub(crate) fn close(&mut self) {
        self.open = false;
    }

    /// The layer this consumer forwards, or is about to: what a keyframe request targets.
    pub(crate) fn wanted_layer(&self) -> u8 {
        self.rewriter
            .target_layer()
            .or(self.rewriter.current_layer())
            .unwrap_or(INITIAL_LAYER)
    }

    /// Whether a keyframe of [`Self::wanted_layer`] is needed before more can be forwarded.
    pub(crate) fn needs_keyframe(&self) -> bool {
        self.open && self.kind == MediaKind::Video && self.rewriter.target_layer().is_some()
    }

    /// Writes one packet of the producer to the subscriber if this consumer forwards it.
    /// Returns whether something was written.
    pub(crate) fn forward(
        &mut self,
        now: Instant,
        packet: &ForwardedPacket,
        layer: u8,
        is_keyframe_start: bool,
        params: PayloadParams,
        rtc: &mut Rtc,
    ) -> bool {
        if !self.open {
            return false;
        }
        // Before the answer there is nowhere to send: the rewriter must not open its stream
        // on a keyframe that would be dropped, or the subscriber starts on a delta frame.
        if self.send_ssrc.is_none() {
            let mut api = rtc.direct_api();
            let Some(stream) = api.stream_tx_by_mid(self.mid, None) else {
                return false;
            };
            self.send_ssrc = Some(stream.ssrc());
        }
        let source = SourcePacket {
            layer,
            seq: packet.seq_no,
            timestamp: packet.rtp_timestamp,
            clock_rate: params.spec().clock_rate.get(),
            arrival: now,
            // Every audio packet can start a stream.
            is_keyframe_start: is_keyframe_start || self.kind == MediaKind::Audio,
        };
        if self.over_budget && self.is_switching_down_from(layer) {
            // The link is short of this layer: every packet of it now only queues ahead of
            // the lower layer's keyframe, and its frames would not get through whole anyway.
            return false;
        }
        let Some(out) = self.rewriter.rewrite(&source) else {
            return false;
        };
        let pt_in = packet.payload_type;
        let pt_out = match self.payload_type {
            Some((pt, mapped)) if pt == pt_in => mapped,
            _ => {
                let mapped = rtc
                    .codec_config()
                    .match_params(params)
                    .map(|p| (p.pt(), p.fb_nack()));
                self.payload_type = Some((pt_in, mapped));
                mapped
            }
        };
        let Some((pt_out, nackable)) = pt_out else {
            return false;
        };
        let base = *self.seq_base.get_or_insert(out.seq & !0xffff);
        let seq = out.seq.wrapping_sub(base);
        // Only the extensions that describe the media travel on; str0m writes the transport
        // extensions (mid, twcc, abs-send-time) of this leg itself.
        let mut ext_vals = ExtensionValues {
            audio_level: packet.audio_level,
            voice_activity: packet.voice_activity,
            video_orientation: packet.video_orientation,
            ..Default::default()
        };
        if let Some(min) = self
            .min_playout_delay
            .filter(|_| self.kind == MediaKind::Video)
        {
            ext_vals.play_delay_min = Some(MediaTime::from_millis(min.as_millis() as u64));
            ext_vals.play_delay_max = Some(MAX_PLAYOUT_DELAY);
        }
        let mut write = RtpWrite::new(
            pt_out,
            SeqNo::from(seq),
            out.timestamp,
            now,
            packet.payload.clone(),
        )
        .marker(packet.marker)
        .ext_vals(ext_vals)
        // Kept for resending only where the subscriber may ask for it (`nack` in the SDP):
        // not audio, whose packets each cost a 400-byte move and an eviction in that cache.
        .nackable(nackable);
        if params.spec().codec == Codec::Vp8 {
            if let Some(patch) = self.vp8_patch(&packet.payload, out.epoch) {
                write = write.vp8_patch(patch);
            }
        }
        let unpaced = (self.kind == MediaKind::Video).then_some(self.unpaced);
        let mut api = rtc.direct_api();
        let write = match self.send_ssrc {
            Some(ssrc) => match api.write_rtp(ssrc, unpaced, write) {
                Ok(()) => {
                    self.packets_forwarded += 1;
                    return true;
                }
                Err(write) => write,
            },
            None => write,
        };
        // The first packet, or renegotiated under us: find the stream again.
        self.send_ssrc = api.stream_tx_by_mid(self.mid, None).map(|s| s.ssrc());
        let Some(ssrc) = self.send_ssrc else {
            // Not negotiated yet: the answer to our offer has not come back.
            return false;
        };
        if api.write_rtp(ssrc, unpaced, write).is_err() {
            return false;
        }
        self.packets_forwarded += 1;
        true
    }

    /// Keeps picture ids continuous across layer switches, as the browser's frame reference
    /// finder expects; the payload itself is shared, str0m patches the bytes on the way out.
    fn vp8_patch(&mut self, payload: &[u8], epoch: u32) -> Option<str0m::rtp::Vp8Patch> {
        let ours = oriel_media::Vp8Descriptor::parse(payload)?;
        let mapped = self.pictures.map(&ours, epoch);
        let descriptor = str0m::rtp::Vp8Descriptor::parse(payload).ok()?;
        let mut builder = descriptor.patch();
        if let Some(picture_id) = mapped.picture_id {
            builder = builder.picture_id(picture_id);
        }
        if let Some(tl0) = mapped.tl0picidx {
            builder = builder.tl0_pic_idx(tl0);
        }
        builder.build().ok()
    }

    /// Video is paced by str0m (at 1.1 x the estimate) while the link is short of what the
    /// subscriber should get, and forwarded as it comes once the estimate covers it: the
    /// publisher already paced it, and pacing it again only holds each keyframe back for
    /// tens of milliseconds behind the pacer's budget. Audio is never paced.
    pub(crate) fn set_unpaced(&mut self, unpaced: bool) {
        self.unpaced = unpaced;
    }

    /// The minimum playout delay from now on (see [`oriel_media::PlayoutDelay`]).
    pub(crate) fn set_min_playout_delay(&mut self, delay: Duration) {
        if self.min_playout_delay.is_some() || !delay.is_zero() {
            self.min_playout_delay = Some(delay);
        }
    }

    /// Whether the link to the subscriber carries less than the layer being forwarded now:
    /// while a lower layer is on its way, that layer's packets are no longer sent.
    pub(crate) fn set_over_budget(&mut self, over_budget: bool) {
        self.over_budget = over_budget;
    }

    /// Whether `layer` is the one forwarded now while a lower one waits for its keyframe.
    fn is_switching_down_from(&self, layer: u8) -> bool {
        match (self.rewriter.current_layer(), self.rewriter.target_layer()) {
            (Some(current), Some(target)) => current == layer && target < current,
            _ => false,
        }
    }

    /// The layer being forwarded now, if any.
    pub(crate) fn current_layer(&self) -> Option<u8> {
        self.rewriter.current_layer()
    }

    /// Picks the layer, at most `max_layer`, that fits `budget_bps` given what each layer
    /// measures; returns it when it changed, so that the caller asks the publisher for a
    /// keyframe of it.
    pub(crate) fn retarget(
        &mut self,
        now: Instant,
        budget_bps: u64,
        layer_bitrates: &[u64],
        max_layer: u8,
    ) -> Option<u8> {
        // A subscriber that asks for more (its tile grew: a new active speaker, a participant
        // left) gets it as soon as the link carries it, without the up-switch hold that guards
        // against a noisy estimate.
        if max_layer > self.max_layer {
            self.selector.reset();
        }
        self.max_layer = max_layer;
        let target = self
            .selector
            .select(budget_bps, layer_bitrates, max_layer, now)?;
        if target == self.wanted_layer() {
            return None;
        }
        self.rewriter.switch_to(target);
        Some(target)
    }
}

/// Whether a payload starts a keyframe, for the codecs Oriel forwards.
pub(crate) fn is_keyframe(params: PayloadParams, payload: &[u8]) -> bool {
    match params.spec().codec {
        Codec::Vp8 => oriel_media::vp8::is_keyframe(payload),
        Codec::H264 => oriel_media::h264::is_keyframe(payload),
        _ => false,
    }
}

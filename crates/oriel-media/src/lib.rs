//! Per-packet media helpers for the Oriel SFU.
//!
//! This crate holds the codec knowledge and the small pieces of per-packet state that the SFU core
//! (str0m in RTP mode, one `Rtc` per peer connection) runs for every packet it forwards. Each
//! module is one concept, is pure, and is tested on its own, in the spirit of mediasoup's
//! `SeqManager` and `KeyFrameRequestManager`.
//!
//! # Rules every module follows
//!
//! - **Sans-IO.** No sockets, no threads, no clock. Time is always a `now: Instant` (or an
//!   `arrival: Instant`) parameter, as in str0m. The crate's `clippy.toml` forbids
//!   `Instant::now()` so this stays true.
//! - **No allocation on the hot path.** Per-packet calls touch only fixed-size state or buffers
//!   the caller owns. The few types that need a `Vec` ([`ActiveSpeakerDetector`],
//!   [`subscription_priority::choose`]'s output) allocate up front or reuse the caller's buffer.
//! - **Network input never panics.** Parsers return `None` on garbage and are tested with random
//!   bytes and every truncation.
//! - **Vocabulary from mediasoup.** A *Producer* is media coming in, a *Consumer* is media going
//!   out, and layer state goes *preferred* (what the subscriber allows) → *target* (what the
//!   [`LayerSelector`] picks and the Consumer asks the [`StreamRewriter`] for) → *current* (what
//!   the [`StreamRewriter`] actually forwards, which changes only on a keyframe).
//!
//! # Modules
//!
//! | module | what it is for |
//! |---|---|
//! | [`vp8`] | Parse the VP8 RTP payload descriptor (RFC 7741), detect keyframes, and rewrite picture id and TL0PICIDX when copying a payload; [`Vp8PictureRewriter`] keeps them continuous across layer switches. |
//! | [`h264`] | Keyframe detection for H.264 RTP payloads (single NAL, STAP-A/B, FU-A/B). |
//! | [`rewriter`] | [`StreamRewriter`]: turns a simulcast Producer's layers into one continuous outgoing stream per Consumer (sequence numbers and timestamps), switching layers only at keyframes, and mapping late retransmissions back to the outgoing sequence number they were given. |
//! | [`keyframe_throttle`] | [`KeyframeThrottle`]: when to send a PLI/FIR to a publisher, at most once per layer per interval, coalescing the requests of many Consumers, with bounded retries. |
//! | [`sequence_gaps`] | [`SequenceGaps`]: packets of an incoming layer still missing after NACK repair had its chance, which break every Consumer's stream until a keyframe. |
//! | [`layer_selector`] | [`LayerSelector`]: the target simulcast layer for one Consumer from its bandwidth estimate, with hysteresis. |
//! | [`playout_delay`] | [`PlayoutDelay`]: the minimum playout delay a subscriber's browser is asked for while its link loses packets, so that NACK repairs arrive before their frame is played. |
//! | [`stream_allocator`] | [`stream_allocator::allocate`]: one subscriber's bandwidth estimate shared among its videos by priority (screen share, then the active speaker), lowest layers first, then upgrades. |
//! | [`bitrate_meter`] | [`BitrateMeter`]: the bitrate of one incoming layer over the last second, from a fixed ring of 100 ms buckets. |
//! | [`active_speakers`] | [`ActiveSpeakerDetector`]: the ordered list of who is speaking, from RFC 6464 audio levels. |
//! | [`subscription_priority`] | Which participants a subscriber should automatically receive when it can take only N: screen sharers, then recent speakers, then unmuted, then earliest joined, without churn. |
//!
//! # How the SFU uses them per forwarded video packet
//!
//! ```
//! use std::time::{Duration, Instant};
//! use oriel_media::{vp8, SourcePacket, StreamRewriter, Vp8PictureRewriter};
//!
//! # let start = Instant::now();
//! let mut rewriter = StreamRewriter::new();
//! let mut pictures = Vp8PictureRewriter::new();
//! rewriter.switch_to(0); // the LayerSelector's target; forwarding starts at layer 0's next keyframe
//!
//! // A VP8 keyframe start: S=1, PID=0, picture id 0x1234 (15 bit), TL0PICIDX 7; P bit 0 (keyframe).
//! let payload = [0x90, 0xC0, 0x92, 0x34, 0x07, 0x00, 0x00, 0x00, 0x9d, 0x01, 0x2a];
//! let packet = SourcePacket {
//!     layer: 0,
//!     seq: 1000,
//!     timestamp: 90_000,
//!     clock_rate: 90_000,
//!     arrival: start,
//!     is_keyframe_start: vp8::is_keyframe(&payload),
//! };
//! let mut buf = [0u8; 1500];
//! if let Some(out) = rewriter.rewrite(&packet) {
//!     // `None` from the VP8 rewrite means a malformed descriptor: forward the payload as is.
//!     let len = pictures.rewrite_into(&payload, out.epoch, &mut buf).unwrap_or(0);
//!     assert_eq!(len, payload.len());
//!     // then: writer.write(pt, SeqNo::from(out.seq), out.timestamp, wallclock, &buf[..len])
//!     assert_eq!((out.seq, out.timestamp), (1000, 90_000));
//! }
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod active_speakers;
pub mod bitrate_meter;
pub mod h264;
pub mod keyframe_throttle;
pub mod layer_selector;
pub mod playout_delay;
pub mod rewriter;
pub mod sequence_gaps;
pub mod stream_allocator;
pub mod subscription_priority;
pub mod vp8;

pub use active_speakers::{ActiveSpeakerConfig, ActiveSpeakerDetector};
pub use bitrate_meter::BitrateMeter;
pub use keyframe_throttle::{KeyframeThrottle, KeyframeThrottleConfig};
pub use layer_selector::{LayerSelector, LayerSelectorConfig};
pub use playout_delay::{PlayoutDelay, PlayoutDelayConfig};
pub use rewriter::{Rewritten, SourcePacket, StreamRewriter};
pub use sequence_gaps::SequenceGaps;
pub use subscription_priority::Candidate;
pub use vp8::{PictureId, Vp8Descriptor, Vp8PictureRewriter};

/// How many layers (simulcast encodings or spatial layers) the fixed-size per-layer tables in
/// this crate hold. Layer ids are `0..MAX_LAYERS`, 0 being the lowest quality.
///
/// [`StreamRewriter`] accepts any `u8` layer id; [`KeyframeThrottle`] and [`LayerSelector`]
/// ignore layers at or above this bound.
pub const MAX_LAYERS: usize = 4;

#[cfg(test)]
mod test_support {
    //! Virtual time and a seeded PRNG for the unit tests.

    use std::time::Instant;

    /// The base of virtual time in tests; everything else is `t0() + Duration`.
    #[allow(clippy::disallowed_methods)] // The one clock read: tests need some Instant to start from.
    pub(crate) fn t0() -> Instant {
        Instant::now()
    }

    /// SplitMix64: tiny, seeded, good enough for property tests.
    pub(crate) struct Rng(u64);

    impl Rng {
        pub(crate) fn new(seed: u64) -> Self {
            Self(seed)
        }

        pub(crate) fn next_u64(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }

        /// Uniform in `0..n` (n > 0).
        pub(crate) fn below(&mut self, n: u64) -> u64 {
            self.next_u64() % n
        }

        /// True with probability `percent` / 100.
        pub(crate) fn chance(&mut self, percent: u64) -> bool {
            self.below(100) < percent
        }

        pub(crate) fn fill(&mut self, buf: &mut [u8]) {
            for b in buf {
                *b = self.next_u64() as u8;
            }
        }
    }
}

//! Synthetic but realistic media for publishers: Opus audio and VP8 simulcast, written as RTP
//! on the publisher's str0m `Rtc` (RTP mode).
//!
//! * **Opus:** one packet every 20 ms (50 per second) of 70 to 90 bytes (about 32 kbit/s),
//!   starting with a CELT TOC byte, with an RFC 6464 audio level (`-dBov`, and the voice
//!   activity bit) that follows talk spurts: four seconds of speech, one of silence.
//! * **VP8:** one RTP stream per simulcast layer (the rids of `joined.simulcast`), each at its
//!   bitrate and the same frame rate, each with its own random sequence number, timestamp and
//!   picture id bases as in a browser. Every packet carries an RFC 7741 payload descriptor (X
//!   and S bits, a 15-bit picture id, TL0PICIDX, TID 0 with the layer-sync bit); a frame's
//!   first packet carries the VP8 frame tag (P bit clear on keyframes, which also carry the
//!   start code and dimensions); a frame's last packet has the RTP marker bit. Keyframes come
//!   every [`KEYFRAME_INTERVAL`] and on request (PLI/FIR), per layer. Frames are split into
//!   equal packets of at most [`MAX_PAYLOAD`] bytes.
//!
//! Video leaves through a [`Pacer`] as a browser's does (2.5 times the target bitrate, audio
//! first), so a keyframe is spread over tens of milliseconds rather than sent in one burst.
//!
//! Each payload carries a send stamp (see [`crate::stamp`]), written as the packet leaves the
//! pacer, so receivers can measure delay.

use std::time::{Duration, Instant};

use rand::Rng;
use str0m::format::Codec;
use str0m::media::{Mid, Pt, Rid};
use str0m::rtp::{ExtensionValues, RtpWrite, SeqNo};
use str0m::Rtc;

use crate::counters::ClientCounters;
use crate::pacer::{PacedPacket, Pacer};
use crate::stamp;

pub const VIDEO_CLOCK: u32 = 90_000;
pub const AUDIO_CLOCK: u32 = 48_000;
/// Opus frames of 20 ms: 50 packets per second.
pub const AUDIO_INTERVAL: Duration = Duration::from_millis(20);
/// A keyframe on every layer this often, beside those asked for.
pub const KEYFRAME_INTERVAL: Duration = Duration::from_secs(2);
/// Largest RTP payload (a browser keeps datagrams near 1200 bytes).
pub const MAX_PAYLOAD: usize = 1100;
/// A keyframe is this many times the size of an inter frame.
const KEYFRAME_FACTOR: usize = 4;
/// Past this much lateness (a starved task), frames are skipped rather than sent in a burst.
const MAX_CATCH_UP: Duration = Duration::from_millis(200);
/// VP8 descriptor bytes this generator writes.
const DESCRIPTOR_LEN: usize = 6;

/// One simulcast encoding to produce.
#[derive(Clone, Debug, PartialEq)]
pub struct VideoLayer {
    /// `None` for a single stream without simulcast.
    pub rid: Option<String>,
    pub bitrate_bps: u32,
    pub width: u16,
    pub height: u16,
}

/// What a publisher's camera sends.
#[derive(Clone, Debug, PartialEq)]
pub struct VideoSpec {
    pub fps: u32,
    /// Lowest layer first.
    pub layers: Vec<VideoLayer>,
}

struct LayerState {
    spec: VideoLayer,
    rid: Option<Rid>,
    seq: u64,
    ts_base: u32,
    picture_id: u16,
    tl0: u8,
    keyframe_pending: bool,
    last_keyframe: Option<Instant>,
    /// Reused between frames so that a frame costs no allocation but its payloads.
    frame_bytes: usize,
}

struct VideoState {
    mid: Mid,
    fps: u32,
    layers: Vec<LayerState>,
    start: Instant,
    next_frame: u64,
}

struct AudioState {
    mid: Mid,
    seq: u64,
    ts_base: u32,
    start: Instant,
    next_frame: u64,
}

/// A publisher's microphone and camera.
pub struct MediaSource {
    audio: Option<AudioState>,
    video: Option<VideoState>,
    opus: Option<Pt>,
    vp8: Option<Pt>,
    started: bool,
    pacer: Pacer,
}

impl MediaSource {
    pub fn new(audio: Option<Mid>, video: Option<(Mid, VideoSpec)>) -> Self {
        let mut rng = rand::thread_rng();
        let now = Instant::now();
        let video_bps = video.as_ref().map_or(0, |(_, spec)| {
            spec.layers.iter().map(|l| u64::from(l.bitrate_bps)).sum()
        });
        Self {
            pacer: Pacer::new(video_bps),
            audio: audio.map(|mid| AudioState {
                mid,
                seq: rng.gen_range(0..30_000),
                ts_base: rng.gen(),
                start: now,
                next_frame: 0,
            }),
            video: video.map(|(mid, spec)| VideoState {
                mid,
                fps: spec.fps.clamp(1, 120),
                layers: spec
                    .layers
                    .into_iter()
                    .map(|layer| LayerState {
                        rid: layer.rid.as_deref().map(Rid::from),
                        frame_bytes: 0,
                        spec: layer,
                        seq: rng.gen_range(0..30_000),
                        ts_base: rng.gen(),
                        picture_id: rng.gen_range(0..0x8000),
                        tl0: rng.gen(),
                        keyframe_pending: true,
                        last_keyframe: None,
                    })
                    .collect(),
                start: now,
                next_frame: 0,
            }),
            opus: None,
            vp8: None,
            started: false,
        }
    }

    /// Starts the clocks, like a browser's encoders once the transport is up.
    pub fn start(&mut self, now: Instant, rtc: &Rtc) {
        if self.started {
            return;
        }
        self.started = true;
        self.opus = payload_type(rtc, Codec::Opus);
        self.vp8 = payload_type(rtc, Codec::Vp8);
        if let Some(audio) = &mut self.audio {
            audio.start = now;
        }
        if let Some(video) = &mut self.video {
            video.start = now;
        }
    }

    pub fn is_started(&self) -> bool {
        self.started
    }

    fn frame_interval(fps: u32) -> Duration {
        Duration::from_secs(1) / fps
    }

    fn next_audio(&self) -> Option<Instant> {
        let audio = self.audio.as_ref()?;
        Some(audio.start + AUDIO_INTERVAL * u32::try_from(audio.next_frame).ok()?)
    }

    fn next_video(&self) -> Option<Instant> {
        let video = self.video.as_ref()?;
        Some(video.start + Self::frame_interval(video.fps) * u32::try_from(video.next_frame).ok()?)
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        if !self.started {
            return None;
        }
        [
            self.next_audio(),
            self.next_video(),
            self.pacer.poll_timeout(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// A PLI/FIR: the next frame of that layer (every layer when `rid` is `None`) is a keyframe.
    pub fn request_keyframe(&mut self, mid: Mid, rid: Option<Rid>) {
        let Some(video) = self.video.as_mut().filter(|v| v.mid == mid) else {
            return;
        };
        for layer in &mut video.layers {
            if rid.is_none() || rid == layer.rid || layer.rid.is_none() {
                layer.keyframe_pending = true;
            }
        }
    }

    /// Writes every packet due by `now`.
    pub fn handle_timeout(&mut self, now: Instant, rtc: &mut Rtc, counters: &ClientCounters) {
        if !self.started {
            return;
        }
        let skipped = self.skip_if_far_behind(now);
        if skipped > 0 {
            counters.add(&counters.frames_skipped, skipped);
        }
        // Both loops are bounded by MAX_CATCH_UP worth of frames.
        while self.next_audio().is_some_and(|t| t <= now) {
            self.write_audio(now, rtc, counters);
        }
        while self.next_video().is_some_and(|t| t <= now) {
            self.write_video_frame(now, counters);
        }
        self.send_paced(now, rtc, counters);
    }

    /// Video packets waiting in the pacer.
    pub fn paced_backlog(&self) -> usize {
        self.pacer.len()
    }

    fn send_paced(&mut self, now: Instant, rtc: &mut Rtc, counters: &ClientCounters) {
        let mut api = rtc.direct_api();
        while let Some(mut packet) = self.pacer.pop_due(now) {
            let Some(stream) = api.stream_tx_by_mid(packet.mid, packet.rid) else {
                counters.add(&counters.unwritable, 1);
                continue;
            };
            stamp::rewrite_at(&mut packet.payload, packet.stamp_offset, now);
            let bytes = packet.payload.len();
            let write = RtpWrite::new(
                packet.pt,
                SeqNo::from(packet.seq),
                packet.rtp_time,
                packet.captured_at,
                packet.payload,
            )
            .marker(packet.marker)
            .nackable(true);
            stream.write_rtp(write);
            counters.record_sent(bytes);
        }
    }

    /// Moves the clocks that are more than `MAX_CATCH_UP` late to `now`; the frames skipped.
    fn skip_if_far_behind(&mut self, now: Instant) -> u64 {
        let mut skipped = 0;
        if let Some(audio) = &mut self.audio {
            let due = audio.start + AUDIO_INTERVAL * u32::try_from(audio.next_frame).unwrap_or(0);
            if now.saturating_duration_since(due) > MAX_CATCH_UP {
                let elapsed = now.saturating_duration_since(audio.start);
                let next = (elapsed.as_micros() / AUDIO_INTERVAL.as_micros()) as u64;
                skipped += next.saturating_sub(audio.next_frame);
                audio.next_frame = next;
            }
        }
        if let Some(video) = &mut self.video {
            let interval = Self::frame_interval(video.fps);
            let due = video.start + interval * u32::try_from(video.next_frame).unwrap_or(0);
            if now.saturating_duration_since(due) > MAX_CATCH_UP {
                let elapsed = now.saturating_duration_since(video.start);
                let next = (elapsed.as_micros() / interval.as_micros().max(1)) as u64;
                skipped += next.saturating_sub(video.next_frame);
                video.next_frame = next;
            }
        }
        skipped
    }

    fn write_audio(&mut self, now: Instant, rtc: &mut Rtc, counters: &ClientCounters) {
        let Some(audio) = self.audio.as_mut() else {
            return;
        };
        let frame = audio.next_frame;
        audio.next_frame += 1;
        let Some(pt) = self.opus else {
            return;
        };
        // Talk spurts: 4 s of speech (levels wandering between -22 and -37 dBov), 1 s of
        // near silence.
        let in_cycle = frame % 250;
        let speaking = in_cycle < 200;
        let level: i8 = if speaking {
            -22 - (frame % 16) as i8
        } else {
            -96
        };
        // TOC byte (CELT-only fullband, 20 ms, mono, one frame), stamp, "encoded" bytes.
        let len = if speaking {
            70 + (frame % 21) as usize
        } else {
            12
        };
        let mut payload = Vec::with_capacity(len);
        payload.push(0x78);
        stamp::write(&mut payload, now);
        payload.resize(len.max(payload.len()), frame as u8);
        let ext = ExtensionValues {
            audio_level: Some(level),
            voice_activity: Some(speaking),
            ..Default::default()
        };
        let ts = audio
            .ts_base
            .wrapping_add((frame as u32).wrapping_mul(AUDIO_CLOCK / 50));
        let bytes = payload.len();
        let write = RtpWrite::new(pt, SeqNo::from(audio.seq), ts, now, payload)
            .marker(frame == 0)
            .ext_vals(ext)
            .nackable(true);
        match rtc.direct_api().stream_tx_by_mid(audio.mid, None) {
            Some(stream) => {
                stream.write_rtp(write);
                audio.seq += 1;
                counters.record_sent(bytes);
            }
            None => counters.add(&counters.unwritable, 1),
        }
    }

    /// Encodes one frame of every layer into the pacer.
    fn write_video_frame(&mut self, now: Instant, counters: &ClientCounters) {
        let Some(video) = self.video.as_mut() else {
            return;
        };
        let frame = video.next_frame;
        video.next_frame += 1;
        let Some(pt) = self.vp8 else {
            return;
        };
        let fps = video.fps;
        let ts_step = VIDEO_CLOCK / fps;
        for layer in &mut video.layers {
            let periodic = layer
                .last_keyframe
                .is_none_or(|at| now.saturating_duration_since(at) >= KEYFRAME_INTERVAL);
            let keyframe = layer.keyframe_pending || periodic;
            layer.keyframe_pending = false;
            if keyframe {
                layer.last_keyframe = Some(now);
                counters.add(&counters.keyframes_sent, 1);
            }
            let mut size = (layer.spec.bitrate_bps as usize / 8 / fps as usize).max(40);
            // Keep the average near the target although keyframes are bigger.
            size = size * 9 / 10;
            if keyframe {
                size *= KEYFRAME_FACTOR;
            }
            layer.frame_bytes = size;
            let header = DESCRIPTOR_LEN + stamp::STAMP_LEN;
            let count = size.div_ceil(MAX_PAYLOAD - header - 10).max(1);
            let per_packet = (size / count).clamp(header + 10, MAX_PAYLOAD);
            let ts = layer
                .ts_base
                .wrapping_add((frame as u32).wrapping_mul(ts_step));
            for index in 0..count {
                let first = index == 0;
                let mut payload = Vec::with_capacity(per_packet);
                payload.push(0x80 | if first { 0x10 } else { 0 });
                payload.push(0xE0);
                payload.push(0x80 | (layer.picture_id >> 8) as u8);
                payload.push(layer.picture_id as u8);
                payload.push(layer.tl0);
                payload.push(0x20);
                if first && keyframe {
                    // Frame tag: P=0, version 0, show_frame; start code; 14-bit dimensions.
                    payload.extend_from_slice(&[0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a]);
                    payload.extend_from_slice(&(layer.spec.width & 0x3fff).to_le_bytes());
                    payload.extend_from_slice(&(layer.spec.height & 0x3fff).to_le_bytes());
                } else if first {
                    // Frame tag: P=1 (inter frame), show_frame.
                    payload.extend_from_slice(&[0x11, 0x02, 0x00]);
                }
                let stamp_offset = payload.len();
                stamp::write(&mut payload, now);
                let fill = per_packet.max(payload.len());
                payload.resize(fill, (frame as u8) ^ (index as u8));
                self.pacer.push(
                    now,
                    PacedPacket {
                        mid: video.mid,
                        rid: layer.rid,
                        pt,
                        seq: layer.seq,
                        rtp_time: ts,
                        marker: index + 1 == count,
                        captured_at: now,
                        payload,
                        stamp_offset,
                    },
                );
                layer.seq += 1;
            }
            layer.picture_id = (layer.picture_id + 1) & 0x7fff;
            layer.tl0 = layer.tl0.wrapping_add(1);
        }
    }
}

fn payload_type(rtc: &Rtc, codec: Codec) -> Option<Pt> {
    rtc.codec_config()
        .find(|p| p.spec().codec == codec)
        .map(|p| p.pt())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source() -> MediaSource {
        let video = VideoSpec {
            fps: 30,
            layers: vec![VideoLayer {
                rid: None,
                bitrate_bps: 500_000,
                width: 640,
                height: 360,
            }],
        };
        MediaSource::new(Some(Mid::from("0")), Some((Mid::from("1"), video)))
    }

    #[test]
    fn a_source_late_past_the_catch_up_skips_to_now_and_counts_the_frames_it_skipped() {
        let mut media = source();
        let start = Instant::now();
        media.audio.as_mut().unwrap().start = start;
        media.video.as_mut().unwrap().start = start;

        // 150 ms late: within the catch-up, nothing skipped (the frames go out in a burst).
        assert_eq!(
            media.skip_if_far_behind(start + Duration::from_millis(150)),
            0
        );
        assert_eq!(media.audio.as_ref().unwrap().next_frame, 0);

        // 1 s late: 50 audio frames (20 ms) and 30 video frames (1/30 s) skipped.
        assert_eq!(
            media.skip_if_far_behind(start + Duration::from_secs(1)),
            50 + 30
        );
        assert_eq!(media.audio.as_ref().unwrap().next_frame, 50);
        assert_eq!(media.video.as_ref().unwrap().next_frame, 30);
        // On time again: nothing more.
        assert_eq!(media.skip_if_far_behind(start + Duration::from_secs(1)), 0);
    }
}

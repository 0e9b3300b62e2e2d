//! What a simulated browser sends: Opus audio and three-layer VP8 simulcast, as RTP.
//!
//! The payloads are synthetic but shaped like libwebrtc's: VP8 packets carry an RFC 7741
//! payload descriptor with a 15-bit picture id, TL0PICIDX and a temporal-layer byte, the S bit
//! on a frame's first packet, a real VP8 frame tag there (P bit clear and the 0x9d012a start
//! code on keyframes), and the marker bit on a frame's last packet. Each layer is its own RTP
//! stream with its own random sequence number, timestamp and picture id bases, as in Chrome.
//!
//! Every payload ends with a [`Probe`]: which source, layer, frame and packet it is. The SFU
//! forwards payload bytes untouched (it only patches the descriptor), so a subscriber can tell
//! exactly what reached it, e.g. which simulcast layer is being forwarded.

use std::time::{Duration, Instant};

use str0m::format::Codec;
use str0m::media::{Mid, Pt, Rid};
use str0m::rtp::{ExtensionValues, RtpWrite, SeqNo};
use str0m::Rtc;

use super::rng::Rng;

pub const VIDEO_CLOCK: u32 = 90_000;
pub const AUDIO_CLOCK: u32 = 48_000;
/// Opus frames of 20 ms.
pub const AUDIO_INTERVAL: Duration = Duration::from_millis(20);
/// Largest VP8 payload chunk per packet (a browser aims at ~1200 byte datagrams).
const MAX_CHUNK: usize = 1000;

/// The tail of every synthetic payload: where it came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Probe {
    /// The publishing client's index in the simulation.
    pub source: u8,
    /// Simulcast layer (0 = q, 1 = h, 2 = f); 0 for audio.
    pub layer: u8,
    /// Frame number on that layer's clock (audio: packet number).
    pub frame: u32,
    /// Packet index within the frame, and the frame's packet count.
    pub index: u8,
    pub count: u8,
}

impl Probe {
    const MAGIC: [u8; 2] = [0xA5, 0x5A];
    pub const LEN: usize = 10;

    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&Self::MAGIC);
        out.push(self.source);
        out.push(self.layer);
        out.extend_from_slice(&self.frame.to_be_bytes());
        out.push(self.index);
        out.push(self.count);
    }

    pub fn read(payload: &[u8]) -> Option<Self> {
        let tail = payload.get(payload.len().checked_sub(Self::LEN)?..)?;
        if tail[..2] != Self::MAGIC {
            return None;
        }
        Some(Self {
            source: tail[2],
            layer: tail[3],
            frame: u32::from_be_bytes([tail[4], tail[5], tail[6], tail[7]]),
            index: tail[8],
            count: tail[9],
        })
    }
}

/// The parts of a VP8 payload descriptor a subscriber checks. Parsed here independently of
/// `oriel-media`, so the SFU's own parser is not what judges the SFU.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Vp8Info {
    /// S=1 and PID=0: the first packet of a frame.
    pub frame_start: bool,
    pub picture_id: Option<u16>,
    pub tl0picidx: Option<u8>,
    /// Frame start with the VP8 frame tag's P bit clear.
    pub keyframe: bool,
}

impl Vp8Info {
    pub fn parse(payload: &[u8]) -> Option<Self> {
        let b0 = *payload.first()?;
        let frame_start = b0 & 0x10 != 0 && b0 & 0x07 == 0;
        let mut at = 1;
        let (mut picture_id, mut tl0picidx) = (None, None);
        if b0 & 0x80 != 0 {
            let x = *payload.get(at)?;
            at += 1;
            if x & 0x80 != 0 {
                let m = *payload.get(at)?;
                if m & 0x80 != 0 {
                    let lo = *payload.get(at + 1)?;
                    picture_id = Some(u16::from(m & 0x7f) << 8 | u16::from(lo));
                    at += 2;
                } else {
                    picture_id = Some(u16::from(m));
                    at += 1;
                }
            }
            if x & 0x40 != 0 {
                tl0picidx = Some(*payload.get(at)?);
                at += 1;
            }
            if x & 0x30 != 0 {
                at += 1;
            }
        }
        let keyframe = frame_start && payload.get(at).is_some_and(|tag| tag & 0x01 == 0);
        Some(Self {
            frame_start,
            picture_id,
            tl0picidx,
            keyframe,
        })
    }
}

/// One simulcast encoding as the simulated browser produces it.
#[derive(Clone, Copy, Debug)]
pub struct LayerSpec {
    pub rid: &'static str,
    pub kbps: u64,
    pub width: u16,
    pub height: u16,
}

/// The rids and rough bitrates Oriel asks publishers for (`SpaceConfig::simulcast`).
pub const LAYERS: [LayerSpec; 3] = [
    LayerSpec {
        rid: "q",
        kbps: 150,
        width: 320,
        height: 180,
    },
    LayerSpec {
        rid: "h",
        kbps: 500,
        width: 640,
        height: 360,
    },
    LayerSpec {
        rid: "f",
        kbps: 1200,
        width: 1280,
        height: 720,
    },
];

#[derive(Clone, Copy, Debug)]
pub struct VideoConfig {
    pub fps: u32,
    /// A keyframe is this many times the size of a delta frame.
    pub keyframe_factor: usize,
}

impl Default for VideoConfig {
    fn default() -> Self {
        Self {
            fps: 30,
            keyframe_factor: 3,
        }
    }
}

/// Counters of what a source wrote, per layer (audio is its own counter).
#[derive(Clone, Copy, Debug, Default)]
pub struct SourceStats {
    pub video_packets: [u64; 3],
    pub keyframes: [u64; 3],
    pub audio_packets: u64,
    /// Writes skipped because str0m had no send stream for the mid/rid.
    pub unwritable: u64,
}

struct LayerState {
    spec: LayerSpec,
    rid: Rid,
    seq: u64,
    ts_base: u32,
    picture_id: u16,
    tl0: u8,
    keyframe_pending: bool,
}

struct VideoState {
    mid: Mid,
    config: VideoConfig,
    layers: Vec<LayerState>,
    next_frame: u64,
    enabled: bool,
}

struct AudioState {
    mid: Mid,
    seq: u64,
    ts_base: u32,
    next_frame: u64,
}

/// A publisher's camera and microphone, writing RTP on its publisher `Rtc` (RTP mode).
pub struct MediaSource {
    source: u8,
    start: Instant,
    audio: Option<AudioState>,
    video: Option<VideoState>,
    pub stats: SourceStats,
}

impl MediaSource {
    /// Starts at `now` (when the publisher PC connected, like a browser's first frame).
    pub fn new(
        source: u8,
        now: Instant,
        audio: Option<Mid>,
        video: Option<(Mid, VideoConfig)>,
        rng: &mut Rng,
    ) -> Self {
        let audio = audio.map(|mid| AudioState {
            mid,
            seq: rng.below(30_000),
            ts_base: rng.next_u64() as u32,
            next_frame: 0,
        });
        let video = video.map(|(mid, config)| VideoState {
            mid,
            config,
            layers: LAYERS
                .iter()
                .enumerate()
                .map(|(index, spec)| LayerState {
                    spec: *spec,
                    rid: Rid::from(spec.rid),
                    // One layer starts right below the 16-bit wrap, to exercise rollover.
                    seq: if index == 1 {
                        65_536 - 40
                    } else {
                        rng.below(30_000)
                    },
                    ts_base: rng.next_u64() as u32,
                    picture_id: rng.below(0x8000) as u16,
                    tl0: rng.next_u64() as u8,
                    keyframe_pending: true,
                })
                .collect(),
            next_frame: 0,
            enabled: true,
        });
        Self {
            source,
            start: now,
            audio,
            video,
            stats: SourceStats::default(),
        }
    }

    fn frame_interval(config: &VideoConfig) -> Duration {
        Duration::from_secs(1) / config.fps
    }

    fn next_audio(&self) -> Option<Instant> {
        let audio = self.audio.as_ref()?;
        Some(self.start + AUDIO_INTERVAL * audio.next_frame as u32)
    }

    fn next_video(&self) -> Option<Instant> {
        let video = self.video.as_ref().filter(|v| v.enabled)?;
        Some(self.start + Self::frame_interval(&video.config) * video.next_frame as u32)
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        [self.next_audio(), self.next_video()]
            .into_iter()
            .flatten()
            .min()
    }

    /// A PLI/FIR from the SFU: the next frame of that layer is a keyframe.
    pub fn request_keyframe(&mut self, mid: Mid, rid: Option<Rid>) {
        let Some(video) = self.video.as_mut().filter(|v| v.mid == mid) else {
            return;
        };
        for layer in &mut video.layers {
            if rid.is_none() || rid == Some(layer.rid) {
                layer.keyframe_pending = true;
            }
        }
    }

    /// Stops the camera (the track was unpublished).
    pub fn stop_video(&mut self) {
        if let Some(video) = &mut self.video {
            video.enabled = false;
        }
    }

    /// Writes every frame due by `now`.
    pub fn handle_timeout(&mut self, now: Instant, rtc: &mut Rtc) {
        while self.next_audio().is_some_and(|t| t <= now) {
            self.write_audio(now, rtc);
        }
        while self.next_video().is_some_and(|t| t <= now) {
            self.write_video_frame(now, rtc);
        }
    }

    fn write_audio(&mut self, now: Instant, rtc: &mut Rtc) {
        let Some(audio) = self.audio.as_mut() else {
            return;
        };
        let frame = audio.next_frame;
        audio.next_frame += 1;
        let Some(pt) = payload_type(rtc, Codec::Opus) else {
            return;
        };
        // An Opus TOC byte (CELT, 20 ms), some "encoded" bytes, then the probe.
        let mut payload = vec![0x78];
        payload.resize(70 + (frame % 17) as usize, frame as u8);
        Probe {
            source: self.source,
            layer: 0,
            frame: frame as u32,
            index: 0,
            count: 1,
        }
        .write(&mut payload);
        let ext = ExtensionValues {
            // Loud enough to count as speech, a little different per source.
            audio_level: Some(-(20 + i8::try_from(self.source % 20).unwrap_or(0))),
            voice_activity: Some(true),
            ..Default::default()
        };
        let ts = audio
            .ts_base
            .wrapping_add((frame as u32).wrapping_mul(AUDIO_CLOCK / 50));
        let write = RtpWrite::new(pt, SeqNo::from(audio.seq), ts, now, payload)
            .marker(frame == 0)
            .ext_vals(ext)
            .nackable(true);
        match rtc.direct_api().stream_tx_by_mid(audio.mid, None) {
            Some(stream) => {
                stream.write_rtp(write);
                audio.seq += 1;
                self.stats.audio_packets += 1;
            }
            None => self.stats.unwritable += 1,
        }
    }

    fn write_video_frame(&mut self, now: Instant, rtc: &mut Rtc) {
        let Some(video) = self.video.as_mut() else {
            return;
        };
        let frame = video.next_frame;
        video.next_frame += 1;
        let Some(pt) = payload_type(rtc, Codec::Vp8) else {
            return;
        };
        let fps = u64::from(video.config.fps);
        for (index, layer) in video.layers.iter_mut().enumerate() {
            let keyframe = layer.keyframe_pending;
            layer.keyframe_pending = false;
            let mut size = (layer.spec.kbps * 1000 / 8 / fps) as usize;
            if keyframe {
                size *= video.config.keyframe_factor;
            }
            let count = size.div_ceil(MAX_CHUNK).max(1);
            let ts = layer
                .ts_base
                .wrapping_add((frame as u32).wrapping_mul(VIDEO_CLOCK / video.config.fps));
            let mut api = rtc.direct_api();
            let Some(stream) = api.stream_tx_by_mid(video.mid, Some(layer.rid)) else {
                self.stats.unwritable += 1;
                continue;
            };
            for packet in 0..count {
                let first = packet == 0;
                let mut payload = Vec::with_capacity(MAX_CHUNK + 32);
                // Descriptor: X, S on the first packet, PID 0; I, L, T; 15-bit picture id;
                // TL0PICIDX; TID 0 with the layer-sync bit.
                payload.push(0x80 | if first { 0x10 } else { 0 });
                payload.push(0xE0);
                payload.push(0x80 | (layer.picture_id >> 8) as u8);
                payload.push(layer.picture_id as u8);
                payload.push(layer.tl0);
                payload.push(0x20);
                if first && keyframe {
                    // Frame tag: P=0 (key), version 0, show_frame; start code; dimensions.
                    payload.extend_from_slice(&[0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a]);
                    payload.extend_from_slice(&layer.spec.width.to_le_bytes());
                    payload.extend_from_slice(&layer.spec.height.to_le_bytes());
                } else if first {
                    // Frame tag: P=1 (inter frame), show_frame.
                    payload.extend_from_slice(&[0x11, 0x02, 0x00]);
                }
                let chunk = (size / count).clamp(Probe::LEN, MAX_CHUNK);
                payload.resize(payload.len() + chunk - Probe::LEN, frame as u8);
                Probe {
                    source: self.source,
                    layer: index as u8,
                    frame: frame as u32,
                    index: packet as u8,
                    count: count as u8,
                }
                .write(&mut payload);
                let write = RtpWrite::new(pt, SeqNo::from(layer.seq), ts, now, payload)
                    .marker(packet + 1 == count)
                    .nackable(true);
                stream.write_rtp(write);
                layer.seq += 1;
                self.stats.video_packets[index] += 1;
            }
            if keyframe {
                self.stats.keyframes[index] += 1;
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

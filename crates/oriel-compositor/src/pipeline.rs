//! The GStreamer pipeline: one branch per received track (RTP in through an appsrc, jitter
//! buffer, depayloader, decoder) into `compositor` and `audiomixer`, the mix encoded once to
//! H.264 + AAC and written as HLS (MPEG-TS segments by `splitmuxsink`, the playlist by
//! [`crate::playlist`]); the encoded streams are also handed to the RTMP targets
//! ([`crate::rtmp`]), each in a pipeline of its own.
//!
//! The SFU side is not known here: the caller adds and removes tracks, pushes their RTP and
//! describes the scene ([`Tile`]s); this is also the API the integration test drives.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context, Result};
use gst::prelude::*;

use crate::layout::{self, Layout, Rect, TileKind, MAX_TILES};
use crate::playlist::Playlist;

/// How long the jitter buffer waits for late or retransmitted packets.
const JITTER_LATENCY_MS: u32 = 200;
/// Extra time the mixers wait for their inputs (the jitter buffer's output is bursty).
const MIXER_LATENCY: gst::ClockTime = gst::ClockTime::from_mseconds(100);
/// 2 s segments at 30 fps: a keyframe every 60 frames.
const FPS: i32 = 30;
const KEYFRAME_INTERVAL: u32 = 60;
const SEGMENT_SECONDS: u32 = 2;
/// Fixed payload types of our appsrc caps; the RTP header is rebuilt with them.
const PT_VP8: u8 = 96;
const PT_H264: u8 = 102;
const PT_OPUS: u8 = 111;
/// The placeholder tile of a participant without a picture: dark grey (ARGB).
pub const PLACEHOLDER_ARGB: u32 = 0xff40_4040;
/// Called with a track id when its branch needs a keyframe to go on decoding.
pub type KeyframeRequester = Box<dyn Fn(&str) + Send + Sync>;

/// A branch's keyframe requests are passed on at most this often (a decoder asks on every
/// broken frame).
pub const KEYFRAME_REQUEST_INTERVAL: Duration = Duration::from_millis(500);

/// A failed branch is rebuilt at most this often...
pub const REBUILD_INTERVAL: Duration = Duration::from_secs(1);
/// ...and at most this many times per track.
pub const MAX_REBUILDS: u32 = 10;

/// A video depayloader that waits for a keyframe and asks for one when frames are lost or
/// broken, instead of handing the decoder what it cannot decode.
fn depayloader(factory: &str) -> Result<gst::Element> {
    let element = make(factory)?;
    for property in ["request-keyframe", "wait-for-keyframe"] {
        if element.find_property(property).is_some() {
            element.set_property(property, true);
        }
    }
    Ok(element)
}

/// Names of the elements of a track's branch start with this.
const BRANCH_PREFIX: &str = "track-";

/// Whether the element named `name` belongs to one track's branch (whose failure, a bad
/// stream, costs that tile only) rather than to the mix and its outputs.
pub fn is_branch_element(name: &str) -> bool {
    name.starts_with(BRANCH_PREFIX)
}

/// The codec of a received track.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Codec {
    Vp8,
    H264,
    Opus,
}

impl Codec {
    fn is_video(self) -> bool {
        self != Self::Opus
    }
    fn payload_type(self) -> u8 {
        match self {
            Self::Vp8 => PT_VP8,
            Self::H264 => PT_H264,
            Self::Opus => PT_OPUS,
        }
    }
}

/// The fields of a received RTP packet, from which the 12-byte header is rebuilt.
#[derive(Clone, Copy, Debug)]
pub struct Rtp<'a> {
    pub seq: u16,
    pub timestamp: u32,
    pub marker: bool,
    pub ssrc: u32,
    pub payload: &'a [u8],
}

/// One tile of the scene: a participant's camera (or screen share) and the name drawn on it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tile {
    /// The video track shown, None when there is none or it is muted (a grey placeholder
    /// tile with the name is drawn instead, as Mux did).
    pub video: Option<String>,
    pub name: String,
    pub screenshare: bool,
}

/// What the compositor makes.
#[derive(Clone, Debug)]
pub struct Config {
    pub width: u32,
    pub height: u32,
    pub layout: Layout,
    /// An RGBA picture of exactly `width` x `height` drawn under the tiles.
    pub background: Option<Vec<u8>>,
    pub hls_dir: PathBuf,
    /// Whether encoded media is handed out for RTMP (see [`Compositor::take_encoded`]).
    pub rtmp: bool,
}

/// The elements of one track's branch.
struct Input {
    codec: Codec,
    elements: Vec<gst::Element>,
    /// The aspect-ratio cropper (crop layout only).
    cropper: Option<gst::Element>,
    mixer_pad: gst::Pad,
}

/// Where encoded output is handed out for RTMP.
pub struct Encoded {
    pub video: gst_app::AppSink,
    pub audio: gst_app::AppSink,
}

/// A running composition.
pub struct Compositor {
    config: Config,
    pipeline: gst::Pipeline,
    video_mixer: gst::Element,
    audio_mixer: gst::Element,
    names: Vec<gst::Element>,
    /// Mixer pads of the grey placeholder tiles.
    placeholders: Vec<gst::Pad>,
    /// The appsrcs by track id: the hot path only looks here.
    feeds: Mutex<HashMap<String, (gst_app::AppSrc, Codec)>>,
    inputs: Mutex<HashMap<String, Input>>,
    encoded: Mutex<Option<Encoded>>,
    branches: AtomicU64,
    /// The scene last set, applied again when a branch is rebuilt.
    scene: Mutex<(Vec<Tile>, Option<usize>)>,
    /// Told the track id when a branch's depayloader or decoder asks for a keyframe.
    keyframe_requester: Arc<Mutex<Option<KeyframeRequester>>>,
    /// Branches rebuilt after a failure, per track: how many, and when last.
    rebuilt: Mutex<HashMap<String, (u32, Option<Instant>)>>,
    playlist: Arc<Mutex<Playlist>>,
    /// The background's elements and mixer pad: its source never ends by itself, so it is
    /// taken out before EOS.
    background: Mutex<Option<Background>>,
}

fn make(factory: &str) -> Result<gst::Element> {
    gst::ElementFactory::make(factory)
        .build()
        .with_context(|| format!("GStreamer element {factory} is missing (install gstreamer1.0-plugins-base/good/bad/ugly and gstreamer1.0-libav)"))
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The encoder bitrate in kbit/s: about 0.09 bit per pixel at 30 fps (2.5 Mbit/s at 720p).
fn bitrate_kbps(width: u32, height: u32) -> u32 {
    (u64::from(width) * u64::from(height) * 30 * 9 / 100 / 1000).clamp(300, 8000) as u32
}

impl Compositor {
    /// Builds the pipeline (not yet playing).
    pub fn new(config: Config) -> Result<Arc<Self>> {
        gst::init().context("GStreamer does not initialise")?;
        std::fs::create_dir_all(&config.hls_dir)
            .with_context(|| format!("cannot create {}", config.hls_dir.display()))?;
        let (w, h) = (config.width as i32, config.height as i32);
        let pipeline = gst::Pipeline::with_name("oriel-compositor");

        // Video: a tiny transparent live source keeps the mixer ticking with no participant.
        let tick = gst::ElementFactory::make("videotestsrc")
            .property("is-live", true)
            .property_from_str("pattern", "black")
            .build()
            .context("videotestsrc is missing")?;
        let tick_caps = caps_filter(
            gst::Caps::builder("video/x-raw")
                .field("width", 16)
                .field("height", 16)
                .field("framerate", gst::Fraction::new(FPS, 1))
                .build(),
        )?;
        let video_mixer = gst::ElementFactory::make("compositor")
            .property_from_str("background", "black")
            .property("latency", MIXER_LATENCY)
            .build()
            .context("compositor is missing (gstreamer1.0-plugins-base)")?;
        let mixed_caps = caps_filter(
            gst::Caps::builder("video/x-raw")
                .field("format", "I420")
                .field("width", w)
                .field("height", h)
                .field("framerate", gst::Fraction::new(FPS, 1))
                .field("pixel-aspect-ratio", gst::Fraction::new(1, 1))
                .build(),
        )?;
        // One name overlay per possible tile, silent while unused: the output chain never changes.
        // Without textoverlay (Debian's gstreamer1.0-x) the broadcast goes on without names.
        let names: Vec<gst::Element> = (0..MAX_TILES)
            .map_while(|_| {
                gst::ElementFactory::make("textoverlay")
                    .property("silent", true)
                    .property("shaded-background", true)
                    .property_from_str("halignment", "left")
                    .property_from_str("valignment", "bottom")
                    .property("xpad", 0i32)
                    .property("ypad", 0i32)
                    .build()
                    .ok()
            })
            .collect();
        if names.len() < MAX_TILES {
            tracing::warn!("textoverlay is missing (install gstreamer1.0-x): no names on tiles");
        }
        let names = if names.len() == MAX_TILES {
            names
        } else {
            Vec::new()
        };
        let x264 = gst::ElementFactory::make("x264enc")
            .property_from_str("tune", "zerolatency")
            .property_from_str("speed-preset", "veryfast")
            .property("key-int-max", KEYFRAME_INTERVAL)
            .property("bitrate", bitrate_kbps(config.width, config.height))
            .build()
            .context("x264enc is missing (gstreamer1.0-plugins-ugly)")?;
        let h264parse = gst::ElementFactory::make("h264parse")
            .property("config-interval", -1i32)
            .build()
            .context("h264parse is missing (gstreamer1.0-plugins-bad)")?;
        let vtee = make("tee")?;

        // Audio: silence keeps the mixer ticking.
        let silence = gst::ElementFactory::make("audiotestsrc")
            .property("is-live", true)
            .property_from_str("wave", "silence")
            .build()
            .context("audiotestsrc is missing")?;
        let audio_mixer = gst::ElementFactory::make("audiomixer")
            .property("latency", MIXER_LATENCY)
            .build()
            .context("audiomixer is missing (gstreamer1.0-plugins-base)")?;
        let aconv = make("audioconvert")?;
        let aresample = make("audioresample")?;
        let audio_caps = caps_filter(
            gst::Caps::builder("audio/x-raw")
                .field("rate", 48000)
                .field("channels", 2)
                .build(),
        )?;
        let aac = aac_encoder()?;
        let aacparse = make("aacparse")?;
        let atee = make("tee")?;

        // splitmuxsink + our playlist (what hlssink2 is), so a restart continues the numbering.
        let playlist = Arc::new(Mutex::new(Playlist::resume(
            &config.hls_dir,
            SEGMENT_SECONDS,
        )));
        let start_index = lock(&playlist).next_index();
        let tsmux = make("mpegtsmux")?;
        let hls = gst::ElementFactory::make("splitmuxsink")
            .property(
                "location",
                config
                    .hls_dir
                    .join("segment%05d.ts")
                    .to_string_lossy()
                    .as_ref(),
            )
            .property("max-size-time", u64::from(SEGMENT_SECONDS) * 1_000_000_000)
            .property("send-keyframe-requests", true)
            .property("start-index", start_index.min(i32::MAX as u32) as i32)
            .property("muxer", &tsmux)
            .build()
            .context("splitmuxsink is missing (gstreamer1.0-plugins-good)")?;
        let vq = make("queue")?;
        let aq = make("queue")?;

        pipeline.add_many([
            &tick,
            &tick_caps,
            &video_mixer,
            &mixed_caps,
            &x264,
            &h264parse,
            &vtee,
            &silence,
            &audio_mixer,
            &aconv,
            &aresample,
            &audio_caps,
            &aac,
            &aacparse,
            &atee,
            &hls,
            &vq,
            &aq,
        ])?;
        pipeline.add_many(&names)?;
        let tick_queue = slack()?;
        pipeline.add(&tick_queue)?;
        gst::Element::link_many([&tick, &tick_caps, &tick_queue])?;
        let tick_pad = link_to_mixer(&tick_queue, &video_mixer)?;
        tick_pad.set_property("alpha", 0.0f64);
        // A grey tile per possible placeholder (a muted or absent camera), hidden until used.
        let mut placeholders = Vec::with_capacity(MAX_TILES);
        for _ in 0..MAX_TILES {
            let grey = gst::ElementFactory::make("videotestsrc")
                .property("is-live", true)
                .property_from_str("pattern", "solid-color")
                .property("foreground-color", PLACEHOLDER_ARGB)
                .build()
                .context("videotestsrc is missing")?;
            let caps = caps_filter(
                gst::Caps::builder("video/x-raw")
                    .field("width", 16)
                    .field("height", 16)
                    .field("framerate", gst::Fraction::new(FPS, 1))
                    .build(),
            )?;
            let queue = slack()?;
            pipeline.add_many([&grey, &caps, &queue])?;
            gst::Element::link_many([&grey, &caps, &queue])?;
            let pad = link_to_mixer(&queue, &video_mixer)?;
            pad.set_property("alpha", 0.0f64);
            pad.set_property("zorder", 5u32);
            placeholders.push(pad);
        }
        let mut chain: Vec<&gst::Element> = vec![&video_mixer, &mixed_caps];
        chain.extend(names.iter());
        chain.extend([&x264, &h264parse, &vtee]);
        gst::Element::link_many(chain)?;
        let silence_queue = slack()?;
        pipeline.add(&silence_queue)?;
        silence.link(&silence_queue)?;
        link_to_mixer(&silence_queue, &audio_mixer)?;
        gst::Element::link_many([
            &audio_mixer,
            &aconv,
            &aresample,
            &audio_caps,
            &aac,
            &aacparse,
            &atee,
        ])?;
        gst::Element::link_many([&vtee, &vq])?;
        gst::Element::link_many([&atee, &aq])?;
        link_request(&vq, &hls, "video")?;
        link_request(&aq, &hls, "audio_%u")?;
        if let Some(bus) = pipeline.bus() {
            bus.set_sync_handler(segment_handler(Arc::clone(&playlist)));
        }

        let background = match &config.background {
            Some(rgba) => Some(add_background(
                &pipeline,
                &video_mixer,
                rgba,
                config.width,
                config.height,
            )?),
            None => None,
        };
        let encoded = if config.rtmp {
            Some(Encoded {
                video: add_tap(&pipeline, &vtee)?,
                audio: add_tap(&pipeline, &atee)?,
            })
        } else {
            None
        };

        Ok(Arc::new(Self {
            config,
            pipeline,
            video_mixer,
            audio_mixer,
            names,
            placeholders,
            feeds: Mutex::new(HashMap::new()),
            inputs: Mutex::new(HashMap::new()),
            encoded: Mutex::new(encoded),
            branches: AtomicU64::new(0),
            scene: Mutex::new((Vec::new(), None)),
            rebuilt: Mutex::new(HashMap::new()),
            keyframe_requester: Arc::new(Mutex::new(None)),
            playlist,
            background: Mutex::new(background),
        }))
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn pipeline(&self) -> &gst::Pipeline {
        &self.pipeline
    }

    /// The encoded output for RTMP, once (None without `config.rtmp`).
    pub fn take_encoded(&self) -> Option<Encoded> {
        lock(&self.encoded).take()
    }

    pub fn start(&self) -> Result<()> {
        self.pipeline
            .set_state(gst::State::Playing)
            .map_err(|_| anyhow!("the pipeline does not start: {}", self.first_error()))?;
        if let Some(background) = lock(&self.background).as_mut() {
            if let Some(picture) = background.picture.take() {
                feed_background(background.src.clone(), picture)?;
            }
        }
        Ok(())
    }

    /// The first error on the bus, for messages.
    fn first_error(&self) -> String {
        self.pipeline
            .bus()
            .and_then(|bus| bus.pop_filtered(&[gst::MessageType::Error]))
            .map(|m| match m.view() {
                gst::MessageView::Error(e) => format!("{} ({:?})", e.error(), e.debug()),
                _ => String::new(),
            })
            .unwrap_or_else(|| "no detail".into())
    }

    /// Adds the branch of a received track; its RTP is then accepted by [`Self::push_rtp`].
    /// A video track stays invisible until a [`Self::set_scene`] places it.
    pub fn add_track(&self, tid: &str, codec: Codec) -> Result<()> {
        if lock(&self.inputs).contains_key(tid) {
            return Ok(());
        }
        let caps = match codec {
            Codec::Vp8 => rtp_caps("video", 90000, "VP8", PT_VP8),
            Codec::H264 => rtp_caps("video", 90000, "H264", PT_H264),
            Codec::Opus => rtp_caps("audio", 48000, "OPUS", PT_OPUS),
        };
        let appsrc = gst_app::AppSrc::builder()
            .caps(&caps)
            .is_live(true)
            .do_timestamp(true)
            .format(gst::Format::Time)
            .max_bytes(2_000_000)
            .block(false)
            .build();
        let jitter = gst::ElementFactory::make("rtpjitterbuffer")
            .property("latency", JITTER_LATENCY_MS)
            .property("drop-on-latency", true)
            .build()
            .context("rtpjitterbuffer is missing (gstreamer1.0-plugins-good)")?;
        if codec.is_video() {
            self.relay_keyframe_requests(&appsrc, tid);
        }
        let mut elements = vec![appsrc.clone().upcast::<gst::Element>(), jitter];
        let mut cropper = None;
        match codec {
            Codec::Vp8 => elements.extend([depayloader("rtpvp8depay")?, make("vp8dec")?]),
            Codec::H264 => elements.extend([depayloader("rtph264depay")?, make("avdec_h264")?]),
            Codec::Opus => elements.extend([make("rtpopusdepay")?, make("opusdec")?]),
        }
        if codec.is_video() {
            elements.push(make("videoconvert")?);
            if self.config.layout.crops() {
                let c = make("aspectratiocrop")?;
                cropper = Some(c.clone());
                elements.push(c);
            }
        } else {
            elements.extend([make("audioconvert")?, make("audioresample")?]);
        }
        // Named after the branch, so a bus error can be told apart from an output failure.
        let n = self.branches.fetch_add(1, Ordering::Relaxed);
        for (i, element) in elements.iter().enumerate() {
            element.set_property("name", format!("{BRANCH_PREFIX}{n}-{i}"));
        }
        self.pipeline.add_many(&elements)?;
        gst::Element::link_many(&elements)?;
        let mixer = if codec.is_video() {
            &self.video_mixer
        } else {
            &self.audio_mixer
        };
        let last = elements.last().ok_or_else(|| anyhow!("empty branch"))?;
        let mixer_pad = link_to_mixer(last, mixer)?;
        if codec.is_video() {
            // Hidden until placed; the letterbox keeps the picture's aspect in gallery.
            mixer_pad.set_property("alpha", 0.0f64);
            mixer_pad.set_property("converter-config", tile_scaler());
            mixer_pad.set_property_from_str(
                "sizing-policy",
                if self.config.layout.crops() {
                    "none"
                } else {
                    "keep-aspect-ratio"
                },
            );
        }
        for element in &elements {
            element
                .sync_state_with_parent()
                .with_context(|| format!("the branch of track {tid} does not start"))?;
        }
        lock(&self.inputs).insert(
            tid.to_owned(),
            Input {
                codec,
                elements,
                cropper,
                mixer_pad,
            },
        );
        lock(&self.feeds).insert(tid.to_owned(), (appsrc, codec));
        Ok(())
    }

    /// Removes a track's branch (the participant left, or the track was unpublished).
    pub fn remove_track(&self, tid: &str) {
        lock(&self.feeds).remove(tid);
        let Some(input) = lock(&self.inputs).remove(tid) else {
            return;
        };
        let mixer = if input.codec.is_video() {
            &self.video_mixer
        } else {
            &self.audio_mixer
        };
        if input.codec.is_video() {
            input.mixer_pad.set_property("alpha", 0.0f64);
        }
        if let Some(last) = input.elements.last() {
            if let Some(src) = last.static_pad("src") {
                let _ = src.unlink(&input.mixer_pad);
            }
        }
        mixer.release_request_pad(&input.mixer_pad);
        for element in &input.elements {
            let _ = element.set_state(gst::State::Null);
        }
        let _ = self.pipeline.remove_many(&input.elements);
    }

    /// Sets who is told when a branch needs a keyframe (the space's publisher is then sent a
    /// PLI, as a browser's decoder would have it).
    pub fn on_keyframe_request(&self, requester: impl Fn(&str) + Send + Sync + 'static) {
        *lock(&self.keyframe_requester) = Some(Box::new(requester));
    }

    /// Passes the force-key-unit requests that reach `appsrc` from its branch on to the
    /// requester, at most once per [`KEYFRAME_REQUEST_INTERVAL`].
    fn relay_keyframe_requests(&self, appsrc: &gst_app::AppSrc, tid: &str) {
        let Some(pad) = appsrc.static_pad("src") else {
            return;
        };
        let requester = Arc::clone(&self.keyframe_requester);
        let tid = tid.to_owned();
        let last: Mutex<Option<Instant>> = Mutex::new(None);
        pad.add_probe(gst::PadProbeType::EVENT_UPSTREAM, move |_, info| {
            let Some(gst::PadProbeData::Event(event)) = &info.data else {
                return gst::PadProbeReturn::Ok;
            };
            if gst_video::UpstreamForceKeyUnitEvent::parse(event).is_ok() {
                let now = Instant::now();
                let mut last = lock(&last);
                if last.is_none_or(|at| now.duration_since(at) >= KEYFRAME_REQUEST_INTERVAL) {
                    *last = Some(now);
                    if let Some(request) = lock(&requester).as_ref() {
                        request(&tid);
                    }
                }
            }
            gst::PadProbeReturn::Ok
        });
    }

    /// Rebuilds the branch that the failed element named `element` belongs to (a decoder that
    /// gave up on a bad stream stops its branch for good), so its tile plays again once the
    /// publisher sends a keyframe. Returns the track id when rebuilt. A track whose stream keeps
    /// breaking decoders is rebuilt at most once per [`REBUILD_INTERVAL`] and
    /// [`MAX_REBUILDS`] times in all; after that its tile stays dark.
    pub fn rebuild_failed_branch(&self, element: &str) -> Option<String> {
        let (tid, codec) = lock(&self.inputs).iter().find_map(|(tid, input)| {
            input
                .elements
                .iter()
                .any(|e| e.name() == element)
                .then(|| (tid.clone(), input.codec))
        })?;
        let now = Instant::now();
        {
            let mut rebuilt = lock(&self.rebuilt);
            let (count, last) = rebuilt.entry(tid.clone()).or_insert((0, None));
            let recent = last.is_some_and(|at| now.duration_since(at) < REBUILD_INTERVAL);
            if *count >= MAX_REBUILDS || recent {
                return None;
            }
            *count += 1;
            *last = Some(now);
        }
        self.remove_track(&tid);
        if let Err(error) = self.add_track(&tid, codec) {
            tracing::error!(%tid, "the failed branch cannot be rebuilt: {error:#}");
            return None;
        }
        let (tiles, focus) = lock(&self.scene).clone();
        self.set_scene(&tiles, focus);
        Some(tid)
    }

    /// The track ids with a branch.
    pub fn tracks(&self) -> Vec<String> {
        lock(&self.inputs).keys().cloned().collect()
    }

    /// Feeds one received packet of `tid` (dropped when the track has no branch). `codec` is
    /// what the packet's payload type says: a video branch is made for VP8 until told
    /// otherwise, and a publisher whose browser sends H.264 gets its branch rebuilt for it.
    pub fn push_rtp(&self, tid: &str, codec: Option<Codec>, rtp: Rtp<'_>) {
        let Some((mut appsrc, mut branch)) = lock(&self.feeds).get(tid).cloned() else {
            return;
        };
        if let Some(sent) = codec.filter(|c| *c != branch && c.is_video() && branch.is_video()) {
            tracing::info!(tid, from = ?branch, to = ?sent, "the track's codec changed: its branch is rebuilt");
            self.remove_track(tid);
            if let Err(error) = self.add_track(tid, sent) {
                tracing::error!(tid, "{error:#}");
                return;
            }
            let (tiles, focus) = lock(&self.scene).clone();
            self.set_scene(&tiles, focus);
            match lock(&self.feeds).get(tid).cloned() {
                Some(feed) => (appsrc, branch) = feed,
                None => return,
            }
        }
        let codec = branch;
        if let Some(buffer) = rtp_buffer(codec.payload_type(), &rtp) {
            // A full queue or a stopping pipeline drops the packet: the jitter buffer copes.
            let _ = appsrc.push_buffer(buffer);
        }
    }

    /// Lays out `tiles` (in order) with `focus` the active speaker's tile.
    pub fn set_scene(&self, tiles: &[Tile], focus: Option<usize>) {
        *lock(&self.scene) = (tiles.to_vec(), focus);
        let (w, h) = (self.config.width, self.config.height);
        let kinds: Vec<TileKind> = tiles
            .iter()
            .map(|t| TileKind {
                screenshare: t.screenshare,
            })
            .collect();
        let rects = layout::arrange(self.config.layout, &kinds, focus, w, h);
        let inputs = lock(&self.inputs);
        let mut placed: HashMap<&str, Rect> = HashMap::new();
        for (tile, rect) in tiles.iter().zip(&rects) {
            if let (Some(tid), Some(rect)) = (&tile.video, rect) {
                placed.insert(tid.as_str(), *rect);
            }
        }
        for (tid, input) in inputs.iter() {
            if !input.codec.is_video() {
                continue;
            }
            let pad = &input.mixer_pad;
            match placed.get(tid.as_str()) {
                Some(r) => {
                    if let Some(cropper) = &input.cropper {
                        cropper.set_property(
                            "aspect-ratio",
                            gst::Fraction::new(r.w.max(1) as i32, r.h.max(1) as i32),
                        );
                    }
                    pad.set_property("xpos", r.x as i32);
                    pad.set_property("ypos", r.y as i32);
                    pad.set_property("width", r.w as i32);
                    pad.set_property("height", r.h as i32);
                    pad.set_property("zorder", 10u32);
                    pad.set_property("alpha", 1.0f64);
                }
                None => pad.set_property("alpha", 0.0f64),
            }
        }
        let mut spare = self.placeholders.iter();
        let without_picture = tiles.iter().zip(&rects).filter_map(|(t, r)| {
            let playing = t.video.as_ref().is_some_and(|tid| inputs.contains_key(tid));
            r.filter(|_| !playing)
        });
        for (rect, pad) in without_picture.zip(spare.by_ref()) {
            pad.set_property("xpos", rect.x as i32);
            pad.set_property("ypos", rect.y as i32);
            pad.set_property("width", rect.w as i32);
            pad.set_property("height", rect.h as i32);
            pad.set_property("alpha", 1.0f64);
        }
        for pad in spare {
            pad.set_property("alpha", 0.0f64);
        }
        let labelled = tiles
            .iter()
            .zip(&rects)
            .filter_map(|(t, r)| r.map(|r| (t, r)));
        let mut overlays = self.names.iter();
        for ((tile, rect), overlay) in labelled.zip(overlays.by_ref()) {
            // Points at Pango's 96 dpi: about a 22nd of the tile's height.
            let size = (rect.h / 30).clamp(8, 40);
            let margin = (rect.h / 40).max(4) as i32;
            overlay.set_property("text", tile.name.as_str());
            overlay.set_property("font-desc", format!("Sans Bold {size}"));
            overlay.set_property("deltax", rect.x as i32 + margin);
            overlay.set_property("deltay", -((h - rect.y - rect.h) as i32) - margin);
            overlay.set_property("silent", tile.name.is_empty());
        }
        for overlay in overlays {
            overlay.set_property("silent", true);
        }
    }

    /// Ends the outputs cleanly: EOS through the pipeline (the playlist gets its ENDLIST), then
    /// stops it. False when EOS did not come through within `timeout`.
    pub fn finish(&self, timeout: Duration) -> bool {
        lock(&self.feeds).clear();
        if let Some(background) = lock(&self.background).take() {
            if let Some(src) = background.elements.last().and_then(|e| e.static_pad("src")) {
                let _ = src.unlink(&background.pad);
            }
            self.video_mixer.release_request_pad(&background.pad);
            let _ = background.src.set_state(gst::State::Null);
            for element in &background.elements {
                let _ = element.set_state(gst::State::Null);
            }
            let _ = self.pipeline.remove(&background.src);
            let _ = self.pipeline.remove_many(&background.elements);
        }
        let state = self.pipeline.current_state();
        let sent = self.pipeline.send_event(gst::event::Eos::new());
        let eos = self.pipeline.bus().and_then(|bus| {
            bus.timed_pop_filtered(
                gst::ClockTime::from_mseconds(timeout.as_millis() as u64),
                &[gst::MessageType::Eos, gst::MessageType::Error],
            )
        });
        let ended = match eos.as_ref().map(|m| m.view()) {
            Some(gst::MessageView::Eos(_)) => true,
            Some(gst::MessageView::Error(e)) => {
                tracing::warn!(error = %e.error(), debug = ?e.debug(), "error while ending");
                false
            }
            _ => {
                tracing::warn!(?state, sent, "no EOS in time");
                false
            }
        };
        let _ = self.pipeline.set_state(gst::State::Null);
        if let Err(error) = lock(&self.playlist).end() {
            tracing::error!(%error, "cannot end the HLS playlist");
        }
        ended
    }
}

impl Drop for Compositor {
    fn drop(&mut self) {
        let _ = self.pipeline.set_state(gst::State::Null);
    }
}

/// Adds each segment splitmuxsink closes to the playlist, with its duration (running time from
/// its opening to its closing). Runs in the posting thread, before the message reaches the bus.
fn segment_handler(
    playlist: Arc<Mutex<Playlist>>,
) -> impl Fn(&gst::Bus, &gst::Message) -> gst::BusSyncReply + Send + Sync + 'static {
    let opened: Mutex<HashMap<String, u64>> = Mutex::new(HashMap::new());
    move |_, message| {
        if let gst::MessageView::Element(element) = message.view() {
            if let Some(s) = element.structure() {
                let location = s.get::<String>("location").ok();
                let time = s.get::<u64>("running-time").ok();
                match (s.name().as_str(), location, time) {
                    ("splitmuxsink-fragment-opened", Some(location), Some(time)) => {
                        lock(&opened).insert(location, time);
                    }
                    ("splitmuxsink-fragment-closed", Some(location), Some(time)) => {
                        let start = lock(&opened).remove(&location).unwrap_or(time);
                        let seconds = time.saturating_sub(start) as f64 / 1e9;
                        let name = std::path::Path::new(&location)
                            .file_name()
                            .map(|n| n.to_string_lossy().into_owned())
                            .unwrap_or(location);
                        if let Err(error) = lock(&playlist).add(&name, seconds) {
                            tracing::error!(%error, "cannot write the HLS playlist");
                        }
                    }
                    _ => {}
                }
            }
        }
        gst::BusSyncReply::Pass
    }
}

/// `avenc_aac` (gstreamer1.0-libav) or, if absent, `voaacenc`.
fn aac_encoder() -> Result<gst::Element> {
    if let Ok(e) = gst::ElementFactory::make("avenc_aac")
        .property("bitrate", 128_000i32)
        .build()
    {
        return Ok(e);
    }
    gst::ElementFactory::make("voaacenc")
        .property("bitrate", 128_000i32)
        .build()
        .context("no AAC encoder: install gstreamer1.0-libav (avenc_aac)")
}

/// A queue after an always-on live source (test sources, the background): such sources allow only
/// a frame of latency, less than the jitter buffers need, and the mixers then cannot
/// configure a latency at all; the queue's second of room makes it possible.
fn slack() -> Result<gst::Element> {
    gst::ElementFactory::make("queue")
        .property("max-size-buffers", 0u32)
        .property("max-size-bytes", 0u32)
        .property("max-size-time", 2_000_000_000u64)
        .build()
        .context("queue is missing")
}

/// How a tile is scaled: bilinear. The converter's default (4-tap cubic) costs about twice as
/// much, over a third of the mixer's time, for no difference visible on a downscaled camera.
fn tile_scaler() -> gst::Structure {
    gst::Structure::builder("GstVideoConverter")
        .field(
            "GstVideoConverter.resampler-method",
            gst_video::VideoResamplerMethod::Linear,
        )
        .field(
            "GstVideoConverter.chroma-resampler-method",
            gst_video::VideoResamplerMethod::Linear,
        )
        .field("GstVideoConverter.resampler-taps", 2u32)
        .build()
}

fn caps_filter(caps: gst::Caps) -> Result<gst::Element> {
    gst::ElementFactory::make("capsfilter")
        .property("caps", caps)
        .build()
        .context("capsfilter is missing")
}

fn rtp_caps(media: &str, clock_rate: i32, encoding: &str, pt: u8) -> gst::Caps {
    gst::Caps::builder("application/x-rtp")
        .field("media", media)
        .field("clock-rate", clock_rate)
        .field("encoding-name", encoding)
        .field("payload", i32::from(pt))
        .build()
}

/// The RTP packet as received: a 12-byte header (no CSRC, no extension) and the payload.
fn rtp_buffer(pt: u8, rtp: &Rtp<'_>) -> Option<gst::Buffer> {
    let mut data = Vec::with_capacity(12 + rtp.payload.len());
    data.push(0x80);
    data.push(if rtp.marker { 0x80 | pt } else { pt });
    data.extend_from_slice(&rtp.seq.to_be_bytes());
    data.extend_from_slice(&rtp.timestamp.to_be_bytes());
    data.extend_from_slice(&rtp.ssrc.to_be_bytes());
    data.extend_from_slice(rtp.payload);
    if rtp.payload.is_empty() {
        return None;
    }
    Some(gst::Buffer::from_mut_slice(data))
}

fn link_to_mixer(upstream: &gst::Element, mixer: &gst::Element) -> Result<gst::Pad> {
    let pad = mixer
        .request_pad_simple("sink_%u")
        .ok_or_else(|| anyhow!("{} gives no input pad", mixer.name()))?;
    let src = upstream
        .static_pad("src")
        .ok_or_else(|| anyhow!("{} has no output", upstream.name()))?;
    src.link(&pad)
        .with_context(|| format!("cannot link {} to {}", upstream.name(), mixer.name()))?;
    Ok(pad)
}

fn link_request(upstream: &gst::Element, sink: &gst::Element, name: &str) -> Result<()> {
    let pad = sink
        .request_pad_simple(name)
        .ok_or_else(|| anyhow!("{} gives no {name} pad", sink.name()))?;
    upstream
        .static_pad("src")
        .ok_or_else(|| anyhow!("{} has no output", upstream.name()))?
        .link(&pad)
        .with_context(|| format!("cannot link {} to {}", upstream.name(), sink.name()))?;
    Ok(())
}

/// tee -> queue (leaky: a slow consumer never stalls HLS) -> appsink.
fn add_tap(pipeline: &gst::Pipeline, tee: &gst::Element) -> Result<gst_app::AppSink> {
    let queue = gst::ElementFactory::make("queue")
        .property_from_str("leaky", "downstream")
        .build()
        .context("queue is missing")?;
    let sink = gst_app::AppSink::builder()
        .sync(false)
        .max_buffers(256)
        .drop(true)
        .build();
    pipeline.add_many([&queue, sink.upcast_ref()])?;
    gst::Element::link_many([tee, &queue, sink.upcast_ref()])?;
    Ok(sink)
}

/// The background picture under every tile: one buffer pushed again (shared, not copied) at
/// the output rate into a live appsrc by a thread of its own, so that it negotiates like any
/// live input (imagefreeze raced with the mixer's negotiation). The thread starts at
/// [`Compositor::start`] and ends once the appsrc refuses buffers for a second.
fn add_background(
    pipeline: &gst::Pipeline,
    mixer: &gst::Element,
    rgba: &[u8],
    width: u32,
    height: u32,
) -> Result<Background> {
    if rgba.len() != (width * height * 4) as usize {
        return Err(anyhow!("the background is not {width}x{height} RGBA"));
    }
    let caps = gst::Caps::builder("video/x-raw")
        .field("format", "RGBA")
        .field("width", width as i32)
        .field("height", height as i32)
        .field("framerate", gst::Fraction::new(FPS, 1))
        .field("pixel-aspect-ratio", gst::Fraction::new(1, 1))
        .build();
    let src = gst_app::AppSrc::builder()
        .caps(&caps)
        .format(gst::Format::Time)
        .is_live(true)
        .do_timestamp(true)
        .build();
    // At most two frames queued, the oldest dropped (appsrc properties of GStreamer 1.20).
    src.set_property("max-buffers", 2u64);
    src.set_property_from_str("leaky-type", "downstream");
    let convert = make("videoconvert")?;
    let queue = slack()?;
    pipeline.add_many([src.upcast_ref(), &convert, &queue])?;
    gst::Element::link_many([src.upcast_ref(), &convert, &queue])?;
    let pad = link_to_mixer(&queue, mixer)?;
    pad.set_property("zorder", 1u32);
    Ok(Background {
        src,
        elements: vec![convert, queue],
        pad,
        picture: Some(gst::Buffer::from_mut_slice(rgba.to_vec())),
    })
}

/// Pushes `picture` at the output rate until `src` refuses it for a second (bounded: a day).
fn feed_background(src: gst_app::AppSrc, picture: gst::Buffer) -> Result<()> {
    let period = Duration::from_nanos(1_000_000_000 / FPS as u64);
    std::thread::Builder::new()
        .name("background".into())
        .spawn(move || {
            let mut refused = 0;
            for _ in 0..(24 * 3600 * FPS) {
                if src.push_buffer(picture.clone()).is_ok() {
                    refused = 0;
                } else {
                    refused += 1;
                    if refused > FPS {
                        return;
                    }
                }
                std::thread::sleep(period);
            }
        })
        .context("cannot start the background's thread")?;
    Ok(())
}

/// The background's branch.
struct Background {
    src: gst_app::AppSrc,
    elements: Vec<gst::Element>,
    pad: gst::Pad,
    /// Pushed once the pipeline plays.
    picture: Option<gst::Buffer>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rebuilds_the_rtp_header() {
        gst::init().unwrap();
        let rtp = Rtp {
            seq: 0xBEEF,
            timestamp: 0x0102_0304,
            marker: true,
            ssrc: 0xA1B2_C3D4,
            payload: &[9, 8, 7],
        };
        let buffer = rtp_buffer(PT_VP8, &rtp).unwrap();
        let map = buffer.map_readable().unwrap();
        assert_eq!(
            map.as_slice(),
            &[
                0x80,
                0x80 | 96,
                0xBE,
                0xEF,
                1,
                2,
                3,
                4,
                0xA1,
                0xB2,
                0xC3,
                0xD4,
                9,
                8,
                7
            ]
        );
        let rtp = Rtp {
            marker: false,
            ..rtp
        };
        let buffer = rtp_buffer(PT_OPUS, &rtp).unwrap();
        assert_eq!(buffer.map_readable().unwrap()[1], 111);
        assert!(rtp_buffer(
            PT_OPUS,
            &Rtp {
                payload: &[],
                ..rtp
            }
        )
        .is_none());
    }

    #[test]
    fn bitrate_scales_with_the_frame() {
        assert_eq!(bitrate_kbps(1280, 720), 2488);
        assert!(bitrate_kbps(1920, 1080) > 5000);
        assert_eq!(bitrate_kbps(16, 16), 300);
    }
}

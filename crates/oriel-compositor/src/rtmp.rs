//! RTMP push: the H.264 and AAC encoded once by the main pipeline are handed to one small
//! pipeline per target (appsrc -> parse -> flvmux -> rtmp2sink) on a thread of its own.
//!
//! Targets are isolated: each gets samples through a bounded queue that drops when full, so
//! a slow or dead target never stalls HLS or the others; a target that fails is rebuilt after
//! a backoff (1 s doubling to 30 s), starting at the next keyframe with its own timestamps.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context, Result};
use gst::prelude::*;

use crate::pipeline::Encoded;
use crate::status::{self, TargetStatus};

/// Samples queued per target (a few seconds of audio and video).
const QUEUE: usize = 512;
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// Attempts per target: days of retrying at the longest backoff.
const MAX_ATTEMPTS: u32 = 10_000;
/// A target that has run this long without error is reported broadcasting.
const SETTLE: Duration = Duration::from_millis(1500);
/// How long a keyframe (every 2 s) and the audio format may take to arrive.
const FIRST_SAMPLE_WAIT: Duration = Duration::from_secs(10);
/// How long a target may take to end its stream cleanly.
const EOS_WAIT: Duration = Duration::from_secs(3);

enum Packet {
    Video(gst::Sample),
    Audio(gst::Sample),
}

/// The running targets.
pub struct Targets {
    ended: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

/// Starts one thread per URL (index = position among the `--rtmp` flags).
pub fn start(encoded: Encoded, urls: &[String]) -> Targets {
    let ended = Arc::new(AtomicBool::new(false));
    let mut senders: Vec<SyncSender<Packet>> = Vec::new();
    let mut threads = Vec::new();
    for (index, url) in urls.iter().enumerate() {
        let (tx, rx) = sync_channel(QUEUE);
        senders.push(tx);
        let url = url.clone();
        let ended = Arc::clone(&ended);
        let spawned = std::thread::Builder::new()
            .name(format!("rtmp-{index}"))
            .spawn(move || run_target(index, &url, &rx, &ended));
        match spawned {
            Ok(handle) => threads.push(handle),
            Err(error) => {
                tracing::error!(index, %error, "cannot start the RTMP target's thread");
                status::emit(status::target(index, TargetStatus::Errored));
            }
        }
    }
    let senders = Arc::new(senders);
    for (sink, video) in [(encoded.video, true), (encoded.audio, false)] {
        let senders = Arc::clone(&senders);
        let ended_on_eos = Arc::clone(&ended);
        sink.set_callbacks(
            gst_app::AppSinkCallbacks::builder()
                .new_sample(move |sink| {
                    let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                    for tx in senders.iter() {
                        let packet = if video {
                            Packet::Video(sample.clone())
                        } else {
                            Packet::Audio(sample.clone())
                        };
                        // Full: that target is behind, it loses samples, no one else does.
                        if let Err(TrySendError::Full(_)) = tx.try_send(packet) {
                            tracing::trace!("an RTMP target is behind");
                        }
                    }
                    Ok(gst::FlowSuccess::Ok)
                })
                .eos(move |_| ended_on_eos.store(true, Ordering::SeqCst))
                .build(),
        );
    }
    Targets { ended, threads }
}

impl Targets {
    /// Ends every stream (EOS to each target) and waits for the threads.
    pub fn finish(self) {
        self.ended.store(true, Ordering::SeqCst);
        for thread in self.threads {
            let _ = thread.join();
        }
    }
}

enum Outcome {
    Ended,
    Failed { error: String, broadcasted: bool },
}

fn run_target(index: usize, url: &str, rx: &Receiver<Packet>, ended: &AtomicBool) {
    let mut backoff = FIRST_BACKOFF;
    let mut audio_caps: Option<gst::Caps> = None;
    for attempt in 1..=MAX_ATTEMPTS {
        status::emit(status::target(index, TargetStatus::Starting));
        match push(index, url, rx, ended, &mut audio_caps) {
            Outcome::Ended => return,
            Outcome::Failed { error, broadcasted } => {
                status::emit(status::target(index, TargetStatus::Errored));
                if broadcasted {
                    backoff = FIRST_BACKOFF;
                }
                tracing::warn!(index, attempt, %error, retry_in = ?backoff, "RTMP target failed");
                let until = Instant::now() + backoff;
                // Drain while waiting so the next attempt starts with fresh samples.
                while Instant::now() < until {
                    if ended.load(Ordering::SeqCst) {
                        return;
                    }
                    if let Ok(Packet::Audio(sample)) = rx.recv_timeout(Duration::from_millis(100)) {
                        audio_caps = sample.caps_owned();
                    }
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

/// The sample's buffer with timestamps moved to start at `offset`; None before it.
fn rebased(sample: &gst::Sample, offset: gst::ClockTime) -> Option<gst::Buffer> {
    let mut buffer = sample.buffer_owned()?;
    let pts = buffer.pts()?.checked_sub(offset)?;
    let dts = buffer.dts().and_then(|d| d.checked_sub(offset));
    let b = buffer.make_mut();
    b.set_pts(pts);
    b.set_dts(dts);
    Some(buffer)
}

fn is_keyframe(sample: &gst::Sample) -> bool {
    sample
        .buffer()
        .is_some_and(|b| !b.flags().contains(gst::BufferFlags::DELTA_UNIT))
}

/// One attempt: waits for a keyframe, builds the pipeline, pushes until the end or an error.
fn push(
    index: usize,
    url: &str,
    rx: &Receiver<Packet>,
    ended: &AtomicBool,
    audio_caps: &mut Option<gst::Caps>,
) -> Outcome {
    let failed = |error: String| Outcome::Failed {
        error,
        broadcasted: false,
    };
    // Wait for a keyframe (and know the audio format), dropping what comes before.
    let waited = Instant::now();
    let keyframe = loop {
        if ended.load(Ordering::SeqCst) {
            return Outcome::Ended;
        }
        if waited.elapsed() > FIRST_SAMPLE_WAIT {
            return failed("no keyframe from the encoder".into());
        }
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(Packet::Audio(sample)) => *audio_caps = sample.caps_owned(),
            Ok(Packet::Video(sample)) if audio_caps.is_some() && is_keyframe(&sample) => {
                break sample
            }
            Ok(Packet::Video(_)) | Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return Outcome::Ended,
        }
    };
    let (Some(video_caps), Some(audio_caps), Some(offset)) = (
        keyframe.caps_owned(),
        audio_caps.clone(),
        keyframe.buffer().and_then(|b| b.pts()),
    ) else {
        return failed("encoded samples without caps or timestamps".into());
    };
    let (pipeline, vsrc, asrc) = match build(url, &video_caps, &audio_caps) {
        Ok(built) => built,
        Err(error) => return failed(format!("{error:#}")),
    };
    let result = stream(index, &pipeline, &vsrc, &asrc, rx, ended, &keyframe, offset);
    let _ = pipeline.set_state(gst::State::Null);
    result
}

#[allow(clippy::too_many_arguments)]
fn stream(
    index: usize,
    pipeline: &gst::Pipeline,
    vsrc: &gst_app::AppSrc,
    asrc: &gst_app::AppSrc,
    rx: &Receiver<Packet>,
    ended: &AtomicBool,
    keyframe: &gst::Sample,
    offset: gst::ClockTime,
) -> Outcome {
    let Some(bus) = pipeline.bus() else {
        return Outcome::Failed {
            error: "pipeline without a bus".into(),
            broadcasted: false,
        };
    };
    if pipeline.set_state(gst::State::Playing).is_err() {
        return Outcome::Failed {
            error: bus_error(&bus).unwrap_or_else(|| "the RTMP pipeline does not start".into()),
            broadcasted: false,
        };
    }
    if let Some(buffer) = rebased(keyframe, offset) {
        let _ = vsrc.push_buffer(buffer);
    }
    let started = Instant::now();
    let mut broadcasting = false;
    loop {
        if let Some(error) = bus_error(&bus) {
            return Outcome::Failed {
                error,
                broadcasted: broadcasting,
            };
        }
        if !broadcasting && started.elapsed() >= SETTLE {
            broadcasting = true;
            status::emit(status::target(index, TargetStatus::Broadcasting));
        }
        if ended.load(Ordering::SeqCst) {
            // Push what is queued, then end the stream so the receiver closes it cleanly.
            while let Ok(packet) = rx.try_recv() {
                forward(vsrc, asrc, packet, offset);
            }
            let _ = vsrc.end_of_stream();
            let _ = asrc.end_of_stream();
            let _ = bus.timed_pop_filtered(
                gst::ClockTime::from_mseconds(EOS_WAIT.as_millis() as u64),
                &[gst::MessageType::Eos, gst::MessageType::Error],
            );
            return Outcome::Ended;
        }
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(packet) => forward(vsrc, asrc, packet, offset),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => ended.store(true, Ordering::SeqCst),
        }
    }
}

fn forward(vsrc: &gst_app::AppSrc, asrc: &gst_app::AppSrc, packet: Packet, offset: gst::ClockTime) {
    let (src, sample) = match &packet {
        Packet::Video(s) => (vsrc, s),
        Packet::Audio(s) => (asrc, s),
    };
    if let Some(buffer) = rebased(sample, offset) {
        let _ = src.push_buffer(buffer);
    }
}

fn bus_error(bus: &gst::Bus) -> Option<String> {
    let message = bus.pop_filtered(&[gst::MessageType::Error])?;
    match message.view() {
        gst::MessageView::Error(e) => Some(format!(
            "{}: {}",
            e.src().map(|s| s.name().to_string()).unwrap_or_default(),
            e.error()
        )),
        _ => None,
    }
}

/// appsrc (H.264) -> h264parse -> flvmux <- aacparse <- appsrc (AAC); flvmux -> rtmp2sink.
fn build(
    url: &str,
    video_caps: &gst::Caps,
    audio_caps: &gst::Caps,
) -> Result<(gst::Pipeline, gst_app::AppSrc, gst_app::AppSrc)> {
    let pipeline = gst::Pipeline::new();
    let appsrc = |caps: &gst::Caps| {
        gst_app::AppSrc::builder()
            .caps(caps)
            .is_live(true)
            .format(gst::Format::Time)
            .max_bytes(8_000_000)
            .block(false)
            .build()
    };
    let vsrc = appsrc(video_caps);
    let asrc = appsrc(audio_caps);
    let make = |factory: &str| {
        gst::ElementFactory::make(factory)
            .build()
            .with_context(|| format!("GStreamer element {factory} is missing"))
    };
    let h264parse = make("h264parse")?;
    let aacparse = make("aacparse")?;
    let mux = gst::ElementFactory::make("flvmux")
        .property("streamable", true)
        .build()
        .context("flvmux is missing (gstreamer1.0-plugins-good)")?;
    let sink = gst::ElementFactory::make("rtmp2sink")
        .property("location", url)
        .build()
        .context("rtmp2sink is missing (gstreamer1.0-plugins-bad)")?;
    pipeline.add_many([
        vsrc.upcast_ref(),
        asrc.upcast_ref(),
        &h264parse,
        &aacparse,
        &mux,
        &sink,
    ])?;
    gst::Element::link_many([vsrc.upcast_ref(), &h264parse])?;
    gst::Element::link_many([asrc.upcast_ref(), &aacparse])?;
    for (parser, pad) in [(&h264parse, "video"), (&aacparse, "audio")] {
        let sinkpad = mux
            .request_pad_simple(pad)
            .ok_or_else(|| anyhow!("flvmux gives no {pad} pad"))?;
        parser
            .static_pad("src")
            .ok_or_else(|| anyhow!("parser without output"))?
            .link(&sinkpad)
            .with_context(|| format!("cannot link the {pad} to flvmux"))?;
    }
    gst::Element::link_many([&mux, &sink])?;
    Ok((pipeline, vsrc, asrc))
}

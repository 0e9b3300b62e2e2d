//! Shared by the integration tests: RTP made by GStreamer itself, pushed into a compositor.

#![allow(dead_code)]

use std::process::Command;
use std::sync::Arc;

use gst::prelude::*;
use oriel_compositor::pipeline::{Codec, Compositor, Rtp};

pub fn have(tool: &str) -> bool {
    Command::new(tool).arg("-version").output().is_ok()
}

/// A live GStreamer source of RTP whose packets are pushed into `compositor` as track `tid`,
/// each said to be of `codec` (as the client SDK tells it from the payload type).
pub fn rtp_source(
    compositor: &Arc<Compositor>,
    tid: &str,
    codec: Codec,
    launch: &str,
) -> gst::Pipeline {
    let pipeline = gst::parse::launch(&format!("{launch} ! appsink name=out sync=false"))
        .expect("test source pipeline")
        .downcast::<gst::Pipeline>()
        .expect("a pipeline");
    let sink = pipeline
        .by_name("out")
        .expect("appsink")
        .downcast::<gst_app::AppSink>()
        .expect("appsink type");
    let compositor = Arc::clone(compositor);
    let tid = tid.to_owned();
    sink.set_callbacks(
        gst_app::AppSinkCallbacks::builder()
            .new_sample(move |sink| {
                let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                let buffer = sample.buffer().ok_or(gst::FlowError::Error)?;
                let map = buffer.map_readable().map_err(|_| gst::FlowError::Error)?;
                let data = map.as_slice();
                // 12 bytes, CSRCs, then an extension if flagged.
                let mut start = 12 + 4 * usize::from(data[0] & 0x0f);
                if data[0] & 0x10 != 0 {
                    let words = u16::from_be_bytes([data[start + 2], data[start + 3]]);
                    start += 4 + 4 * usize::from(words);
                }
                compositor.push_rtp(
                    &tid,
                    Some(codec),
                    Rtp {
                        seq: u16::from_be_bytes([data[2], data[3]]),
                        timestamp: u32::from_be_bytes([data[4], data[5], data[6], data[7]]),
                        marker: data[1] & 0x80 != 0,
                        ssrc: u32::from_be_bytes([data[8], data[9], data[10], data[11]]),
                        payload: &data[start..],
                    },
                );
                Ok(gst::FlowSuccess::Ok)
            })
            .build(),
    );
    pipeline
        .set_state(gst::State::Playing)
        .expect("source plays");
    pipeline
}

pub fn video_source(compositor: &Arc<Compositor>, tid: &str, [r, g, b]: [u8; 3]) -> gst::Pipeline {
    let argb = 0xff00_0000u32 | (u32::from(r) << 16) | (u32::from(g) << 8) | u32::from(b);
    rtp_source(
        compositor,
        tid,
        Codec::Vp8,
        &format!(
            "videotestsrc is-live=true pattern=solid-color foreground-color={argb} \
             ! video/x-raw,width=320,height=240,framerate=30/1 \
             ! vp8enc deadline=1 keyframe-max-dist=30 ! rtpvp8pay pt=96"
        ),
    )
}

pub fn audio_source(compositor: &Arc<Compositor>, tid: &str, freq: u32) -> gst::Pipeline {
    rtp_source(
        compositor,
        tid,
        Codec::Opus,
        &format!("audiotestsrc is-live=true freq={freq} volume=0.2 ! opusenc ! rtpopuspay pt=111"),
    )
}

/// [`video_source`] in H.264 (constrained baseline, as browsers send it).
pub fn h264_video_source(
    compositor: &Arc<Compositor>,
    tid: &str,
    [r, g, b]: [u8; 3],
) -> gst::Pipeline {
    let argb = 0xff00_0000u32 | (u32::from(r) << 16) | (u32::from(g) << 8) | u32::from(b);
    rtp_source(
        compositor,
        tid,
        Codec::H264,
        &format!(
            "videotestsrc is-live=true pattern=solid-color foreground-color={argb} \
             ! video/x-raw,width=320,height=240,framerate=30/1 \
             ! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=30 \
             ! video/x-h264,profile=constrained-baseline \
             ! rtph264pay pt=102 config-interval=-1 aggregate-mode=zero-latency"
        ),
    )
}

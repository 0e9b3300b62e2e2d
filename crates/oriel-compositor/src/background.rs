//! The background image: downloaded once from its http(s) URL and decoded by GStreamer to one
//! RGBA frame of the output size, which the pipeline then repeats under the tiles.

use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use gst::prelude::*;

/// Bound on downloading and decoding the picture.
const LOAD_TIMEOUT: Duration = Duration::from_secs(15);

/// The picture at `url` scaled to `width` x `height` (aspect kept, bars black), as RGBA.
pub fn load(url: &str, width: u32, height: u32) -> Result<Vec<u8>> {
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        bail!("background {url:?}: only http:// and https:// URLs are supported");
    }
    gst::init().context("GStreamer does not initialise")?;
    let decode = gst::ElementFactory::make("uridecodebin")
        .property("uri", url)
        .build()
        .context("uridecodebin is missing (gstreamer1.0-plugins-base)")?;
    let convert = gst::ElementFactory::make("videoconvert").build()?;
    let scale = gst::ElementFactory::make("videoscale").build()?;
    let sink = gst_app::AppSink::builder()
        .caps(
            &gst::Caps::builder("video/x-raw")
                .field("format", "RGBA")
                .field("width", width as i32)
                .field("height", height as i32)
                .field("pixel-aspect-ratio", gst::Fraction::new(1, 1))
                .build(),
        )
        .build();
    let pipeline = gst::Pipeline::new();
    pipeline.add_many([&decode, &convert, &scale, sink.upcast_ref()])?;
    gst::Element::link_many([&convert, &scale, sink.upcast_ref()])?;
    let convert_sink = convert
        .static_pad("sink")
        .ok_or_else(|| anyhow!("videoconvert without input"))?;
    decode.connect_pad_added(move |_, pad| {
        let is_video = pad
            .current_caps()
            .and_then(|c| c.structure(0).map(|s| s.name().starts_with("video/")))
            .unwrap_or(false);
        if is_video && !convert_sink.is_linked() {
            let _ = pad.link(&convert_sink);
        }
    });
    pipeline
        .set_state(gst::State::Paused)
        .map_err(|_| anyhow!("background {url:?} cannot be opened"))?;
    // Prerolled (the picture is in the appsink) or failed, whichever comes first.
    let outcome = pipeline
        .bus()
        .and_then(|bus| {
            bus.timed_pop_filtered(
                gst::ClockTime::from_seconds(LOAD_TIMEOUT.as_secs()),
                &[gst::MessageType::AsyncDone, gst::MessageType::Error],
            )
        })
        .map(|message| match message.view() {
            gst::MessageView::Error(e) => Err(e.error().to_string()),
            _ => Ok(()),
        })
        .unwrap_or_else(|| Err("timed out".into()));
    let sample = match outcome {
        Ok(()) => sink
            .try_pull_preroll(gst::ClockTime::from_seconds(1))
            .ok_or_else(|| "no picture".to_owned()),
        Err(error) => Err(error),
    };
    let _ = pipeline.set_state(gst::State::Null);
    let sample =
        sample.map_err(|error| anyhow!("background {url:?} could not be loaded: {error}"))?;
    let buffer = sample
        .buffer()
        .ok_or_else(|| anyhow!("background {url:?}: no picture"))?;
    let map = buffer.map_readable()?;
    let expected = (width * height * 4) as usize;
    if map.len() < expected {
        bail!("background {url:?}: a frame of {} bytes", map.len());
    }
    Ok(map[..expected].to_vec())
}

#[cfg(test)]
mod tests {
    #[test]
    fn refuses_other_schemes() {
        let error = super::load("file:///etc/passwd", 64, 36).unwrap_err();
        assert!(error.to_string().contains("only http"), "{error}");
    }
}

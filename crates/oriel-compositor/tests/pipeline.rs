//! The compositor's pipeline without the SFU: RTP made by GStreamer itself (solid colours
//! encoded to VP8, tones to Opus) is pushed in for several participants, the HLS it writes is
//! read back with ffprobe/ffmpeg, and a decoded frame must show each participant's colour at
//! its tile's center (gallery) or one colour over the whole frame (active-speaker).

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use gst::prelude::*;

use common::{audio_source, h264_video_source, have, video_source};
use oriel_compositor::layout::{self, Layout};
use oriel_compositor::pipeline::{is_branch_element, Codec, Compositor, Config, Rtp, Tile};

const W: u32 = 640;
const H: u32 = 360;
/// Distinct solid colours, one per participant (RGB).
const COLOURS: [[u8; 3]; 4] = [[220, 30, 30], [30, 200, 30], [30, 30, 220], [230, 220, 30]];

/// Runs a composition of `n` participants for `seconds` and returns its HLS directory.
fn compose(layout: Layout, n: usize, focus: Option<usize>, seconds: u64) -> tempfile::TempDir {
    compose_on(layout, n, focus, seconds, None)
}

fn compose_on(
    layout: Layout,
    n: usize,
    focus: Option<usize>,
    seconds: u64,
    background: Option<Vec<u8>>,
) -> tempfile::TempDir {
    gst::init().expect("GStreamer");
    let dir = tempfile::tempdir().expect("temp dir");
    let compositor = Compositor::new(Config {
        width: W,
        height: H,
        layout,
        background,
        hls_dir: dir.path().to_owned(),
        rtmp: false,
    })
    .expect("compositor builds");
    compositor.start().expect("compositor starts");
    let mut sources = Vec::new();
    let mut tiles = Vec::new();
    for (i, colour) in COLOURS.iter().take(n).enumerate() {
        let (video, audio) = (format!("v{i}"), format!("a{i}"));
        compositor
            .add_track(&video, Codec::Vp8)
            .expect("video track");
        compositor
            .add_track(&audio, Codec::Opus)
            .expect("audio track");
        sources.push(video_source(&compositor, &video, *colour));
        sources.push(audio_source(&compositor, &audio, 300 + 100 * i as u32));
        tiles.push(Tile {
            video: Some(video),
            name: format!("P{i}"),
            screenshare: false,
        });
    }
    compositor.set_scene(&tiles, focus);
    std::thread::sleep(Duration::from_secs(seconds));
    for source in &sources {
        let _ = source.set_state(gst::State::Null);
    }
    assert!(
        compositor.finish(Duration::from_secs(5)),
        "EOS came through the pipeline"
    );
    dir
}

fn segments(dir: &Path) -> Vec<String> {
    let playlist = std::fs::read_to_string(dir.join("index.m3u8")).expect("index.m3u8 written");
    assert!(
        playlist.contains("#EXT-X-ENDLIST"),
        "ended playlist:\n{playlist}"
    );
    assert!(playlist.contains("#EXT-X-TARGETDURATION:2"), "{playlist}");
    playlist
        .lines()
        .filter(|l| l.starts_with("segment") && l.ends_with(".ts"))
        .map(str::to_owned)
        .collect()
}

fn probe(segment: &Path) -> String {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "stream=codec_name,width,height",
        ])
        .args(["-of", "compact"])
        .arg(segment)
        .output()
        .expect("ffprobe runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The first frame of `segment` as packed RGB.
fn frame(segment: &Path) -> Vec<u8> {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(segment)
        .args(["-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"])
        .output()
        .expect("ffmpeg runs");
    assert_eq!(out.stdout.len(), (W * H * 3) as usize, "one {W}x{H} frame");
    out.stdout
}

fn pixel(rgb: &[u8], (x, y): (u32, u32)) -> [u8; 3] {
    let i = ((y * W + x) * 3) as usize;
    [rgb[i], rgb[i + 1], rgb[i + 2]]
}

fn close(a: [u8; 3], b: [u8; 3]) -> bool {
    a.iter().zip(b).all(|(x, y)| x.abs_diff(y) < 40)
}

fn check_output(dir: &Path) -> Vec<u8> {
    let segments = segments(dir);
    assert!(segments.len() >= 2, "at least two segments: {segments:?}");
    for name in &segments {
        assert!(dir.join(name).is_file(), "{name} kept");
    }
    let last = dir.join(segments.last().expect("a segment"));
    let streams = probe(&last);
    assert!(
        streams.contains(&format!("codec_name=h264|width={W}|height={H}")),
        "H.264 {W}x{H} in {streams}"
    );
    assert!(streams.contains("codec_name=aac"), "AAC in {streams}");
    frame(&last)
}

#[test]
fn gallery_shows_one_tile_per_participant() {
    if !have("ffprobe") || !have("ffmpeg") {
        eprintln!("SKIPPED: ffprobe/ffmpeg not installed (Debian package ffmpeg)");
        return;
    }
    let started = Instant::now();
    let dir = compose(Layout::Gallery, 4, None, 5);
    let rgb = check_output(dir.path());
    let tiles = layout::gallery(4, W, H);
    for (tile, colour) in tiles.iter().zip(COLOURS) {
        let seen = pixel(&rgb, tile.center());
        assert!(
            close(seen, colour),
            "tile {tile:?}: {seen:?}, want {colour:?}"
        );
    }
    // Between the tiles (the frame's center lies in the gap of a 2x2 grid): black.
    let gap = pixel(&rgb, (W / 2, H / 2));
    assert!(close(gap, [0, 0, 0]), "gap {gap:?}");
    eprintln!("gallery test took {:?}", started.elapsed());
}

#[test]
fn the_background_shows_around_the_tiles() {
    if !have("ffprobe") || !have("ffmpeg") {
        eprintln!("SKIPPED: ffprobe/ffmpeg not installed (Debian package ffmpeg)");
        return;
    }
    let teal = [20u8, 160, 160];
    let rgba: Vec<u8> = (0..W * H)
        .flat_map(|_| [teal[0], teal[1], teal[2], 255])
        .collect();
    let dir = compose_on(Layout::Gallery, 2, None, 5, Some(rgba));
    let rgb = check_output(dir.path());
    let tiles = layout::gallery(2, W, H);
    for (tile, colour) in tiles.iter().zip(COLOURS) {
        let seen = pixel(&rgb, tile.center());
        assert!(close(seen, colour), "tile {tile:?}: {seen:?}");
    }
    for point in [(W / 2, 10), (W / 2, H - 10), (5, 5)] {
        let seen = pixel(&rgb, point);
        assert!(close(seen, teal), "background at {point:?}: {seen:?}");
    }
}

#[test]
fn joins_and_leaves_change_the_picture_while_playing() {
    if !have("ffprobe") || !have("ffmpeg") {
        eprintln!("SKIPPED: ffprobe/ffmpeg not installed (Debian package ffmpeg)");
        return;
    }
    gst::init().expect("GStreamer");
    let dir = tempfile::tempdir().expect("temp dir");
    let compositor = Compositor::new(Config {
        width: W,
        height: H,
        layout: Layout::Gallery,
        background: None,
        hls_dir: dir.path().to_owned(),
        rtmp: false,
    })
    .expect("compositor builds");
    compositor.start().expect("compositor starts");
    let tile = |i: usize| Tile {
        video: Some(format!("v{i}")),
        name: format!("P{i}"),
        screenshare: false,
    };
    let mut sources = Vec::new();
    for (i, colour) in COLOURS.iter().enumerate().take(2) {
        compositor
            .add_track(&format!("v{i}"), Codec::Vp8)
            .expect("video");
        sources.push(video_source(&compositor, &format!("v{i}"), *colour));
    }
    compositor.set_scene(&[tile(0), tile(1)], None);
    std::thread::sleep(Duration::from_millis(2500));
    // Participant 0 leaves, 2 and 3 join (3 with its camera muted: a placeholder tile).
    compositor.remove_track("v0");
    for (i, colour) in COLOURS.iter().enumerate().skip(2) {
        compositor
            .add_track(&format!("v{i}"), Codec::Vp8)
            .expect("video");
        sources.push(video_source(&compositor, &format!("v{i}"), *colour));
    }
    let mut muted = tile(3);
    muted.video = None;
    compositor.set_scene(&[tile(1), tile(2), muted], None);
    std::thread::sleep(Duration::from_millis(4000));
    for source in &sources {
        let _ = source.set_state(gst::State::Null);
    }
    assert!(compositor.finish(Duration::from_secs(5)), "EOS");
    assert_eq!(compositor.tracks().len(), 3, "v0's branch is gone");
    let segments = segments(dir.path());
    let last = dir.path().join(segments.last().expect("a segment"));
    let rgb = frame(&last);
    let tiles = layout::gallery(3, W, H);
    // The muted camera: a grey placeholder tile (with the name).
    for (tile, want) in tiles.iter().zip([COLOURS[1], COLOURS[2], [64, 64, 64]]) {
        let seen = pixel(&rgb, tile.center());
        assert!(close(seen, want), "tile {tile:?}: {seen:?}, want {want:?}");
    }
    if let Ok(keep) = std::env::var("COMPOSITOR_TEST_FRAME") {
        let _ = std::fs::write(keep, &rgb);
    }
}

#[test]
fn active_speaker_shows_the_speaker_full_frame() {
    if !have("ffprobe") || !have("ffmpeg") {
        eprintln!("SKIPPED: ffprobe/ffmpeg not installed (Debian package ffmpeg)");
        return;
    }
    let dir = compose(Layout::ActiveSpeaker, 3, Some(2), 5);
    let rgb = check_output(dir.path());
    // Letterboxed 4:3 in 16:9: the middle band is the speaker's colour, the sides are black.
    for point in [(W / 2, H / 2), (W / 2, 10), (W / 2, H - 10), (W / 4, H / 2)] {
        let seen = pixel(&rgb, point);
        assert!(close(seen, COLOURS[2]), "{point:?}: {seen:?}");
    }
    let side = pixel(&rgb, (5, H / 2));
    assert!(close(side, [0, 0, 0]), "letterbox {side:?}");
}

#[test]
fn crop_fills_the_tile() {
    if !have("ffprobe") || !have("ffmpeg") {
        eprintln!("SKIPPED: ffprobe/ffmpeg not installed (Debian package ffmpeg)");
        return;
    }
    let dir = compose(Layout::Crop, 1, None, 5);
    let rgb = check_output(dir.path());
    let tile = layout::gallery(1, W, H)[0];
    // Cropped, the 4:3 picture reaches the tile's left and right edges.
    for point in [
        tile.center(),
        (tile.x + 3, tile.y + tile.h / 2),
        (tile.x + tile.w - 4, tile.y + 3),
    ] {
        let seen = pixel(&rgb, point);
        assert!(close(seen, COLOURS[0]), "{point:?}: {seen:?}");
    }
}

#[test]
fn an_h264_publisher_is_decoded_once_its_branch_is_rebuilt_for_h264() {
    if !have("ffprobe") || !have("ffmpeg") {
        eprintln!("SKIPPED: ffprobe/ffmpeg not installed (Debian package ffmpeg)");
        return;
    }
    gst::init().expect("GStreamer");
    let dir = tempfile::tempdir().expect("temp dir");
    let compositor = Compositor::new(Config {
        width: W,
        height: H,
        layout: Layout::Gallery,
        background: None,
        hls_dir: dir.path().to_owned(),
        rtmp: false,
    })
    .expect("compositor builds");
    compositor.start().expect("compositor starts");
    // The node makes a VP8 branch before any packet tells the codec (what most browsers send).
    for (tid, codec) in [("v0", Codec::Vp8), ("v1", Codec::Vp8), ("a0", Codec::Opus)] {
        compositor.add_track(tid, codec).expect("track");
    }
    let tiles: Vec<Tile> = ["v0", "v1"]
        .iter()
        .enumerate()
        .map(|(i, tid)| Tile {
            video: Some((*tid).to_owned()),
            name: format!("P{i}"),
            screenshare: false,
        })
        .collect();
    compositor.set_scene(&tiles, None);
    let sources = [
        h264_video_source(&compositor, "v0", COLOURS[0]),
        video_source(&compositor, "v1", COLOURS[1]),
        audio_source(&compositor, "a0", 400),
    ];
    std::thread::sleep(Duration::from_secs(5));
    for source in &sources {
        let _ = source.set_state(gst::State::Null);
    }
    assert!(
        compositor.finish(Duration::from_secs(5)),
        "EOS came through"
    );
    let rgb = check_output(dir.path());
    for (tile, colour) in layout::gallery(2, W, H).iter().zip(COLOURS) {
        let seen = pixel(&rgb, tile.center());
        assert!(
            close(seen, colour),
            "tile {tile:?}: {seen:?}, want {colour:?}"
        );
    }
}

#[test]
fn broken_frames_ask_for_a_keyframe_and_a_failed_branch_is_rebuilt_and_plays_again() {
    if !have("ffprobe") || !have("ffmpeg") {
        eprintln!("SKIPPED: ffprobe/ffmpeg not installed (Debian package ffmpeg)");
        return;
    }
    gst::init().expect("GStreamer");
    let dir = tempfile::tempdir().expect("temp dir");
    let compositor = Compositor::new(Config {
        width: W,
        height: H,
        layout: Layout::Gallery,
        background: None,
        hls_dir: dir.path().to_owned(),
        rtmp: false,
    })
    .expect("compositor builds");
    let (wanted_tx, wanted) = std::sync::mpsc::channel::<String>();
    let wanted_tx = std::sync::Mutex::new(wanted_tx);
    compositor.on_keyframe_request(move |tid| {
        let _ = wanted_tx.lock().unwrap().send(tid.to_owned());
    });
    compositor.start().expect("compositor starts");
    compositor.add_track("v0", Codec::Vp8).expect("track");
    compositor.add_track("a0", Codec::Opus).expect("track");
    compositor.set_scene(
        &[Tile {
            video: Some("v0".into()),
            name: "P0".into(),
            screenshare: false,
        }],
        None,
    );
    let audio = audio_source(&compositor, "a0", 400);

    // VP8 keyframes of 320x240 whose first partition claims more bytes than there are: the
    // decoder fails each and asks for a keyframe, which reaches the requester (the publisher).
    let mut asked = Vec::new();
    for n in 0..60u32 {
        let mut payload = vec![
            0x10, 0xf0, 0xff, 0xff, 0x9d, 0x01, 0x2a, 0x40, 0x01, 0xf0, 0x00,
        ];
        payload.extend((0..200u32).map(|i| (i.wrapping_mul(31).wrapping_add(n)) as u8));
        let rtp = Rtp {
            seq: n as u16,
            timestamp: n * 3000,
            marker: true,
            ssrc: 77,
            payload: &payload,
        };
        compositor.push_rtp("v0", Some(Codec::Vp8), rtp);
        std::thread::sleep(Duration::from_millis(33));
        asked.extend(wanted.try_iter());
    }
    assert!(asked.iter().all(|t| t == "v0"), "{asked:?}");
    // Throttled: asked again, but not on each of the 60 broken frames (2 s).
    assert!(
        (1..=6).contains(&asked.len()),
        "keyframe requests: {asked:?}"
    );

    // A branch element that fails (its stream stops for good) is rebuilt: its tile plays again.
    let decoder = compositor
        .pipeline()
        .iterate_recurse()
        .into_iter()
        .flatten()
        .find(|e| is_branch_element(&e.name()) && e.factory().is_some_and(|f| f.name() == "vp8dec"))
        .expect("the branch's decoder");
    let _ = decoder.post_message(
        gst::message::Error::builder(gst::CoreError::Failed, "made to fail by the test")
            .src(&decoder)
            .build(),
    );
    // As the compositor's bus watcher does: the error names the element, which names the track.
    let error = compositor
        .pipeline()
        .bus()
        .expect("bus")
        .timed_pop_filtered(gst::ClockTime::from_seconds(2), &[gst::MessageType::Error])
        .expect("the error on the bus");
    let failed = error
        .src()
        .map(|s| s.name().to_string())
        .unwrap_or_default();
    assert!(is_branch_element(&failed), "{failed}");
    assert_eq!(
        compositor.rebuild_failed_branch(&failed).as_deref(),
        Some("v0")
    );
    // Its old elements are gone: a late error from them rebuilds nothing.
    assert_eq!(compositor.rebuild_failed_branch(&failed), None);

    let video = video_source(&compositor, "v0", COLOURS[2]);
    std::thread::sleep(Duration::from_secs(5));
    for source in [&video, &audio] {
        let _ = source.set_state(gst::State::Null);
    }
    assert!(
        compositor.finish(Duration::from_secs(5)),
        "EOS came through"
    );
    let rgb = check_output(dir.path());
    let tile = layout::gallery(1, W, H)[0];
    let seen = pixel(&rgb, tile.center());
    assert!(close(seen, COLOURS[2]), "tile {tile:?}: {seen:?}");
}

//! CPU of one broadcast: a gallery of 4 (VP8 + Opus in, H.264 + AAC to HLS out), either through
//! Oriel's compositor pipeline (`oriel`) or through the bare GStreamer pipeline doing the same
//! work (`bare`: appsrc -> jitterbuffer -> depay -> decode -> compositor/audiomixer -> x264enc
//! veryfast zerolatency / avenc_aac -> hlssink2, built by gst_parse_launch).
//!
//! The inputs are encoded before measuring (10 s of moving test patterns at 640x360 and of
//! tones), then replayed as RTP in real time, so only the broadcast's own work is counted.
//! Prints one JSON line: `{"mode","resolution","seconds","cpu_seconds","cores"}` (the
//! process's user + system time over the measured window, from /proc/self/stat).
//!
//! `cargo run --release -p oriel-compositor --example compositor_bench -- oriel 1280x720 20`
//!
//! `delay` mode measures glass-to-glass delay instead: input 0's picture is a flat grey that
//! steps to another level every 2 s ([`LEVELS`]), the other three keep their test patterns.
//! Oriel's compositor (the same pipeline as `oriel`) pushes to the RTMP URL given as the 4th
//! argument (a private nginx-rtmp on 127.0.0.1); an ffmpeg player plays it back (`-fflags
//! nobuffer`, one decoding thread, tile 0 scaled to 16x16 grey on its stdout) and this process
//! watches their mean luma. A step's delay is the instant the player
//! gets the first decoded frame past the midpoint between the old and the new level, minus
//! the instant the first RTP packet of the new level's first frame was handed to the
//! compositor. The HLS delay is the instant the segment holding that frame was listed in the
//! playlist (polled every 10 ms) minus the same input instant. Prints one JSON line:
//! `{"mode":"delay","rtmp":{"n","median_ms","max_ms","min_ms"},"hls":{...},"cores"}`.
//!
//! `compositor_bench delay 1280x720 30 rtmp://127.0.0.1:PORT/live/bench`

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use gst::prelude::*;
use gst_video::prelude::*;
use oriel_compositor::layout::{parse_resolution, Layout, Rect};
use oriel_compositor::pipeline::{Codec, Compositor, Config, Rtp, Tile};

const INPUTS: usize = 4;
const PATTERNS: [&str; INPUTS] = ["ball", "smpte", "snow", "pinwheel"];

/// The luma levels input 0 steps through in `delay` mode, [`STEP_FRAMES`] frames each (a 10 s
/// loop, so a step is told from the others unless the delay exceeds 10 s); consecutive
/// levels differ by at least 50.
const LEVELS: [u8; 5] = [20, 220, 70, 170, 120];
const STEP_FRAMES: u64 = 60;

/// One encoded RTP packet: which 30 fps frame (or 20 ms audio slot) it belongs to, and its bytes.
struct Packet {
    slot: u64,
    data: Vec<u8>,
}

/// Encodes `launch ! appsink` to the end and returns the packets with their media slot.
fn encode(launch: &str, slot_ns: u64) -> Result<Vec<Packet>> {
    encode_fed(launch, slot_ns, |_| Ok(()))
}

/// [`encode`], with `feed` called once the pipeline plays (to push into an appsrc named `in`).
fn encode_fed(
    launch: &str,
    slot_ns: u64,
    feed: impl FnOnce(&gst::Pipeline) -> Result<()>,
) -> Result<Vec<Packet>> {
    let pipeline = gst::parse::launch(&format!("{launch} ! appsink name=out sync=false"))?
        .downcast::<gst::Pipeline>()
        .map_err(|_| anyhow!("not a pipeline"))?;
    let sink = pipeline
        .by_name("out")
        .and_then(|e| e.downcast::<gst_app::AppSink>().ok())
        .ok_or_else(|| anyhow!("no appsink"))?;
    pipeline.set_state(gst::State::Playing)?;
    feed(&pipeline)?;
    let mut packets = Vec::new();
    while let Some(sample) = sink.try_pull_sample(gst::ClockTime::from_seconds(30)) {
        let buffer = sample.buffer().ok_or_else(|| anyhow!("empty sample"))?;
        let pts = buffer.pts().map_or(0, |t| t.nseconds());
        packets.push(Packet {
            slot: pts / slot_ns,
            data: buffer.map_readable()?.to_vec(),
        });
        if sink.is_eos() {
            break;
        }
    }
    pipeline.set_state(gst::State::Null)?;
    Ok(packets)
}

/// Process CPU (user + system) in seconds.
fn cpu_seconds() -> Result<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat")?;
    let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or(&stat);
    let fields: Vec<&str> = after.split_whitespace().collect();
    // utime and stime are fields 14 and 15; `after` starts at field 3.
    let ticks: f64 = fields
        .get(11..13)
        .ok_or_else(|| anyhow!("short /proc/self/stat"))?
        .iter()
        .map(|f| f.parse::<f64>().unwrap_or(0.0))
        .sum();
    Ok(ticks / 100.0)
}

/// Where replayed packets go.
enum Target {
    Oriel(Arc<Compositor>),
    Bare(Vec<gst_app::AppSrc>),
}

impl Target {
    fn push(&self, input: usize, data: &[u8]) {
        match self {
            Target::Oriel(c) => {
                let tid = format!("t{input}");
                c.push_rtp(
                    &tid,
                    None,
                    Rtp {
                        seq: u16::from_be_bytes([data[2], data[3]]),
                        timestamp: u32::from_be_bytes([data[4], data[5], data[6], data[7]]),
                        marker: data[1] & 0x80 != 0,
                        ssrc: u32::from_be_bytes([data[8], data[9], data[10], data[11]]),
                        payload: &data[12..],
                    },
                );
            }
            Target::Bare(srcs) => {
                let _ = srcs[input].push_buffer(gst::Buffer::from_slice(data.to_vec()));
            }
        }
    }
}

fn bare(
    width: u32,
    height: u32,
    dir: &std::path::Path,
) -> Result<(gst::Pipeline, Vec<gst_app::AppSrc>)> {
    let mut desc = format!(
        "compositor name=mix background=black ! video/x-raw,format=I420,width={width},height={height},framerate=30/1 \
         ! x264enc tune=zerolatency speed-preset=veryfast key-int-max=60 bitrate={} ! h264parse ! queue ! hls.video \
         audiomixer name=amix ! audioconvert ! audioresample ! audio/x-raw,rate=48000,channels=2 ! avenc_aac bitrate=128000 ! aacparse ! queue ! hls.audio \
         hlssink2 name=hls location={}/segment%05d.ts playlist-location={}/index.m3u8 target-duration=2 max-files=0 playlist-length=0 ",
        (u64::from(width) * u64::from(height) * 30 * 9 / 100 / 1000).clamp(300, 8000),
        dir.display(),
        dir.display()
    );
    for i in 0..INPUTS {
        desc.push_str(&format!(
            "appsrc name=v{i} is-live=true do-timestamp=true format=time \
             caps=application/x-rtp,media=video,clock-rate=90000,encoding-name=VP8,payload=96 \
             ! rtpjitterbuffer latency=200 ! rtpvp8depay ! vp8dec ! videoconvert ! mix.sink_{i} \
             appsrc name=a{i} is-live=true do-timestamp=true format=time \
             caps=application/x-rtp,media=audio,clock-rate=48000,encoding-name=OPUS,payload=111 \
             ! rtpjitterbuffer latency=200 ! rtpopusdepay ! opusdec ! audioconvert ! audioresample ! amix. "
        ));
    }
    let pipeline = gst::parse::launch(&desc)?
        .downcast::<gst::Pipeline>()
        .map_err(|_| anyhow!("not a pipeline"))?;
    let mix = pipeline.by_name("mix").ok_or_else(|| anyhow!("no mix"))?;
    // The same tile geometry as Oriel's gallery, so both scale the same pictures.
    for (i, tile) in oriel_compositor::layout::gallery(INPUTS, width, height)
        .iter()
        .enumerate()
    {
        let pad = mix
            .static_pad(&format!("sink_{i}"))
            .ok_or_else(|| anyhow!("no sink_{i}"))?;
        pad.set_property("xpos", tile.x as i32);
        pad.set_property("ypos", tile.y as i32);
        pad.set_property("width", tile.w as i32);
        pad.set_property("height", tile.h as i32);
    }
    let mut srcs = Vec::new();
    for name in (0..INPUTS)
        .map(|i| format!("v{i}"))
        .chain((0..INPUTS).map(|i| format!("a{i}")))
    {
        srcs.push(
            pipeline
                .by_name(&name)
                .and_then(|e| e.downcast::<gst_app::AppSrc>().ok())
                .ok_or_else(|| anyhow!("no {name}"))?,
        );
    }
    Ok((pipeline, srcs))
}

/// Input 0 of `delay` mode: 10 s of flat grey frames stepping through [`LEVELS`].
fn encode_marker() -> Result<Vec<Packet>> {
    encode_fed(
        "appsrc name=in format=time caps=video/x-raw,format=I420,width=640,height=360,framerate=30/1 \
         ! vp8enc deadline=1 target-bitrate=800000 keyframe-max-dist=60 ! rtpvp8pay pt=96 ssrc=1000",
        1_000_000_000 / 30,
        |pipeline| {
            let src = pipeline
                .by_name("in")
                .and_then(|e| e.downcast::<gst_app::AppSrc>().ok())
                .ok_or_else(|| anyhow!("no appsrc"))?;
            let (w, h) = (640usize, 360usize);
            for frame in 0..300u64 {
                let level = LEVELS[(frame / STEP_FRAMES) as usize % LEVELS.len()];
                let mut data = vec![128u8; w * h * 3 / 2];
                data[..w * h].fill(level);
                let mut buffer = gst::Buffer::from_mut_slice(data);
                {
                    let b = buffer.get_mut().ok_or_else(|| anyhow!("shared buffer"))?;
                    b.set_pts(gst::ClockTime::from_nseconds(frame * 1_000_000_000 / 30));
                    b.set_duration(gst::ClockTime::from_nseconds(1_000_000_000 / 30));
                }
                src.push_buffer(buffer)
                    .map_err(|e| anyhow!("marker frame refused: {e:?}"))?;
            }
            src.end_of_stream()
                .map_err(|e| anyhow!("marker EOS refused: {e:?}"))?;
            Ok(())
        },
    )
}

/// Follows the mean luma of a region through [`LEVELS`]: a step is the first frame closer to
/// the next level than to the current one.
struct Detector {
    region: Rect,
    state: Option<usize>,
}

impl Detector {
    fn new(width: u32, height: u32) -> Self {
        // Tile 0 of the gallery, the picture letterboxed in it, its central half.
        let tile = oriel_compositor::layout::fit(
            640,
            360,
            oriel_compositor::layout::gallery(INPUTS, width, height)[0],
        );
        Self {
            region: Rect {
                x: tile.x + tile.w / 4,
                y: tile.y + tile.h / 4,
                w: tile.w / 2,
                h: tile.h / 2,
            },
            state: None,
        }
    }

    /// The level stepped to by this frame, if it is a step.
    fn frame(&mut self, sample: &gst::Sample) -> Option<usize> {
        let luma = self.luma(sample)?;
        self.step(luma)
    }

    /// [`Self::frame`] for a frame whose region's mean luma is known.
    fn step(&mut self, luma: f64) -> Option<usize> {
        let nearest = |l: f64| {
            (0..LEVELS.len())
                .min_by(|&a, &b| {
                    (f64::from(LEVELS[a]) - l)
                        .abs()
                        .total_cmp(&(f64::from(LEVELS[b]) - l).abs())
                })
                .unwrap_or(0)
        };
        let Some(current) = self.state else {
            self.state = Some(nearest(luma));
            return None;
        };
        let next = (current + 1) % LEVELS.len();
        let (from, to) = (f64::from(LEVELS[current]), f64::from(LEVELS[next]));
        if (luma - to).abs() < (luma - from).abs() {
            self.state = Some(next);
            return Some(next);
        }
        let lost = nearest(luma);
        if lost != current && lost != next && (f64::from(LEVELS[lost]) - luma).abs() < 10.0 {
            // Lost track (a frame gap): follow without counting a step.
            eprintln!("delay: resynchronised at luma {luma:.0}");
            self.state = Some(lost);
        }
        None
    }

    fn luma(&self, sample: &gst::Sample) -> Option<f64> {
        let info = gst_video::VideoInfo::from_caps(sample.caps()?).ok()?;
        let frame =
            gst_video::VideoFrameRef::from_buffer_ref_readable(sample.buffer()?, &info).ok()?;
        let stride = frame.plane_stride()[0] as usize;
        let y = frame.plane_data(0).ok()?;
        let r = self.region;
        let (mut sum, mut n) = (0u64, 0u64);
        for row in (r.y..r.y + r.h).step_by(4) {
            for col in (r.x..r.x + r.w).step_by(4) {
                sum += u64::from(*y.get(row as usize * stride + col as usize)?);
                n += 1;
            }
        }
        (n > 0).then(|| sum as f64 / n as f64)
    }
}

type Steps = Arc<Mutex<Vec<(Instant, usize)>>>;

/// Plays `url` back with ffmpeg (an outside player: `-fflags nobuffer`, one decoding thread,
/// the region of tile 0 scaled to 16x16 grey) and records each step the detector sees, with the
/// instant its frame was read. The stream exists only once the compositor has connected, so a
/// player that exits early is started again (every 200 ms, at most 50 times) while `running`.
fn run_puller(
    url: String,
    width: u32,
    height: u32,
    steps: Steps,
    running: Arc<std::sync::atomic::AtomicBool>,
) -> std::thread::JoinHandle<()> {
    use std::io::Read;
    use std::sync::atomic::Ordering;
    std::thread::spawn(move || {
        let mut detector = Detector::new(width, height);
        let r = detector.region;
        for _ in 0..50 {
            if !running.load(Ordering::SeqCst) {
                return;
            }
            let child = std::process::Command::new("ffmpeg")
                .args(["-hide_banner", "-loglevel", "error", "-fflags", "nobuffer"])
                // Bounded: gives up on 5 s without data, reads at most 10 minutes.
                .args([
                    "-rw_timeout",
                    "5000000",
                    "-flags",
                    "low_delay",
                    "-threads",
                    "1",
                ])
                .args(["-i", &url, "-an", "-t", "600"])
                .args([
                    "-vf",
                    &format!("crop={}:{}:{}:{},scale=16:16", r.w, r.h, r.x, r.y),
                ])
                .args(["-pix_fmt", "gray", "-f", "rawvideo", "pipe:1"])
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::piped())
                .spawn();
            let mut child = match child {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("delay: cannot run ffmpeg: {e}");
                    return;
                }
            };
            let mut out = child.stdout.take().expect("piped stdout");
            let mut frame = [0u8; 256];
            let mut frames = 0u64;
            while out.read_exact(&mut frame).is_ok() {
                let now = Instant::now();
                frames += 1;
                let luma = frame.iter().map(|&v| f64::from(v)).sum::<f64>() / 256.0;
                if let Some(level) = detector.step(luma) {
                    steps.lock().unwrap().push((now, level));
                }
                if !running.load(Ordering::SeqCst) {
                    break;
                }
            }
            let _ = child.kill();
            let _ = child.wait();
            if frames > 0 {
                PULLED.fetch_add(frames, Ordering::Relaxed);
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    })
}

static PULLED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// The steps found in the HLS segments, each at the instant its segment was listed.
fn hls_steps(
    dir: &std::path::Path,
    listed: &[(String, Instant)],
    width: u32,
    height: u32,
) -> Vec<(Instant, usize)> {
    let mut detector = Detector::new(width, height);
    let mut steps = Vec::new();
    for (name, at) in listed {
        let launch = format!(
            "filesrc location={} ! tsdemux ! h264parse ! avdec_h264 ! videoconvert ! video/x-raw,format=I420",
            dir.join(name).display()
        );
        let Ok(packets) = decode_samples(&launch) else {
            eprintln!("delay: cannot decode {name}");
            continue;
        };
        for sample in &packets {
            if let Some(level) = detector.frame(sample) {
                steps.push((*at, level));
            }
        }
    }
    steps
}

fn decode_samples(launch: &str) -> Result<Vec<gst::Sample>> {
    let pipeline = gst::parse::launch(&format!("{launch} ! appsink name=out sync=false"))?
        .downcast::<gst::Pipeline>()
        .map_err(|_| anyhow!("not a pipeline"))?;
    let sink = pipeline
        .by_name("out")
        .and_then(|e| e.downcast::<gst_app::AppSink>().ok())
        .ok_or_else(|| anyhow!("no appsink"))?;
    pipeline.set_state(gst::State::Playing)?;
    let mut samples = Vec::new();
    while let Some(sample) = sink.try_pull_sample(gst::ClockTime::from_seconds(10)) {
        samples.push(sample);
    }
    pipeline.set_state(gst::State::Null)?;
    Ok(samples)
}

/// Each seen step's delay in ms: its instant minus the latest input change to the same level
/// before it (at most 10 s earlier).
fn delays(changes: &[(Instant, usize)], seen: &[(Instant, usize)]) -> Vec<f64> {
    seen.iter()
        .filter_map(|(at, level)| {
            changes
                .iter()
                .filter(|(t, l)| l == level && t <= at)
                .map(|(t, _)| at.duration_since(*t).as_secs_f64() * 1000.0)
                .min_by(f64::total_cmp)
                .filter(|ms| *ms < 10_000.0)
        })
        .collect()
}

fn summary(mut ms: Vec<f64>) -> serde_json::Value {
    ms.sort_by(f64::total_cmp);
    let median = if ms.is_empty() {
        None
    } else if ms.len() % 2 == 1 {
        Some(ms[ms.len() / 2])
    } else {
        Some((ms[ms.len() / 2 - 1] + ms[ms.len() / 2]) / 2.0)
    };
    let round = |v: f64| v.round() as i64;
    serde_json::json!({
        "n": ms.len(),
        "median_ms": median.map(round),
        "min_ms": ms.first().copied().map(round),
        "max_ms": ms.last().copied().map(round),
        "all_ms": ms.iter().copied().map(round).collect::<Vec<_>>(),
    })
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let mode = args.get(1).map(String::as_str).unwrap_or("oriel");
    let (width, height) = parse_resolution(args.get(2).map(String::as_str).unwrap_or("1280x720"))
        .map_err(|e| anyhow!(e))?;
    let seconds: u64 = args
        .get(3)
        .and_then(|s| s.parse().ok())
        .unwrap_or(20)
        .clamp(5, 300);
    let delay = mode == "delay";
    let rtmp_url = args.get(4).cloned();
    if delay && rtmp_url.is_none() {
        bail!("delay mode needs an RTMP URL (rtmp://127.0.0.1:PORT/live/KEY)");
    }
    gst::init()?;

    // Inputs, encoded before anything is measured: 640x360 (the layer a gallery-of-4 tile at
    // 720p asks for), or COMPOSITOR_BENCH_INPUT=WxH (1280x720: a camera's top layer, what
    // the compositor would decode without max_height).
    let (input_w, input_h) = match std::env::var("COMPOSITOR_BENCH_INPUT") {
        Ok(size) => parse_resolution(&size).map_err(|e| anyhow!(e))?,
        Err(_) => (640, 360),
    };
    let input_bps = if input_w * input_h > 640 * 360 {
        1_500_000
    } else {
        800_000
    };
    let mut video = Vec::new();
    let mut audio = Vec::new();
    for (i, pattern) in PATTERNS.iter().enumerate() {
        if delay && i == 0 {
            video.push(encode_marker()?);
        } else {
            video.push(encode(
            &format!(
                "videotestsrc num-buffers=300 pattern={pattern} ! video/x-raw,width={input_w},height={input_h},framerate=30/1 \
                 ! vp8enc deadline=1 target-bitrate={input_bps} keyframe-max-dist=60 ! rtpvp8pay pt=96 ssrc={}",
                1000 + i
            ),
            1_000_000_000 / 30,
        )?);
        }
        audio.push(encode(
            &format!(
                "audiotestsrc num-buffers=500 samplesperbuffer=960 freq={} ! audio/x-raw,rate=48000 ! opusenc ! rtpopuspay pt=111 ssrc={}",
                300 + 100 * i,
                2000 + i
            ),
            20_000_000,
        )?);
    }

    let dir = tempfile_dir()?;
    let mut targets = None;
    let (target, pipeline_to_stop) = match mode {
        "oriel" | "delay" => {
            let c = Compositor::new(Config {
                width,
                height,
                layout: Layout::Gallery,
                background: None,
                hls_dir: dir.clone(),
                rtmp: delay,
            })?;
            let mut tiles = Vec::new();
            for i in 0..INPUTS {
                c.add_track(&format!("t{i}"), Codec::Vp8)?;
                c.add_track(&format!("t{}", i + INPUTS), Codec::Opus)?;
                tiles.push(Tile {
                    video: Some(format!("t{i}")),
                    name: format!("Participant {i}"),
                    screenshare: false,
                });
            }
            c.set_scene(&tiles, None);
            c.start()?;
            if let (Some(url), Some(encoded)) = (&rtmp_url, c.take_encoded()) {
                targets = Some(oriel_compositor::rtmp::start(
                    encoded,
                    std::slice::from_ref(url),
                ));
            }
            (Target::Oriel(c), None)
        }
        "bare" => {
            let (p, srcs) = bare(width, height, &dir)?;
            p.set_state(gst::State::Playing)?;
            (Target::Bare(srcs), Some(p))
        }
        other => bail!("mode {other:?}: oriel, bare or delay"),
    };

    // Delay: the puller, and a poller noting when each HLS segment is listed.
    let changes: Steps = Arc::new(Mutex::new(Vec::new()));
    let seen: Steps = Arc::new(Mutex::new(Vec::new()));
    let listed: Arc<Mutex<Vec<(String, Instant)>>> = Arc::new(Mutex::new(Vec::new()));
    let polling = Arc::new(std::sync::atomic::AtomicBool::new(delay));
    let puller = match &rtmp_url {
        Some(url) if delay => Some(run_puller(
            url.clone(),
            width,
            height,
            Arc::clone(&seen),
            Arc::clone(&polling),
        )),
        _ => None,
    };
    let poller = {
        let (listed, polling, dir) = (Arc::clone(&listed), Arc::clone(&polling), dir.clone());
        std::thread::spawn(move || {
            let playlist = dir.join(oriel_compositor::playlist::PLAYLIST);
            while polling.load(std::sync::atomic::Ordering::SeqCst) {
                if let Ok(text) = std::fs::read_to_string(&playlist) {
                    let now = Instant::now();
                    let mut listed = listed.lock().unwrap();
                    for line in text.lines().filter(|l| l.ends_with(".ts")) {
                        if !listed.iter().any(|(n, _)| n == line) {
                            listed.push((line.to_owned(), now));
                        }
                    }
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        })
    };

    // Replay in real time, 10 s of input looped, rewriting sequence numbers and timestamps.
    let started = Instant::now();
    let warmup = Duration::from_secs(3);
    let end = warmup + Duration::from_secs(seconds);
    let mut cpu_start = None;
    let mut cursors = [0usize; INPUTS * 2];
    let mut tick: u64 = 0;
    while started.elapsed() < end {
        // 10 ms ticks: 3 video slots per 100 ms, 1 audio slot per 20 ms.
        let now_ns = started.elapsed().as_nanos() as u64;
        for (k, stream) in video.iter().chain(audio.iter()).enumerate() {
            let is_video = k < INPUTS;
            let (slot_ns, loop_slots, ts_per_slot) = if is_video {
                (1_000_000_000 / 30, 300u64, 3000u32)
            } else {
                (20_000_000, 500, 960)
            };
            let due_slot = now_ns / slot_ns;
            while let Some(p) = stream.get(cursors[k] % stream.len().max(1)) {
                let lap = (cursors[k] / stream.len()) as u64;
                let slot = lap * loop_slots + p.slot;
                if slot > due_slot {
                    break;
                }
                if delay && k == 0 && p.slot % STEP_FRAMES == 0 && data_starts_frame(&p.data) {
                    let level = (p.slot / STEP_FRAMES) as usize % LEVELS.len();
                    changes.lock().unwrap().push((Instant::now(), level));
                }
                let mut data = p.data.clone();
                let seq = u16::from_be_bytes([data[2], data[3]])
                    .wrapping_add((lap * stream.len() as u64) as u16);
                data[2..4].copy_from_slice(&seq.to_be_bytes());
                let ts = u32::from_be_bytes([data[4], data[5], data[6], data[7]])
                    .wrapping_add((lap * loop_slots) as u32 * ts_per_slot);
                data[4..8].copy_from_slice(&ts.to_be_bytes());
                target.push(k, &data);
                cursors[k] += 1;
            }
        }
        if cpu_start.is_none() && started.elapsed() >= warmup {
            cpu_start = Some((cpu_seconds()?, Instant::now()));
        }
        tick += 1;
        std::thread::sleep(Duration::from_millis(10));
    }
    let (cpu0, t0) = cpu_start.context("no measurement window")?;
    let cpu = cpu_seconds()? - cpu0;
    let wall = t0.elapsed().as_secs_f64();
    polling.store(false, std::sync::atomic::Ordering::SeqCst);
    let _ = poller.join();
    if let Some(p) = puller {
        let _ = p.join();
    }
    let segments = std::fs::read_dir(&dir)?
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.file_name().to_string_lossy().ends_with(".ts"))
        })
        .count();
    match &target {
        Target::Oriel(c) => {
            c.finish(Duration::from_secs(3));
            if let Some(t) = targets.take() {
                t.finish();
            }
        }
        Target::Bare(_) => {
            if let Some(p) = &pipeline_to_stop {
                p.set_state(gst::State::Null)?;
            }
        }
    }
    if segments == 0 {
        let _ = std::fs::remove_dir_all(&dir);
        bail!("no HLS segment was written: the pipeline did not run");
    }
    if delay {
        let changes = changes.lock().unwrap().clone();
        let seen = seen.lock().unwrap().clone();
        let listed = listed.lock().unwrap().clone();
        let hls = hls_steps(&dir, &listed, width, height);
        let _ = std::fs::remove_dir_all(&dir);
        let rtmp = delays(&changes, &seen);
        let hls = delays(&changes, &hls);
        eprintln!(
            "delay: {} input steps, {} frames pulled, {} steps seen over RTMP, {} in HLS",
            changes.len(),
            PULLED.load(std::sync::atomic::Ordering::Relaxed),
            seen.len(),
            hls.len()
        );
        println!(
            "{}",
            serde_json::json!({
                "mode": mode,
                "resolution": format!("{width}x{height}"),
                "seconds": (wall * 10.0).round() / 10.0,
                "cores": (cpu / wall * 1000.0).round() / 1000.0,
                "input_steps": changes.len(),
                "rtmp": summary(rtmp),
                "hls": summary(hls),
            })
        );
        return Ok(());
    }
    let _ = std::fs::remove_dir_all(&dir);
    println!(
        "{}",
        serde_json::json!({
            "mode": mode,
            "resolution": format!("{width}x{height}"),
            "seconds": (wall * 10.0).round() / 10.0,
            "cpu_seconds": (cpu * 100.0).round() / 100.0,
            "cores": (cpu / wall * 1000.0).round() / 1000.0,
            "segments": segments,
            "ticks": tick,
        })
    );
    Ok(())
}

/// Whether an RTP packet of VP8 carries the start of a frame (the S bit of partition 0).
fn data_starts_frame(rtp: &[u8]) -> bool {
    rtp.get(12).is_some_and(|d| d & 0x10 != 0 && d & 0x07 == 0)
}

fn tempfile_dir() -> Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("oriel-compositor-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

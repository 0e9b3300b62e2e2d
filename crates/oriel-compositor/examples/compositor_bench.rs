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

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use gst::prelude::*;
use oriel_compositor::layout::{parse_resolution, Layout};
use oriel_compositor::pipeline::{Codec, Compositor, Config, Rtp, Tile};

const INPUTS: usize = 4;
const PATTERNS: [&str; INPUTS] = ["ball", "smpte", "snow", "pinwheel"];

/// One encoded RTP packet: which 30 fps frame (or 20 ms audio slot) it belongs to, and its bytes.
struct Packet {
    slot: u64,
    data: Vec<u8>,
}

/// Encodes `launch ! appsink` to the end and returns the packets with their media slot.
fn encode(launch: &str, slot_ns: u64) -> Result<Vec<Packet>> {
    let pipeline = gst::parse::launch(&format!("{launch} ! appsink name=out sync=false"))?
        .downcast::<gst::Pipeline>()
        .map_err(|_| anyhow!("not a pipeline"))?;
    let sink = pipeline
        .by_name("out")
        .and_then(|e| e.downcast::<gst_app::AppSink>().ok())
        .ok_or_else(|| anyhow!("no appsink"))?;
    pipeline.set_state(gst::State::Playing)?;
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
    gst::init()?;

    // Inputs, encoded before anything is measured.
    let mut video = Vec::new();
    let mut audio = Vec::new();
    for (i, pattern) in PATTERNS.iter().enumerate() {
        video.push(encode(
            &format!(
                "videotestsrc num-buffers=300 pattern={pattern} ! video/x-raw,width=640,height=360,framerate=30/1 \
                 ! vp8enc deadline=1 target-bitrate=800000 keyframe-max-dist=60 ! rtpvp8pay pt=96 ssrc={}",
                1000 + i
            ),
            1_000_000_000 / 30,
        )?);
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
    let (target, pipeline_to_stop) = match mode {
        "oriel" => {
            let c = Compositor::new(Config {
                width,
                height,
                layout: Layout::Gallery,
                background: None,
                hls_dir: dir.clone(),
                rtmp: false,
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
            (Target::Oriel(c), None)
        }
        "bare" => {
            let (p, srcs) = bare(width, height, &dir)?;
            p.set_state(gst::State::Playing)?;
            (Target::Bare(srcs), Some(p))
        }
        other => bail!("mode {other:?}: oriel or bare"),
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
    let segments = std::fs::read_dir(&dir)?
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.file_name().to_string_lossy().ends_with(".ts"))
        })
        .count();
    match &target {
        Target::Oriel(c) => {
            c.finish(Duration::from_secs(3));
        }
        Target::Bare(_) => {
            if let Some(p) = &pipeline_to_stop {
                p.set_state(gst::State::Null)?;
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    if segments == 0 {
        bail!("no HLS segment was written: the pipeline did not run");
    }
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

fn tempfile_dir() -> Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("oriel-compositor-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

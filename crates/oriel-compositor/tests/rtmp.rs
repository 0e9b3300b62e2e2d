//! RTMP push against a private nginx-rtmp on 127.0.0.1 (started and stopped by PID here):
//! the stream it records holds H.264 at the requested size and AAC, while a second target
//! that refuses connections neither stops it nor the HLS output.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use gst::prelude::*;

use common::{audio_source, have, video_source};
use oriel_compositor::layout::Layout;
use oriel_compositor::pipeline::{Codec, Compositor, Config, Tile};
use oriel_compositor::rtmp;

const W: u32 = 640;
const H: u32 = 360;
const MODULE: &str = "/usr/lib/nginx/modules/ngx_rtmp_module.so";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// nginx in the foreground, single process, everything under `dir`; killed on drop.
struct Nginx(Child);

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn nginx(dir: &Path, port: u16) -> Nginx {
    let records = dir.join("rec");
    std::fs::create_dir_all(&records).expect("record dir");
    std::fs::create_dir_all(dir.join("logs")).expect("log dir");
    let conf = format!(
        "load_module {MODULE};\n\
         daemon off;\nmaster_process off;\n\
         pid {dir}/nginx.pid;\nerror_log {dir}/logs/error.log info;\n\
         events {{ worker_connections 64; }}\n\
         rtmp {{ server {{ listen 127.0.0.1:{port}; application live {{\n\
           live on; record all; record_path {rec}; record_unique off; }} }} }}\n",
        dir = dir.display(),
        rec = records.display(),
    );
    let path = dir.join("nginx.conf");
    std::fs::write(&path, conf).expect("nginx.conf");
    let child = Command::new("nginx")
        .arg("-p")
        .arg(dir)
        .arg("-c")
        .arg(&path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("nginx starts");
    // Bounded wait for the listener.
    for _ in 0..50 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Nginx(child)
}

#[test]
fn pushes_to_nginx_while_a_refusing_target_fails_alone() {
    if !have("ffprobe") || !have("nginx") || !Path::new(MODULE).exists() {
        eprintln!("SKIPPED: needs ffprobe (ffmpeg) and nginx with libnginx-mod-rtmp");
        return;
    }
    gst::init().expect("GStreamer");
    let dir = tempfile::tempdir().expect("temp dir");
    let port = free_port();
    let server = nginx(dir.path(), port);
    let hls = dir.path().join("hls");
    let compositor = Compositor::new(Config {
        width: W,
        height: H,
        layout: Layout::Gallery,
        background: None,
        hls_dir: hls.clone(),
        rtmp: true,
    })
    .expect("compositor builds");
    compositor.start().expect("compositor starts");
    // Target 0 refuses (nothing listens), target 1 is nginx.
    let urls = vec![
        format!("rtmp://127.0.0.1:{}/live/refused", free_port()),
        format!("rtmp://127.0.0.1:{port}/live/key1"),
    ];
    let targets = rtmp::start(compositor.take_encoded().expect("encoded output"), &urls);
    compositor.add_track("v0", Codec::Vp8).expect("video");
    compositor.add_track("a0", Codec::Opus).expect("audio");
    let sources = [
        video_source(&compositor, "v0", [200, 40, 40]),
        audio_source(&compositor, "a0", 440),
    ];
    compositor.set_scene(
        &[Tile {
            video: Some("v0".into()),
            name: "Ana".into(),
            screenshare: false,
        }],
        None,
    );
    std::thread::sleep(Duration::from_secs(6));
    for source in &sources {
        let _ = source.set_state(gst::State::Null);
    }
    assert!(compositor.finish(Duration::from_secs(5)), "EOS through HLS");
    targets.finish();
    drop(server);

    let playlist = std::fs::read_to_string(hls.join("index.m3u8")).expect("HLS playlist");
    assert!(
        playlist.matches(".ts").count() >= 2,
        "HLS went on despite the refusing target:\n{playlist}"
    );
    let recorded = dir.path().join("rec/key1.flv");
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "stream=codec_name,width,height",
        ])
        .args(["-of", "compact"])
        .arg(&recorded)
        .output()
        .expect("ffprobe runs");
    let streams = String::from_utf8_lossy(&out.stdout);
    assert!(
        streams.contains(&format!("codec_name=h264|width={W}|height={H}")),
        "H.264 {W}x{H} received by nginx: {streams} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        streams.contains("codec_name=aac"),
        "AAC received: {streams}"
    );
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "format=duration",
            "-of",
            "csv=p=0",
        ])
        .arg(&recorded)
        .output()
        .expect("ffprobe runs");
    let duration: f64 = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or(0.0);
    assert!(duration >= 2.0, "at least 2 s received, got {duration}");
}

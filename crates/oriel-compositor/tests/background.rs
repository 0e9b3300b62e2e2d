//! The background image is fetched once over HTTP (a one-shot server on 127.0.0.1 here) and
//! decoded to one RGBA frame of the output size, its aspect kept; a URL that answers 404
//! gives an error, never a panic.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::Command;
use std::time::Duration;

use common::have;
use oriel_compositor::background;

/// Serves `body` with `status` to at most `count` requests, then stops.
fn serve(status: &'static str, body: Vec<u8>, count: usize) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(count) {
            let Ok(mut stream) = stream else { return };
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            let mut request = [0u8; 4096];
            let _ = stream.read(&mut request);
            let head = format!(
                "HTTP/1.1 {status}\r\nContent-Type: image/png\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&body);
        }
    });
    port
}

#[test]
fn downloads_and_scales_the_background() {
    if !have("ffmpeg") {
        eprintln!("SKIPPED: ffmpeg not installed (Debian package ffmpeg), needed to make the PNG");
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let png = dir.path().join("bg.png");
    // A 4:3 orange picture: in a 16:9 frame it is pillarboxed with black.
    let made = Command::new("ffmpeg")
        .args([
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            "color=c=0xF08020:s=80x60",
        ])
        .args(["-frames:v", "1"])
        .arg(&png)
        .status()
        .expect("ffmpeg runs");
    assert!(made.success());
    let port = serve("200 OK", std::fs::read(&png).expect("png"), 4);
    let rgba = background::load(&format!("http://127.0.0.1:{port}/bg.png"), 160, 90)
        .expect("background loads");
    assert_eq!(rgba.len(), 160 * 90 * 4);
    let at = |x: usize, y: usize| {
        let i = (y * 160 + x) * 4;
        [rgba[i], rgba[i + 1], rgba[i + 2]]
    };
    let centre = at(80, 45);
    assert!(
        centre[0] > 200 && (100..160).contains(&centre[1]) && centre[2] < 70,
        "orange in the middle: {centre:?}"
    );
    let side = at(3, 45);
    assert!(side.iter().all(|&c| c < 30), "black bars: {side:?}");

    let missing = serve("404 Not Found", b"no".to_vec(), 4);
    let error = background::load(&format!("http://127.0.0.1:{missing}/none.png"), 160, 90)
        .expect_err("a 404 is an error");
    assert!(
        error.to_string().contains("could not be loaded"),
        "{error:#}"
    );
}

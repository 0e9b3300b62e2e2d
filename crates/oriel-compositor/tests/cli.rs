//! The `oriel-compositor` binary as the node drives it: a minimal signaling server on
//! 127.0.0.1 answers the join with `joined` (an empty space); the process must print exactly the
//! documented JSON lines on stdout, write HLS, and end cleanly (ENDLIST, `stopped`, exit 0) on
//! SIGTERM and when the signaling connection ends. Bad arguments fail with a message.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use oriel_proto::{Joined, Limits, ServerMessage, SimulcastSettings};
use tokio_tungstenite::tungstenite::Message;

const BIN: &str = env!("CARGO_BIN_EXE_oriel-compositor");

/// Accepts one WebSocket, sends `joined`, then holds it open for `hold` (None: until the
/// client leaves). Runs on its own thread and runtime; returns the port.
fn signaling(hold: Option<Duration>) -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    listener.set_nonblocking(true).expect("nonblocking");
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
            let Ok(Ok((tcp, _))) =
                tokio::time::timeout(Duration::from_secs(20), listener.accept()).await
            else {
                return;
            };
            let Ok(mut ws) = tokio_tungstenite::accept_async(tcp).await else {
                return;
            };
            let joined = ServerMessage::Joined(Box::new(Joined {
                session_id: "s1".into(),
                connection_id: "compositor".into(),
                participant_id: "compositor".into(),
                display_name: String::new(),
                broadcasting: true,
                participants: Vec::new(),
                sub_sfus: Vec::new(),
                simulcast: SimulcastSettings {
                    camera_encodings: Vec::new(),
                    screenshare_encodings: Vec::new(),
                },
                ice_servers: Vec::new(),
                limits: Limits {
                    custom_events_per_second: 10,
                    default_track_limit: 20,
                    seconds_per_set_display_name: 1,
                },
                watchrtc_token: String::new(),
            }));
            let _ = ws.send(Message::text(joined.to_json())).await;
            let until = tokio::time::Instant::now() + hold.unwrap_or(Duration::from_secs(30));
            loop {
                match tokio::time::timeout_at(until, ws.next()).await {
                    Ok(Some(Ok(_))) => {}
                    Ok(_) => return,
                    Err(_) => break,
                }
            }
            // The space is gone: the server closes the connection.
            let _ = ws.close(None).await;
        });
    });
    port
}

fn start(port: u16, hls: &Path, extra: &[&str]) -> (Child, mpsc::Receiver<String>) {
    let mut child = Command::new(BIN)
        .args(["--server", &format!("ws://127.0.0.1:{port}/pluto")])
        .args(["--token", "not-checked-by-this-server"])
        .args(["--layout", "gallery", "--resolution", "640x360"])
        .arg("--hls-dir")
        .arg(hls)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("oriel-compositor starts");
    let stdout: ChildStdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (child, rx)
}

/// Reads lines until `want` arrives (all lines so far returned), within `limit`.
fn until(rx: &mpsc::Receiver<String>, want: &str, limit: Duration, seen: &mut Vec<String>) {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(100)) {
            let value: serde_json::Value = serde_json::from_str(&line)
                .unwrap_or_else(|_| panic!("not JSON on stdout: {line}"));
            assert!(value.is_object(), "{line}");
            seen.push(line.clone());
            if line == want {
                return;
            }
        }
    }
    panic!("no {want} within {limit:?}; stdout so far: {seen:?}");
}

fn wait_exit(child: &mut Child, limit: Duration) -> i32 {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            return status.code().unwrap_or(-1);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    panic!("oriel-compositor did not exit within {limit:?}");
}

fn assert_ended_playlist(hls: &Path) {
    let playlist = std::fs::read_to_string(hls.join("index.m3u8")).expect("index.m3u8");
    assert!(playlist.contains("#EXT-X-ENDLIST"), "{playlist}");
    assert!(playlist.contains("segment00000.ts"), "{playlist}");
}

#[test]
fn sigterm_ends_hls_and_targets_cleanly() {
    let dir = tempfile::tempdir().expect("temp dir");
    let hls = dir.path().join("hls");
    let port = signaling(None);
    let refused = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let rtmp = format!("rtmp://127.0.0.1:{refused}/live/key");
    let (mut child, rx) = start(port, &hls, &["--rtmp", &rtmp]);
    let mut seen = Vec::new();
    until(
        &rx,
        r#"{"event":"joined"}"#,
        Duration::from_secs(10),
        &mut seen,
    );
    until(
        &rx,
        r#"{"event":"target","index":0,"status":"errored"}"#,
        Duration::from_secs(10),
        &mut seen,
    );
    until(
        &rx,
        r#"{"event":"hls","status":"playing"}"#,
        Duration::from_secs(10),
        &mut seen,
    );
    assert!(
        seen.contains(&r#"{"event":"target","index":0,"status":"starting"}"#.to_owned()),
        "{seen:?}"
    );
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    until(
        &rx,
        r#"{"event":"stopped"}"#,
        Duration::from_secs(8),
        &mut seen,
    );
    assert_eq!(wait_exit(&mut child, Duration::from_secs(3)), 0);
    assert_ended_playlist(&hls);
}

#[test]
fn the_end_of_signaling_ends_the_broadcast_and_a_restart_continues_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let hls = dir.path().join("hls");
    let port = signaling(Some(Duration::from_secs(7)));
    let (mut child, rx) = start(port, &hls, &[]);
    let mut seen = Vec::new();
    until(
        &rx,
        r#"{"event":"joined"}"#,
        Duration::from_secs(10),
        &mut seen,
    );
    until(
        &rx,
        r#"{"event":"stopped"}"#,
        Duration::from_secs(15),
        &mut seen,
    );
    assert_eq!(wait_exit(&mut child, Duration::from_secs(3)), 0);
    assert_ended_playlist(&hls);
    assert!(
        seen.contains(&r#"{"event":"hls","status":"playing"}"#.to_owned()),
        "{seen:?}"
    );
    let first = std::fs::read_to_string(hls.join("index.m3u8")).expect("playlist");
    let first_segments = first.matches(".ts").count();

    // The node restarts the compositor on the same directory: the recording goes on.
    let port = signaling(Some(Duration::from_secs(5)));
    let (mut child, rx) = start(port, &hls, &[]);
    let mut seen = Vec::new();
    until(
        &rx,
        r#"{"event":"stopped"}"#,
        Duration::from_secs(15),
        &mut seen,
    );
    assert_eq!(wait_exit(&mut child, Duration::from_secs(3)), 0);
    let second = std::fs::read_to_string(hls.join("index.m3u8")).expect("playlist");
    assert!(
        second.starts_with(first.trim_end_matches("#EXT-X-ENDLIST\n")),
        "{second}"
    );
    assert!(second.contains("#EXT-X-DISCONTINUITY"), "{second}");
    assert!(second.matches(".ts").count() > first_segments, "{second}");
    assert_eq!(second.matches("#EXT-X-ENDLIST").count(), 1, "{second}");
    for name in second.lines().filter(|l| l.ends_with(".ts")) {
        assert!(hls.join(name).is_file(), "{name} kept");
    }
}

#[test]
fn refuses_bad_arguments_and_unreachable_servers() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = Command::new(BIN)
        .args(["--server", "ws://127.0.0.1:9/pluto", "--token", "t"])
        .args(["--layout", "grid", "--resolution", "640x360", "--hls-dir"])
        .arg(dir.path())
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown layout"));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "{\"event\":\"stopped\"}\n"
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let out = Command::new(BIN)
        .args([
            "--server",
            &format!("ws://127.0.0.1:{port}/pluto"),
            "--token",
            "t",
        ])
        .args(["--resolution", "640x360", "--hls-dir"])
        .arg(dir.path())
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("cannot join the space"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

//! One `oriel-compositor` child process: how it is started, what its status lines mean, and
//! how it is asked to stop. The compositor lives in its own process so that a GStreamer fault
//! never takes the node down; the node only reads its JSON status lines on stdout.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use serde::Deserialize;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

/// What to compose and where to send it.
#[derive(Clone, Debug)]
pub struct CompositorJob {
    pub signal_url: String,
    pub token: String,
    pub layout: String,
    pub resolution: String,
    pub background: Option<String>,
    pub hls_dir: PathBuf,
    /// Each simulcast target's URL with its stream key appended, in the targets' order.
    pub rtmp: Vec<String>,
}

/// A status line of the compositor.
#[derive(Debug, Deserialize, PartialEq, Eq)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum CompositorEvent {
    Joined,
    Hls { status: String },
    Target { index: usize, status: String },
    Stopped,
}

/// How long a compositor has to finish its outputs after SIGTERM before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(4);

pub struct CompositorProcess {
    child: Child,
}

impl CompositorProcess {
    /// Starts the compositor; its status lines arrive on `events` until it exits.
    pub fn spawn(
        program: &std::path::Path,
        job: &CompositorJob,
        events: mpsc::UnboundedSender<CompositorEvent>,
    ) -> std::io::Result<Self> {
        let mut command = Command::new(program);
        command
            .arg("--server")
            .arg(&job.signal_url)
            .arg("--token")
            .arg(&job.token)
            .arg("--layout")
            .arg(&job.layout)
            .arg("--resolution")
            .arg(&job.resolution)
            .arg("--hls-dir")
            .arg(&job.hls_dir);
        if let Some(background) = &job.background {
            command.arg("--background").arg(background);
        }
        for url in &job.rtmp {
            command.arg("--rtmp").arg(url);
        }
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        let mut child = command.spawn()?;
        if let Some(stdout) = child.stdout.take() {
            tokio::spawn(async move {
                let mut lines = BufReader::new(stdout).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    match serde_json::from_str::<CompositorEvent>(&line) {
                        Ok(event) => {
                            if events.send(event).is_err() {
                                break;
                            }
                        }
                        Err(error) => {
                            tracing::warn!(%error, line, "unreadable status line from a compositor")
                        }
                    }
                }
            });
        }
        Ok(Self { child })
    }

    /// Whether it has exited, without waiting.
    pub fn has_exited(&mut self) -> bool {
        !matches!(self.child.try_wait(), Ok(None))
    }

    /// Asks it to finish its outputs (SIGTERM) and waits; kills it if it takes too long.
    pub async fn stop(mut self) {
        if let Some(pid) = self.child.id() {
            let pid = nix::unistd::Pid::from_raw(pid as i32);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        }
        match tokio::time::timeout(STOP_GRACE, self.child.wait()).await {
            Ok(_) => {}
            Err(_) => {
                tracing::warn!("a compositor did not stop within {STOP_GRACE:?}; killing it");
                let _ = self.child.kill().await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines_parse() {
        let parse = |s: &str| serde_json::from_str::<CompositorEvent>(s).unwrap();
        assert_eq!(parse(r#"{"event":"joined"}"#), CompositorEvent::Joined);
        assert_eq!(
            parse(r#"{"event":"hls","status":"playing"}"#),
            CompositorEvent::Hls {
                status: "playing".into()
            }
        );
        assert_eq!(
            parse(r#"{"event":"target","index":1,"status":"errored"}"#),
            CompositorEvent::Target {
                index: 1,
                status: "errored".into()
            }
        );
        assert!(serde_json::from_str::<CompositorEvent>(r#"{"event":"nope"}"#).is_err());
    }
}

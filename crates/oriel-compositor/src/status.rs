//! The status protocol for the node: one JSON object per line on stdout, nothing else there
//! (logs go to stderr).
//!
//! `{"event":"joined"}`, `{"event":"hls","status":"playing"}`,
//! `{"event":"target","index":I,"status":"starting"|"broadcasting"|"errored"}`,
//! `{"event":"stopped"}`.

use std::io::Write;
use std::sync::Mutex;

use serde_json::{json, Value};

/// Serialises writers so lines from several threads never interleave.
static STDOUT: Mutex<()> = Mutex::new(());

/// The state of an RTMP target, as the node's simulcast target `status` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TargetStatus {
    Starting,
    Broadcasting,
    Errored,
}

impl TargetStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Starting => "starting",
            Self::Broadcasting => "broadcasting",
            Self::Errored => "errored",
        }
    }
}

pub fn joined() -> Value {
    json!({"event": "joined"})
}

pub fn hls_playing() -> Value {
    json!({"event": "hls", "status": "playing"})
}

pub fn target(index: usize, status: TargetStatus) -> Value {
    json!({"event": "target", "index": index, "status": status.as_str()})
}

pub fn stopped() -> Value {
    json!({"event": "stopped"})
}

/// Writes one line; a closed stdout (the node went away) is not our failure.
pub fn emit(event: Value) {
    let _guard = STDOUT.lock().unwrap_or_else(|e| e.into_inner());
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{event}");
    let _ = out.flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_the_documented_objects() {
        assert_eq!(joined().to_string(), r#"{"event":"joined"}"#);
        assert_eq!(
            hls_playing().to_string(),
            r#"{"event":"hls","status":"playing"}"#
        );
        assert_eq!(
            target(2, TargetStatus::Broadcasting).to_string(),
            r#"{"event":"target","index":2,"status":"broadcasting"}"#
        );
        assert_eq!(
            target(0, TargetStatus::Errored).to_string(),
            r#"{"event":"target","index":0,"status":"errored"}"#
        );
        assert_eq!(stopped().to_string(), r#"{"event":"stopped"}"#);
    }
}

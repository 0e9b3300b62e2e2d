//! Server-to-client frames of the protocol used so far.

use serde_json::{json, Value};

/// Error type codes the SDK knows (before `joined` they reject `join()`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum ErrorType {
    Unknown = 0,
    DuplicateParticipantRejected = 3,
    InvalidJwt = 6,
}

/// `visibility` is stored by the SDK but never used; 1 marks an error meant for the user.
const VISIBILITY_USER: u8 = 1;

/// An `error` frame. `fatal` without `retry` makes the SDK give up rather than reconnect.
pub fn error(error_type: ErrorType, message: &str) -> String {
    json!({
        "error": {
            "type": error_type as u8,
            "message": message,
            "visibility": VISIBILITY_USER,
            "fatal": true,
        }
    })
    .to_string()
}

/// A participant as the SDK reads it: role 1 publisher / 2 subscriber, status 1 connected.
pub fn participant(
    connection_id: &str,
    participant_id: &str,
    role: oriel_jointoken::Role,
    display_name: &str,
) -> Value {
    json!({
        "connection_id": connection_id,
        "participant_id": participant_id,
        "role": role_code(role),
        "status": 1,
        "display_name": display_name,
        "tracks": [],
    })
}

pub fn role_code(role: oriel_jointoken::Role) -> u8 {
    match role {
        oriel_jointoken::Role::Publisher => 1,
        oriel_jointoken::Role::Subscriber => 2,
    }
}

/// The `joined` frame. `ice_servers` is always present and `watchrtc_token` always empty, so
/// the SDK neither falls back to a public STUN server nor loads outside telemetry.
pub fn joined(
    session_id: &str,
    connection_id: &str,
    participant_id: &str,
    display_name: &str,
    others: &[Value],
) -> String {
    json!({
        "joined": {
            "session_id": session_id,
            "connection_id": connection_id,
            "participant_id": participant_id,
            "display_name": display_name,
            "broadcasting": false,
            "participants": others,
            "sub_sfus": [],
            "simulcast": { "camera_encodings": [], "screenshare_encodings": [] },
            "ice_servers": [],
            "limits": {
                "custom_events_per_second": 1,
                "default_track_limit": 1,
                "seconds_per_set_display_name": 10,
            },
            "watchrtc_token": "",
        }
    })
    .to_string()
}

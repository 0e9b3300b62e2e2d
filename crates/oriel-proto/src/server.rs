//! Messages from the server to the SDK.

use serde::Serialize;
use serde_json::{json, Value};

use crate::objects::{
    Candidate, CandidateTarget, ErrorType, IceServer, Limits, Participant, RequestErrorType,
    SimulcastSettings, SubSfu, Track,
};

/// The first message of every accepted connection.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Joined {
    pub session_id: String,
    pub connection_id: String,
    pub participant_id: String,
    pub display_name: String,
    pub broadcasting: bool,
    /// Everyone else; never the joiner.
    pub participants: Vec<Participant>,
    /// Publishers need at least one: their publisher PC reuses the first `sfu_id`.
    pub sub_sfus: Vec<SubSfu>,
    pub simulcast: SimulcastSettings,
    /// Always sent (possibly empty) so the SDK never falls back to a public STUN server.
    pub ice_servers: Vec<IceServer>,
    pub limits: Limits,
    /// Always empty: a non-empty token makes the SDK load outside telemetry.
    pub watchrtc_token: String,
}

/// An `error` frame.
#[derive(Clone, Debug, PartialEq)]
pub enum SignalError {
    /// About the connection; `fatal` ones end it.
    Connection {
        error_type: ErrorType,
        message: String,
        fatal: bool,
    },
    /// About requests named by their `request_id`s.
    Request {
        error_type: RequestErrorType,
        message: String,
        request_ids: Vec<String>,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub enum ServerMessage {
    Joined(Box<Joined>),
    ParticipantConnected(Participant),
    ParticipantDisconnected {
        connection_id: String,
    },
    AddTrack {
        connection_id: String,
        track: Track,
    },
    RemoveTrack {
        connection_id: String,
        track: Track,
    },
    SubOffer {
        sfu_id: String,
        sdp: String,
    },
    Answer(String),
    Candidate {
        candidate: Candidate,
        target: CandidateTarget,
        sfu_id: String,
    },
    TrackMuted {
        connection_id: String,
        track: Track,
    },
    TrackUnmuted {
        connection_id: String,
        track: Track,
    },
    /// `(connection_id, track_id)` of the current speakers, loudest first.
    ActiveSpeakers(Vec<(String, String)>),
    CustomEvent {
        id: String,
        payload: String,
        connection_id: String,
        sequence_num: u64,
        request_id: Option<String>,
    },
    ParticipantUpdate {
        connection_id: String,
        display_name: String,
        request_id: Option<String>,
    },
    BroadcastStateUpdate {
        broadcasting: bool,
    },
    SubscribeTracks {
        successes: Vec<String>,
        failures: Vec<String>,
    },
    UnsubscribeTracks {
        successes: Vec<String>,
        failures: Vec<String>,
    },
    Error(SignalError),
}

/// `visibility` is stored by the SDK but never used.
const VISIBILITY: u8 = 1;

fn connections(ids: &[String]) -> Vec<Value> {
    ids.iter()
        .map(|id| json!({ "connection_id": id }))
        .collect()
}

impl ServerMessage {
    /// The frame's JSON text.
    pub fn to_json(&self) -> String {
        let value = match self {
            Self::Joined(joined) => json!({ "joined": joined }),
            Self::ParticipantConnected(p) => json!({ "participant_connected": p }),
            Self::ParticipantDisconnected { connection_id } => {
                json!({ "participant_disconnected": { "connection_id": connection_id } })
            }
            Self::AddTrack {
                connection_id,
                track,
            } => {
                json!({ "add_track": { "connection_id": connection_id, "track": track } })
            }
            Self::RemoveTrack {
                connection_id,
                track,
            } => {
                json!({ "remove_track": { "connection_id": connection_id, "track": track } })
            }
            Self::SubOffer { sfu_id, sdp } => {
                json!({ "sub_offer": { "sfu_id": sfu_id, "sdp": sdp } })
            }
            Self::Answer(sdp) => json!({ "answer": sdp }),
            Self::Candidate {
                candidate,
                target,
                sfu_id,
            } => json!({
                "candidate": { "candidate": candidate, "type": target.code(), "sfu_id": sfu_id }
            }),
            Self::TrackMuted {
                connection_id,
                track,
            } => {
                json!({ "track_muted": { "connection_id": connection_id, "track": track } })
            }
            Self::TrackUnmuted {
                connection_id,
                track,
            } => {
                json!({ "track_unmuted": { "connection_id": connection_id, "track": track } })
            }
            Self::ActiveSpeakers(speakers) => {
                let tracks: Vec<Value> = speakers
                    .iter()
                    .map(|(c, t)| json!({ "connection_id": c, "track_id": t }))
                    .collect();
                json!({ "active_speakers": { "tracks": tracks } })
            }
            Self::CustomEvent {
                id,
                payload,
                connection_id,
                sequence_num,
                request_id,
            } => {
                let mut value = json!({ "custom_event": {
                    "id": id, "payload": payload, "scope": 1,
                    "connection_id": connection_id, "sequence_num": sequence_num,
                }});
                if let Some(request_id) = request_id {
                    value["request_id"] = json!(request_id);
                }
                value
            }
            Self::ParticipantUpdate {
                connection_id,
                display_name,
                request_id,
            } => {
                let mut value = json!({ "participant_update": {
                    "connection_id": connection_id, "display_name": display_name,
                }});
                if let Some(request_id) = request_id {
                    value["request_id"] = json!(request_id);
                }
                value
            }
            // 1 started, 2 ended: 0 would be ignored by the SDK.
            Self::BroadcastStateUpdate { broadcasting } => {
                json!({ "broadcast_state_update": if *broadcasting { 1 } else { 2 } })
            }
            Self::SubscribeTracks {
                successes,
                failures,
            } => json!({ "subscribe_tracks": {
                "successes": connections(successes), "failures": connections(failures),
            }}),
            Self::UnsubscribeTracks {
                successes,
                failures,
            } => json!({ "unsubscribe_tracks": {
                "successes": connections(successes), "failures": connections(failures),
            }}),
            Self::Error(SignalError::Connection {
                error_type,
                message,
                fatal,
            }) => json!({
                "error": { "type": *error_type as u8, "message": message, "visibility": VISIBILITY, "fatal": fatal }
            }),
            Self::Error(SignalError::Request {
                error_type,
                message,
                request_ids,
            }) => json!({
                "error": {
                    "type": *error_type as u8, "message": message, "visibility": VISIBILITY, "fatal": false,
                    "request_error": { "correlator": request_ids.join(",") },
                }
            }),
        };
        value.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_have_the_sdk_shapes() {
        let frame = ServerMessage::CustomEvent {
            id: "e".into(),
            payload: "hi".into(),
            connection_id: "c".into(),
            sequence_num: 7,
            request_id: Some("e".into()),
        }
        .to_json();
        let value: Value = serde_json::from_str(&frame).unwrap();
        assert_eq!(value["custom_event"]["sequence_num"], 7);
        assert_eq!(value["custom_event"]["scope"], 1);
        assert_eq!(value["request_id"], "e");

        let frame = ServerMessage::Error(SignalError::Request {
            error_type: RequestErrorType::CustomEventRateLimited,
            message: "slow down".into(),
            request_ids: vec!["a".into(), "b".into()],
        })
        .to_json();
        let value: Value = serde_json::from_str(&frame).unwrap();
        assert_eq!(value["error"]["type"], 6);
        assert_eq!(value["error"]["request_error"]["correlator"], "a,b");

        let frame = ServerMessage::BroadcastStateUpdate {
            broadcasting: false,
        }
        .to_json();
        assert_eq!(frame, r#"{"broadcast_state_update":2}"#);
        let frame = ServerMessage::SubscribeTracks {
            successes: vec!["c".into()],
            failures: vec![],
        }
        .to_json();
        assert_eq!(
            frame,
            r#"{"subscribe_tracks":{"failures":[],"successes":[{"connection_id":"c"}]}}"#
        );
    }
}

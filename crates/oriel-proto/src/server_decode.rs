//! The client side of the server's frames: parsing them back into [`ServerMessage`].
//!
//! Dispatch follows `@mux/spaces-web` 1.2.0 (`handleSignalMessage`): keys are tried in the
//! SDK's order and the first one whose value is *truthy* wins, so `{"answer":""}` or
//! `{"broadcast_state_update":0}` are unknown messages, as they are to the SDK. Fields the SDK
//! treats as optional get its defaults; fields it needs are required here too.

use std::sync::Mutex;

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::client::ParseError;
use crate::objects::{
    Candidate, CandidateTarget, ErrorType, IceServer, Limits, Participant, ParticipantRole,
    ParticipantStatus, RequestErrorType, SimulcastEncoding, SimulcastSettings, SubSfu, Track,
    TrackKind, TrackSource,
};
use crate::server::{Joined, ServerMessage, SignalError};

/// The keys of server frames, in the order the SDK tests them.
const KEYS: [&str; 18] = [
    "joined",
    "participant_connected",
    "participant_disconnected",
    "add_track",
    "remove_track",
    "sub_offer",
    "candidate",
    "answer",
    "track_muted",
    "track_unmuted",
    "pending_track_ack",
    "active_speakers",
    "custom_event",
    "participant_update",
    "broadcast_state_update",
    "subscribe_tracks",
    "unsubscribe_tracks",
    "error",
];

/// JavaScript truthiness, which decides the SDK's dispatch.
fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0 && !f.is_nan()),
        Value::String(s) => !s.is_empty(),
        Value::Array(_) | Value::Object(_) => true,
    }
}

fn field<T: serde::de::DeserializeOwned>(
    message: &'static str,
    value: Value,
) -> Result<T, ParseError> {
    serde_json::from_value(value).map_err(|e| ParseError::Invalid {
        message,
        reason: e.to_string(),
    })
}

fn invalid(message: &'static str, reason: impl Into<String>) -> ParseError {
    ParseError::Invalid {
        message,
        reason: reason.into(),
    }
}

// ----- wire shapes -----

#[derive(Deserialize)]
struct WireTrack {
    tid: String,
    #[serde(rename = "type", default)]
    kind: Option<f64>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    muted: Option<bool>,
    #[serde(default)]
    source: Option<String>,
    #[serde(default)]
    width: Option<f64>,
    #[serde(default)]
    height: Option<f64>,
    #[serde(default)]
    metadata: Option<Map<String, Value>>,
}

impl WireTrack {
    /// `None` when the type is neither audio nor video (the SDK does not store such a track).
    fn into_track(self) -> Option<Track> {
        let kind = self
            .kind
            .filter(|k| k.fract() == 0.0 && (1.0..=2.0).contains(k))
            .and_then(|k| TrackKind::from_code(k as u8))?;
        Some(Track {
            tid: self.tid,
            kind,
            name: self.name.unwrap_or_default(),
            muted: self.muted.unwrap_or(false),
            source: source_of(self.source.as_deref()),
            width: dimension(self.width),
            height: dimension(self.height),
            metadata: self.metadata.unwrap_or_default(),
        })
    }
}

fn dimension(value: Option<f64>) -> u32 {
    value.map_or(0, |v| v.clamp(0.0, 100_000.0) as u32)
}

/// Unknown sources become `Other` (the SDK says "unknown").
fn source_of(source: Option<&str>) -> TrackSource {
    match source {
        Some("camera") => TrackSource::Camera,
        Some("microphone") => TrackSource::Microphone,
        Some("screenshare") => TrackSource::Screenshare,
        Some("screenshareaudio") => TrackSource::Screenshareaudio,
        _ => TrackSource::Other,
    }
}

#[derive(Deserialize)]
struct WireParticipant {
    connection_id: String,
    #[serde(default)]
    participant_id: Option<String>,
    #[serde(default)]
    role: Option<f64>,
    #[serde(default)]
    status: Option<f64>,
    #[serde(default)]
    display_name: Option<String>,
    tracks: Vec<WireTrack>,
}

impl WireParticipant {
    fn into_participant(self) -> Participant {
        let participant_id = self
            .participant_id
            .filter(|id| !id.is_empty())
            .unwrap_or_else(|| self.connection_id.clone());
        Participant {
            participant_id,
            // The SDK maps 1 to publisher, 2 to subscriber, anything else to "unknown";
            // the enum has no unknown, and only an explicit 2 restricts a participant.
            role: if self.role == Some(2.0) {
                ParticipantRole::Subscriber
            } else {
                ParticipantRole::Publisher
            },
            status: match self.status.map(|s| s as i64) {
                Some(2) => ParticipantStatus::Disconnected,
                Some(3) => ParticipantStatus::Reconnected,
                _ => ParticipantStatus::Connected,
            },
            display_name: self.display_name.unwrap_or_default(),
            tracks: self
                .tracks
                .into_iter()
                .filter_map(WireTrack::into_track)
                .collect(),
            connection_id: self.connection_id,
        }
    }
}

#[derive(Deserialize)]
struct WireSubSfu {
    sfu_id: String,
    sdp: String,
}

#[derive(Deserialize)]
struct WireEncoding {
    rid: String,
    #[serde(default)]
    max_bitrate: Option<f64>,
    #[serde(default)]
    scale_resolution_down_by: Option<f64>,
    #[serde(default)]
    max_framerate: Option<f64>,
}

#[derive(Deserialize, Default)]
struct WireSimulcast {
    #[serde(default)]
    camera_encodings: Vec<WireEncoding>,
    #[serde(default)]
    screenshare_encodings: Vec<WireEncoding>,
}

#[derive(Deserialize)]
struct WireIceServer {
    #[serde(default)]
    urls: Vec<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    credential: Option<String>,
    #[serde(default)]
    credential_type: Option<String>,
}

#[derive(Deserialize)]
struct WireLimits {
    #[serde(default)]
    custom_events_per_second: Option<f64>,
    #[serde(default)]
    default_track_limit: Option<f64>,
    #[serde(default)]
    seconds_per_set_display_name: Option<f64>,
}

#[derive(Deserialize)]
struct WireJoined {
    #[serde(default)]
    session_id: String,
    connection_id: String,
    participant_id: String,
    #[serde(default)]
    display_name: Option<String>,
    #[serde(default)]
    broadcasting: Option<bool>,
    participants: Vec<WireParticipant>,
    sub_sfus: Vec<WireSubSfu>,
    #[serde(default)]
    simulcast: Option<WireSimulcast>,
    #[serde(default)]
    ice_servers: Option<Vec<WireIceServer>>,
    #[serde(default)]
    limits: Option<WireLimits>,
    #[serde(default)]
    watchrtc_token: Option<String>,
}

fn count(value: Option<f64>) -> u32 {
    value.map_or(0, |v| v.clamp(0.0, f64::from(u32::MAX)) as u32)
}

fn encodings(list: Vec<WireEncoding>) -> Result<Vec<SimulcastEncoding>, ParseError> {
    list.into_iter()
        .map(|e| {
            let rid = intern_rid(&e.rid)
                .ok_or_else(|| invalid("joined", format!("unusable simulcast rid {:?}", e.rid)))?;
            Ok(SimulcastEncoding {
                rid,
                max_bitrate: count(e.max_bitrate),
                scale_resolution_down_by: e.scale_resolution_down_by.unwrap_or(0.0) as f32,
                max_framerate: count(e.max_framerate),
            })
        })
        .collect()
}

impl WireJoined {
    fn into_joined(self) -> Result<Joined, ParseError> {
        let simulcast = self.simulcast.unwrap_or_default();
        // The SDK needs `limits` for custom events; a server that omits it gets zeros, which
        // a client reads as "not allowed".
        let limits = self.limits.map_or(
            Limits {
                custom_events_per_second: 0,
                default_track_limit: 0,
                seconds_per_set_display_name: 0,
            },
            |l| Limits {
                custom_events_per_second: count(l.custom_events_per_second),
                default_track_limit: count(l.default_track_limit),
                seconds_per_set_display_name: count(l.seconds_per_set_display_name),
            },
        );
        Ok(Joined {
            session_id: self.session_id,
            connection_id: self.connection_id,
            participant_id: self.participant_id,
            display_name: self.display_name.unwrap_or_default(),
            broadcasting: self.broadcasting.unwrap_or(false),
            participants: self
                .participants
                .into_iter()
                .map(WireParticipant::into_participant)
                .collect(),
            sub_sfus: self
                .sub_sfus
                .into_iter()
                .map(|s| SubSfu {
                    sfu_id: s.sfu_id,
                    sdp: s.sdp,
                })
                .collect(),
            simulcast: SimulcastSettings {
                camera_encodings: encodings(simulcast.camera_encodings)?,
                screenshare_encodings: encodings(simulcast.screenshare_encodings)?,
            },
            ice_servers: self
                .ice_servers
                .unwrap_or_default()
                .into_iter()
                .map(|s| IceServer {
                    urls: s.urls,
                    username: s.username.unwrap_or_default(),
                    credential: s.credential.unwrap_or_default(),
                    credential_type: s.credential_type.unwrap_or_default(),
                })
                .collect(),
            limits,
            watchrtc_token: self.watchrtc_token.unwrap_or_default(),
        })
    }
}

#[derive(Deserialize)]
struct WireConnectionTrack {
    connection_id: String,
    track: WireTrack,
}

#[derive(Deserialize)]
struct WireConnectionId {
    connection_id: String,
}

#[derive(Deserialize)]
struct WireCandidate {
    candidate: Candidate,
    #[serde(rename = "type")]
    target: f64,
    #[serde(default)]
    sfu_id: String,
}

#[derive(Deserialize)]
struct WireSpeaker {
    connection_id: String,
    track_id: String,
}

#[derive(Deserialize)]
struct WireSpeakers {
    tracks: Vec<WireSpeaker>,
}

#[derive(Deserialize)]
struct WireCustomEvent {
    #[serde(default)]
    id: String,
    payload: String,
    connection_id: String,
    #[serde(default)]
    sequence_num: Option<f64>,
}

#[derive(Deserialize)]
struct WireParticipantUpdate {
    connection_id: String,
    #[serde(default)]
    display_name: String,
}

#[derive(Deserialize)]
struct WireSubscribeReply {
    successes: Vec<WireConnectionId>,
    failures: Vec<WireConnectionId>,
}

#[derive(Deserialize)]
struct WireRequestError {
    #[serde(default)]
    correlator: Option<String>,
}

#[derive(Deserialize)]
struct WireError {
    #[serde(rename = "type", default)]
    error_type: Option<f64>,
    #[serde(default)]
    message: String,
    #[serde(default)]
    fatal: Option<bool>,
    #[serde(default)]
    request_error: Option<WireRequestError>,
}

// ----- integer codes -----

impl ErrorType {
    /// The connection-level error of a wire code; unknown codes are [`ErrorType::Unknown`].
    pub fn from_code(code: u64) -> Self {
        match code {
            1 => Self::Disconnected,
            2 => Self::HitTimeLimit,
            3 => Self::DuplicateParticipantRejected,
            4 => Self::PeerConnectionClosed,
            5 => Self::InvalidPendingTrack,
            6 => Self::InvalidJwt,
            7 => Self::ParticipantLimitReached,
            _ => Self::Unknown,
        }
    }
}

impl RequestErrorType {
    /// The request-level error of a wire code; unknown codes are [`RequestErrorType::Unknown`].
    pub fn from_code(code: u64) -> Self {
        match code {
            1 => Self::PendingTrackError,
            2 => Self::TrackMuteError,
            3 => Self::SubscribeTracksError,
            4 => Self::UnsubscribeTracksError,
            5 => Self::CustomEventError,
            6 => Self::CustomEventRateLimited,
            7 => Self::SetDisplayNameError,
            8 => Self::SetDisplayNameRateLimited,
            9 => Self::InvalidProtocolVersion,
            _ => Self::Unknown,
        }
    }
}

fn code(value: Option<f64>) -> u64 {
    value
        .filter(|v| v.fract() == 0.0 && *v >= 0.0)
        .map_or(0, |v| v as u64)
}

// ----- simulcast rids -----

/// Longest rid accepted (RFC 8851 puts no limit; browsers use one or two characters).
const MAX_RID_LEN: usize = 16;
/// Distinct unusual rids a process will keep; past that they are refused.
const MAX_INTERNED_RIDS: usize = 64;

/// [`SimulcastEncoding::rid`] is `&'static str`: common rids are constants, any other is
/// leaked once and reused, up to a bound, so a hostile server cannot grow memory.
fn intern_rid(rid: &str) -> Option<&'static str> {
    const KNOWN: [&str; 12] = [
        "q", "h", "f", "l", "m", "0", "1", "2", "lo", "mid", "hi", "r0",
    ];
    if let Some(known) = KNOWN.iter().find(|k| **k == rid) {
        return Some(known);
    }
    if rid.is_empty()
        || rid.len() > MAX_RID_LEN
        || !rid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return None;
    }
    static INTERNED: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());
    let mut interned = INTERNED.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(found) = interned.iter().find(|k| **k == rid) {
        return Some(found);
    }
    if interned.len() >= MAX_INTERNED_RIDS {
        return None;
    }
    let leaked: &'static str = Box::leak(rid.to_owned().into_boxed_str());
    interned.push(leaked);
    Some(leaked)
}

// ----- parsing -----

impl ServerMessage {
    /// Parses one text frame from the server, as the SDK would read it.
    ///
    /// `pending_track_ack` (which the SDK ignores) and keys it does not know are
    /// [`ParseError::UnknownMessage`].
    pub fn parse(frame: &str) -> Result<Self, ParseError> {
        let value: Value =
            serde_json::from_str(frame).map_err(|e| ParseError::NotJson(e.to_string()))?;
        let Value::Object(mut object) = value else {
            return Err(ParseError::NotJson("not an object".into()));
        };
        let request_id = match object.get("request_id") {
            Some(Value::String(id)) => Some(id.clone()),
            _ => None,
        };
        let Some(key) = KEYS
            .iter()
            .copied()
            .find(|key| object.get(*key).is_some_and(truthy))
        else {
            return Err(ParseError::UnknownMessage);
        };
        let value = object.remove(key).unwrap_or(Value::Null);
        Ok(match key {
            "joined" => {
                let wire: WireJoined = field("joined", value)?;
                Self::Joined(Box::new(wire.into_joined()?))
            }
            "participant_connected" => {
                let wire: WireParticipant = field("participant_connected", value)?;
                Self::ParticipantConnected(wire.into_participant())
            }
            "participant_disconnected" => {
                let wire: WireConnectionId = field("participant_disconnected", value)?;
                Self::ParticipantDisconnected {
                    connection_id: wire.connection_id,
                }
            }
            "add_track" | "remove_track" | "track_muted" | "track_unmuted" => {
                let name = match key {
                    "add_track" => "add_track",
                    "remove_track" => "remove_track",
                    "track_muted" => "track_muted",
                    _ => "track_unmuted",
                };
                let wire: WireConnectionTrack = field(name, value)?;
                let track = wire
                    .track
                    .into_track()
                    .ok_or_else(|| invalid(name, "track type must be 1 or 2"))?;
                let connection_id = wire.connection_id;
                match key {
                    "add_track" => Self::AddTrack {
                        connection_id,
                        track,
                    },
                    "remove_track" => Self::RemoveTrack {
                        connection_id,
                        track,
                    },
                    "track_muted" => Self::TrackMuted {
                        connection_id,
                        track,
                    },
                    _ => Self::TrackUnmuted {
                        connection_id,
                        track,
                    },
                }
            }
            "sub_offer" => {
                let wire: WireSubSfu = field("sub_offer", value)?;
                Self::SubOffer {
                    sfu_id: wire.sfu_id,
                    sdp: wire.sdp,
                }
            }
            "candidate" => {
                let wire: WireCandidate = field("candidate", value)?;
                let target = if wire.target == 1.0 {
                    CandidateTarget::Subscriber
                } else if wire.target == 2.0 {
                    CandidateTarget::Publisher
                } else {
                    return Err(invalid("candidate", "type must be 1 or 2"));
                };
                Self::Candidate {
                    candidate: wire.candidate,
                    target,
                    sfu_id: wire.sfu_id,
                }
            }
            "answer" => Self::Answer(field("answer", value)?),
            "active_speakers" => {
                let wire: WireSpeakers = field("active_speakers", value)?;
                Self::ActiveSpeakers(
                    wire.tracks
                        .into_iter()
                        .map(|s| (s.connection_id, s.track_id))
                        .collect(),
                )
            }
            "custom_event" => {
                let wire: WireCustomEvent = field("custom_event", value)?;
                Self::CustomEvent {
                    id: wire.id,
                    payload: wire.payload,
                    connection_id: wire.connection_id,
                    sequence_num: code(wire.sequence_num),
                    request_id,
                }
            }
            "participant_update" => {
                let wire: WireParticipantUpdate = field("participant_update", value)?;
                Self::ParticipantUpdate {
                    connection_id: wire.connection_id,
                    display_name: wire.display_name,
                    request_id,
                }
            }
            "broadcast_state_update" => Self::BroadcastStateUpdate {
                // 1 is started; any other truthy value is ended.
                broadcasting: value.as_f64() == Some(1.0),
            },
            "subscribe_tracks" | "unsubscribe_tracks" => {
                let name = if key == "subscribe_tracks" {
                    "subscribe_tracks"
                } else {
                    "unsubscribe_tracks"
                };
                let wire: WireSubscribeReply = field(name, value)?;
                let successes = wire
                    .successes
                    .into_iter()
                    .map(|c| c.connection_id)
                    .collect();
                let failures = wire.failures.into_iter().map(|c| c.connection_id).collect();
                if key == "subscribe_tracks" {
                    Self::SubscribeTracks {
                        successes,
                        failures,
                    }
                } else {
                    Self::UnsubscribeTracks {
                        successes,
                        failures,
                    }
                }
            }
            "error" => {
                let wire: WireError = field("error", value)?;
                let correlator = wire.request_error.and_then(|r| r.correlator);
                Self::Error(match correlator {
                    Some(correlator) => SignalError::Request {
                        error_type: RequestErrorType::from_code(code(wire.error_type)),
                        message: wire.message,
                        request_ids: correlator
                            .split(',')
                            .filter(|id| !id.is_empty())
                            .map(str::to_owned)
                            .collect(),
                    },
                    None => SignalError::Connection {
                        error_type: ErrorType::from_code(code(wire.error_type)),
                        message: wire.message,
                        fatal: wire.fatal.unwrap_or(false),
                    },
                })
            }
            // pending_track_ack: the SDK ignores it.
            _ => return Err(ParseError::UnknownMessage),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn track(tid: &str, kind: TrackKind) -> Track {
        Track {
            tid: tid.into(),
            kind,
            name: "n".into(),
            muted: false,
            source: if kind == TrackKind::Audio {
                TrackSource::Microphone
            } else {
                TrackSource::Camera
            },
            width: 640,
            height: 480,
            metadata: Map::new(),
        }
    }

    fn participant() -> Participant {
        Participant {
            connection_id: "c1".into(),
            participant_id: "p1".into(),
            role: ParticipantRole::Publisher,
            status: ParticipantStatus::Connected,
            display_name: "Alice".into(),
            tracks: vec![track("a", TrackKind::Audio), track("v", TrackKind::Video)],
        }
    }

    /// Every message the server builds parses back to itself.
    #[test]
    fn round_trips_every_server_message() {
        let joined = Joined {
            session_id: "s".into(),
            connection_id: "c".into(),
            participant_id: "p".into(),
            display_name: "Bob".into(),
            broadcasting: true,
            participants: vec![participant()],
            sub_sfus: vec![SubSfu {
                sfu_id: "sfu".into(),
                sdp: "v=0".into(),
            }],
            simulcast: SimulcastSettings {
                camera_encodings: vec![
                    SimulcastEncoding {
                        rid: "q",
                        max_bitrate: 150_000,
                        scale_resolution_down_by: 4.0,
                        max_framerate: 0,
                    },
                    SimulcastEncoding {
                        rid: "odd-rid",
                        max_bitrate: 1,
                        scale_resolution_down_by: 1.0,
                        max_framerate: 30,
                    },
                ],
                screenshare_encodings: vec![],
            },
            ice_servers: vec![IceServer {
                urls: vec!["stun:127.0.0.1:3478".into()],
                username: "".into(),
                credential: "".into(),
                credential_type: "".into(),
            }],
            limits: Limits {
                custom_events_per_second: 5,
                default_track_limit: 2,
                seconds_per_set_display_name: 10,
            },
            watchrtc_token: "".into(),
        };
        let messages = vec![
            ServerMessage::Joined(Box::new(joined)),
            ServerMessage::ParticipantConnected(participant()),
            ServerMessage::ParticipantDisconnected {
                connection_id: "c1".into(),
            },
            ServerMessage::AddTrack {
                connection_id: "c1".into(),
                track: track("v", TrackKind::Video),
            },
            ServerMessage::RemoveTrack {
                connection_id: "c1".into(),
                track: track("v", TrackKind::Video),
            },
            ServerMessage::SubOffer {
                sfu_id: "sfu".into(),
                sdp: "v=0".into(),
            },
            ServerMessage::Answer("v=0".into()),
            ServerMessage::Candidate {
                candidate: Candidate {
                    candidate: "candidate:1 1 udp 1 127.0.0.1 5 typ host".into(),
                    sdp_mline_index: Some(0),
                    sdp_mid: Some("0".into()),
                    username_fragment: None,
                },
                target: CandidateTarget::Publisher,
                sfu_id: "sfu".into(),
            },
            ServerMessage::TrackMuted {
                connection_id: "c1".into(),
                track: track("a", TrackKind::Audio),
            },
            ServerMessage::TrackUnmuted {
                connection_id: "c1".into(),
                track: track("a", TrackKind::Audio),
            },
            ServerMessage::ActiveSpeakers(vec![("c1".into(), "a".into())]),
            ServerMessage::CustomEvent {
                id: "e".into(),
                payload: "hi".into(),
                connection_id: "c1".into(),
                sequence_num: 3,
                request_id: Some("e".into()),
            },
            ServerMessage::CustomEvent {
                id: "e".into(),
                payload: "hi".into(),
                connection_id: "c1".into(),
                sequence_num: 3,
                request_id: None,
            },
            ServerMessage::ParticipantUpdate {
                connection_id: "c1".into(),
                display_name: "Al".into(),
                request_id: Some("r".into()),
            },
            ServerMessage::BroadcastStateUpdate { broadcasting: true },
            ServerMessage::BroadcastStateUpdate {
                broadcasting: false,
            },
            ServerMessage::SubscribeTracks {
                successes: vec!["c1".into()],
                failures: vec!["c2".into()],
            },
            ServerMessage::UnsubscribeTracks {
                successes: vec![],
                failures: vec![],
            },
            ServerMessage::Error(SignalError::Connection {
                error_type: ErrorType::InvalidJwt,
                message: "bad".into(),
                fatal: true,
            }),
            ServerMessage::Error(SignalError::Request {
                error_type: RequestErrorType::CustomEventRateLimited,
                message: "slow".into(),
                request_ids: vec!["a".into(), "b".into()],
            }),
        ];
        for message in messages {
            let frame = message.to_json();
            assert_eq!(ServerMessage::parse(&frame).unwrap(), message, "{frame}");
        }
    }

    #[test]
    fn reads_frames_the_way_the_sdk_does() {
        // First truthy key wins; falsy values do not count.
        assert_eq!(
            ServerMessage::parse(r#"{"answer":"","broadcast_state_update":1}"#).unwrap(),
            ServerMessage::BroadcastStateUpdate { broadcasting: true }
        );
        assert_eq!(
            ServerMessage::parse(r#"{"broadcast_state_update":0}"#),
            Err(ParseError::UnknownMessage)
        );
        assert_eq!(
            ServerMessage::parse(r#"{"pending_track_ack":true}"#),
            Err(ParseError::UnknownMessage)
        );
        // Optional participant and track fields take the SDK's defaults; odd tracks are dropped.
        let frame = r#"{"participant_connected":{"connection_id":"c","role":7,"tracks":[{"tid":"t","type":2},{"tid":"x","type":9}]}}"#;
        let ServerMessage::ParticipantConnected(p) = ServerMessage::parse(frame).unwrap() else {
            panic!("not a participant");
        };
        assert_eq!(p.participant_id, "c");
        assert_eq!(p.tracks.len(), 1);
        assert_eq!(p.tracks[0].source, TrackSource::Other);
        // A minimal joined, as the notes' subscriber saw it.
        let frame = r#"{"joined":{"session_id":"s","connection_id":"c","participant_id":"p","participants":[],"sub_sfus":[]}}"#;
        let ServerMessage::Joined(joined) = ServerMessage::parse(frame).unwrap() else {
            panic!("not joined");
        };
        assert!(joined.simulcast.camera_encodings.is_empty());
        // An error without request_error is about the connection; fatal defaults to false.
        assert_eq!(
            ServerMessage::parse(r#"{"error":{"type":3,"message":"dup","visibility":1}}"#).unwrap(),
            ServerMessage::Error(SignalError::Connection {
                error_type: ErrorType::DuplicateParticipantRejected,
                message: "dup".into(),
                fatal: false
            })
        );
    }

    #[test]
    fn refuses_garbage_without_panicking() {
        for bad in [
            "nope",
            "[]",
            r#"{"hello":1}"#,
            r#"{"joined":{"connection_id":"c"}}"#,
            r#"{"add_track":{"connection_id":"c","track":{"tid":"t","type":5}}}"#,
            r#"{"candidate":{"candidate":{"candidate":"x"},"type":3}}"#,
            r#"{"active_speakers":{"tracks":5}}"#,
            r#"{"joined":{"connection_id":"c","participant_id":"p","participants":[],"sub_sfus":[],"simulcast":{"camera_encodings":[{"rid":"has space"}]}}}"#,
        ] {
            assert!(ServerMessage::parse(bad).is_err(), "{bad}");
        }
    }
}

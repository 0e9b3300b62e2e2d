//! Objects that appear inside messages in both directions.

use serde::{Deserialize, Serialize};

/// 1 audio, 2 video.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TrackKind {
    Audio,
    Video,
}

impl TrackKind {
    pub fn code(self) -> u8 {
        match self {
            Self::Audio => 1,
            Self::Video => 2,
        }
    }

    pub fn from_code(code: u8) -> Option<Self> {
        match code {
            1 => Some(Self::Audio),
            2 => Some(Self::Video),
            _ => None,
        }
    }
}

impl Serialize for TrackKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u8(self.code())
    }
}

impl<'de> Deserialize<'de> for TrackKind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let code = u8::deserialize(d)?;
        Self::from_code(code).ok_or_else(|| serde::de::Error::custom(format!("track type {code}")))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TrackSource {
    Camera,
    Microphone,
    Screenshare,
    Screenshareaudio,
    Other,
}

impl TrackSource {
    pub fn is_screen(self) -> bool {
        matches!(self, Self::Screenshare | Self::Screenshareaudio)
    }
}

/// A published track as the SDK describes it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Track {
    pub tid: String,
    #[serde(rename = "type")]
    pub kind: TrackKind,
    pub name: String,
    pub muted: bool,
    pub source: TrackSource,
    pub width: u32,
    pub height: u32,
    /// Always `{}`: SDK clients never send metadata.
    pub metadata: serde_json::Map<String, serde_json::Value>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParticipantRole {
    Publisher,
    Subscriber,
}

impl Serialize for ParticipantRole {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u8(match self {
            Self::Publisher => 1,
            Self::Subscriber => 2,
        })
    }
}

impl<'de> Deserialize<'de> for ParticipantRole {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match u8::deserialize(d)? {
            1 => Ok(Self::Publisher),
            2 => Ok(Self::Subscriber),
            other => Err(serde::de::Error::custom(format!(
                "participant role {other}"
            ))),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParticipantStatus {
    Connected,
    Disconnected,
    Reconnected,
}

impl Serialize for ParticipantStatus {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u8(match self {
            Self::Connected => 1,
            Self::Disconnected => 2,
            Self::Reconnected => 3,
        })
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Participant {
    pub connection_id: String,
    pub participant_id: String,
    pub role: ParticipantRole,
    pub status: ParticipantStatus,
    pub display_name: String,
    pub tracks: Vec<Track>,
}

/// Which peer connection a candidate belongs to: 1 a subscriber PC, 2 the publisher PC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CandidateTarget {
    Subscriber,
    Publisher,
}

impl CandidateTarget {
    pub fn code(self) -> u8 {
        match self {
            Self::Subscriber => 1,
            Self::Publisher => 2,
        }
    }
}

/// An ICE candidate, trickled in either direction.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    pub candidate: String,
    #[serde(default)]
    pub sdp_mline_index: Option<u32>,
    #[serde(default)]
    pub sdp_mid: Option<String>,
    #[serde(default)]
    pub username_fragment: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SubSfu {
    pub sfu_id: String,
    pub sdp: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SimulcastEncoding {
    pub rid: &'static str,
    pub max_bitrate: u32,
    pub scale_resolution_down_by: f32,
    pub max_framerate: u32,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SimulcastSettings {
    pub camera_encodings: Vec<SimulcastEncoding>,
    pub screenshare_encodings: Vec<SimulcastEncoding>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IceServer {
    pub urls: Vec<String>,
    pub username: String,
    pub credential: String,
    pub credential_type: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Limits {
    pub custom_events_per_second: u32,
    pub default_track_limit: u32,
    pub seconds_per_set_display_name: u32,
}

/// Connection-level error types; before `joined` they reject `join()`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorType {
    Unknown = 0,
    Disconnected = 1,
    HitTimeLimit = 2,
    DuplicateParticipantRejected = 3,
    PeerConnectionClosed = 4,
    InvalidPendingTrack = 5,
    InvalidJwt = 6,
    ParticipantLimitReached = 7,
}

/// Request-level error types, sent with a `request_error.correlator`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestErrorType {
    Unknown = 0,
    PendingTrackError = 1,
    TrackMuteError = 2,
    SubscribeTracksError = 3,
    UnsubscribeTracksError = 4,
    CustomEventError = 5,
    CustomEventRateLimited = 6,
    SetDisplayNameError = 7,
    SetDisplayNameRateLimited = 8,
    InvalidProtocolVersion = 9,
}

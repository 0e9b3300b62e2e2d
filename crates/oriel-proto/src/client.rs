//! Messages from the SDK to the server.

use serde::Deserialize;

use crate::objects::{Candidate, CandidateTarget, TrackKind, TrackSource};

/// A client frame, parsed. Unknown or malformed frames become a [`ParseError`].
#[derive(Clone, Debug, PartialEq)]
pub enum ClientMessage {
    /// Publisher PC offer (publish, unpublish, ICE restart).
    Offer(String),
    /// Answer to a subscriber PC offer.
    SubAnswer {
        sfu_id: String,
        sdp: String,
    },
    Candidate {
        candidate: Candidate,
        target: CandidateTarget,
        sfu_id: String,
    },
    PendingTrack(PendingTrack),
    MuteTrack(String),
    UnmuteTrack(String),
    SubscribeTracks(Vec<SubscriptionRequest>),
    UnsubscribeTracks(Vec<SubscriptionRequest>),
    SetDisplayName {
        name: String,
        request_id: Option<String>,
    },
    CustomEvent {
        id: String,
        payload: String,
        request_id: Option<String>,
    },
}

/// Announces a transceiver right before the offer that carries it.
#[derive(Clone, Debug, PartialEq)]
pub struct PendingTrack {
    pub tid: String,
    pub kind: TrackKind,
    pub name: String,
    pub muted: bool,
    pub source: TrackSource,
    pub width: u32,
    pub height: u32,
    pub mid: String,
}

/// Tracks of one remote connection to (un)subscribe, in manual mode.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct SubscriptionRequest {
    pub connection_id: String,
    #[serde(default)]
    pub track_ids: Vec<String>,
    /// Oriel's extension (the Mux SDK never sends it): the tallest picture the subscriber
    /// draws of these videos, in pixels. The SFU then forwards the lowest simulcast layer at
    /// least that tall instead of the largest the link carries; asking again changes it.
    #[serde(default)]
    pub max_height: Option<u32>,
}

#[derive(Debug, PartialEq, Eq)]
pub enum ParseError {
    /// Not a JSON object.
    NotJson(String),
    /// A JSON object without any message key this server knows.
    UnknownMessage,
    /// A known message whose value has the wrong shape.
    Invalid {
        message: &'static str,
        reason: String,
    },
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NotJson(reason) => write!(f, "frame is not a JSON object: {reason}"),
            Self::UnknownMessage => write!(f, "frame carries no known message"),
            Self::Invalid { message, reason } => write!(f, "malformed {message} message: {reason}"),
        }
    }
}

impl std::error::Error for ParseError {}

#[derive(Deserialize)]
struct WirePendingTrack {
    tid: String,
    #[serde(rename = "type")]
    kind: u8,
    #[serde(default)]
    name: String,
    #[serde(default)]
    muted: bool,
    source: TrackSource,
    #[serde(default)]
    width: f64,
    #[serde(default)]
    height: f64,
    mid: String,
}

#[derive(Deserialize)]
struct WireSubAnswer {
    sfu_id: String,
    sdp: String,
}

#[derive(Deserialize)]
struct WireCandidate {
    candidate: Candidate,
    #[serde(rename = "type")]
    target: u8,
    #[serde(default)]
    sfu_id: String,
}

#[derive(Deserialize)]
struct WireConnections {
    connections: Vec<SubscriptionRequest>,
}

#[derive(Deserialize)]
struct WireCustomEvent {
    #[serde(default)]
    id: String,
    payload: String,
}

fn field<T: serde::de::DeserializeOwned>(
    message: &'static str,
    value: serde_json::Value,
) -> Result<T, ParseError> {
    serde_json::from_value(value).map_err(|e| ParseError::Invalid {
        message,
        reason: e.to_string(),
    })
}

fn invalid(message: &'static str, reason: &str) -> ParseError {
    ParseError::Invalid {
        message,
        reason: reason.to_owned(),
    }
}

impl ClientMessage {
    /// Parses one text frame.
    pub fn parse(frame: &str) -> Result<Self, ParseError> {
        let value: serde_json::Value =
            serde_json::from_str(frame).map_err(|e| ParseError::NotJson(e.to_string()))?;
        let serde_json::Value::Object(mut object) = value else {
            return Err(ParseError::NotJson("not an object".into()));
        };
        let request_id = match object.remove("request_id") {
            Some(serde_json::Value::String(id)) => Some(id),
            _ => None,
        };
        // The SDK sends one message per frame; take the first key we know.
        const KEYS: [&str; 10] = [
            "offer",
            "sub_answer",
            "candidate",
            "pending_track",
            "mute_track",
            "unmute_track",
            "subscribe_tracks",
            "unsubscribe_tracks",
            "set_display_name",
            "custom_event",
        ];
        let Some((key, value)) = KEYS
            .iter()
            .find_map(|key| object.remove(*key).map(|value| (*key, value)))
        else {
            return Err(ParseError::UnknownMessage);
        };
        Ok(match key {
            "offer" => Self::Offer(field("offer", value)?),
            "sub_answer" => {
                let answer: WireSubAnswer = field("sub_answer", value)?;
                Self::SubAnswer {
                    sfu_id: answer.sfu_id,
                    sdp: answer.sdp,
                }
            }
            "candidate" => {
                let wire: WireCandidate = field("candidate", value)?;
                let target = match wire.target {
                    1 => CandidateTarget::Subscriber,
                    2 => CandidateTarget::Publisher,
                    _ => return Err(invalid("candidate", "type must be 1 or 2")),
                };
                Self::Candidate {
                    candidate: wire.candidate,
                    target,
                    sfu_id: wire.sfu_id,
                }
            }
            "pending_track" => {
                let wire: WirePendingTrack = field("pending_track", value)?;
                let kind = TrackKind::from_code(wire.kind)
                    .ok_or_else(|| invalid("pending_track", "type must be 1 or 2"))?;
                Self::PendingTrack(PendingTrack {
                    tid: wire.tid,
                    kind,
                    name: wire.name,
                    muted: wire.muted,
                    source: wire.source,
                    width: wire.width.clamp(0.0, 100_000.0) as u32,
                    height: wire.height.clamp(0.0, 100_000.0) as u32,
                    mid: wire.mid,
                })
            }
            "mute_track" => Self::MuteTrack(field("mute_track", value)?),
            "unmute_track" => Self::UnmuteTrack(field("unmute_track", value)?),
            "subscribe_tracks" => Self::SubscribeTracks(
                field::<WireConnections>("subscribe_tracks", value)?.connections,
            ),
            "unsubscribe_tracks" => Self::UnsubscribeTracks(
                field::<WireConnections>("unsubscribe_tracks", value)?.connections,
            ),
            "set_display_name" => Self::SetDisplayName {
                name: field("set_display_name", value)?,
                request_id,
            },
            "custom_event" => {
                let wire: WireCustomEvent = field("custom_event", value)?;
                Self::CustomEvent {
                    id: wire.id,
                    payload: wire.payload,
                    request_id,
                }
            }
            _ => unreachable!("every key of KEYS has an arm"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_the_sdk_sends() {
        let pending = r#"{"pending_track":{"tid":"t1","type":2,"name":"fake_device_0","muted":false,"source":"camera","height":480,"width":640,"mid":"1"}}"#;
        assert_eq!(
            ClientMessage::parse(pending).unwrap(),
            ClientMessage::PendingTrack(PendingTrack {
                tid: "t1".into(),
                kind: TrackKind::Video,
                name: "fake_device_0".into(),
                muted: false,
                source: TrackSource::Camera,
                width: 640,
                height: 480,
                mid: "1".into(),
            })
        );
        let event = r#"{"custom_event":{"id":"e1","payload":"hello","scope":1},"request_id":"e1"}"#;
        assert_eq!(
            ClientMessage::parse(event).unwrap(),
            ClientMessage::CustomEvent {
                id: "e1".into(),
                payload: "hello".into(),
                request_id: Some("e1".into())
            }
        );
        let candidate = r#"{"candidate":{"candidate":{"candidate":"candidate:1 1 udp 1 127.0.0.1 5 typ host","sdp_mline_index":0,"sdp_mid":"0","username_fragment":null},"type":2,"sfu_id":"sfu-1"}}"#;
        assert!(matches!(
            ClientMessage::parse(candidate).unwrap(),
            ClientMessage::Candidate {
                target: CandidateTarget::Publisher,
                ..
            }
        ));
        let subscribe =
            r#"{"subscribe_tracks":{"connections":[{"connection_id":"c","track_ids":["a","b"]}]}}"#;
        assert_eq!(
            ClientMessage::parse(subscribe).unwrap(),
            ClientMessage::SubscribeTracks(vec![SubscriptionRequest {
                connection_id: "c".into(),
                track_ids: vec!["a".into(), "b".into()],
                max_height: None,
            }])
        );
        let fitting =
            r#"{"subscribe_tracks":{"connections":[{"connection_id":"c","max_height":360}]}}"#;
        assert_eq!(
            ClientMessage::parse(fitting).unwrap(),
            ClientMessage::SubscribeTracks(vec![SubscriptionRequest {
                connection_id: "c".into(),
                track_ids: vec![],
                max_height: Some(360),
            }])
        );
        assert!(ClientMessage::parse(
            r#"{"subscribe_tracks":{"connections":[{"connection_id":"c","max_height":-1}]}}"#
        )
        .is_err());
        assert_eq!(
            ClientMessage::parse(r#"{"mute_track":"t1"}"#).unwrap(),
            ClientMessage::MuteTrack("t1".into())
        );
    }

    #[test]
    fn refuses_garbage_without_panicking() {
        assert!(matches!(
            ClientMessage::parse("nope"),
            Err(ParseError::NotJson(_))
        ));
        assert!(matches!(
            ClientMessage::parse("[1]"),
            Err(ParseError::NotJson(_))
        ));
        assert_eq!(
            ClientMessage::parse(r#"{"hello":1}"#),
            Err(ParseError::UnknownMessage)
        );
        for bad in [
            r#"{"offer":5}"#,
            r#"{"pending_track":{"tid":"t","type":9,"source":"camera","mid":"0"}}"#,
            r#"{"pending_track":{"tid":"t","type":1,"source":"tv","mid":"0"}}"#,
            r#"{"candidate":{"candidate":{"candidate":"x"},"type":7}}"#,
            r#"{"custom_event":{"payload":3}}"#,
            r#"{"subscribe_tracks":{}}"#,
        ] {
            assert!(
                matches!(ClientMessage::parse(bad), Err(ParseError::Invalid { .. })),
                "{bad}"
            );
        }
    }
}

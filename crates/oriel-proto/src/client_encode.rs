//! The client side of the client's frames: serialising [`ClientMessage`] as the SDK sends it.
//!
//! Shapes and field order follow what `@mux/spaces-web` 1.2.0 puts on the wire, so a server
//! (ours or another) sees exactly what a browser would send. [`ClientMessage::parse`] reads
//! every frame built here back to the same message.

use serde_json::{json, Value};

use crate::client::ClientMessage;

impl ClientMessage {
    /// The frame's JSON text.
    pub fn to_json(&self) -> String {
        let value = match self {
            Self::Offer(sdp) => json!({ "offer": sdp }),
            Self::SubAnswer { sfu_id, sdp } => {
                json!({ "sub_answer": { "sfu_id": sfu_id, "sdp": sdp } })
            }
            Self::Candidate {
                candidate,
                target,
                sfu_id,
            } => json!({
                "candidate": { "candidate": candidate, "type": target.code(), "sfu_id": sfu_id }
            }),
            Self::PendingTrack(track) => json!({ "pending_track": {
                "tid": track.tid,
                "type": track.kind.code(),
                "name": track.name,
                "muted": track.muted,
                "source": track.source,
                "height": track.height,
                "width": track.width,
                "mid": track.mid,
            }}),
            Self::MuteTrack(tid) => json!({ "mute_track": tid }),
            Self::UnmuteTrack(tid) => json!({ "unmute_track": tid }),
            Self::SubscribeTracks(requests) => {
                json!({ "subscribe_tracks": { "connections": connections(requests) } })
            }
            Self::UnsubscribeTracks(requests) => {
                json!({ "unsubscribe_tracks": { "connections": connections(requests) } })
            }
            Self::SetDisplayName { name, request_id } => {
                let mut value = json!({ "set_display_name": name });
                if let Some(request_id) = request_id {
                    value["request_id"] = json!(request_id);
                }
                value
            }
            // The SDK always sends scope 1 (session) and uses the event id as request id.
            Self::CustomEvent {
                id,
                payload,
                request_id,
            } => {
                let mut value =
                    json!({ "custom_event": { "id": id, "payload": payload, "scope": 1 } });
                if let Some(request_id) = request_id {
                    value["request_id"] = json!(request_id);
                }
                value
            }
        };
        value.to_string()
    }
}

fn connections(requests: &[crate::SubscriptionRequest]) -> Vec<Value> {
    requests
        .iter()
        .map(|r| {
            let mut request = json!({ "connection_id": r.connection_id, "track_ids": r.track_ids });
            if let Some(height) = r.max_height {
                request["max_height"] = json!(height);
            }
            request
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        Candidate, CandidateTarget, PendingTrack, SubscriptionRequest, TrackKind, TrackSource,
    };

    #[test]
    fn round_trips_every_client_message() {
        let messages = vec![
            ClientMessage::Offer("v=0".into()),
            ClientMessage::SubAnswer {
                sfu_id: "sfu".into(),
                sdp: "v=0".into(),
            },
            ClientMessage::Candidate {
                candidate: Candidate {
                    candidate: "candidate:1 1 udp 1 127.0.0.1 5 typ host".into(),
                    sdp_mline_index: Some(0),
                    sdp_mid: Some("0".into()),
                    username_fragment: Some("abcd".into()),
                },
                target: CandidateTarget::Subscriber,
                sfu_id: "sfu".into(),
            },
            ClientMessage::PendingTrack(PendingTrack {
                tid: "t".into(),
                kind: TrackKind::Video,
                name: "cam".into(),
                muted: false,
                source: TrackSource::Camera,
                width: 1280,
                height: 720,
                mid: "1".into(),
            }),
            ClientMessage::MuteTrack("t".into()),
            ClientMessage::UnmuteTrack("t".into()),
            ClientMessage::SubscribeTracks(vec![
                SubscriptionRequest {
                    connection_id: "c".into(),
                    track_ids: vec!["a".into()],
                    max_height: None,
                },
                SubscriptionRequest {
                    connection_id: "d".into(),
                    track_ids: vec!["b".into()],
                    max_height: Some(360),
                },
            ]),
            ClientMessage::UnsubscribeTracks(vec![]),
            ClientMessage::SetDisplayName {
                name: "Al".into(),
                request_id: Some("r".into()),
            },
            ClientMessage::CustomEvent {
                id: "e".into(),
                payload: "hi".into(),
                request_id: Some("e".into()),
            },
        ];
        for message in messages {
            let frame = message.to_json();
            assert_eq!(ClientMessage::parse(&frame).unwrap(), message, "{frame}");
        }
    }

    #[test]
    fn custom_events_look_like_the_sdks() {
        let frame = ClientMessage::CustomEvent {
            id: "889f".into(),
            payload: "hello".into(),
            request_id: Some("889f".into()),
        }
        .to_json();
        let value: Value = serde_json::from_str(&frame).unwrap();
        assert_eq!(
            value,
            json!({"custom_event":{"id":"889f","payload":"hello","scope":1},"request_id":"889f"})
        );
    }
}

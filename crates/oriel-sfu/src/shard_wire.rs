//! The shard protocol on a byte stream, for a space spanning nodes: what one node's shards
//! relay reaches another node's over one ordered, reliable connection per pair of nodes (a
//! relay between SFUs), and each side feeds the decoded events to its shards exactly as a
//! worker feeds those of its neighbours ([`crate::Space::handle_shard_event`]).
//!
//! Sans-IO: a [`ShardWireEncoder`] appends records to a buffer the shell writes; a
//! [`ShardWireDecoder`] takes whatever bytes arrived and yields whole events. Each record is a
//! 4-byte big-endian length, then a tag byte and its body. Packets, the bulk, are a fixed
//! binary header and the payload; a producer's codec parameters cross once per payload type
//! before its first packet; the rare changes of the space are JSON, which is easy to read in a
//! capture and to extend.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use oriel_proto::{ParticipantRole, Track, TrackKind, TrackSource};
use serde::{Deserialize, Serialize};
use str0m::format::PayloadParams;
use str0m::media::Pt;
use str0m::rtp::VideoOrientation;

use crate::forwarded_packet::ForwardedPacket;
use crate::ids::ProducerId;
use crate::record_buffer::RecordBuffer;
use crate::shard::{RelayedPacket, RemoteConnection, RemoteTrack, ShardEvent};
use crate::ConnectionKey;

/// A record larger than this is refused: a packet is under 1,500 bytes, a change under a few
/// kilobytes (display names and custom event payloads are bounded at admission).
pub const MAX_RECORD: usize = 256 * 1024;

const TAG_MEDIA: u8 = 1;
const TAG_PARAMS: u8 = 2;
const TAG_CHANGE: u8 = 3;

/// The fixed part of a packet record after its tag: producer, layer, flags, payload type,
/// sequence number, timestamp, audio level, orientation.
const MEDIA_HEADER: usize = 8 + 1 + 1 + 1 + 8 + 4 + 1 + 1;

const KEYFRAME: u8 = 1;
const MARKER: u8 = 1 << 1;
const HAS_AUDIO_LEVEL: u8 = 1 << 2;
const HAS_VOICE_ACTIVITY: u8 = 1 << 3;
const VOICE_ACTIVITY: u8 = 1 << 4;
const HAS_ORIENTATION: u8 = 1 << 5;

/// Why bytes from another node could not be read: the connection is not to be trusted further.
#[derive(Debug, PartialEq, Eq)]
pub enum WireError {
    RecordTooLarge(usize),
    Truncated,
    UnknownTag(u8),
    /// A packet of a payload type whose parameters never came.
    UnknownParams {
        producer: u64,
        payload_type: u8,
    },
    BadChange(String),
}

impl std::fmt::Display for WireError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::RecordTooLarge(len) => write!(f, "a record of {len} bytes (at most {MAX_RECORD})"),
            Self::Truncated => f.write_str("a record shorter than its kind"),
            Self::UnknownTag(tag) => write!(f, "a record of unknown kind {tag}"),
            Self::UnknownParams {
                producer,
                payload_type,
            } => write!(
                f,
                "a packet of producer {producer:#x} with payload type {payload_type} before its parameters"
            ),
            Self::BadChange(error) => write!(f, "an unreadable change: {error}"),
        }
    }
}

impl std::error::Error for WireError {}

/// One direction of a link, the sending side.
#[derive(Debug, Default)]
pub struct ShardWireEncoder {
    /// Codec parameters already sent, per producer and payload type.
    params_sent: HashSet<(ProducerId, u8)>,
}

impl ShardWireEncoder {
    /// Appends `event` to `out` (one record, or two when a producer's parameters go first).
    /// `now` dates what carries an instant (a participant's join) as an age, since the two
    /// nodes' clocks share no epoch.
    pub fn encode(&mut self, now: Instant, event: &ShardEvent, out: &mut Vec<u8>) {
        match event {
            ShardEvent::Media(relayed) => {
                let pt = *relayed.packet.payload_type;
                if self.params_sent.insert((relayed.producer, pt)) {
                    let params =
                        serde_json::to_vec(&relayed.params).expect("codec parameters serialize");
                    let start = begin_record(out, TAG_PARAMS);
                    out.extend_from_slice(&relayed.producer.0.to_be_bytes());
                    out.push(pt);
                    out.extend_from_slice(&params);
                    end_record(out, start);
                }
                let start = begin_record(out, TAG_MEDIA);
                encode_media(relayed, out);
                end_record(out, start);
            }
            change => {
                if let ShardEvent::TrackRemoved { producer, .. } = change {
                    self.params_sent.retain(|(p, _)| p != producer);
                }
                let start = begin_record(out, TAG_CHANGE);
                let change = Change::from_event(now, change);
                serde_json::to_writer(&mut *out, &change).expect("a change serializes");
                end_record(out, start);
            }
        }
    }
}

/// One direction of a link, the receiving side.
#[derive(Debug, Default)]
pub struct ShardWireDecoder {
    records: RecordBuffer,
    params: HashMap<(ProducerId, u8), PayloadParams>,
}

impl ShardWireDecoder {
    /// Bytes as they arrived, records whole or not.
    pub fn feed(&mut self, bytes: &[u8]) {
        self.records.feed(bytes);
    }

    /// The next whole event, `None` until more bytes arrive; an error ends the link.
    pub fn next_event(&mut self, now: Instant) -> Result<Option<ShardEvent>, WireError> {
        loop {
            let Some(record) = self
                .records
                .next_record(MAX_RECORD)
                .map_err(WireError::RecordTooLarge)?
            else {
                return Ok(None);
            };
            let (&tag, body) = record.split_first().ok_or(WireError::Truncated)?;
            let decoded = match tag {
                TAG_MEDIA => Some(decode_media(body, &self.params)?),
                TAG_PARAMS => {
                    let (producer, rest) = take_u64(body)?;
                    let (&pt, json) = rest.split_first().ok_or(WireError::Truncated)?;
                    let params: PayloadParams = serde_json::from_slice(json)
                        .map_err(|e| WireError::BadChange(e.to_string()))?;
                    self.params.insert((ProducerId(producer), pt), params);
                    None
                }
                TAG_CHANGE => {
                    let change: Change = serde_json::from_slice(body)
                        .map_err(|e| WireError::BadChange(e.to_string()))?;
                    let event = change.into_event(now)?;
                    if let ShardEvent::TrackRemoved { producer, .. } = &event {
                        self.params.retain(|(p, _), _| p != producer);
                    }
                    Some(event)
                }
                other => return Err(WireError::UnknownTag(other)),
            };
            if decoded.is_some() {
                return Ok(decoded);
            }
        }
    }
}

fn begin_record(out: &mut Vec<u8>, tag: u8) -> usize {
    let start = out.len();
    out.extend_from_slice(&[0; 4]);
    out.push(tag);
    start
}

fn end_record(out: &mut [u8], start: usize) {
    let length = (out.len() - start - 4) as u32;
    out[start..start + 4].copy_from_slice(&length.to_be_bytes());
}

fn encode_media(relayed: &RelayedPacket, out: &mut Vec<u8>) {
    let packet = &relayed.packet;
    let mut flags = 0;
    if relayed.keyframe {
        flags |= KEYFRAME;
    }
    if packet.marker {
        flags |= MARKER;
    }
    if packet.audio_level.is_some() {
        flags |= HAS_AUDIO_LEVEL;
    }
    match packet.voice_activity {
        Some(true) => flags |= HAS_VOICE_ACTIVITY | VOICE_ACTIVITY,
        Some(false) => flags |= HAS_VOICE_ACTIVITY,
        None => {}
    }
    if packet.video_orientation.is_some() {
        flags |= HAS_ORIENTATION;
    }
    out.extend_from_slice(&relayed.producer.0.to_be_bytes());
    out.push(relayed.layer);
    out.push(flags);
    out.push(*packet.payload_type);
    out.extend_from_slice(&packet.seq_no.to_be_bytes());
    out.extend_from_slice(&packet.rtp_timestamp.to_be_bytes());
    out.push(packet.audio_level.unwrap_or(0) as u8);
    out.push(packet.video_orientation.map_or(0, |o| o as u8));
    out.extend_from_slice(&packet.payload);
}

fn decode_media(
    body: &[u8],
    params: &HashMap<(ProducerId, u8), PayloadParams>,
) -> Result<ShardEvent, WireError> {
    if body.len() < MEDIA_HEADER {
        return Err(WireError::Truncated);
    }
    let (producer, rest) = take_u64(body)?;
    let (layer, flags, pt) = (rest[0], rest[1], rest[2]);
    let (seq_no, rest) = take_u64(&rest[3..])?;
    let rtp_timestamp = u32::from_be_bytes(rest[..4].try_into().expect("4 bytes"));
    let (audio_level, orientation, payload) = (rest[4] as i8, rest[5], &rest[6..]);
    let params = *params
        .get(&(ProducerId(producer), pt))
        .ok_or(WireError::UnknownParams {
            producer,
            payload_type: pt,
        })?;
    Ok(ShardEvent::Media(Arc::new(RelayedPacket {
        producer: ProducerId(producer),
        layer,
        params,
        keyframe: flags & KEYFRAME != 0,
        packet: ForwardedPacket {
            seq_no,
            rtp_timestamp,
            payload_type: Pt::new_with_value(pt),
            marker: flags & MARKER != 0,
            audio_level: (flags & HAS_AUDIO_LEVEL != 0).then_some(audio_level),
            voice_activity: (flags & HAS_VOICE_ACTIVITY != 0)
                .then_some(flags & VOICE_ACTIVITY != 0),
            video_orientation: (flags & HAS_ORIENTATION != 0)
                .then(|| VideoOrientation::from(orientation)),
            payload: Arc::from(payload),
        },
    })))
}

fn take_u64(bytes: &[u8]) -> Result<(u64, &[u8]), WireError> {
    let (head, rest) = bytes.split_first_chunk::<8>().ok_or(WireError::Truncated)?;
    Ok((u64::from_be_bytes(*head), rest))
}

/// A change of the space as it crosses: plain numbers and strings.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
enum Change {
    Joined {
        connection: u64,
        connection_id: String,
        participant_id: String,
        publisher: bool,
        display_name: String,
        hidden: bool,
        /// How long ago it joined, in milliseconds.
        joined_ms_ago: u64,
    },
    Left {
        connection: u64,
    },
    TrackAdded {
        producer: u64,
        connection: u64,
        track: WireTrack,
        simulcast: bool,
        announce_mute: bool,
    },
    TrackRemoved {
        producer: u64,
        announce: bool,
    },
    TrackMuted {
        producer: u64,
        muted: bool,
    },
    DisplayNameChanged {
        connection: u64,
        name: String,
    },
    CustomEvent {
        connection: u64,
        id: String,
        payload: String,
        sequence_num: u64,
    },
    CustomEventsSeen {
        sequence_num: u64,
    },
    KeyframeRequest {
        producer: u64,
        layer: u8,
    },
}

#[derive(Debug, Serialize, Deserialize)]
struct WireTrack {
    tid: String,
    /// 1 audio, 2 video, as the SDK numbers them.
    kind: u8,
    name: String,
    muted: bool,
    source: TrackSource,
    width: u32,
    height: u32,
    metadata: serde_json::Map<String, serde_json::Value>,
}

impl Change {
    fn from_event(now: Instant, event: &ShardEvent) -> Self {
        match event {
            ShardEvent::Joined(remote) => Self::Joined {
                connection: remote.key.0,
                connection_id: remote.connection_id.clone(),
                participant_id: remote.participant_id.clone(),
                publisher: remote.role == ParticipantRole::Publisher,
                display_name: remote.display_name.clone(),
                hidden: remote.hidden,
                joined_ms_ago: now.saturating_duration_since(remote.joined_at).as_millis() as u64,
            },
            ShardEvent::Left { connection } => Self::Left {
                connection: connection.0,
            },
            ShardEvent::TrackAdded(remote) => Self::TrackAdded {
                producer: remote.producer.0,
                connection: remote.connection.0,
                track: WireTrack {
                    tid: remote.track.tid.clone(),
                    kind: remote.track.kind.code(),
                    name: remote.track.name.clone(),
                    muted: remote.track.muted,
                    source: remote.track.source,
                    width: remote.track.width,
                    height: remote.track.height,
                    metadata: remote.track.metadata.clone(),
                },
                simulcast: remote.simulcast,
                announce_mute: remote.announce_mute,
            },
            ShardEvent::TrackRemoved { producer, announce } => Self::TrackRemoved {
                producer: producer.0,
                announce: *announce,
            },
            ShardEvent::TrackMuted { producer, muted } => Self::TrackMuted {
                producer: producer.0,
                muted: *muted,
            },
            ShardEvent::DisplayNameChanged { connection, name } => Self::DisplayNameChanged {
                connection: connection.0,
                name: name.clone(),
            },
            ShardEvent::CustomEvent {
                connection,
                id,
                payload,
                sequence_num,
            } => Self::CustomEvent {
                connection: connection.0,
                id: id.clone(),
                payload: payload.clone(),
                sequence_num: *sequence_num,
            },
            ShardEvent::CustomEventsSeen { sequence_num } => Self::CustomEventsSeen {
                sequence_num: *sequence_num,
            },
            ShardEvent::KeyframeRequest { producer, layer } => Self::KeyframeRequest {
                producer: producer.0,
                layer: *layer,
            },
            ShardEvent::Media(_) => unreachable!("packets are not changes"),
        }
    }

    fn into_event(self, now: Instant) -> Result<ShardEvent, WireError> {
        Ok(match self {
            Self::Joined {
                connection,
                connection_id,
                participant_id,
                publisher,
                display_name,
                hidden,
                joined_ms_ago,
            } => ShardEvent::Joined(Box::new(RemoteConnection {
                key: ConnectionKey(connection),
                connection_id,
                participant_id,
                role: if publisher {
                    ParticipantRole::Publisher
                } else {
                    ParticipantRole::Subscriber
                },
                display_name,
                hidden,
                joined_at: now
                    .checked_sub(Duration::from_millis(joined_ms_ago))
                    .unwrap_or(now),
            })),
            Self::Left { connection } => ShardEvent::Left {
                connection: ConnectionKey(connection),
            },
            Self::TrackAdded {
                producer,
                connection,
                track,
                simulcast,
                announce_mute,
            } => ShardEvent::TrackAdded(Box::new(RemoteTrack {
                producer: ProducerId(producer),
                connection: ConnectionKey(connection),
                track: Track {
                    tid: track.tid,
                    kind: TrackKind::from_code(track.kind).ok_or_else(|| {
                        WireError::BadChange(format!("track kind {}", track.kind))
                    })?,
                    name: track.name,
                    muted: track.muted,
                    source: track.source,
                    width: track.width,
                    height: track.height,
                    metadata: track.metadata,
                },
                simulcast,
                announce_mute,
            })),
            Self::TrackRemoved { producer, announce } => ShardEvent::TrackRemoved {
                producer: ProducerId(producer),
                announce,
            },
            Self::TrackMuted { producer, muted } => ShardEvent::TrackMuted {
                producer: ProducerId(producer),
                muted,
            },
            Self::DisplayNameChanged { connection, name } => ShardEvent::DisplayNameChanged {
                connection: ConnectionKey(connection),
                name,
            },
            Self::CustomEvent {
                connection,
                id,
                payload,
                sequence_num,
            } => ShardEvent::CustomEvent {
                connection: ConnectionKey(connection),
                id,
                payload,
                sequence_num,
            },
            Self::CustomEventsSeen { sequence_num } => {
                ShardEvent::CustomEventsSeen { sequence_num }
            }
            Self::KeyframeRequest { producer, layer } => ShardEvent::KeyframeRequest {
                producer: ProducerId(producer),
                layer,
            },
        })
    }
}

#[cfg(test)]
#[path = "shard_wire_tests.rs"]
mod tests;

//! What nodes say to each other over a link, and its bytes (sans-IO).
//!
//! A link is one TCP connection from one node to another, each direction its own: a node
//! sends on the connection it opened and reads on those it accepted, so everything one node
//! sends another arrives in the order it was sent. Each record is a 4-byte big-endian length
//! and a body whose first byte says what it is. Shard messages address shards by their
//! cluster-wide number (node ordinal × 16 + worker); a packet for several shards of one node
//! crosses once, with the list of its targets.

use std::sync::Arc;
use std::time::Instant;

use oriel_sfu::{
    ConnectionKey, RecordBuffer, ShardEvent, ShardWireDecoder, ShardWireEncoder, WireError,
};
use serde::{Deserialize, Serialize};

/// A record larger than this ends the link.
const MAX_RECORD: usize = 1 << 20;

const TAG_HELLO: u8 = 0;
const TAG_SHARD: u8 = 1;
const TAG_JOIN: u8 = 2;
const TAG_MESSAGE: u8 = 3;
const TAG_LEAVE: u8 = 4;
const TAG_BROADCASTING: u8 = 5;
const TAG_SIGNAL: u8 = 6;
const TAG_GONE: u8 = 7;
const TAG_SNAPSHOT_REQUEST: u8 = 8;
const TAG_SNAPSHOT: u8 = 9;

const SHARD_RELAY: u8 = 0;
const SHARD_OPEN: u8 = 1;
const SHARD_OPENED: u8 = 2;
const SHARD_CLOSED: u8 = 3;
const SHARD_SYNC_DONE: u8 = 4;

/// The first record on a connection: who opened it, and the cluster's secret.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Hello {
    pub ordinal: u16,
    pub secret: String,
}

/// The shard protocol of [`crate::Command`], between shards on different nodes.
#[derive(Debug, Clone)]
pub enum ShardMessage {
    Relay(ShardEvent),
    OpenShard { peers: Vec<u16> },
    ShardOpened { worker: u16 },
    ShardClosed { worker: u16 },
    SyncDone,
}

/// A join the space's node placed on a worker of this one, as it crosses.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RemoteJoin {
    pub connection: u64,
    pub connection_id: String,
    pub participant_id: String,
    pub session_id: String,
    pub publisher: bool,
    pub display_name: String,
    pub managed_subscriptions: u8,
    pub hidden: bool,
    pub ice_servers: Vec<oriel_proto::IceServer>,
    pub broadcasting: bool,
}

/// One record.
#[derive(Debug, Clone)]
pub enum Frame {
    Hello(Hello),
    Shard {
        space: Arc<str>,
        from: u16,
        targets: Arc<[u16]>,
        message: ShardMessage,
    },
    /// The space's node placed a participant on worker `target` here.
    Join {
        space: Arc<str>,
        target: u16,
        join: Box<RemoteJoin>,
    },
    /// A signaling frame of a participant placed here, as the browser sent it.
    Message {
        space: Arc<str>,
        target: u16,
        connection: ConnectionKey,
        text: String,
    },
    Leave {
        space: Arc<str>,
        target: u16,
        connection: ConnectionKey,
    },
    SetBroadcasting {
        space: Arc<str>,
        target: u16,
        broadcasting: bool,
    },
    /// From a worker here to a participant whose WebSocket is on the space's node: a message
    /// (JSON), `close` to close the socket after it.
    Signal {
        connection: ConnectionKey,
        close: bool,
        json: String,
    },
    /// The worker here dropped the participant: its socket on the space's node ends.
    Gone {
        connection: ConnectionKey,
    },
    /// Who is in a space on worker `target` here (for the dashboard of the space's node).
    SnapshotRequest {
        id: u64,
        space: Arc<str>,
        target: u16,
    },
    Snapshot {
        id: u64,
        snapshot: Box<oriel_sfu::SpaceSnapshot>,
    },
}

/// Why a link's bytes could not be read.
#[derive(Debug)]
pub enum FrameError {
    TooLarge(usize),
    Truncated,
    UnknownTag(u8),
    Shard(WireError),
    Json(serde_json::Error),
    Utf8,
}

impl std::fmt::Display for FrameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::TooLarge(n) => write!(f, "a record of {n} bytes"),
            Self::Truncated => f.write_str("a truncated record"),
            Self::UnknownTag(tag) => write!(f, "a record of unknown kind {tag}"),
            Self::Shard(error) => write!(f, "{error}"),
            Self::Json(error) => write!(f, "{error}"),
            Self::Utf8 => f.write_str("text that is not UTF-8"),
        }
    }
}

impl std::error::Error for FrameError {}

/// The sending end of one link.
#[derive(Default)]
pub struct FrameEncoder {
    shard: ShardWireEncoder,
}

impl FrameEncoder {
    pub fn encode(&mut self, now: Instant, frame: &Frame, out: &mut Vec<u8>) {
        let start = out.len();
        out.extend_from_slice(&[0; 4]);
        match frame {
            Frame::Hello(hello) => {
                out.push(TAG_HELLO);
                serde_json::to_writer(&mut *out, hello).expect("hello serializes");
            }
            Frame::Shard {
                space,
                from,
                targets,
                message,
            } => {
                out.push(TAG_SHARD);
                put_str(out, space);
                out.extend_from_slice(&from.to_be_bytes());
                put_u16s(out, targets);
                match message {
                    ShardMessage::Relay(event) => {
                        out.push(SHARD_RELAY);
                        self.shard.encode(now, event, out);
                    }
                    ShardMessage::OpenShard { peers } => {
                        out.push(SHARD_OPEN);
                        put_u16s(out, peers);
                    }
                    ShardMessage::ShardOpened { worker } => {
                        out.push(SHARD_OPENED);
                        out.extend_from_slice(&worker.to_be_bytes());
                    }
                    ShardMessage::ShardClosed { worker } => {
                        out.push(SHARD_CLOSED);
                        out.extend_from_slice(&worker.to_be_bytes());
                    }
                    ShardMessage::SyncDone => out.push(SHARD_SYNC_DONE),
                }
            }
            Frame::Join {
                space,
                target,
                join,
            } => {
                out.push(TAG_JOIN);
                put_str(out, space);
                out.extend_from_slice(&target.to_be_bytes());
                serde_json::to_writer(&mut *out, join).expect("a join serializes");
            }
            Frame::Message {
                space,
                target,
                connection,
                text,
            } => {
                out.push(TAG_MESSAGE);
                put_str(out, space);
                out.extend_from_slice(&target.to_be_bytes());
                out.extend_from_slice(&connection.0.to_be_bytes());
                out.extend_from_slice(text.as_bytes());
            }
            Frame::Leave {
                space,
                target,
                connection,
            } => {
                out.push(TAG_LEAVE);
                put_str(out, space);
                out.extend_from_slice(&target.to_be_bytes());
                out.extend_from_slice(&connection.0.to_be_bytes());
            }
            Frame::SetBroadcasting {
                space,
                target,
                broadcasting,
            } => {
                out.push(TAG_BROADCASTING);
                put_str(out, space);
                out.extend_from_slice(&target.to_be_bytes());
                out.push(u8::from(*broadcasting));
            }
            Frame::Signal {
                connection,
                close,
                json,
            } => {
                out.push(TAG_SIGNAL);
                out.extend_from_slice(&connection.0.to_be_bytes());
                out.push(u8::from(*close));
                out.extend_from_slice(json.as_bytes());
            }
            Frame::Gone { connection } => {
                out.push(TAG_GONE);
                out.extend_from_slice(&connection.0.to_be_bytes());
            }
            Frame::SnapshotRequest { id, space, target } => {
                out.push(TAG_SNAPSHOT_REQUEST);
                out.extend_from_slice(&id.to_be_bytes());
                out.extend_from_slice(&target.to_be_bytes());
                put_str(out, space);
            }
            Frame::Snapshot { id, snapshot } => {
                out.push(TAG_SNAPSHOT);
                out.extend_from_slice(&id.to_be_bytes());
                serde_json::to_writer(&mut *out, snapshot).expect("a snapshot serializes");
            }
        }
        let length = (out.len() - start - 4) as u32;
        out[start..start + 4].copy_from_slice(&length.to_be_bytes());
    }
}

/// The receiving end of one link.
#[derive(Default)]
pub struct FrameDecoder {
    records: RecordBuffer,
    shard: ShardWireDecoder,
}

impl FrameDecoder {
    pub fn feed(&mut self, bytes: &[u8]) {
        self.records.feed(bytes);
    }

    /// The next whole record; `None` until more bytes come. A relayed change or packet
    /// decodes to one frame each.
    pub fn next_frame(&mut self, now: Instant) -> Result<Option<Frame>, FrameError> {
        loop {
            let Some(body) = self
                .records
                .next_record(MAX_RECORD)
                .map_err(FrameError::TooLarge)?
            else {
                return Ok(None);
            };
            if let Some(frame) = decode(&mut self.shard, now, body)? {
                return Ok(Some(frame));
            }
        }
    }
}

/// One record's frame; `None` for one that only carries codec parameters (kept by `shard`).
fn decode(
    shard: &mut ShardWireDecoder,
    now: Instant,
    body: &[u8],
) -> Result<Option<Frame>, FrameError> {
    let mut r = Reader(body);
    let frame = match r.u8()? {
        TAG_HELLO => Frame::Hello(serde_json::from_slice(r.rest()).map_err(FrameError::Json)?),
        TAG_SHARD => {
            let space = r.str()?;
            let from = r.u16()?;
            let targets: Arc<[u16]> = r.u16s()?.into();
            let message = match r.u8()? {
                SHARD_RELAY => {
                    shard.feed(r.rest());
                    match shard.next_event(now).map_err(FrameError::Shard)? {
                        Some(event) => ShardMessage::Relay(event),
                        // Codec parameters only: they wait for their packet.
                        None => return Ok(None),
                    }
                }
                SHARD_OPEN => ShardMessage::OpenShard { peers: r.u16s()? },
                SHARD_OPENED => ShardMessage::ShardOpened { worker: r.u16()? },
                SHARD_CLOSED => ShardMessage::ShardClosed { worker: r.u16()? },
                SHARD_SYNC_DONE => ShardMessage::SyncDone,
                other => return Err(FrameError::UnknownTag(other)),
            };
            Frame::Shard {
                space,
                from,
                targets,
                message,
            }
        }
        TAG_JOIN => {
            let space = r.str()?;
            let target = r.u16()?;
            let join = serde_json::from_slice(r.rest()).map_err(FrameError::Json)?;
            Frame::Join {
                space,
                target,
                join: Box::new(join),
            }
        }
        TAG_MESSAGE => Frame::Message {
            space: r.str()?,
            target: r.u16()?,
            connection: ConnectionKey(r.u64()?),
            text: String::from_utf8(r.rest().to_vec()).map_err(|_| FrameError::Utf8)?,
        },
        TAG_LEAVE => Frame::Leave {
            space: r.str()?,
            target: r.u16()?,
            connection: ConnectionKey(r.u64()?),
        },
        TAG_BROADCASTING => Frame::SetBroadcasting {
            space: r.str()?,
            target: r.u16()?,
            broadcasting: r.u8()? != 0,
        },
        TAG_SIGNAL => Frame::Signal {
            connection: ConnectionKey(r.u64()?),
            close: r.u8()? != 0,
            json: String::from_utf8(r.rest().to_vec()).map_err(|_| FrameError::Utf8)?,
        },
        TAG_GONE => Frame::Gone {
            connection: ConnectionKey(r.u64()?),
        },
        TAG_SNAPSHOT_REQUEST => Frame::SnapshotRequest {
            id: r.u64()?,
            target: r.u16()?,
            space: r.str()?,
        },
        TAG_SNAPSHOT => Frame::Snapshot {
            id: r.u64()?,
            snapshot: Box::new(serde_json::from_slice(r.rest()).map_err(FrameError::Json)?),
        },
        other => return Err(FrameError::UnknownTag(other)),
    };
    Ok(Some(frame))
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    // Space ids are short; a longer string is cut at a character boundary.
    let mut end = s.len().min(u16::MAX as usize);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    out.extend_from_slice(&(end as u16).to_be_bytes());
    out.extend_from_slice(&s.as_bytes()[..end]);
}

fn put_u16s(out: &mut Vec<u8>, values: &[u16]) {
    out.push(values.len().min(255) as u8);
    for value in values.iter().take(255) {
        out.extend_from_slice(&value.to_be_bytes());
    }
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], FrameError> {
        if self.0.len() < n {
            return Err(FrameError::Truncated);
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }
    fn u8(&mut self) -> Result<u8, FrameError> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, FrameError> {
        Ok(u16::from_be_bytes(
            self.take(2)?.try_into().expect("2 bytes"),
        ))
    }
    fn u64(&mut self) -> Result<u64, FrameError> {
        Ok(u64::from_be_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }
    fn u16s(&mut self) -> Result<Vec<u16>, FrameError> {
        let n = self.u8()? as usize;
        (0..n).map(|_| self.u16()).collect()
    }
    fn str(&mut self) -> Result<Arc<str>, FrameError> {
        let n = self.u16()? as usize;
        let bytes = self.take(n)?;
        std::str::from_utf8(bytes)
            .map(Arc::from)
            .map_err(|_| FrameError::Utf8)
    }
    fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.0)
    }
}

#[cfg(test)]
#[path = "frame_tests.rs"]
mod tests;

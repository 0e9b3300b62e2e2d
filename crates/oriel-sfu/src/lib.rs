//! The sans-IO SFU core of Oriel.
//!
//! A [`Space`] holds everything about one space on one worker: its connections, their
//! publisher and subscriber peer connections (one str0m `Rtc` each, RTP mode, ICE-lite),
//! the tracks they publish (producers) and the tracks forwarded to them (consumers). It does
//! no I/O and reads no clock: the shell feeds it
//!
//! * commands: [`Space::join`], [`Space::leave`], [`Space::handle_message`];
//! * network input: [`Space::handle_datagram`] (after [`Space::accepts`] routed it here);
//! * time: [`Space::handle_timeout`] at [`Space::poll_timeout`];
//!
//! and after each call drains [`Space::poll_output`] until it returns `None`. Outputs are
//! datagrams to send and signaling messages for a connection.

mod config;
mod connection;
mod consumer;
mod forwarded_packet;
mod ids;
mod output;
mod peer;
mod producer;
mod publisher;
mod record_buffer;
mod shard;
mod shard_wire;
mod snapshot;
mod space;
mod subscriber;

pub use config::{MediaCandidates, SpaceConfig};
pub use forwarded_packet::ForwardedPacket;
pub use ids::{ConnectionKey, ProducerId};
pub use output::Output;
pub use peer::PreparedPeers;
pub use record_buffer::RecordBuffer;
pub use shard::{RelayedPacket, RemoteConnection, RemoteTrack, ShardEvent};
pub use shard_wire::{ShardWireDecoder, ShardWireEncoder, WireError};
pub use snapshot::{ConnectionState, ParticipantSnapshot, SpaceSnapshot, TrackSnapshot};
pub use space::{ConnectionStats, ConsumerStats, JoinRequest, LinkReport, Space};
/// The transport a datagram came over (UDP, or a framed ICE-TCP connection).
pub use str0m::net::Protocol;

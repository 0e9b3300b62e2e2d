use std::net::SocketAddr;

use oriel_proto::ServerMessage;
use str0m::net::Protocol;

use crate::ConnectionKey;

/// What a [`crate::Space`] asks its shell to do.
#[derive(Debug)]
pub enum Output {
    /// Send a datagram from our media socket (UDP), or as one frame on the TCP connection
    /// from `destination` (ICE-TCP).
    Transmit {
        proto: Protocol,
        source: SocketAddr,
        destination: SocketAddr,
        contents: Vec<u8>,
    },
    /// Send a signaling message on a connection's WebSocket.
    Signal {
        connection: ConnectionKey,
        message: ServerMessage,
    },
    /// Hand to every other shard of the space, in order (see [`crate::ShardEvent`]).
    Relay(crate::ShardEvent),
    /// End a connection for good: send the message (an error), then close with 4000.
    Close {
        connection: ConnectionKey,
        message: ServerMessage,
    },
}

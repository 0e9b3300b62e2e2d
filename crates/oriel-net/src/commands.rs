use oriel_proto::{ClientMessage, ServerMessage};
use oriel_sfu::{ConnectionKey, JoinRequest, PreparedPeers, SpaceSnapshot};
use tokio::sync::mpsc::UnboundedSender;
use tokio::sync::oneshot;

/// What a connection's signaling task asks of the worker that holds its space.
#[derive(Debug)]
pub enum Command {
    /// An admitted participant; the worker answers `joined` on `outbox`.
    Join {
        space_id: String,
        request: JoinRequest,
        outbox: UnboundedSender<Outgoing>,
        /// Whether the store has a broadcast of the space running: the state a space the
        /// worker does not hold yet starts in (one it holds keeps its own).
        broadcasting: bool,
        /// Its connections, built off the worker's thread; the worker builds them if `None`.
        peers: Option<Box<PreparedPeers>>,
    },
    /// A broadcast of the space started or stopped.
    SetBroadcasting {
        space_id: String,
        broadcasting: bool,
    },
    Message {
        space_id: String,
        connection: ConnectionKey,
        message: ClientMessage,
    },
    /// The WebSocket closed (or the connection was replaced).
    Leave {
        space_id: String,
        connection: ConnectionKey,
    },
    /// Who is in a space now (empty when the worker holds no such space): for the dashboard.
    Snapshot {
        space_id: String,
        reply: oneshot::Sender<SpaceSnapshot>,
    },
}

/// What the worker sends back to a connection's signaling task.
#[derive(Debug)]
pub enum Outgoing {
    Signal(ServerMessage),
    /// Send the message, then close the WebSocket with 4000 (no reconnect).
    Close(ServerMessage),
}

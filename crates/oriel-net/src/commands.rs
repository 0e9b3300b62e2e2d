use std::sync::Arc;

use oriel_proto::{ClientMessage, ServerMessage};
use oriel_sfu::{ConnectionKey, JoinRequest, PreparedPeers, ShardEvent, SpaceSnapshot};
use tokio::sync::mpsc::UnboundedSender;
use tokio::sync::oneshot;

use crate::node_link::NodeLinks;

/// What a connection's signaling task asks of the worker that holds its space. Workers are
/// numbered cluster-wide in the shard commands (see [`crate::node_link`]): this node's
/// first worker is its ordinal × 16.
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
    // ----- a space spread over several workers (see `oriel_sfu::ShardEvent`) -----
    /// This worker becomes a shard of a space that `peers` already hold: it takes their state
    /// (each ends it with `SyncDone`) before it serves anything else of the space.
    OpenShard {
        space_id: Arc<str>,
        peers: Vec<usize>,
    },
    /// `worker` became a shard of a space this one holds: send it this shard's state, then
    /// `SyncDone`, then relay to it.
    ShardOpened { space_id: Arc<str>, worker: usize },
    /// `worker` holds nothing of the space any more (this worker itself, maybe).
    ShardClosed { space_id: Arc<str>, worker: usize },
    /// From the shard of the space on worker `from`, in the order it sent them.
    Relay {
        space_id: Arc<str>,
        from: usize,
        event: ShardEvent,
    },
    /// Worker `from` has sent all its state of the space.
    SyncDone { space_id: Arc<str>, from: usize },
    /// The node joined a cluster: its shards are numbered from `base` cluster-wide, and a
    /// space's shards on other nodes are reached through `links`.
    JoinCluster { base: usize, links: NodeLinks },
}

/// What the worker sends back to a connection's signaling task.
#[derive(Debug)]
pub enum Outgoing {
    Signal(ServerMessage),
    /// Send the message, then close the WebSocket with 4000 (no reconnect).
    Close(ServerMessage),
    /// The same two, already JSON: from a worker on another node (a space spanning nodes).
    SignalText(String),
    CloseText(String),
}

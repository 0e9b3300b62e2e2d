//! Where a participant's media is handled: a worker of this node, or, for a space that spans
//! nodes, a worker of another node reached over a link (see [`crate::node_link`]). The
//! participant's signaling task talks to either the same way.

use std::sync::Arc;

use oriel_proto::{ClientMessage, ParticipantRole};
use oriel_sfu::{ConnectionKey, JoinRequest, MediaCandidates, PreparedPeers};
use tokio::sync::mpsc::UnboundedSender;

use crate::node_link::{node_of, Frame, LinkSender, NodeLinks, RemoteJoin};
use crate::workers::WorkerHandle;
use crate::{Command, Outgoing};

#[derive(Clone, Debug)]
pub enum MediaTarget {
    Local {
        worker: WorkerHandle,
        /// Its cluster-wide number.
        shard: usize,
    },
    Remote {
        /// The worker's cluster-wide number.
        shard: usize,
        link: LinkSender,
        links: NodeLinks,
    },
}

impl MediaTarget {
    /// The worker's cluster-wide number, for [`crate::MediaWorkers::release`].
    pub fn shard(&self) -> usize {
        match self {
            Self::Local { shard, .. } | Self::Remote { shard, .. } => *shard,
        }
    }

    /// What the worker advertises, for building a joiner's connections here; `None` for
    /// another node's worker, whose node builds them.
    pub fn candidates(&self) -> Option<Arc<[MediaCandidates]>> {
        match self {
            Self::Local { worker, .. } => Some(Arc::clone(&worker.candidates)),
            Self::Remote { .. } => None,
        }
    }

    /// An admitted participant joins; the worker answers on `outbox`. False when the worker
    /// (or the link to it) is gone.
    pub fn join(
        &self,
        space_id: &str,
        request: JoinRequest,
        outbox: UnboundedSender<Outgoing>,
        broadcasting: bool,
        peers: Option<Box<PreparedPeers>>,
    ) -> bool {
        match self {
            Self::Local { worker, .. } => worker.send(Command::Join {
                space_id: space_id.to_owned(),
                request,
                outbox,
                broadcasting,
                peers,
            }),
            Self::Remote { shard, link, links } => {
                links.register_remote(request.connection, node_of(*shard), outbox);
                link.send(Frame::Join {
                    space: Arc::from(space_id),
                    target: *shard as u16,
                    join: Box::new(RemoteJoin {
                        connection: request.connection.0,
                        connection_id: request.connection_id,
                        participant_id: request.participant_id,
                        session_id: request.session_id,
                        publisher: request.role == ParticipantRole::Publisher,
                        display_name: request.display_name,
                        managed_subscriptions: request.managed_subscriptions,
                        hidden: request.hidden,
                        ice_servers: request.ice_servers,
                        broadcasting,
                    }),
                })
            }
        }
    }

    /// A signaling frame from the participant: parsed here, or passed on as it came.
    pub fn message(
        &self,
        space_id: &str,
        connection: ConnectionKey,
        text: &str,
        message: ClientMessage,
    ) -> bool {
        match self {
            Self::Local { worker, .. } => worker.send(Command::Message {
                space_id: space_id.to_owned(),
                connection,
                message,
            }),
            Self::Remote { shard, link, .. } => link.send(Frame::Message {
                space: Arc::from(space_id),
                target: *shard as u16,
                connection,
                text: text.to_owned(),
            }),
        }
    }

    /// The participant's WebSocket closed.
    pub fn leave(&self, space_id: &str, connection: ConnectionKey) {
        match self {
            Self::Local { worker, .. } => {
                worker.send(Command::Leave {
                    space_id: space_id.to_owned(),
                    connection,
                });
            }
            Self::Remote { shard, link, links } => {
                links.unregister_remote(connection);
                link.send(Frame::Leave {
                    space: Arc::from(space_id),
                    target: *shard as u16,
                    connection,
                });
            }
        }
    }
}

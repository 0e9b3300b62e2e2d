//! The I/O shell of the media plane.
//!
//! [`MediaWorkers`] starts one thread per core. Each owns one UDP port (the contract's
//! `--media-port` plus its index; RTCP is read from a second socket on it, see `rtcp_socket`), one ICE-TCP listener, and every space assigned to it, so a space's packets,
//! signaling and timers are handled on one thread without locks. The signaling layer talks
//! to a space's worker only through [`Command`]s; the worker answers on each connection's
//! outbox.

mod commands;
mod media_target;
mod meters;
pub mod node_link;
mod rtcp_socket;
mod send_batch;
mod tcp_media;
mod worker;
mod workers;

pub use commands::{Command, Outgoing};
pub use media_target::MediaTarget;
pub use meters::{MediaTotals, WorkerMeters};
pub use oriel_sfu::{ConnectionKey, JoinRequest, PreparedPeers, SpaceSnapshot};
pub use workers::{MediaSettings, MediaWorkers, PeerNode, WorkerHandle};

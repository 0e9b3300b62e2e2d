//! An impairment relay: UDP between clients and a node, each direction of each client through
//! its own sans-IO network emulator (str0m-netem: loss, bursty loss, delay, jitter, reordering,
//! duplication, a rate cap with a queue). [`Relay`] is the sans-IO table of client sessions;
//! `main.rs` is the socket shell around it.

pub mod impairment;
pub mod relay;

pub use impairment::{Direction, Impairment};
pub use relay::{Relay, SessionId, Transmit};

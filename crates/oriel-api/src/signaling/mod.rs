//! The Spaces signaling endpoint, `/pluto/v1`, as `@mux/spaces-web` speaks it.
//!
//! A connection is authenticated from its `?token=`, admitted by [`Presence`] (which keeps the
//! space's active/idle life cycle and participant uniqueness), then relayed: client frames go
//! to the media worker that holds the space, and the worker's messages come back on an outbox.

mod presence;
mod socket;
mod upgrade;

pub use presence::Presence;
pub use socket::router;

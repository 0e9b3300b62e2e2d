//! The Spaces signaling endpoint, `/pluto/v1`, as `@mux/spaces-web` speaks it.
//!
//! Today it authenticates the join token, admits the participant to the space (which turns the
//! space active) and answers `joined`; media negotiation arrives with the SFU.

mod messages;
mod presence;
mod socket;

pub use presence::Presence;
pub use socket::router;

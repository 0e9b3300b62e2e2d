//! The Spaces signaling protocol spoken at `/pluto/v1` by `@mux/spaces-web` 1.2.0.
//!
//! Every frame is one JSON object whose single meaningful key names the message. Client
//! messages are parsed into [`ClientMessage`]; server messages are built as [`ServerMessage`]
//! and serialised with [`ServerMessage::to_json`]. Field names and integer codes are the SDK's.

mod client;
mod client_encode;
mod objects;
mod server;
mod server_decode;

pub use client::{ClientMessage, ParseError, PendingTrack, SubscriptionRequest};
pub use objects::{
    Candidate, CandidateTarget, ErrorType, IceServer, Limits, Participant, ParticipantRole,
    ParticipantStatus, RequestErrorType, SimulcastEncoding, SimulcastSettings, SubSfu, Track,
    TrackKind, TrackSource,
};
pub use server::{Joined, ServerMessage, SignalError};

/// Largest custom event payload, in bytes (the SDK checks the same limit).
pub const MAX_CUSTOM_EVENT_BYTES: usize = 4096;
/// Longest display name, in characters.
pub const MAX_DISPLAY_NAME_CHARS: usize = 64;

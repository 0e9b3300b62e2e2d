//! Verification of Spaces join tokens.
//!
//! A join token is an RS256 JWT signed with the RSA private key of one of an
//! environment's signing keys (spec §6). Its claims are `sub` (the space id),
//! `aud` (`"rt"`), `exp`, an optional `role` (`"publisher"` by default or
//! `"subscriber"`) and an optional `participant_id`. The signing key id `kid`
//! sits in the JWT header (Node `jsonwebtoken`, Elixir Joken) or in the payload
//! (`jose`, whose header is only `{"alg":"RS256"}`); both are accepted.
//!
//! Verification is two-step because the caller must look the key up first:
//!
//! 1. [`key_id`] reads the `kid` without trusting anything, so the caller can
//!    fetch that key's public PEM (or answer [`JoinTokenError::UnknownKey`]);
//! 2. [`verify`] checks the signature and the claims and returns a [`JoinGrant`].
//!    The caller then checks that the granted space belongs to the key's
//!    environment (or answers [`JoinTokenError::SpaceNotInEnvironment`]).
//!
//! Nothing here panics on hostile input; every refusal is a [`JoinTokenError`].

mod claims;
mod error;
mod playback;
mod token;
mod verify;

pub use claims::{JoinGrant, Role};
pub use error::JoinTokenError;
pub use playback::{verify_playback, PlaybackTokenError};
pub use token::key_id;
pub use verify::{verify, verify_with_expiry_grace, PublicSigningKey};

/// Clock skew tolerated on `exp` (and `nbf`), in seconds.
pub const LEEWAY_SECONDS: u64 = 5;

/// Longest token accepted, in bytes. Real tokens are well under 2 KiB; the cap
/// bounds the work done on unauthenticated input before any signature check.
pub const MAX_TOKEN_LEN: usize = 16 * 1024;

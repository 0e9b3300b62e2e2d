//! Signed playback tokens, as Mux Video takes them on `?token=`: an RS256 JWT signed with one of
//! the environment's signing keys, `sub` the playback id, `aud` `"v"` (video), `exp`, and `kid`
//! in the header or the claims (what `@mux/mux-node`'s `jwt.signPlaybackId` makes).

use serde_json::Value;

use crate::claims::check_validity;
use crate::verify::signed;
use crate::{JoinTokenError, PublicSigningKey};

/// Why a playback token was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone)]
#[non_exhaustive]
pub enum PlaybackTokenError {
    /// What a join token could also be refused for (signature, key, expiry, form).
    #[error("{}", playback_sentence(.0))]
    Token(#[from] JoinTokenError),
    #[error("playback token audience (aud) must be \"v\"")]
    WrongAudience,
    #[error("playback token is for another playback id (sub)")]
    OtherPlaybackId,
}

/// The join-token sentences, said of a playback token.
fn playback_sentence(error: &JoinTokenError) -> String {
    error.message().replacen("join token", "playback token", 1)
}

/// Verifies that `token` lets its bearer play `playback_id`, signed by `key`; returns `exp`.
pub fn verify_playback(
    token: &str,
    key: &PublicSigningKey<'_>,
    playback_id: &str,
    now_unix: u64,
) -> Result<u64, PlaybackTokenError> {
    let parsed = signed(token, key)?;
    let claims = &parsed.claims;
    match claims.get("aud") {
        Some(Value::String(a)) if a == "v" => {}
        Some(Value::Array(a)) if matches!(a.as_slice(), [Value::String(s)] if s == "v") => {}
        _ => return Err(PlaybackTokenError::WrongAudience),
    }
    let expires_at = check_validity(claims, now_unix, 0)?;
    match claims.get("sub") {
        Some(Value::String(s)) if s == playback_id => Ok(expires_at),
        _ => Err(PlaybackTokenError::OtherPlaybackId),
    }
}

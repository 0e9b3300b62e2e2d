//! The claims of a join token and what they grant.

use serde_json::{Map, Value};

use crate::{JoinTokenError, LEEWAY_SECONDS};

/// Longest `participant_id` accepted, in characters.
const MAX_PARTICIPANT_ID_CHARS: usize = 255;

/// What a verified join token grants.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JoinGrant {
    /// `sub`: the space to join (not yet checked against the key's environment).
    pub space_id: String,
    /// `kid`: the signing key that signed the token.
    pub signing_key_id: String,
    pub role: Role,
    /// App-chosen participant identity; `None` lets the server pick one.
    pub participant_id: Option<String>,
    /// `exp`, unix seconds.
    pub expires_at: u64,
    /// `oriel_hidden`: a participant no one sees (a broadcast's compositor). The node honours
    /// it only in tokens signed with its own internal key of the environment.
    pub hidden: bool,
}

/// What a participant may do in a space.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// Publishes tracks and custom events, and subscribes (the default).
    Publisher,
    /// Receives only.
    Subscriber,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Publisher => "publisher",
            Role::Subscriber => "subscriber",
        }
    }
}

/// Checks the claims of a token whose signature already verified.
pub(crate) fn grant(
    claims: &Map<String, Value>,
    signing_key_id: String,
    now_unix: u64,
    expiry_grace_seconds: u64,
) -> Result<JoinGrant, JoinTokenError> {
    use JoinTokenError as E;

    // Spec §6: aud is "rt"; a one-element array is the same audience in JWT terms.
    match claims.get("aud") {
        Some(Value::String(a)) if a == "rt" => {}
        Some(Value::Array(a)) if matches!(a.as_slice(), [Value::String(s)] if s == "rt") => {}
        _ => return Err(E::WrongAudience),
    }

    let expires_at = check_validity(claims, now_unix, expiry_grace_seconds)?;

    let space_id = match claims.get("sub") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        _ => return Err(E::MissingSubject),
    };

    // The SDKs treat anything but "subscriber" as publisher; we refuse typos
    // instead of silently granting more, but absent/null means the default.
    let role = match claims.get("role") {
        None | Some(Value::Null) => Role::Publisher,
        Some(Value::String(r)) if r == "publisher" => Role::Publisher,
        Some(Value::String(r)) if r == "subscriber" => Role::Subscriber,
        Some(Value::String(r)) => return Err(E::InvalidRole(r.clone())),
        Some(other) => return Err(E::InvalidRole(other.to_string())),
    };

    // Node helpers pass `participant_id: undefined`/null when unset.
    let participant_id = match claims.get("participant_id") {
        None | Some(Value::Null) => None,
        Some(Value::String(p))
            if !p.is_empty() && p.chars().count() <= MAX_PARTICIPANT_ID_CHARS =>
        {
            Some(p.clone())
        }
        Some(_) => return Err(E::InvalidParticipantId),
    };

    let hidden = match claims.get("oriel_hidden") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(hidden)) => *hidden,
        Some(_) => return Err(E::Malformed),
    };

    Ok(JoinGrant {
        space_id,
        signing_key_id,
        role,
        participant_id,
        expires_at,
        hidden,
    })
}

/// RFC 7519 NumericDate: may be fractional; `as` saturates negatives to 0.
/// Checks `exp` (required) and `nbf` (optional) against `now_unix`, with the leeway; returns
/// `exp`.
pub(crate) fn check_validity(
    claims: &Map<String, Value>,
    now_unix: u64,
    expiry_grace_seconds: u64,
) -> Result<u64, JoinTokenError> {
    use JoinTokenError as E;
    let expires_at = claims
        .get("exp")
        .and_then(numeric_date)
        .ok_or(E::MissingExpiry)?;
    if expires_at
        .saturating_add(LEEWAY_SECONDS)
        .saturating_add(expiry_grace_seconds)
        < now_unix
    {
        return Err(E::Expired);
    }
    match claims.get("nbf") {
        None | Some(Value::Null) => {}
        Some(v) => match numeric_date(v) {
            Some(nbf) if nbf > now_unix.saturating_add(LEEWAY_SECONDS) => {
                return Err(E::NotYetValid)
            }
            Some(_) => {}
            None => return Err(E::Malformed),
        },
    }
    Ok(expires_at)
}

fn numeric_date(v: &Value) -> Option<u64> {
    v.as_u64().or_else(|| v.as_f64().map(|f| f as u64))
}

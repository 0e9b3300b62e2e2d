//! Unverified parsing of the compact JWS form.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{Map, Value};

use crate::{JoinTokenError, MAX_TOKEN_LEN};

/// A token split and decoded, nothing checked but its shape, `alg` and `kid`.
pub(crate) struct Parsed<'t> {
    /// `header.payload` as sent: what the signature covers.
    pub(crate) signing_input: &'t str,
    pub(crate) signature: &'t str,
    pub(crate) claims: Map<String, Value>,
    pub(crate) kid: String,
}

/// Reads the signing key id without trusting anything: header `kid`, else
/// claims `kid`. Refuses malformed tokens and any `alg` but RS256 already, so
/// callers never look a key up for a token that cannot verify.
pub fn key_id(token: &str) -> Result<String, JoinTokenError> {
    parse(token).map(|p| p.kid)
}

pub(crate) fn parse(token: &str) -> Result<Parsed<'_>, JoinTokenError> {
    use JoinTokenError::{KeyIdMismatch, Malformed, MissingKeyId, UnsupportedAlgorithm};

    if token.len() > MAX_TOKEN_LEN {
        return Err(Malformed);
    }
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Malformed);
    };

    let header = json_object(h)?;
    match header.get("alg") {
        Some(Value::String(alg)) if alg == "RS256" => {}
        Some(Value::String(alg)) => return Err(UnsupportedAlgorithm(alg.clone())),
        _ => return Err(Malformed),
    }
    // RFC 7515 §4.1.11: extensions marked critical must be understood; we know none.
    if header.contains_key("crit") {
        return Err(Malformed);
    }
    let claims = json_object(p)?;
    URL_SAFE_NO_PAD.decode(signature).map_err(|_| Malformed)?;

    let kid = match (kid_of(&header)?, kid_of(&claims)?) {
        (Some(a), Some(b)) if a != b => return Err(KeyIdMismatch),
        (Some(k), _) | (None, Some(k)) => k.to_owned(),
        (None, None) => return Err(MissingKeyId),
    };
    Ok(Parsed {
        signing_input: &token[..h.len() + 1 + p.len()],
        signature,
        claims,
        kid,
    })
}

fn json_object(segment: &str) -> Result<Map<String, Value>, JoinTokenError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(segment)
        .map_err(|_| JoinTokenError::Malformed)?;
    serde_json::from_slice(&bytes).map_err(|_| JoinTokenError::Malformed)
}

/// An empty `kid` counts as absent; a non-string one is malformed.
fn kid_of(object: &Map<String, Value>) -> Result<Option<&str>, JoinTokenError> {
    match object.get("kid") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(k)) if k.is_empty() => Ok(None),
        Some(Value::String(k)) => Ok(Some(k)),
        Some(_) => Err(JoinTokenError::Malformed),
    }
}

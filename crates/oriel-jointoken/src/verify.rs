//! Signature verification.

use jsonwebtoken::{Algorithm, DecodingKey};

use crate::claims::{grant, JoinGrant};
use crate::token::{parse, Parsed};
use crate::JoinTokenError;

/// A public signing key as the store holds it.
#[derive(Clone, Copy, Debug)]
pub struct PublicSigningKey<'a> {
    pub id: &'a str,
    /// `-----BEGIN PUBLIC KEY-----` (SPKI) or `-----BEGIN RSA PUBLIC KEY-----` (PKCS#1).
    pub public_key_pem: &'a str,
}

/// Verifies a join token against `key`: the token's `kid` must be `key.id`,
/// the RS256 signature must match, `aud` must be `"rt"`, `exp` must be at least
/// `now_unix - LEEWAY_SECONDS`, `nbf` (if any) at most `now_unix + LEEWAY_SECONDS`,
/// `sub` must be non-empty; `role` defaults to publisher.
pub fn verify(
    token: &str,
    key: &PublicSigningKey<'_>,
    now_unix: u64,
) -> Result<JoinGrant, JoinTokenError> {
    verify_with_expiry_grace(token, key, now_unix, 0)
}

/// [`verify`], but a token that expired up to `expiry_grace_seconds` ago still passes: for what
/// a participant may do after its call (rate it), not for joining.
pub fn verify_with_expiry_grace(
    token: &str,
    key: &PublicSigningKey<'_>,
    now_unix: u64,
    expiry_grace_seconds: u64,
) -> Result<JoinGrant, JoinTokenError> {
    let parsed = signed(token, key)?;
    grant(&parsed.claims, parsed.kid, now_unix, expiry_grace_seconds)
}

/// Parses `token` and checks that `key` signed it (RS256 only); the claims are not checked yet.
pub(crate) fn signed<'t>(
    token: &'t str,
    key: &PublicSigningKey<'_>,
) -> Result<Parsed<'t>, JoinTokenError> {
    let parsed = parse(token)?;
    if parsed.kid != key.id {
        return Err(JoinTokenError::UnknownKey);
    }

    // jsonwebtoken would also take a private key PEM and then fail every
    // signature; name the real problem instead.
    let pem = key.public_key_pem.trim_start();
    if !(pem.starts_with("-----BEGIN PUBLIC KEY-----")
        || pem.starts_with("-----BEGIN RSA PUBLIC KEY-----"))
    {
        return Err(JoinTokenError::InvalidPublicKey);
    }
    let decoding_key =
        DecodingKey::from_rsa_pem(pem.as_bytes()).map_err(|_| JoinTokenError::InvalidPublicKey)?;

    // Algorithm is pinned to RS256 here, never taken from the header (parse
    // already refused others): no algorithm confusion.
    let valid = jsonwebtoken::crypto::verify(
        parsed.signature,
        parsed.signing_input.as_bytes(),
        &decoding_key,
        Algorithm::RS256,
    );
    if !matches!(valid, Ok(true)) {
        return Err(JoinTokenError::BadSignature);
    }
    Ok(parsed)
}

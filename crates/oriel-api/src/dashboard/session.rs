//! Dashboard sessions: a random 256-bit id in a `Secure; HttpOnly; SameSite=Strict` cookie;
//! the store keeps only its SHA-256, with an expiry. Signing out deletes the row.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue};
use base64::Engine;
use oriel_store::{DashboardSession, DashboardUser};
use rand::RngCore;
use sha2::{Digest, Sha256};

use super::csrf;
use crate::clock::unix_now;
use crate::error::ApiError;
use crate::state::AppState;

/// `__Host-`: the browser accepts the cookie only with `Secure`, `Path=/` and no `Domain`, so
/// no other site or path can plant one. Chromium treats http://127.0.0.1 and localhost as
/// secure contexts and keeps it there too.
pub const COOKIE_NAME: &str = "__Host-oriel_session";
/// How long a sign-in lasts.
pub const SESSION_TTL_SECONDS: i64 = 12 * 60 * 60;

/// A session just made: the cookie's value (only ever sent to the browser) and what is stored.
pub struct NewSession {
    pub cookie_value: String,
    pub record: DashboardSession,
}

pub fn new_session(user_id: &str, now: i64) -> NewSession {
    let mut id = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut id);
    let cookie_value = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(id);
    NewSession {
        record: DashboardSession {
            id_hash: hash_session_id(&cookie_value),
            user_id: user_id.to_owned(),
            created_at: now,
            expires_at: now + SESSION_TTL_SECONDS,
        },
        cookie_value,
    }
}

/// What the store knows a session by.
pub fn hash_session_id(cookie_value: &str) -> String {
    hex(&Sha256::digest(cookie_value.as_bytes()))
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn set_cookie(cookie_value: &str) -> HeaderValue {
    HeaderValue::from_str(&format!(
        "{COOKIE_NAME}={cookie_value}; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age={SESSION_TTL_SECONDS}"
    ))
    .unwrap_or(HeaderValue::from_static(""))
}

pub fn clear_cookie() -> HeaderValue {
    HeaderValue::from_static(
        "__Host-oriel_session=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0",
    )
}

/// The session cookie's value among a request's cookies.
pub fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|line| line.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, value)| *name == COOKIE_NAME && !value.is_empty())
        .map(|(_, value)| value)
}

/// A signed-in dashboard user. As an extractor it is the dashboard API's only authentication:
/// it reads the session cookie and nothing else (never `Authorization`), answers 401 without
/// one, and 403 to an unsafe method without the session's CSRF token.
#[derive(Clone, Debug)]
pub struct SignedIn {
    pub user: DashboardUser,
    pub session_id_hash: String,
    pub csrf_token: String,
}

/// The signed-in user of a request, if any; no CSRF check (for pages and safe methods).
pub async fn signed_in(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<SignedIn>, ApiError> {
    let Some(cookie) = session_cookie(headers) else {
        return Ok(None);
    };
    let id_hash = hash_session_id(cookie);
    Ok(state
        .store
        .dashboard_session(&id_hash, unix_now())
        .await?
        .map(|(session, user)| SignedIn {
            user,
            session_id_hash: session.id_hash,
            csrf_token: csrf::token_for(cookie),
        }))
}

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let session = signed_in(state, &parts.headers)
            .await?
            .ok_or_else(ApiError::session_required)?;
        if !parts.method.is_safe() {
            csrf::check_origin(&parts.headers)?;
            csrf::check_token(&parts.headers, &session.csrf_token)?;
        }
        Ok(session)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_are_random_and_stored_only_as_a_hash() {
        let a = new_session("user", 100);
        let b = new_session("user", 100);
        assert_ne!(a.cookie_value, b.cookie_value);
        // 32 random bytes, base64url without padding.
        assert_eq!(a.cookie_value.len(), 43);
        assert_eq!(a.record.id_hash, hash_session_id(&a.cookie_value));
        assert_eq!(a.record.id_hash.len(), 64);
        assert!(!a.record.id_hash.contains(&a.cookie_value));
        assert_eq!(a.record.expires_at, 100 + SESSION_TTL_SECONDS);
    }

    #[test]
    fn the_cookie_is_host_only_secure_httponly_strict() {
        let cookie = set_cookie("abc");
        let text = cookie.to_str().unwrap();
        assert!(text.starts_with("__Host-oriel_session=abc; Path=/;"));
        for attribute in ["Secure", "HttpOnly", "SameSite=Strict", "Max-Age=43200"] {
            assert!(text.contains(attribute), "{attribute}");
        }
        assert!(!text.contains("Domain"));
        assert!(clear_cookie().to_str().unwrap().contains("Max-Age=0"));
    }

    #[test]
    fn finds_the_session_cookie_among_others() {
        let mut headers = HeaderMap::new();
        assert_eq!(session_cookie(&headers), None);
        headers.append(header::COOKIE, HeaderValue::from_static("a=1; b=2"));
        headers.append(
            header::COOKIE,
            HeaderValue::from_static("x=y; __Host-oriel_session=tok; z=w"),
        );
        assert_eq!(session_cookie(&headers), Some("tok"));
        let mut empty = HeaderMap::new();
        empty.insert(
            header::COOKIE,
            HeaderValue::from_static("__Host-oriel_session="),
        );
        assert_eq!(session_cookie(&empty), None);
        let mut unprefixed = HeaderMap::new();
        unprefixed.insert(
            header::COOKIE,
            HeaderValue::from_static("oriel_session=tok"),
        );
        assert_eq!(session_cookie(&unprefixed), None);
    }
}

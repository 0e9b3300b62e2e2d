//! Cross-site request forgery defences of the dashboard API, beside the `SameSite=Strict`
//! cookie: every unsafe request carries the session's CSRF token in `X-CSRF-Token` (a page of
//! another site can neither read the token nor set that header without a CORS preflight we
//! never grant), and a browser's `Origin` / `Sec-Fetch-Site` must say same-origin.

use axum::http::{header, HeaderMap};
use sha2::{Digest, Sha256};

use super::session::hex;
use crate::error::ApiError;

pub const HEADER: &str = "x-csrf-token";

/// The session's CSRF token: derived from the cookie's secret value, so nothing more is
/// stored, yet only someone who holds the cookie (the browser, never a script: HttpOnly) or
/// is handed the token by `GET /dashboard/api/session` knows it.
pub fn token_for(session_cookie: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"oriel-dashboard-csrf\0");
    hasher.update(session_cookie.as_bytes());
    hex(&hasher.finalize())
}

pub fn check_token(headers: &HeaderMap, expected: &str) -> Result<(), ApiError> {
    let given = headers
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if constant_time_eq(given.as_bytes(), expected.as_bytes()) {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "Missing or wrong X-CSRF-Token header; reload the dashboard",
        ))
    }
}

/// Refuses a request a browser marks as coming from another site. Requests without these
/// headers (curl, tests) pass: they carry no ambient cookie of a victim.
pub fn check_origin(headers: &HeaderMap) -> Result<(), ApiError> {
    let refused = || ApiError::forbidden("Cross-site requests to the dashboard are refused");
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        if !matches!(site, "same-origin" | "none") {
            return Err(refused());
        }
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin = origin.to_str().map_err(|_| refused())?;
        let host = headers
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(refused)?;
        let origin_host = origin
            .strip_prefix("http://")
            .or_else(|| origin.strip_prefix("https://"))
            .ok_or_else(refused)?;
        if origin_host != host {
            return Err(refused());
        }
    }
    Ok(())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn tokens_belong_to_one_session() {
        let token = token_for("cookie-a");
        assert_eq!(token, token_for("cookie-a"));
        assert_ne!(token, token_for("cookie-b"));
        assert_eq!(token.len(), 64);
        let mut headers = HeaderMap::new();
        assert!(check_token(&headers, &token).is_err());
        headers.insert(
            HEADER,
            HeaderValue::from_str(&token_for("cookie-b")).unwrap(),
        );
        assert_eq!(
            check_token(&headers, &token).unwrap_err().status().as_u16(),
            403
        );
        headers.insert(HEADER, HeaderValue::from_str(&token).unwrap());
        assert!(check_token(&headers, &token).is_ok());
        headers.insert(HEADER, HeaderValue::from_static(""));
        assert!(check_token(&headers, "").is_ok() && check_token(&headers, &token).is_err());
    }

    #[test]
    fn other_sites_are_refused() {
        let with = |pairs: &[(&'static str, &'static str)]| {
            let mut headers = HeaderMap::new();
            for (name, value) in pairs {
                headers.insert(*name, HeaderValue::from_static(value));
            }
            check_origin(&headers).is_ok()
        };
        assert!(with(&[]));
        assert!(with(&[
            ("host", "127.0.0.1:8080"),
            ("origin", "http://127.0.0.1:8080")
        ]));
        assert!(with(&[("sec-fetch-site", "same-origin")]));
        assert!(!with(&[
            ("host", "127.0.0.1:8080"),
            ("origin", "http://evil.example")
        ]));
        assert!(!with(&[("host", "127.0.0.1:8080"), ("origin", "null")]));
        assert!(!with(&[("origin", "http://127.0.0.1:8080")]));
        assert!(!with(&[("sec-fetch-site", "cross-site")]));
        assert!(!with(&[("sec-fetch-site", "same-site")]));
    }
}

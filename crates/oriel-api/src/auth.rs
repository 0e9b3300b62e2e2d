//! HTTP Basic authentication of API requests, the bounds on failed checks, and the per-token
//! rate limit.

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use base64::Engine;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use oriel_store::Store;
use sha2::{Digest, Sha256};

use crate::access_tokens::secret_matches;
use crate::argon2_slots;
use crate::client_address::ClientAddress;
use crate::error::ApiError;
use crate::failure_limit::{client_key, FailureLimit};
use crate::rejected_secrets::RejectedSecrets;
use crate::state::AppState;

/// Requests per second allowed to one access token, and the burst above it.
#[derive(Clone, Copy, Debug)]
pub struct RateLimit {
    pub per_second: NonZeroU32,
    pub burst: NonZeroU32,
}

/// Checks access tokens. Argon2 makes each check cost tens of milliseconds and 19 MiB, so:
/// a secret that verified once is remembered as its SHA-256 digest (the token's row is still
/// read on every request, so a revoked or deleted token stops working at once); one found wrong
/// is remembered too; failures are limited per token and per client address before any Argon2
/// run; and Argon2 runs only in the process's few slots ([`argon2_slots`]). So wrong guesses,
/// however many, neither grow memory nor slow down a caller whose secret is known good.
pub struct Authenticator {
    store: Arc<dyn Store>,
    verified: Mutex<HashMap<String, [u8; 32]>>,
    rejected: RejectedSecrets,
    failures_by_token: FailureLimit,
    failures_by_client: FailureLimit,
    limiter: DefaultKeyedRateLimiter<String>,
}

/// Failed checks allowed per access token, and per client address, in each window.
const FAILURES_PER_TOKEN: u32 = 20;
const FAILURES_PER_CLIENT: u32 = 20;
const FAILURE_WINDOW: Duration = Duration::from_secs(60);
/// Client addresses and wrong secrets remembered at most.
const MAX_CLIENTS_TRACKED: usize = 100_000;
const MAX_REJECTED_REMEMBERED: usize = 10_000;

/// The authenticated caller of an API request: every handler that takes one is protected.
#[derive(Clone, Debug)]
pub struct Caller {
    pub environment_id: String,
    pub access_token_id: String,
}

impl Authenticator {
    pub fn new(store: Arc<dyn Store>, rate_limit: RateLimit) -> Self {
        let quota = Quota::per_second(rate_limit.per_second).allow_burst(rate_limit.burst);
        Self {
            store,
            verified: Mutex::new(HashMap::new()),
            rejected: RejectedSecrets::new(MAX_REJECTED_REMEMBERED),
            // Keyed only by ids of tokens that exist, so strangers cannot grow it.
            failures_by_token: FailureLimit::new(FAILURES_PER_TOKEN, FAILURE_WINDOW, usize::MAX),
            failures_by_client: FailureLimit::new(
                FAILURES_PER_CLIENT,
                FAILURE_WINDOW,
                MAX_CLIENTS_TRACKED,
            ),
            limiter: RateLimiter::keyed(quota),
        }
    }

    /// The caller named by an `Authorization` header value, from the client at `client`.
    pub async fn authenticate(
        &self,
        authorization: Option<&str>,
        client: Option<IpAddr>,
    ) -> Result<Caller, ApiError> {
        let (token_id, secret) = authorization
            .and_then(parse_basic)
            .ok_or_else(ApiError::unauthorized)?;
        let token = self
            .store
            .access_token(&token_id)
            .await?
            .filter(|token| token.revoked_at.is_none())
            .ok_or_else(ApiError::unauthorized)?;
        let digest: [u8; 32] = Sha256::digest(secret.as_bytes()).into();
        if self.remembered(&token.id) != Some(digest) {
            self.verify(&token, secret, digest, client).await?;
        }
        // The request rate is limited once the caller is known: strangers' wrong guesses must
        // not spend the real caller's budget.
        if let Err(not_until) = self.limiter.check_key(&token.id) {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            return Err(ApiError::too_many_requests(wait.as_secs_f64().ceil() as u64));
        }
        Ok(caller(token))
    }

    /// Checks a secret not known good against the token's Argon2 hash, within the limits.
    async fn verify(
        &self,
        token: &oriel_store::AccessToken,
        secret: String,
        digest: [u8; 32],
        client: Option<IpAddr>,
    ) -> Result<(), ApiError> {
        if self.rejected.contains(&token.id, &secret) {
            return Err(ApiError::unauthorized());
        }
        let now = Instant::now();
        let by_client = self.failures_by_client.begin(&client_key(client), now)?;
        let by_token = self.failures_by_token.begin(&token.id, now)?;
        let stored_hash = token.secret_hash.clone();
        let checked = secret.clone();
        let matches = argon2_slots::run(move || secret_matches(&checked, &stored_hash)).await?;
        if !matches {
            self.rejected.insert(&token.id, &secret);
            return Err(ApiError::unauthorized());
        }
        by_client.succeeded();
        by_token.succeeded();
        self.verified
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(token.id.clone(), digest);
        Ok(())
    }

    fn remembered(&self, token_id: &str) -> Option<[u8; 32]> {
        self.verified
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(token_id)
            .copied()
    }
}

fn caller(token: oriel_store::AccessToken) -> Caller {
    Caller {
        environment_id: token.environment_id,
        access_token_id: token.id,
    }
}

/// `Basic base64(id:secret)` into its two halves.
fn parse_basic(header: &str) -> Option<(String, String)> {
    let (scheme, encoded) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    (!id.is_empty() && !secret.is_empty()).then(|| (id.to_owned(), secret.to_owned()))
}

/// A caller vouched for in-process by the dashboard's request runner, which dispatches a REST
/// request on behalf of a signed-in user. Only code can put it in a request's extensions: no
/// header, cookie or body can.
#[derive(Clone, Debug)]
pub(crate) struct DashboardCaller(pub Caller);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if let Some(DashboardCaller(caller)) = parts.extensions.get::<DashboardCaller>() {
            return Ok(caller.clone());
        }
        let header = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|value| value.to_str().ok());
        let ClientAddress(client) = ClientAddress::of(parts);
        state.authenticator.authenticate(header, client).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_headers_parse_or_refuse() {
        let encoded = base64::engine::general_purpose::STANDARD.encode("id:se:cret");
        assert_eq!(
            parse_basic(&format!("Basic {encoded}")),
            Some(("id".into(), "se:cret".into()))
        );
        assert_eq!(
            parse_basic(&format!("basic {encoded}")).map(|p| p.0),
            Some("id".into())
        );
        for bad in [
            "",
            "Basic",
            "Basic !!!",
            "Bearer abc",
            &format!("Bearer {encoded}"),
        ] {
            assert_eq!(parse_basic(bad), None, "{bad}");
        }
        let empty_secret = base64::engine::general_purpose::STANDARD.encode("id:");
        assert_eq!(parse_basic(&format!("Basic {empty_secret}")), None);
    }
}

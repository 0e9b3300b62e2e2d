//! `POST /dashboard/api/sign-in`, `POST /dashboard/api/sign-out`, `GET /dashboard/api/session`.

use std::num::NonZeroU32;

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter};
use serde_json::{json, Value};

use super::session::{self, SignedIn};
use super::{csrf, users};
use crate::clock::unix_now;
use crate::error::{ApiError, ApiResult};
use crate::json_body::JsonObject;
use crate::state::AppState;

/// Sign-in attempts: per email a burst of 10, then one every 6 seconds; for the whole node 20
/// at once, then 5 per second, which bounds the Argon2 work strangers can cause.
pub struct SignInLimiter {
    per_email: DefaultKeyedRateLimiter<String>,
    overall: DefaultDirectRateLimiter,
}

impl Default for SignInLimiter {
    fn default() -> Self {
        let n = |v: u32| NonZeroU32::new(v).unwrap_or(NonZeroU32::MIN);
        Self {
            per_email: RateLimiter::keyed(Quota::per_minute(n(10)).allow_burst(n(10))),
            overall: RateLimiter::direct(Quota::per_second(n(5)).allow_burst(n(20))),
        }
    }
}

impl SignInLimiter {
    fn check(&self, email: &str) -> Result<(), ApiError> {
        // The keyed map grows with every email tried; forget the idle ones now and then.
        if self.per_email.len() > 10_000 {
            self.per_email.retain_recent();
        }
        let now = DefaultClock::default().now();
        let wait = |not_until: governor::NotUntil<_>| {
            ApiError::too_many_requests(not_until.wait_time_from(now).as_secs_f64().ceil() as u64)
        };
        self.overall.check().map_err(wait)?;
        self.per_email
            .check_key(&email.to_lowercase())
            .map_err(wait)
    }
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/dashboard/api/sign-in", post(sign_in))
        .route("/dashboard/api/sign-out", post(sign_out))
        .route("/dashboard/api/session", get(current))
}

fn session_view(session: &SignedIn) -> Value {
    json!({
        "data": {
            "user": { "id": session.user.id, "email": session.user.email },
            "csrf_token": session.csrf_token,
        }
    })
}

async fn sign_in(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: JsonObject,
) -> ApiResult<Response> {
    // No session yet, so no CSRF token: a browser's Origin must be ours (login CSRF).
    csrf::check_origin(&headers)?;
    let field = |name: &str| {
        body.optional_string(name, 1024)?
            .filter(|v| !v.is_empty())
            .ok_or_else(|| ApiError::invalid_parameters(format!("{name} is required")))
    };
    let email = field("email")?;
    let password = field("password")?;
    state.dashboard.sign_in_limiter.check(email)?;
    let user = users::verify_password(state.store.as_ref(), email, password)
        .await?
        .ok_or_else(ApiError::wrong_credentials)?;
    let now = unix_now();
    state.store.delete_expired_dashboard_sessions(now).await?;
    let new = session::new_session(&user.id, now);
    state.store.insert_dashboard_session(&new.record).await?;
    tracing::info!(user = %user.id, "dashboard sign-in");
    let signed_in = SignedIn {
        csrf_token: csrf::token_for(&new.cookie_value),
        session_id_hash: new.record.id_hash,
        user,
    };
    Ok((
        [(header::SET_COOKIE, session::set_cookie(&new.cookie_value))],
        Json(session_view(&signed_in)),
    )
        .into_response())
}

async fn sign_out(State(state): State<AppState>, session: SignedIn) -> ApiResult<Response> {
    state
        .store
        .delete_dashboard_session(&session.session_id_hash)
        .await?;
    Ok((
        StatusCode::NO_CONTENT,
        [(header::SET_COOKIE, session::clear_cookie())],
    )
        .into_response())
}

async fn current(session: SignedIn) -> Json<Value> {
    Json(session_view(&session))
}

//! `POST /dashboard/api/sign-in`, `POST /dashboard/api/sign-out`, `GET /dashboard/api/session`.

use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use super::session::{self, SignedIn};
use super::{csrf, users};
use crate::client_address::ClientAddress;
use crate::clock::unix_now;
use crate::error::{ApiError, ApiResult};
use crate::failure_limit::{client_key, Attempt, FailureLimit};
use crate::json_body::JsonObject;
use crate::state::AppState;

/// Failed sign-ins are limited per client address, per email from one address, and per email
/// from everywhere (higher, so that locking someone out takes many addresses), never for the
/// whole node: guessing one account's password, or many accounts' from one address, never
/// locks out a different user signing in from elsewhere. The Argon2 slots bound what a guesser
/// with many addresses can cost.
pub struct SignInLimiter {
    per_client: FailureLimit,
    per_email_and_client: FailureLimit,
    per_email: FailureLimit,
}

const FAILURES_PER_CLIENT: u32 = 30;
const FAILURES_PER_EMAIL_AND_CLIENT: u32 = 10;
const FAILURES_PER_EMAIL: u32 = 100;
const FAILURE_WINDOW: Duration = Duration::from_secs(10 * 60);
/// Emails and client addresses remembered at most (each a few dozen bytes).
const MAX_KEYS: usize = 100_000;

impl Default for SignInLimiter {
    fn default() -> Self {
        Self {
            per_client: FailureLimit::new(FAILURES_PER_CLIENT, FAILURE_WINDOW, MAX_KEYS),
            per_email_and_client: FailureLimit::new(
                FAILURES_PER_EMAIL_AND_CLIENT,
                FAILURE_WINDOW,
                MAX_KEYS,
            ),
            per_email: FailureLimit::new(FAILURES_PER_EMAIL, FAILURE_WINDOW, MAX_KEYS),
        }
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
    ClientAddress(client): ClientAddress,
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
    let limiter = &state.dashboard.sign_in_limiter;
    let now = Instant::now();
    let client = client_key(client);
    let email_key = email.trim().to_lowercase();
    let attempts = [
        limiter.per_client.begin(&client, now)?,
        limiter
            .per_email_and_client
            .begin(&format!("{email_key} {client}"), now)?,
        limiter.per_email.begin(&email_key, now)?,
    ];
    // A wrong password drops the attempts, which counts them as failures.
    let user = users::verify_password(state.store.as_ref(), email, password)
        .await?
        .ok_or_else(ApiError::wrong_credentials)?;
    attempts.into_iter().for_each(Attempt::succeeded);
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

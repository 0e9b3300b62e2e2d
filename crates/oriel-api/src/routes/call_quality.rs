//! `POST /helios/v1/submit_acr/{JWT}`: the call-quality rating (ACR, 1..5) that
//! `@mux/spaces-web`'s `space.submitAcrScore()` posts to `window.MUX_SPACES_HELIOS_URL`.
//!
//! The SDK sends it from the app's origin as `text/plain` JSON (`connection_id`, `space_id`,
//! `session_id`, `participant_id`, `acr_score`), a CORS "simple request", so every answer
//! carries `Access-Control-Allow-Origin: *` (no cookie is involved: the token in the path is
//! the credential); a preflight is answered too, for clients that add headers.
//!
//! Expiry: a rating comes after the call, and calls outlive their tokens (a connection is not
//! ended at `exp`), so a token that expired up to [`EXPIRY_GRACE_SECONDS`] ago still rates;
//! signature, audience and space are checked as for a join. One rating per participant and
//! session is kept (rating again replaces it), so an old token can at most change its own
//! participant's rating of that session.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use oriel_store::CallRating;
use serde_json::{Map, Value};
use tower_http::set_header::SetResponseHeaderLayer;

use crate::clock::unix_now;
use crate::error::{ApiError, ApiResult};
use crate::join::{authorize_after_call, JoinRefusal};
use crate::state::AppState;

/// How long after its `exp` a join token may still rate its call.
pub const EXPIRY_GRACE_SECONDS: u64 = 24 * 3600;
/// Longest id accepted from the body (the join token's `participant_id` limit).
const MAX_ID_CHARS: usize = 255;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/helios/v1/submit_acr/{token}",
            post(submit).options(preflight),
        )
        .layer(SetResponseHeaderLayer::overriding(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        ))
}

async fn preflight() -> Response {
    (
        StatusCode::NO_CONTENT,
        [
            (header::ACCESS_CONTROL_ALLOW_METHODS, "POST, OPTIONS"),
            (header::ACCESS_CONTROL_ALLOW_HEADERS, "content-type"),
            (header::ACCESS_CONTROL_MAX_AGE, "600"),
        ],
    )
        .into_response()
}

async fn submit(
    State(state): State<AppState>,
    token: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<StatusCode> {
    let Path(token) = token.map_err(|_| ApiError::invalid_join_token("Invalid join token"))?;
    let body = body.map_err(|rejection| {
        ApiError::invalid_parameters(format!("Could not read the request body: {rejection}"))
    })?;
    let authorized =
        match authorize_after_call(state.store.as_ref(), &token, EXPIRY_GRACE_SECONDS).await {
            Ok(authorized) => authorized,
            Err(JoinRefusal::Token(refusal)) => {
                return Err(ApiError::invalid_join_token(refusal.message()))
            }
            Err(JoinRefusal::Store(error)) => return Err(error.into()),
        };
    let grant = authorized.grant;
    let report = match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Object(object)) => object,
        _ => {
            return Err(ApiError::invalid_parameters(
                "Request body must be a JSON object with acr_score",
            ))
        }
    };
    let score = match report.get("acr_score").and_then(Value::as_u64) {
        Some(score @ 1..=5) => score as u8,
        _ => {
            return Err(ApiError::invalid_parameters(
                "acr_score must be an integer from 1 to 5",
            ))
        }
    };
    if let Some(space_id) = text(&report, "space_id")? {
        if space_id != grant.space_id {
            return Err(ApiError::invalid_parameters(
                "space_id is not the join token's space",
            ));
        }
    }
    // The token's participant_id is signed; without one the server picked it, and the SDK
    // reports what it was told.
    let participant_id = match grant.participant_id {
        Some(id) => id,
        None => text(&report, "participant_id")?.ok_or_else(|| {
            ApiError::invalid_parameters("participant_id is required when the token has none")
        })?,
    };
    let session_id = state
        .store
        .latest_session_id(&grant.space_id)
        .await?
        .ok_or_else(|| ApiError::failed_request("The space has had no session to rate"))?;
    let rating = CallRating {
        environment_id: authorized.environment_id,
        space_id: grant.space_id,
        session_id,
        participant_id,
        connection_id: text(&report, "connection_id")?,
        reported_session_id: text(&report, "session_id")?,
        score,
        created_at: unix_now(),
    };
    state.store.upsert_call_rating(&rating).await?;
    tracing::info!(
        space_id = %rating.space_id,
        participant_id = %rating.participant_id,
        score = rating.score,
        "call rated"
    );
    Ok(StatusCode::NO_CONTENT)
}

/// An optional string field of the report: absent or null is `None`; anything but a string of
/// 1..=255 characters is refused.
fn text(report: &Map<String, Value>, field: &str) -> ApiResult<Option<String>> {
    match report.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if !s.is_empty() && s.chars().count() <= MAX_ID_CHARS => {
            Ok(Some(s.clone()))
        }
        Some(_) => Err(ApiError::invalid_parameters(format!(
            "{field} must be a string of 1 to {MAX_ID_CHARS} characters"
        ))),
    }
}

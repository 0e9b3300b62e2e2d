//! A test join: `POST /dashboard/api/environments/{id}/spaces/{space_id}/join-token` with
//! `{role, participant_id, expires_in_seconds}` mints a join token for the space, signed with a
//! key the dashboard holds for the environment (made on first use; hidden from the REST API,
//! accepted by the join verifier), and names the meeting page that joins with it.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Map, Value};

use super::session::SignedIn;
use super::{environment, DashPath};
use crate::clock::unix_now;
use crate::error::{ApiError, ApiResult};
use crate::internal_join;
use crate::json_body::JsonObject;
use crate::state::AppState;

const DEFAULT_EXPIRY_SECONDS: i64 = 60 * 60;
const MAX_EXPIRY_SECONDS: i64 = 7 * 24 * 60 * 60;

pub fn router() -> Router<AppState> {
    Router::new().route(
        "/dashboard/api/environments/{environment_id}/spaces/{space_id}/join-token",
        post(mint),
    )
}

async fn mint(
    State(state): State<AppState>,
    session: SignedIn,
    DashPath((environment_id, space_id)): DashPath<(String, String)>,
    body: JsonObject,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let environment = environment(&state, &environment_id).await?;
    let space = state
        .store
        .space(&environment.id, &space_id)
        .await?
        .ok_or_else(|| ApiError::not_found("Space"))?;
    let role = body
        .optional_enum("role", &["publisher", "subscriber"])?
        .unwrap_or("publisher");
    let participant_id = body
        .optional_string("participant_id", 255)?
        .map(str::trim)
        .filter(|p| !p.is_empty());
    let expires_in = match body.0.get("expires_in_seconds") {
        None | Some(Value::Null) => DEFAULT_EXPIRY_SECONDS,
        Some(value) => value
            .as_i64()
            .filter(|s| (60..=MAX_EXPIRY_SECONDS).contains(s))
            .ok_or_else(|| {
                ApiError::invalid_parameters(format!(
                    "expires_in_seconds must be an integer from 60 to {MAX_EXPIRY_SECONDS}"
                ))
            })?,
    };
    let expires_at = unix_now() + expires_in;
    let mut claims = Map::new();
    claims.insert("role".into(), role.into());
    if let Some(participant_id) = participant_id {
        claims.insert("participant_id".into(), participant_id.into());
    }
    let token = internal_join::mint(&state, &environment.id, &space.id, expires_at, claims).await?;
    tracing::info!(user = %session.user.id, space = %space.id, role, "dashboard minted a join token");
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "data": {
                "token": token,
                "space_id": space.id,
                "role": role,
                "participant_id": participant_id,
                "expires_at": expires_at.to_string(),
                "meeting_path": format!("/demo?token={token}"),
            }
        })),
    ))
}

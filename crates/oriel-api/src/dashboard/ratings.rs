//! `GET /dashboard/api/environments/{id}/spaces/{space_id}/ratings`: the newest call-quality
//! ratings participants gave the space's sessions (`POST /helios/v1/submit_acr/{JWT}`).

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use super::session::SignedIn;
use super::{environment, timestamp, DashPath};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// The page shows the newest ratings only.
const MAX_RATINGS: u32 = 100;

pub fn router() -> Router<AppState> {
    Router::new().route(
        "/dashboard/api/environments/{environment_id}/spaces/{space_id}/ratings",
        get(ratings),
    )
}

async fn ratings(
    State(state): State<AppState>,
    _session: SignedIn,
    DashPath((environment_id, space_id)): DashPath<(String, String)>,
) -> ApiResult<Json<Value>> {
    let environment = environment(&state, &environment_id).await?;
    if state
        .store
        .space(&environment.id, &space_id)
        .await?
        .is_none()
    {
        return Err(ApiError::not_found("Space"));
    }
    let ratings = state
        .store
        .list_call_ratings(&environment.id, &space_id, MAX_RATINGS)
        .await?;
    let data: Vec<Value> = ratings
        .into_iter()
        .map(|r| {
            json!({
                "session_id": r.session_id,
                "participant_id": r.participant_id,
                "connection_id": r.connection_id,
                "score": r.score,
                "created_at": timestamp(r.created_at),
            })
        })
        .collect();
    Ok(Json(json!({ "data": data })))
}

//! `/video/v1/spaces`: create, list, fetch and delete spaces.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use oriel_store::{new_id, Space, SpaceDeletion, SpaceStatus};

use crate::auth::Caller;
use crate::clock::unix_now;
use crate::error::{ApiError, ApiResult};
use crate::json_body::JsonObject;
use crate::pagination::Pagination;
use crate::path_id::PathId;
use crate::state::AppState;
use crate::views::{Data, SpaceView};

/// Mux's limit on `passthrough`.
const MAX_PASSTHROUGH_CHARS: usize = 255;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/video/v1/spaces", get(list).post(create))
        .route("/video/v1/spaces/{space_id}", get(fetch).delete(delete))
}

async fn create(
    State(state): State<AppState>,
    caller: Caller,
    body: JsonObject,
) -> ApiResult<(StatusCode, Json<Data<SpaceView>>)> {
    let space_type = body.optional_enum("type", &["server"])?.unwrap_or("server");
    let passthrough = body.optional_string("passthrough", MAX_PASSTHROUGH_CHARS)?;
    match body.0.get("broadcasts") {
        None | Some(serde_json::Value::Null) => {}
        Some(serde_json::Value::Array(list)) if list.is_empty() => {}
        Some(serde_json::Value::Array(_)) => {
            return Err(ApiError::invalid_parameters(
                "broadcasts are not supported by this server yet; create the space without them",
            ))
        }
        Some(_) => return Err(ApiError::invalid_parameters("broadcasts must be an array")),
    }
    let space = Space {
        id: new_id(),
        environment_id: caller.environment_id,
        space_type: space_type.to_owned(),
        passthrough: passthrough.map(str::to_owned),
        status: SpaceStatus::Idle,
        active_session_id: None,
        created_at: unix_now(),
    };
    state.store.insert_space(&space).await?;
    Ok((StatusCode::CREATED, Data::json(space.into())))
}

async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Pagination(page): Pagination,
) -> ApiResult<Json<Data<Vec<SpaceView>>>> {
    let spaces = state
        .store
        .list_spaces(&caller.environment_id, page)
        .await?;
    Ok(Data::json(
        spaces.into_iter().map(SpaceView::from).collect(),
    ))
}

async fn fetch(
    State(state): State<AppState>,
    caller: Caller,
    PathId(space_id): PathId,
) -> ApiResult<Json<Data<SpaceView>>> {
    let space = state
        .store
        .space(&caller.environment_id, &space_id)
        .await?
        .ok_or_else(|| ApiError::not_found("Space"))?;
    Ok(Data::json(space.into()))
}

async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    PathId(space_id): PathId,
) -> ApiResult<StatusCode> {
    match state
        .store
        .delete_space(&caller.environment_id, &space_id)
        .await?
    {
        SpaceDeletion::Deleted => Ok(StatusCode::NO_CONTENT),
        SpaceDeletion::NotFound => Err(ApiError::not_found("Space")),
        SpaceDeletion::StillActive => Err(ApiError::failed_request(
            "Space is active; a space can be deleted only while idle (no participants connected)",
        )),
    }
}

//! `/video/v1/spaces`: create (with a broadcast, as Mux allowed), list, fetch and delete
//! spaces; each answered with its broadcasts embedded.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use oriel_store::{new_id, BroadcastInsert, Space, SpaceDeletion, SpaceStatus};

use crate::auth::Caller;
use crate::clock::unix_now;
use crate::error::{ApiError, ApiResult};
use crate::json_body::JsonObject;
use crate::pagination::Pagination;
use crate::path_id::PathId;
use crate::routes::broadcasts::{live_stream_not_found, MAX_BROADCASTS_PER_SPACE};
use crate::routes::BroadcastRequest;
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
    let requested = BroadcastRequest::parse_list(&body)?;
    // Checked before the space exists, so that a bad live stream id makes nothing.
    for request in &requested {
        let found = state
            .store
            .live_stream(&caller.environment_id, &request.live_stream_id)
            .await?;
        if found.is_none() {
            return Err(live_stream_not_found());
        }
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
    let mut broadcasts = Vec::new();
    for request in requested {
        let broadcast = request.into_broadcast(&space.id);
        let env = &space.environment_id;
        match state
            .store
            .insert_broadcast(env, &broadcast, MAX_BROADCASTS_PER_SPACE)
            .await?
        {
            BroadcastInsert::Inserted => broadcasts.push(broadcast),
            // Deleted since the check above: the space stands without it, as if added later.
            _ => tracing::warn!(space_id = %space.id, "a requested broadcast could not be added"),
        }
    }
    let view = SpaceView::from(space).with_broadcasts(broadcasts);
    Ok((StatusCode::CREATED, Data::json(view)))
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
    let mut views = Vec::with_capacity(spaces.len());
    for space in spaces {
        let broadcasts = state.store.broadcasts_of_space(&space.id).await?;
        views.push(SpaceView::from(space).with_broadcasts(broadcasts));
    }
    Ok(Data::json(views))
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
    let broadcasts = state.store.broadcasts_of_space(&space.id).await?;
    Ok(Data::json(
        SpaceView::from(space).with_broadcasts(broadcasts),
    ))
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

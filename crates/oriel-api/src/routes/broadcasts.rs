//! `/video/v1/spaces/{SPACE_ID}/broadcasts`: create, fetch and delete a space's broadcast, and
//! start and stop it, with Mux's rules: one per space, deleted only while idle, started only
//! while the space is active; stopping completes its live stream; the space going idle stops
//! it (in the store, see `Store::deactivate_space`). Participants hear of every change.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use oriel_store::{new_id, Broadcast, BroadcastChange, BroadcastDeletion, BroadcastInsert};
use serde_json::{json, Map, Value};

use crate::auth::Caller;
use crate::clock::unix_now;
use crate::error::{ApiError, ApiResult};
use crate::json_body::JsonObject;
use crate::path_id::{PathId, PathIds};
use crate::state::AppState;
use crate::views::Data;
use oriel_store::mux_json::BroadcastView;

/// Mux's default: "only a single broadcast destination can be specified".
pub const MAX_BROADCASTS_PER_SPACE: u32 = 1;
const LAYOUTS: [&str; 3] = ["gallery", "active-speaker", "crop"];
const RESOLUTIONS: [&str; 6] = [
    "1920x1080",
    "1280x720",
    "1080x1920",
    "720x1280",
    "1080x1080",
    "720x720",
];
const MAX_PASSTHROUGH_CHARS: usize = 255;
const MAX_URL_CHARS: usize = 2048;

pub fn router() -> Router<AppState> {
    let one = "/video/v1/spaces/{space_id}/broadcasts/{broadcast_id}";
    Router::new()
        .route("/video/v1/spaces/{space_id}/broadcasts", post(create))
        .route(one, get(fetch).delete(delete))
        .route(&format!("{one}/start"), post(start))
        .route(&format!("{one}/stop"), post(stop))
}

/// A valid CreateBroadcastRequest, not yet tied to a space.
pub struct BroadcastRequest {
    pub live_stream_id: String,
    pub layout: String,
    pub resolution: String,
    pub background: Option<String>,
    pub passthrough: Option<String>,
}

impl BroadcastRequest {
    pub fn parse(body: &JsonObject) -> ApiResult<Self> {
        let live_stream_id = body
            .optional_string("live_stream_id", 255)?
            .filter(|id| !id.is_empty())
            .ok_or_else(|| ApiError::invalid_parameters("live_stream_id is required"))?;
        let background = body.optional_string("background", MAX_URL_CHARS)?;
        if let Some(url) = background {
            let lower = url.to_ascii_lowercase();
            if !(lower.starts_with("https://") || lower.starts_with("http://")) {
                return Err(ApiError::invalid_parameters(
                    "background must be an http:// or https:// URL of an image",
                ));
            }
        }
        Ok(Self {
            live_stream_id: live_stream_id.to_owned(),
            layout: body
                .optional_enum("layout", &LAYOUTS)?
                .unwrap_or("gallery")
                .to_owned(),
            resolution: body
                .optional_enum("resolution", &RESOLUTIONS)?
                .unwrap_or("1920x1080")
                .to_owned(),
            background: background.map(str::to_owned),
            passthrough: body
                .optional_string("passthrough", MAX_PASSTHROUGH_CHARS)?
                .map(str::to_owned),
        })
    }

    /// The `broadcasts` field of a space's create request: at most one.
    pub fn parse_list(body: &JsonObject) -> ApiResult<Vec<Self>> {
        match body.0.get("broadcasts") {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(list)) if list.len() <= MAX_BROADCASTS_PER_SPACE as usize => list
                .iter()
                .map(|item| match item {
                    Value::Object(fields) => Self::parse(&JsonObject(fields.clone())),
                    _ => Err(ApiError::invalid_parameters("broadcasts must hold objects")),
                })
                .collect(),
            Some(Value::Array(_)) => Err(limit_reached()),
            Some(_) => Err(ApiError::invalid_parameters("broadcasts must be an array")),
        }
    }

    pub fn into_broadcast(self, space_id: &str) -> Broadcast {
        Broadcast {
            id: new_id(),
            space_id: space_id.to_owned(),
            live_stream_id: self.live_stream_id,
            active: false,
            layout: self.layout,
            resolution: self.resolution,
            background: self.background,
            passthrough: self.passthrough,
            created_at: unix_now(),
        }
    }
}

fn limit_reached() -> ApiError {
    ApiError::invalid_parameters(format!(
        "a space can have at most {MAX_BROADCASTS_PER_SPACE} broadcast"
    ))
}

pub fn live_stream_not_found() -> ApiError {
    ApiError::invalid_parameters("live_stream_id does not name a live stream of this environment")
}

async fn create(
    State(state): State<AppState>,
    caller: Caller,
    PathId(space_id): PathId,
    body: JsonObject,
) -> ApiResult<(StatusCode, Json<Data<BroadcastView>>)> {
    let broadcast = BroadcastRequest::parse(&body)?.into_broadcast(&space_id);
    match state
        .store
        .insert_broadcast(&caller.environment_id, &broadcast, MAX_BROADCASTS_PER_SPACE)
        .await?
    {
        BroadcastInsert::Inserted => Ok((StatusCode::CREATED, Data::json(broadcast.into()))),
        BroadcastInsert::SpaceNotFound => Err(ApiError::not_found("Space")),
        BroadcastInsert::LiveStreamNotFound => Err(live_stream_not_found()),
        BroadcastInsert::LimitReached => Err(limit_reached()),
    }
}

async fn fetch(
    State(state): State<AppState>,
    caller: Caller,
    PathIds(space_id, id): PathIds,
) -> ApiResult<Json<Data<BroadcastView>>> {
    let broadcast = state
        .store
        .broadcast(&caller.environment_id, &space_id, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("Broadcast"))?;
    Ok(Data::json(broadcast.into()))
}

async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    PathIds(space_id, id): PathIds,
) -> ApiResult<StatusCode> {
    match state
        .store
        .delete_broadcast(&caller.environment_id, &space_id, &id)
        .await?
    {
        BroadcastDeletion::Deleted => Ok(StatusCode::NO_CONTENT),
        BroadcastDeletion::NotFound => Err(ApiError::not_found("Broadcast")),
        BroadcastDeletion::StillActive => Err(ApiError::failed_request(
            "Broadcast is active; a broadcast can be deleted only while idle (stop it first)",
        )),
    }
}

/// Mux answers start and stop with an empty object.
fn empty() -> Json<Value> {
    Json(json!({ "data": Map::new() }))
}

async fn start(
    State(state): State<AppState>,
    caller: Caller,
    PathIds(space_id, id): PathIds,
) -> ApiResult<Json<Value>> {
    match state
        .store
        .start_broadcast(&caller.environment_id, &space_id, &id)
        .await?
    {
        BroadcastChange::Changed => tell_participants(&state, &space_id).await?,
        BroadcastChange::Unchanged => {}
        BroadcastChange::NotFound => return Err(ApiError::not_found("Broadcast")),
        BroadcastChange::SpaceIdle => {
            return Err(ApiError::failed_request(
                "Space is idle; a broadcast can start only while participants are connected",
            ))
        }
        BroadcastChange::LiveStreamUnavailable => {
            return Err(ApiError::failed_request(
                "The broadcast's live stream was deleted or is disabled",
            ))
        }
    }
    Ok(empty())
}

async fn stop(
    State(state): State<AppState>,
    caller: Caller,
    PathIds(space_id, id): PathIds,
) -> ApiResult<Json<Value>> {
    match state
        .store
        .stop_broadcast(&caller.environment_id, &space_id, &id, unix_now())
        .await?
    {
        BroadcastChange::Changed => tell_participants(&state, &space_id).await?,
        BroadcastChange::NotFound => return Err(ApiError::not_found("Broadcast")),
        _ => {}
    }
    Ok(empty())
}

/// Sends the space's broadcast state, as the store has it now, to its participants.
async fn tell_participants(state: &AppState, space_id: &str) -> ApiResult<()> {
    let broadcasting = state
        .store
        .broadcasts_of_space(space_id)
        .await?
        .iter()
        .any(|b| b.active);
    state.media.set_broadcasting(space_id, broadcasting);
    Ok(())
}

//! `/video/v1/live-streams`: the Mux Video subset a broadcasting app uses. Create, list,
//! fetch, update and delete live streams; complete, disable and enable them; reset the stream
//! key; and manage their playback ids and simulcast targets.

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use oriel_store::{new_id, new_secret, LiveStream, LiveStreamStatus, PlaybackId, SimulcastTarget};
use serde_json::{json, Value};

use crate::auth::Caller;
use crate::clock::unix_now;
use crate::error::{ApiError, ApiResult};
use crate::json_body::JsonObject;
use crate::pagination::Pagination;
use crate::path_id::{PathId, PathIds};
use crate::state::AppState;
use crate::views::Data;
use oriel_store::mux_json::{LiveStreamView, PlaybackIdView, SimulcastTargetView};

const MAX_PASSTHROUGH_CHARS: usize = 255;
const MAX_URL_CHARS: usize = 2048;
const MAX_STREAM_KEY_CHARS: usize = 1024;
/// Mux's bounds and defaults.
const RECONNECT_WINDOW: (f64, f64, f64) = (0.0, 1800.0, 60.0);
const MAX_CONTINUOUS_DURATION: (f64, f64, f64) = (60.0, 43_200.0, 43_200.0);
const MAX_SIMULCAST_TARGETS: usize = 6;
const POLICIES: [&str; 2] = ["public", "signed"];
const LATENCY_MODES: [&str; 3] = ["low", "reduced", "standard"];

pub fn router() -> Router<AppState> {
    let one = "/video/v1/live-streams/{live_stream_id}";
    Router::new()
        .route("/video/v1/live-streams", get(list).post(create))
        .route(one, get(fetch).patch(update).delete(delete))
        .route(&format!("{one}/complete"), put(complete))
        .route(&format!("{one}/disable"), put(disable))
        .route(&format!("{one}/enable"), put(enable))
        .route(&format!("{one}/reset-stream-key"), post(reset_stream_key))
        .route(&format!("{one}/playback-ids"), post(create_playback_id))
        .route(
            &format!("{one}/playback-ids/{{playback_id}}"),
            get(fetch_playback_id).delete(delete_playback_id),
        )
        .route(
            &format!("{one}/simulcast-targets"),
            post(create_simulcast_target),
        )
        .route(
            &format!("{one}/simulcast-targets/{{target_id}}"),
            get(fetch_simulcast_target).delete(delete_simulcast_target),
        )
}

type Created<T> = ApiResult<(StatusCode, Json<Data<T>>)>;

async fn create(
    State(state): State<AppState>,
    caller: Caller,
    body: JsonObject,
) -> Created<LiveStreamView> {
    let policies = playback_policies(&body)?;
    let latency_mode = match (
        body.optional_enum("latency_mode", &LATENCY_MODES)?,
        body.optional_bool("reduced_latency")?,
    ) {
        (Some(mode), _) => mode,
        (None, Some(true)) => "reduced",
        (None, _) => "standard",
    };
    let targets = match body.0.get("simulcast_targets") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(list)) if list.len() <= MAX_SIMULCAST_TARGETS => list
            .iter()
            .map(|target| match target {
                Value::Object(fields) => simulcast_target(&JsonObject(fields.clone())),
                _ => Err(ApiError::invalid_parameters(
                    "simulcast_targets must hold objects",
                )),
            })
            .collect::<Result<_, _>>()?,
        Some(Value::Array(_)) => return Err(too_many_targets()),
        Some(_) => {
            return Err(ApiError::invalid_parameters(
                "simulcast_targets must be an array",
            ))
        }
    };
    let new_asset_settings = match body.0.get("new_asset_settings") {
        None | Some(Value::Null) => None,
        Some(settings @ Value::Object(_)) => Some(settings.to_string()),
        Some(_) => {
            return Err(ApiError::invalid_parameters(
                "new_asset_settings must be an object",
            ))
        }
    };
    let stream = LiveStream {
        id: new_id(),
        environment_id: caller.environment_id,
        stream_key: new_secret(),
        status: LiveStreamStatus::Idle,
        passthrough: body
            .optional_string("passthrough", MAX_PASSTHROUGH_CHARS)?
            .map(str::to_owned),
        latency_mode: latency_mode.to_owned(),
        reconnect_window: number_or_default(&body, "reconnect_window", RECONNECT_WINDOW)?,
        max_continuous_duration: number_or_default(
            &body,
            "max_continuous_duration",
            MAX_CONTINUOUS_DURATION,
        )? as i64,
        test: body.optional_bool("test")?.unwrap_or(false),
        new_asset_settings,
        created_at: unix_now(),
        completed_at: None,
        playback_ids: policies
            .into_iter()
            .map(|policy| PlaybackId {
                id: new_id(),
                policy: policy.to_owned(),
            })
            .collect(),
        simulcast_targets: targets,
    };
    state.store.insert_live_stream(&stream).await?;
    Ok((StatusCode::CREATED, Data::json(stream.into())))
}

/// `playback_policy`: one policy or a list of them, a playback id each.
fn playback_policies(body: &JsonObject) -> ApiResult<Vec<&str>> {
    let one = |value: &Value| match value.as_str() {
        Some(policy) if POLICIES.contains(&policy) => Ok(POLICIES[usize::from(policy == "signed")]),
        _ => Err(ApiError::invalid_parameters(
            "playback_policy must be \"public\", \"signed\" or a list of them",
        )),
    };
    match body.0.get("playback_policy") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(list)) if list.len() <= 10 => list.iter().map(one).collect(),
        Some(value) => Ok(vec![one(value)?]),
    }
}

fn number_or_default(
    body: &JsonObject,
    field: &str,
    (min, max, default): (f64, f64, f64),
) -> ApiResult<f64> {
    Ok(body.optional_number(field, min, max)?.unwrap_or(default))
}

fn simulcast_target(body: &JsonObject) -> ApiResult<SimulcastTarget> {
    let url = body
        .optional_string("url", MAX_URL_CHARS)?
        .ok_or_else(|| ApiError::invalid_parameters("url is required"))?;
    let scheme_ok = ["rtmp://", "rtmps://"]
        .iter()
        .any(|scheme| url.len() > scheme.len() && url[..scheme.len()].eq_ignore_ascii_case(scheme));
    if !scheme_ok {
        return Err(ApiError::invalid_parameters(
            "url must be an rtmp:// or rtmps:// URL",
        ));
    }
    Ok(SimulcastTarget {
        id: new_id(),
        url: url.to_owned(),
        stream_key: body
            .optional_string("stream_key", MAX_STREAM_KEY_CHARS)?
            .map(str::to_owned),
        passthrough: body
            .optional_string("passthrough", MAX_PASSTHROUGH_CHARS)?
            .map(str::to_owned),
        status: "idle".to_owned(),
    })
}

fn too_many_targets() -> ApiError {
    ApiError::invalid_parameters(format!(
        "a live stream has at most {MAX_SIMULCAST_TARGETS} simulcast targets"
    ))
}

async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Pagination(page): Pagination,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<Data<Vec<LiveStreamView>>>> {
    let mut status = None;
    for (name, value) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        if name == "status" {
            status = Some(LiveStreamStatus::parse(&value).ok_or_else(|| {
                ApiError::invalid_parameters("status must be idle, active or disabled")
            })?);
        }
    }
    let streams = state
        .store
        .list_live_streams(&caller.environment_id, status, page)
        .await?;
    Ok(Data::json(streams.into_iter().map(Into::into).collect()))
}

async fn find(state: &AppState, caller: &Caller, id: &str) -> ApiResult<LiveStream> {
    state
        .store
        .live_stream(&caller.environment_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("Live stream"))
}

/// Writes back a changed stream; gone meanwhile is a 404 like any other.
async fn save(state: &AppState, stream: &LiveStream) -> ApiResult<()> {
    if state.store.update_live_stream(stream).await? {
        Ok(())
    } else {
        Err(ApiError::not_found("Live stream"))
    }
}

async fn fetch(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
) -> ApiResult<Json<Data<LiveStreamView>>> {
    Ok(Data::json(find(&state, &caller, &id).await?.into()))
}

async fn update(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
    body: JsonObject,
) -> ApiResult<Json<Data<LiveStreamView>>> {
    let mut stream = find(&state, &caller, &id).await?;
    if let Some(passthrough) = body.optional_string("passthrough", MAX_PASSTHROUGH_CHARS)? {
        stream.passthrough = Some(passthrough.to_owned());
    }
    if let Some(mode) = body.optional_enum("latency_mode", &LATENCY_MODES)? {
        stream.latency_mode = mode.to_owned();
    }
    let (min, max, _) = RECONNECT_WINDOW;
    if let Some(window) = body.optional_number("reconnect_window", min, max)? {
        stream.reconnect_window = window;
    }
    let (min, max, _) = MAX_CONTINUOUS_DURATION;
    if let Some(duration) = body.optional_number("max_continuous_duration", min, max)? {
        stream.max_continuous_duration = duration as i64;
    }
    save(&state, &stream).await?;
    Ok(Data::json(stream.into()))
}

async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
) -> ApiResult<StatusCode> {
    if state
        .store
        .delete_live_stream(&caller.environment_id, &id)
        .await?
    {
        state.recordings.remove_all(&id);
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("Live stream"))
    }
}

/// Mux answers `complete`, `disable` and `enable` with an empty object.
fn empty() -> Json<Value> {
    Json(json!({ "data": {} }))
}

/// Ends the current recording: what was streamed so far becomes a finished one.
async fn complete(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
) -> ApiResult<Json<Value>> {
    let mut stream = find(&state, &caller, &id).await?;
    stream.completed_at = Some(unix_now());
    save(&state, &stream).await?;
    Ok(empty())
}

async fn disable(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
) -> ApiResult<Json<Value>> {
    let mut stream = find(&state, &caller, &id).await?;
    stream.status = LiveStreamStatus::Disabled;
    save(&state, &stream).await?;
    Ok(empty())
}

async fn enable(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
) -> ApiResult<Json<Value>> {
    let mut stream = find(&state, &caller, &id).await?;
    if stream.status == LiveStreamStatus::Disabled {
        stream.status = LiveStreamStatus::Idle;
        save(&state, &stream).await?;
    }
    Ok(empty())
}

async fn reset_stream_key(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
) -> Created<LiveStreamView> {
    let mut stream = find(&state, &caller, &id).await?;
    stream.stream_key = new_secret();
    save(&state, &stream).await?;
    Ok((StatusCode::CREATED, Data::json(stream.into())))
}

async fn create_playback_id(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
    body: JsonObject,
) -> Created<PlaybackIdView> {
    let policy = body
        .optional_enum("policy", &POLICIES)?
        .ok_or_else(|| ApiError::invalid_parameters("policy is required"))?;
    let playback_id = PlaybackId {
        id: new_id(),
        policy: policy.to_owned(),
    };
    if !state
        .store
        .insert_playback_id(&caller.environment_id, &id, &playback_id)
        .await?
    {
        return Err(ApiError::not_found("Live stream"));
    }
    Ok((StatusCode::CREATED, Data::json(playback_id.into())))
}

async fn fetch_playback_id(
    State(state): State<AppState>,
    caller: Caller,
    PathIds(id, playback_id): PathIds,
) -> ApiResult<Json<Data<PlaybackIdView>>> {
    let stream = find(&state, &caller, &id).await?;
    let found = stream
        .playback_ids
        .into_iter()
        .find(|p| p.id == playback_id)
        .ok_or_else(|| ApiError::not_found("Playback ID"))?;
    Ok(Data::json(found.into()))
}

async fn delete_playback_id(
    State(state): State<AppState>,
    caller: Caller,
    PathIds(id, playback_id): PathIds,
) -> ApiResult<StatusCode> {
    find(&state, &caller, &id).await?;
    if state
        .store
        .delete_playback_id(&caller.environment_id, &id, &playback_id)
        .await?
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("Playback ID"))
    }
}

/// Mux changes a stream's targets only while nothing is being pushed to them.
fn refuse_while_active(stream: &LiveStream) -> ApiResult<()> {
    if stream.status == LiveStreamStatus::Active {
        return Err(ApiError::failed_request(
            "Live stream is active; simulcast targets can be changed only while it is idle",
        ));
    }
    Ok(())
}

async fn create_simulcast_target(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
    body: JsonObject,
) -> Created<SimulcastTargetView> {
    let stream = find(&state, &caller, &id).await?;
    refuse_while_active(&stream)?;
    if stream.simulcast_targets.len() >= MAX_SIMULCAST_TARGETS {
        return Err(too_many_targets());
    }
    let target = simulcast_target(&body)?;
    if !state
        .store
        .insert_simulcast_target(&caller.environment_id, &id, &target)
        .await?
    {
        return Err(ApiError::not_found("Live stream"));
    }
    Ok((StatusCode::CREATED, Data::json(target.into())))
}

async fn fetch_simulcast_target(
    State(state): State<AppState>,
    caller: Caller,
    PathIds(id, target_id): PathIds,
) -> ApiResult<Json<Data<SimulcastTargetView>>> {
    let stream = find(&state, &caller, &id).await?;
    let found = stream
        .simulcast_targets
        .into_iter()
        .find(|t| t.id == target_id)
        .ok_or_else(|| ApiError::not_found("Simulcast target"))?;
    Ok(Data::json(found.into()))
}

async fn delete_simulcast_target(
    State(state): State<AppState>,
    caller: Caller,
    PathIds(id, target_id): PathIds,
) -> ApiResult<StatusCode> {
    let stream = find(&state, &caller, &id).await?;
    refuse_while_active(&stream)?;
    if state
        .store
        .delete_simulcast_target(&caller.environment_id, &id, &target_id)
        .await?
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("Simulcast target"))
    }
}

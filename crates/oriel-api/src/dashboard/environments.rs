//! `GET` and `POST /dashboard/api/environments`: every environment, and making a new one.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use oriel_store::{new_id, Environment};
use serde_json::{json, Value};

use super::session::SignedIn;
use super::timestamp;
use crate::clock::unix_now;
use crate::error::{ApiError, ApiResult};
use crate::json_body::JsonObject;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/dashboard/api/environments", get(list).post(create))
}

fn view(environment: &Environment) -> Value {
    json!({
        "id": environment.id,
        "name": environment.name,
        "created_at": timestamp(environment.created_at),
    })
}

async fn list(State(state): State<AppState>, _session: SignedIn) -> ApiResult<Json<Value>> {
    let environments = state.store.list_environments().await?;
    Ok(Json(
        json!({ "data": environments.iter().map(view).collect::<Vec<_>>() }),
    ))
}

async fn create(
    State(state): State<AppState>,
    _session: SignedIn,
    body: JsonObject,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let name = body
        .optional_string("name", 255)?
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .ok_or_else(|| ApiError::invalid_parameters("name is required"))?;
    let environment = Environment {
        id: new_id(),
        name: name.to_owned(),
        created_at: unix_now(),
    };
    if !state.store.insert_environment(&environment).await? {
        return Err(ApiError::failed_request(format!(
            "An environment named {name:?} exists already"
        )));
    }
    Ok((
        StatusCode::CREATED,
        Json(json!({ "data": view(&environment) })),
    ))
}

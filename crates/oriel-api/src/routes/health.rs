use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/healthz", get(healthz))
}

/// Answers once the node serves: the store is open and the listener bound before the router runs.
async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

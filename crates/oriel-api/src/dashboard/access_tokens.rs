//! An environment's access tokens: list (paged as the REST API pages, `limit` and 1-based
//! `page`, newest first), create (the secret is in that one response only),
//! revoke. A revoked token is refused by the REST API from the next request on: the
//! authenticator reads the token's row on every request.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get};
use axum::{Json, Router};
use oriel_store::AccessToken;
use serde_json::{json, Value};

use super::session::SignedIn;
use super::{environment, timestamp, DashPath};
use crate::access_tokens::create_access_token;
use crate::clock::unix_now;
use crate::error::{ApiError, ApiResult};
use crate::json_body::JsonObject;
use crate::pagination::Pagination;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/dashboard/api/environments/{environment_id}/access-tokens",
            get(list).post(create),
        )
        .route(
            "/dashboard/api/environments/{environment_id}/access-tokens/{token_id}",
            delete(revoke),
        )
}

fn view(token: &AccessToken) -> Value {
    json!({
        "id": token.id,
        "name": token.name,
        "created_at": timestamp(token.created_at),
        "revoked_at": token.revoked_at.map(timestamp),
        "status": if token.revoked_at.is_some() { "revoked" } else { "active" },
    })
}

async fn list(
    State(state): State<AppState>,
    _session: SignedIn,
    DashPath(environment_id): DashPath<String>,
    Pagination(page): Pagination,
) -> ApiResult<Json<Value>> {
    let environment = environment(&state, &environment_id).await?;
    let tokens = state
        .store
        .list_access_tokens(&environment.id, page)
        .await?;
    Ok(Json(
        json!({ "data": tokens.iter().map(view).collect::<Vec<_>>() }),
    ))
}

async fn create(
    State(state): State<AppState>,
    session: SignedIn,
    DashPath(environment_id): DashPath<String>,
    body: JsonObject,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let environment = environment(&state, &environment_id).await?;
    let name = body.optional_string("name", 255)?.unwrap_or("").trim();
    let issued = create_access_token(state.store.as_ref(), &environment.name, name).await?;
    tracing::info!(user = %session.user.id, token = %issued.id, "dashboard created an access token");
    let token = state
        .store
        .access_token(&issued.id)
        .await?
        .ok_or_else(|| ApiError::internal("a token just created is missing"))?;
    let mut data = view(&token);
    data["secret"] = Value::String(issued.secret);
    Ok((StatusCode::CREATED, Json(json!({ "data": data }))))
}

async fn revoke(
    State(state): State<AppState>,
    session: SignedIn,
    DashPath((environment_id, token_id)): DashPath<(String, String)>,
) -> ApiResult<StatusCode> {
    let environment = environment(&state, &environment_id).await?;
    if state
        .store
        .revoke_access_token(&environment.id, &token_id, unix_now())
        .await?
    {
        tracing::info!(user = %session.user.id, token = %token_id, "dashboard revoked an access token");
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("Access token"))
    }
}

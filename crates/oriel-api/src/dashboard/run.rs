//! "Run Request": `POST /dashboard/api/environments/{id}/run` with `{method, path, body}` runs
//! exactly that Mux REST request in the environment, for the signed-in user, and answers what
//! the REST API answers (status, headers, body). It is dispatched in-process through the REST
//! API's own router and handlers, with the caller set by the dashboard, so the browser never
//! holds an access token's secret. Only the Mux REST paths can be reached this way.

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderValue, Method, Request, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use serde_json::Value;
use tower::ServiceExt;

use super::session::SignedIn;
use super::{environment, DashPath};
use crate::auth::{Caller, DashboardCaller};
use crate::error::{ApiError, ApiResult};
use crate::json_body::{JsonObject, MAX_BODY_BYTES};
use crate::routes;
use crate::state::AppState;

/// The REST surface the runner reaches.
const ALLOWED_PREFIXES: [&str; 2] = ["/video/v1/", "/system/v1/"];

pub fn router() -> Router<AppState> {
    Router::new().route(
        "/dashboard/api/environments/{environment_id}/run",
        post(run),
    )
}

/// The Mux REST routes alone, answering as the public router does.
fn rest_router(state: AppState) -> Router {
    Router::new()
        .merge(routes::spaces())
        .merge(routes::broadcasts())
        .merge(routes::live_streams())
        .merge(routes::signing_keys())
        .merge(routes::webhooks())
        .fallback(|| async { ApiError::not_found("Route") })
        .method_not_allowed_fallback(|| async { ApiError::method_not_allowed() })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

/// Checks a requested method and path against what the runner may reach.
pub(crate) fn parse_target(method: &str, path: &str) -> Result<(Method, Uri), ApiError> {
    let method = match method.to_ascii_uppercase().as_str() {
        "GET" => Method::GET,
        "POST" => Method::POST,
        "PUT" => Method::PUT,
        "PATCH" => Method::PATCH,
        "DELETE" => Method::DELETE,
        _ => {
            return Err(ApiError::invalid_parameters(
                "method must be one of GET, POST, PUT, PATCH, DELETE",
            ))
        }
    };
    let uri: Uri = path
        .parse()
        .map_err(|_| ApiError::invalid_parameters("path is not a valid request path"))?;
    let only_path = uri.scheme().is_none() && uri.authority().is_none();
    let clean = !uri.path().split('/').any(|s| s == "." || s == "..") && !uri.path().contains("//");
    if !only_path || !clean || !ALLOWED_PREFIXES.iter().any(|p| uri.path().starts_with(p)) {
        return Err(ApiError::invalid_parameters(
            "path must be a Mux REST path under /video/v1/ or /system/v1/",
        ));
    }
    Ok((method, uri))
}

async fn run(
    State(state): State<AppState>,
    session: SignedIn,
    DashPath(environment_id): DashPath<String>,
    body: JsonObject,
) -> ApiResult<Response> {
    let environment = environment(&state, &environment_id).await?;
    let method = body
        .optional_string("method", 16)?
        .ok_or_else(|| ApiError::invalid_parameters("method is required"))?;
    let path = body
        .optional_string("path", 2048)?
        .ok_or_else(|| ApiError::invalid_parameters("path is required"))?;
    let (method, uri) = parse_target(method, path)?;
    let payload = match body.0.get("body") {
        None | Some(Value::Null) => Vec::new(),
        Some(value) => serde_json::to_vec(value).map_err(ApiError::internal)?,
    };
    tracing::info!(user = %session.user.id, %method, path = %crate::log_path::loggable_path(uri.path()), "dashboard runs a REST request");
    let mut request = Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/json")
        .body(Body::from(payload))
        .map_err(ApiError::internal)?;
    request.extensions_mut().insert(DashboardCaller(Caller {
        environment_id: environment.id,
        access_token_id: format!("dashboard-user:{}", session.user.id),
    }));
    let mut response = rest_router(state)
        .oneshot(request)
        .await
        .map_err(ApiError::internal)?
        .into_response();
    response
        .headers_mut()
        .insert("x-oriel-run", HeaderValue::from_static("rest"));
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_mux_rest_paths_can_be_run() {
        let (method, uri) = parse_target("post", "/video/v1/spaces").unwrap();
        assert_eq!(method, Method::POST);
        assert_eq!(uri.path(), "/video/v1/spaces");
        let (_, uri) = parse_target("GET", "/video/v1/spaces?limit=2&page=1").unwrap();
        assert_eq!(uri.query(), Some("limit=2&page=1"));
        assert!(parse_target("DELETE", "/system/v1/signing-keys/abc").is_ok());
        for (method, path) in [
            ("GET", "/dashboard/api/environments"),
            ("GET", "/healthz"),
            ("GET", "/video/v1/../../dashboard/api/session"),
            ("GET", "/video/v1//spaces"),
            ("GET", "http://evil.example/video/v1/spaces"),
            ("GET", "video/v1/spaces"),
            ("GET", "/video/v1/spaces\n"),
            ("TRACE", "/video/v1/spaces"),
            ("CONNECT", "/video/v1/spaces"),
        ] {
            assert!(parse_target(method, path).is_err(), "{method} {path}");
        }
    }
}

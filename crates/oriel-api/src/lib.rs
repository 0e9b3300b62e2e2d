//! Oriel's control plane: the Mux-compatible REST API (HTTP Basic, Mux's JSON and error
//! envelope), the health endpoint, and the `/pluto/v1` signaling endpoint.

mod access_tokens;
mod argon2_slots;
mod auth;
mod body_limit;
mod broadcast_runner;
mod client_address;
mod clock;
pub mod cluster;
mod compositor_process;
pub mod dashboard;
mod error;
mod failure_limit;
mod internal_join;
mod join;
mod json_body;
mod log_path;
pub mod metrics;
mod pagination;
mod path_id;
mod primary_role;
mod recordings;
mod rejected_secrets;
mod routes;
mod signaling;
mod state;
mod views;
mod webhook_address;
mod webhook_delivery;
mod webhook_dispatcher;
mod webhook_signature;

use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderName, HeaderValue, Request, StatusCode};
use axum::Router;
use tower::ServiceBuilder;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};

pub use access_tokens::{create_access_token, IssuedAccessToken};
pub use auth::RateLimit;
pub use broadcast_runner::{BroadcastRunner, RunnerSettings};
pub use error::ApiError;
pub use join::{authorize_join, AuthorizedJoin, JoinRefusal};
pub use recordings::Recordings;
pub use state::AppState;
pub use webhook_dispatcher::{run as deliver_webhooks, Webhooks};

/// Longest a plain API request may take before it is answered 408.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The whole HTTP surface of a node.
pub fn router(state: AppState) -> Router {
    let request_id = HeaderName::from_static("x-request-id");
    Router::new()
        .merge(routes::health())
        .merge(routes::signing_keys())
        .merge(routes::spaces())
        .merge(routes::live_streams())
        .merge(routes::broadcasts())
        .merge(routes::hls())
        .merge(routes::sdk())
        .merge(routes::demo())
        .merge(routes::call_quality())
        .merge(routes::webhooks())
        .merge(dashboard::router())
        .merge(signaling::router())
        .merge(metrics::router())
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            metrics::count_requests,
        ))
        .fallback(|| async { ApiError::not_found("Route") })
        .method_not_allowed_fallback(|| async { ApiError::method_not_allowed() })
        .layer(DefaultBodyLimit::max(json_body::MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn(body_limit::refuse_oversized_bodies))
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::new(request_id.clone(), MakeRequestUuid))
                .layer(
                    TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
                        let id = request
                            .headers()
                            .get("x-request-id")
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or_default();
                        // The path only, tokens redacted: a query may carry `token=`.
                        tracing::info_span!("request", method = %request.method(), uri = %log_path::loggable_path(request.uri().path()), request_id = %id)
                    })
                    .on_response(DefaultOnResponse::new().level(tracing::Level::INFO)),
                )
                .layer(PropagateRequestIdLayer::new(request_id))
                // Every answer, JSON and errors included, is what it says it is.
                .layer(SetResponseHeaderLayer::if_not_present(
                    header::X_CONTENT_TYPE_OPTIONS,
                    HeaderValue::from_static("nosniff"),
                ))
                .layer(SetResponseHeaderLayer::if_not_present(
                    header::CACHE_CONTROL,
                    HeaderValue::from_static("max-age=0, private, must-revalidate"),
                ))
                .layer(TimeoutLayer::with_status_code(
                    StatusCode::REQUEST_TIMEOUT,
                    REQUEST_TIMEOUT,
                )),
        )
        .with_state(state)
}

/// Closes what the node holds at shutdown: every space it had active goes idle (unless it
/// handed over, see [`hand_over`]).
pub async fn shutdown(state: &AppState) {
    state.presence.clear().await;
}

/// From now on the node leaves spaces' status to the successor its participants reconnect to.
pub fn hand_over(state: &AppState) {
    state.presence.hand_over();
}

/// Marks idle the spaces the store says are active and this node holds nobody of (left over
/// by a node that handed over and is now gone). Returns how many.
pub async fn reconcile_spaces(state: &AppState) -> Result<usize, oriel_store::StoreError> {
    state.presence.reconcile().await
}

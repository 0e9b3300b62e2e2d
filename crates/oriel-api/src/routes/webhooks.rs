//! `/system/v1/webhooks`: an environment's webhook endpoints (Mux configured them only in its
//! dashboard; Oriel adds an API), and, as Oriel's own addition, each endpoint's recent
//! deliveries with a way to send one again.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use oriel_store::{new_id, new_secret, WebhookDelivery, WebhookEndpoint};
use serde::Serialize;

use crate::auth::Caller;
use crate::clock::unix_now;
use crate::error::{ApiError, ApiResult};
use crate::json_body::JsonObject;
use crate::pagination::Pagination;
use crate::path_id::{PathId, PathIds};
use crate::state::AppState;
use crate::views::Data;
use crate::webhook_address::{check_endpoint_url, UrlProblem};

const MAX_URL_CHARS: usize = 2048;
/// Deliveries an endpoint's listing shows.
const RECENT_DELIVERIES: u32 = 100;

pub fn router() -> Router<AppState> {
    let one = "/system/v1/webhooks/{webhook_id}";
    Router::new()
        .route("/system/v1/webhooks", get(list).post(create))
        .route(one, get(fetch).delete(delete))
        .route(&format!("{one}/deliveries"), get(deliveries))
        .route(
            &format!("{one}/deliveries/{{delivery_id}}/resend"),
            post(resend),
        )
}

#[derive(Serialize)]
struct EndpointView {
    id: String,
    url: String,
    signing_secret: String,
    created_at: String,
}

impl From<WebhookEndpoint> for EndpointView {
    fn from(endpoint: WebhookEndpoint) -> Self {
        Self {
            id: endpoint.id,
            url: endpoint.url,
            signing_secret: endpoint.signing_secret,
            created_at: endpoint.created_at.to_string(),
        }
    }
}

async fn create(
    State(state): State<AppState>,
    caller: Caller,
    body: JsonObject,
) -> ApiResult<(StatusCode, Json<Data<EndpointView>>)> {
    let url = body
        .optional_string("url", MAX_URL_CHARS)?
        .ok_or_else(|| ApiError::invalid_parameters("url is required"))?;
    check_endpoint_url(url, state.webhooks.refuse_private_addresses).map_err(|problem| {
        ApiError::invalid_parameters(match problem {
            UrlProblem::Malformed => "url must be an absolute http or https URL".to_owned(),
            UrlProblem::Private => {
                "url points at a loopback or private address, which this node refuses".to_owned()
            }
        })
    })?;
    let endpoint = WebhookEndpoint {
        id: new_id(),
        environment_id: caller.environment_id,
        url: url.to_owned(),
        signing_secret: new_secret(),
        created_at: unix_now(),
    };
    state.store.insert_webhook_endpoint(&endpoint).await?;
    state.webhooks.endpoints_changed();
    Ok((StatusCode::CREATED, Data::json(endpoint.into())))
}

async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Pagination(page): Pagination,
) -> ApiResult<Json<Data<Vec<EndpointView>>>> {
    let endpoints = state
        .store
        .list_webhook_endpoints(&caller.environment_id, page)
        .await?;
    Ok(Data::json(
        endpoints.into_iter().map(EndpointView::from).collect(),
    ))
}

async fn fetch(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
) -> ApiResult<Json<Data<EndpointView>>> {
    let endpoint = state
        .store
        .webhook_endpoint(&caller.environment_id, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("Webhook"))?;
    Ok(Data::json(endpoint.into()))
}

async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
) -> ApiResult<StatusCode> {
    if !state
        .store
        .delete_webhook_endpoint(&caller.environment_id, &id)
        .await?
    {
        return Err(ApiError::not_found("Webhook"));
    }
    state.webhooks.endpoints_changed();
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize)]
struct DeliveryView {
    id: String,
    event_id: String,
    #[serde(rename = "type")]
    event_type: String,
    object_id: String,
    /// "pending", "delivered" or "failed".
    status: String,
    attempts: u32,
    last_response_status_code: Option<u16>,
    last_error: Option<String>,
    /// Unix milliseconds, as the dashboard shows them.
    last_attempt_at_ms: Option<i64>,
    next_attempt_at_ms: Option<i64>,
    created_at_ms: i64,
}

impl From<WebhookDelivery> for DeliveryView {
    fn from(delivery: WebhookDelivery) -> Self {
        let pending = delivery.state == "pending";
        Self {
            id: delivery.id.to_string(),
            event_id: delivery.event_id,
            event_type: delivery.event_type,
            object_id: delivery.object_id,
            status: delivery.state,
            attempts: delivery.attempts,
            last_response_status_code: delivery.last_status,
            last_error: delivery.last_error,
            last_attempt_at_ms: delivery.last_attempt_ms,
            next_attempt_at_ms: pending.then_some(delivery.next_attempt_ms),
            created_at_ms: delivery.created_at_ms,
        }
    }
}

async fn deliveries(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
) -> ApiResult<Json<Data<Vec<DeliveryView>>>> {
    state
        .store
        .webhook_endpoint(&caller.environment_id, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("Webhook"))?;
    let deliveries = state
        .store
        .webhook_deliveries(&caller.environment_id, &id, RECENT_DELIVERIES)
        .await?;
    Ok(Data::json(
        deliveries.into_iter().map(DeliveryView::from).collect(),
    ))
}

async fn resend(
    State(state): State<AppState>,
    caller: Caller,
    PathIds(id, delivery_id): PathIds,
) -> ApiResult<StatusCode> {
    let delivery_seq: i64 = delivery_id
        .parse()
        .map_err(|_| ApiError::not_found("Webhook delivery"))?;
    if !state
        .store
        .resend_webhook_delivery(&caller.environment_id, &id, delivery_seq)
        .await?
    {
        return Err(ApiError::not_found("Webhook delivery"));
    }
    Ok(StatusCode::ACCEPTED)
}
